"""GitHubScm end to end against the local forge: real HTTP on loopback, real git.

The forge plays GitHub (REST under /api/v3, GraphQL at /api/graphql); prbot talks to it
as a GitHub App through its installation. Files on branches are checked with the git CLI
against the forge's bare repository, not through the API under test.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from prbot.automation.changeset import (
    ChangeSet,
    FileChange,
    MemoryRepoView,
    RepoFile,
)
from prbot.automation.definitions import PrAutomation
from prbot.automation.loader import load_view
from prbot.engine.run import run_automation
from prbot.forge import git as forge_git
from prbot.forge import server as forge_server
from prbot.forge.state import Forge
from prbot.scm.github import GitHubScm, TokenAuth
from prbot.scm.github.cache import ObjectCache
from prbot.scm.port import Conflict, RateLimited

from .openapi_requests import RequestRecorder, validate_all

REPO = "acme/gitops"
APP_ID = 31337

VALUES = """\
# dev cluster values: comments must survive prbot's edits
image:
  repository: ghcr.io/acme/app   # the registry
  tag: "1.0.0"
replicas: 2
"""

START_FILES: dict[str, bytes | str | tuple[bytes | str, str]] = {
    "README.md": "# gitops\n",
    "clusters/dev/values.yaml": VALUES,
    "legacy/old.yaml": "old: true\n",
    "scripts/deploy.sh": ("#!/bin/sh\necho deploy\n", "100755"),
}


def automation_definition(n_files: int) -> PrAutomation:
    """An automation that creates ``n_files`` files, edits one YAML value, deletes a file."""
    definition = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata:
  name: e2e-service
spec:
  head: "prbot/e2e/{{ context.name }}"
  title: "Add {{ context.name }} at {{ context.tag }}"
  message: "Adds service {{ context.name }} and bumps dev to {{ context.tag }}."
  labels: [e2e, "svc/{{ context.name }}"]
  reviewers: [alice]
  configuration:
    - name: name
      type: string
    - name: tag
      type: string
  creates:
    templates:
      - source: templates/svc
        destination: "services/{{ context.name }}"
  updates:
    yamlEdits:
      - file: clusters/dev/values.yaml
        path: image.tag
        value: "{{ context.tag }}"
  deletes:
    files: [legacy/old.yaml]
"""
    files: dict[str, bytes | str | RepoFile] = {"automations/e2e.yaml": definition}
    for i in range(n_files):
        files[f"automations/templates/svc/file-{i:03}.yaml"] = (
            f"name: {{{{ context.name }}}}\nindex: {i}\ntag: {{{{ context.tag }}}}\n"
        )
    loaded = load_view(MemoryRepoView(files))
    assert not loaded.problems, loaded.problems
    return loaded.automations["e2e-service"]


# -- the forge, an app installed on it, and the provider -------------------------------------


@dataclass
class Env:
    server: forge_server.ForgeServer
    forge: Forge
    scm: GitHubScm
    git_dir: Path
    sleeps: list[float]
    private_key: str
    sent: RequestRecorder  # every HTTP request the provider made


class RecordSleep:
    """Backoff and rate-limit waits are recorded, not slept: the forge needs no real waits."""

    def __init__(self, waits: list[float]) -> None:
        self.waits = waits

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _keypair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def keypair() -> tuple[str, str]:
    return _keypair()


@pytest.fixture
async def env(tmp_path: Path, keypair: tuple[str, str]) -> AsyncIterator[Env]:
    private, public = keypair
    sleeps: list[float] = []
    forge = Forge(tmp_path / "forge")
    async with forge_server.ForgeServer(forge=forge) as server:
        await forge.create_repo(REPO, files=START_FILES)
        await forge.register_app(APP_ID, public, slug="prbot")
        await forge.install_app(APP_ID, "acme", repos=[REPO])
        forge.set_permission(REPO, "alice", "write")
        recorder = RequestRecorder()
        http = httpx.AsyncClient(timeout=30, event_hooks={"request": [recorder]})
        scm = GitHubScm.as_app(
            APP_ID,
            private,
            api_url=server.github_api_url,
            graphql_url=server.graphql_url,
            sleep=RecordSleep(sleeps),
            http=http,
        )
        try:
            yield Env(server, forge, scm, forge.git_dir(REPO), sleeps, private, recorder)
        finally:
            await scm.aclose()
            await http.aclose()


def assert_requests_follow_github_openapi(env: Env) -> set[str]:
    """Every REST request sent so far is valid per GitHub's description; the operations."""
    return validate_all(env.sent.sent)


def git(env: Env, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(env.git_dir), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def ls_tree(env: Env, ref: str) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob sha) of ``ref``, straight from git."""
    out = {}
    for line in git(env, "ls-tree", "-r", ref).splitlines():
        meta, path = line.split("\t", 1)
        mode, _kind, sha = meta.split()
        out[path] = (mode, sha)
    return out


def show(env: Env, ref: str, path: str) -> str:
    return git(env, "show", f"{ref}:{path}")


def open_prs(env: Env, head: str) -> list:
    return [p for p in env.forge.pull_requests(REPO, state="open") if p.head == head]


# -- the scenario ------------------------------------------------------------------------------


async def test_automation_to_pr_rerun_health_comment_merge_revert(env: Env):
    automation = automation_definition(3)
    inputs = {"name": "billing", "tag": "2.0.0"}

    outcome = await run_automation(env.scm, REPO, automation, inputs)
    pr = outcome.pull_request
    assert outcome.changed and pr is not None
    branch = "prbot/e2e/billing"
    assert pr.head == branch and pr.base == "main" and pr.state == "open"
    assert pr.title == "Add billing at 2.0.0"
    assert set(pr.labels) == {"e2e", "svc/billing"}
    assert len(open_prs(env, branch)) == 1

    files = ls_tree(env, branch)
    assert "legacy/old.yaml" not in files
    assert show(env, branch, "services/billing/file-002.yaml") == (
        "name: billing\nindex: 2\ntag: 2.0.0\n"
    )
    assert show(env, branch, "clusters/dev/values.yaml") == VALUES.replace('"1.0.0"', '"2.0.0"')
    assert files["scripts/deploy.sh"][0] == "100755"  # untouched files keep their mode
    parents = git(env, "rev-list", "--parents", "-n", "1", branch).split()
    assert parents[1] == git(env, "rev-parse", "main").strip()  # one commit on the base
    assert "Prbot-Change-Id: " in git(env, "log", "-1", "--format=%B", branch)
    head_before = git(env, "rev-parse", branch).strip()

    # a re-run: same PR, no new commit, still one PR
    again = await run_automation(env.scm, REPO, automation, inputs)
    assert not again.changed
    assert again.pull_request.number == pr.number
    assert git(env, "rev-parse", branch).strip() == head_before
    assert len(open_prs(env, branch)) == 1

    # a changed input moves the branch onto a new single commit and updates the same PR
    changed = await run_automation(env.scm, REPO, automation, {**inputs, "tag": "2.1.0"})
    assert changed.changed and changed.pull_request.number == pr.number
    assert changed.pull_request.title == "Add billing at 2.1.0"
    assert show(env, branch, "services/billing/file-000.yaml").endswith("tag: 2.1.0\n")
    assert git(env, "rev-list", "--count", f"main..{branch}").strip() == "1"
    head = git(env, "rev-parse", branch).strip()

    # health: a status, a check run and a deployment on the head commit
    await env.forge.post_status(REPO, head, "success", creator="acme", context="flux")
    await env.forge.post_check_run(REPO, head, "ci", status="completed", conclusion="failure")
    await env.forge.post_check_run(REPO, head, "ci", status="completed", conclusion="success")
    await env.forge.post_check_run(REPO, head, "lint", status="in_progress")
    health = await env.scm.commit_health(REPO, head)
    assert health.state_of("flux") == "success"
    assert health.state_of("ci") == "success"
    assert health.state_of("lint") == "pending"

    # comment upsert edits in place; a reaction; permissions
    first = await env.scm.upsert_comment(REPO, pr.number, "plan", "Plan: 3 files")
    second = await env.scm.upsert_comment(REPO, pr.number, "plan", "Plan: 4 files")
    assert first.id == second.id
    bodies = [c.body for c in env.forge.comments(REPO, pr.number)]
    assert len(bodies) == 1 and bodies[0].startswith("Plan: 4 files")
    await env.scm.add_reaction(REPO, pr.number, second.id, "rocket")
    await env.scm.add_reaction(REPO, pr.number, second.id, "rocket")  # repeat: no error
    reactions = env.forge.comment(REPO, second.id).reactions
    assert [r.content for r in reactions] == ["rocket"]
    assert await env.scm.permission(REPO, "alice") == "write"
    assert await env.scm.permission(REPO, "acme") == "admin"
    assert await env.scm.permission(REPO, "mallory") == "none"

    # merge: a real merge commit with two parents
    main_before = git(env, "rev-parse", "main").strip()
    merged = await env.scm.merge(REPO, pr.number, message="Merge billing\n\nShip it.")
    assert merged.merged and merged.sha
    assert git(env, "rev-parse", "main").strip() == merged.sha
    assert git(env, "rev-list", "--parents", "-n", "1", merged.sha).split()[1:] == [
        main_before,
        head,
    ]
    got = await env.scm.get_pull_request(REPO, pr.number)
    assert got.state == "merged" and got.merge_commit_sha == merged.sha
    assert await env.scm.find_pull_request(REPO, branch) is None
    again_merge = await env.scm.merge(REPO, pr.number)
    assert again_merge.merged  # merging a merged PR again reports it as merged

    # revert: a new PR whose branch restores the files of main before the merge
    revert = await env.scm.revert(
        REPO,
        pr.number,
        branch="prbot/revert/billing",
        title="Revert billing",
        body=f"Rolls back #{pr.number}",
    )
    assert revert.number != pr.number and revert.state == "open"
    assert revert.head == "prbot/revert/billing" and revert.base == "main"
    assert ls_tree(env, "prbot/revert/billing") == ls_tree(env, main_before)
    assert show(env, "prbot/revert/billing", "legacy/old.yaml") == "old: true\n"
    assert git(env, "rev-list", "--parents", "-n", "1", "prbot/revert/billing").split()[1:] == [
        merged.sha
    ]
    # asking again finds the same revert PR
    revert_again = await env.scm.revert(
        REPO, pr.number, branch="prbot/revert/billing", title="Revert billing", body="x"
    )
    assert revert_again.number == revert.number

    # and every request on the way had the shape GitHub documents
    used = assert_requests_follow_github_openapi(env)
    assert len(used) >= 20, sorted(used)


async def test_deployment_health(env: Env):
    sha = git(env, "rev-parse", "main").strip()
    dep = await env.forge.create_deployment(REPO, ref="main", environment="dev", creator="acme")
    await env.forge.post_deployment_status(REPO, dep.id, "in_progress", creator="acme")
    assert (await env.scm.commit_health(REPO, sha)).state_of("dev") == "pending"
    await env.forge.post_deployment_status(REPO, dep.id, "success", creator="acme")
    assert (await env.scm.commit_health(REPO, sha)).state_of("dev") == "success"


async def test_binary_and_symlink_round_trip(env: Env):
    base = await env.scm.snapshot(REPO, "main")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
    changes = ChangeSet(
        (
            FileChange("create", "assets/logo.png", png),
            FileChange("create", "current", b"clusters/dev", "120000"),
            FileChange("update", "scripts/deploy.sh", b"#!/bin/sh\necho v2\n", "100755"),
        )
    )
    result = await env.scm.commit_changes(
        REPO, base_sha=base.sha, branch="prbot/bin", changes=changes, message="Binary"
    )
    assert result.created_branch
    files = ls_tree(env, "prbot/bin")
    assert files["current"][0] == "120000" and files["scripts/deploy.sh"][0] == "100755"
    raw = subprocess.run(
        ["git", "--git-dir", str(env.git_dir), "show", "prbot/bin:assets/logo.png"],
        check=True,
        capture_output=True,
    ).stdout
    assert raw == png
    snap = await env.scm.snapshot(REPO, "prbot/bin")
    assert snap.entries["current"].mode == "120000"
    read = await env.scm.read_files(
        REPO, snap.sha, ["assets/logo.png", "current", "README.md", "nope.txt"]
    )
    assert read == {"assets/logo.png": png, "current": b"clusters/dev", "README.md": b"# gitops\n"}
    used = assert_requests_follow_github_openapi(env)
    assert "POST /repos/{owner}/{repo}/git/blobs" in used
    assert "GET /repos/{owner}/{repo}/contents/{path}" in used


async def test_token_mode_opens_a_pr_as_the_user(env: Env):
    token = env.forge.create_token("acme")
    async with GitHubScm(
        TokenAuth(token), api_url=env.server.github_api_url, graphql_url=env.server.graphql_url
    ) as scm:
        outcome = await run_automation(
            scm, REPO, automation_definition(2), {"name": "tok", "tag": "1.2.3"}
        )
        assert outcome.pull_request.author == "acme"
        assert show(env, "prbot/e2e/tok", "services/tok/file-001.yaml").endswith("1.2.3\n")
        assert scm.client.limits.get("token").remaining is not None  # headers were read


# -- API cost: constant in the number of files ----------------------------------------------------


@dataclass(frozen=True)
class Cost:
    first: dict[str, int]  # a first run, nothing cached but the token
    rerun: dict[str, int]  # the same run again in the same process
    rerun_cold: dict[str, int]  # again, in a fresh process (git-object cache empty)

    @staticmethod
    def total(counts: dict[str, int]) -> int:
        return sum(counts.values())


async def _cost(env: Env, n_files: int, name: str) -> Cost:
    automation = automation_definition(n_files)
    inputs = {"name": name, "tag": "3.0.0"}
    counter = env.scm.counter
    runs = []
    for cold in (True, False, True):
        if cold:
            env.scm.objects = ObjectCache()
        before = counter.snapshot()
        outcome = await run_automation(env.scm, REPO, automation, inputs)
        runs.append((counter.since(before), outcome))
    (first, o1), (rerun, o2), (rerun_cold, o3) = runs
    assert o1.changed and len(o1.render.changes) == n_files + 2
    assert not o2.changed and not o3.changed
    assert o1.pull_request.number == o2.pull_request.number == o3.pull_request.number
    return Cost(first, rerun, rerun_cold)


async def test_open_pr_cost_is_constant_in_the_number_of_files(env: Env):
    # warm the installation token and lookup so both sizes pay the same
    await env.scm.default_branch(REPO)
    recorder_before = _forge_request_total(env)
    one = await _cost(env, 1, "one")
    recorder_mid = _forge_request_total(env)
    fifty = await _cost(env, 50, "fifty")
    recorder_after = _forge_request_total(env)
    assert one == fifty, (one, fifty)
    # the forge saw exactly what we counted, for both sizes
    assert recorder_mid - recorder_before == recorder_after - recorder_mid
    assert recorder_mid - recorder_before == sum(
        Cost.total(c) for c in (one.first, one.rerun, one.rerun_cold)
    )
    # what the open-PR path costs, call by call
    assert one.first == {
        "GET /repos/{owner}/{repo}/git/ref/heads/{branch}": 2,  # base, then head (404)
        "GET /repos/{owner}/{repo}/git/trees/{tree_sha}": 1,
        "POST /graphql": 1,
        "POST /repos/{owner}/{repo}/git/trees": 1,
        "POST /repos/{owner}/{repo}/git/commits": 1,
        "POST /repos/{owner}/{repo}/git/refs": 1,
        "GET /repos/{owner}/{repo}/pulls": 1,
        "POST /repos/{owner}/{repo}/pulls": 1,
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels": 1,
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers": 1,
    }
    assert one.rerun == {
        "GET /repos/{owner}/{repo}/git/ref/heads/{branch}": 2,
        "GET /repos/{owner}/{repo}/pulls": 1,
    }


@pytest.mark.parametrize("n_files", [1, 10, 100])
async def test_request_counts_table(env: Env, n_files: int, capsys):
    await env.scm.default_branch(REPO)
    cost = await _cost(env, n_files, f"n{n_files}")
    first, rerun, cold = (Cost.total(c) for c in (cost.first, cost.rerun, cost.rerun_cold))
    with capsys.disabled():
        print(
            f"\n[github api cost] {n_files:>3} files: first run {first}, "
            f"re-run {rerun} (fresh process: {cold})"
        )
    assert (first, rerun, cold) == (11, 3, 6)


def _forge_request_total(env: Env) -> int:
    """Requests the forge recorded (its request log never counts /_forge/ admin calls)."""
    return env.server.requests.total


# -- faults: lost answers, 5xx, rate limits ------------------------------------------------------

PULLS_POST = r"^POST /api/v3/repos/\{owner\}/\{repo\}/pulls$"


async def test_lost_pr_create_answer_never_opens_a_second_pr(env: Env):
    # the forge creates the PR, then drops the connection before answering
    env.server.faults.configure(drop_next=1, drop_mode="after", match=PULLS_POST)
    outcome = await run_automation(
        env.scm, REPO, automation_definition(2), {"name": "lost", "tag": "1.0.1"}
    )
    assert len(open_prs(env, "prbot/e2e/lost")) == 1
    assert outcome.pull_request.number == open_prs(env, "prbot/e2e/lost")[0].number
    assert env.server.requests.count("POST /api/v3/repos/{owner}/{repo}/pulls") == 1
    assert set(outcome.pull_request.labels) == {"e2e", "svc/lost"}


async def test_pr_create_dropped_before_arrival_is_retried_once(env: Env):
    env.server.faults.configure(drop_next=1, drop_mode="before", match=PULLS_POST)
    outcome = await run_automation(
        env.scm, REPO, automation_definition(1), {"name": "retry", "tag": "1.0.1"}
    )
    assert len(open_prs(env, "prbot/e2e/retry")) == 1
    assert outcome.pull_request.head == "prbot/e2e/retry"
    assert env.server.requests.count("POST /api/v3/repos/{owner}/{repo}/pulls") == 2


async def test_lost_answers_of_ref_and_comment_writes(env: Env):
    env.server.faults.configure(
        drop_next=1, drop_mode="after", match=r"^POST /api/v3/repos/\{owner\}/\{repo\}/git/refs$"
    )
    outcome = await run_automation(
        env.scm, REPO, automation_definition(1), {"name": "refs", "tag": "1.0.2"}
    )
    assert outcome.changed
    assert show(env, "prbot/e2e/refs", "services/refs/file-000.yaml").endswith("1.0.2\n")

    number = outcome.pull_request.number
    env.server.faults.configure(
        drop_next=1, drop_mode="after", match=r"^POST .*/issues/\{[a-z_]+\}/comments$"
    )
    comment = await env.scm.upsert_comment(REPO, number, "status", "All good")
    assert [c.id for c in env.forge.comments(REPO, number)] == [comment.id]


async def test_flaky_forge_still_gives_one_pr(env: Env):
    env.server.faults.configure(error_rate=0.25, seed=11)
    outcome = await run_automation(
        env.scm, REPO, automation_definition(5), {"name": "flaky", "tag": "9.9.9"}
    )
    env.server.faults.clear()
    statuses = env.server.requests.by_status()
    assert any(str(code) in {"500", "502", "503"} for v in statuses.values() for code in v)
    assert env.sleeps  # it backed off
    assert len(open_prs(env, "prbot/e2e/flaky")) == 1
    assert outcome.pull_request.number == open_prs(env, "prbot/e2e/flaky")[0].number
    assert show(env, "prbot/e2e/flaky", "clusters/dev/values.yaml").count("9.9.9") == 1


async def test_rate_limits_are_waited_out(env: Env):
    await env.scm.default_branch(REPO)  # token minted, default branch cached
    env.server.faults.configure(
        rate_limit_next=1, rate_limit_kind="secondary", rate_limit_reset_in=7
    )
    await env.scm.snapshot(REPO, "main")
    assert env.sleeps == [7.0]

    env.sleeps.clear()
    env.server.faults.configure(
        rate_limit_next=1, rate_limit_kind="primary", rate_limit_reset_in=20
    )
    await env.scm.find_pull_request(REPO, "nope")
    assert len(env.sleeps) == 1 and 15 <= env.sleeps[0] <= 22

    env.sleeps.clear()
    env.server.faults.configure(
        rate_limit_next=1, rate_limit_kind="primary", rate_limit_reset_in=5, match="graphql"
    )
    files = await env.scm.read_files(
        REPO, (await env.scm.snapshot(REPO, "main")).sha, ["README.md"]
    )
    assert files == {"README.md": b"# gitops\n"}
    assert len(env.sleeps) == 1


async def test_rate_limit_longer_than_our_bound_is_reported(env: Env):
    await env.scm.default_branch(REPO)
    env.server.faults.configure(
        rate_limit_next=5, rate_limit_kind="primary", rate_limit_reset_in=3600
    )
    before = env.server.requests.total
    with pytest.raises(RateLimited) as e:
        await env.scm.find_pull_request(REPO, "x")
    assert e.value.reset_in and e.value.reset_in > 3000
    assert env.server.requests.total - before == 1 and env.sleeps == []
    # the spent budget is remembered: the next call does not even ask
    with pytest.raises(RateLimited):
        await env.scm.find_pull_request(REPO, "x")
    assert env.server.requests.total - before == 1


async def test_revert_refuses_when_the_base_changed_the_same_files(env: Env):
    outcome = await run_automation(
        env.scm, REPO, automation_definition(1), {"name": "rv", "tag": "5.0.0"}
    )
    number = outcome.pull_request.number
    assert (await env.scm.merge(REPO, number)).merged
    await env.forge.commit_changes(
        REPO,
        "main",
        "Hand edit",
        {"clusters/dev/values.yaml": git_change(b"image:\n  tag: hand\n")},
        actor="acme",
    )
    with pytest.raises(Conflict) as e:
        await env.scm.revert(REPO, number, branch="prbot/revert/rv", title="Revert", body="")
    assert "clusters/dev/values.yaml" in str(e.value)
    assert "prbot/revert/rv" not in git(env, "branch", "--list", "prbot/revert/rv")


def git_change(content: bytes) -> forge_git.Change:
    return forge_git.Change(content=content)


async def test_snapshot_of_a_tag(env: Env):
    sha = git(env, "rev-parse", "main").strip()
    await env.forge.create_ref(REPO, "refs/tags/v1.0", sha, actor="acme")
    snap = await env.scm.snapshot(REPO, "v1.0")
    assert snap.sha == sha and "README.md" in snap.entries
