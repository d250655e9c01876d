"""GitHubScm end to end against the local forge: real HTTP on loopback, real git. What is
GitHub's own: request counts, request shapes against GitHub's OpenAPI description, check
runs and deployments, token mode, lost answers, 5xx and rate limits. The port's
behaviours, the same on every platform, are in tests/scm/test_contract.py.

The forge plays GitHub (REST under /api/v3, GraphQL at /api/graphql); prbot talks to it
as a GitHub App through its installation. Files on branches are checked with the git CLI
against the forge's bare repository, not through the API under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from prbot.automation.changeset import (
    ChangeSet,
    FileChange,
    MemoryRepoView,
    RepoFile,
)
from prbot.automation.definitions import PrAutomation
from prbot.automation.loader import load_view
from prbot.engine.run import run_automation
from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge
from prbot.scm.github import GitHubScm, TokenAuth
from prbot.scm.github.cache import ObjectCache
from prbot.scm.port import RateLimited
from tests.support.clock import RecordedSleep
from tests.support.forge import REPO, Files, ForgeRepo, http_client

from .openapi_requests import RequestRecorder, validate_all

VALUES = """\
# dev cluster values: comments must survive prbot's edits
image:
  repository: ghcr.io/acme/app   # the registry
  tag: "1.0.0"
replicas: 2
"""

START_FILES: Files = {
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
    on: ForgeRepo  # the forge and the repository (git helpers)
    scm: GitHubScm
    sleeps: list[float]  # backoff and rate-limit waits, recorded, never slept
    sent: RequestRecorder  # every HTTP request the provider made

    @property
    def server(self) -> ForgeServer:
        return self.on.server

    @property
    def forge(self) -> Forge:
        return self.on.forge


@pytest.fixture
def forge_files() -> Files:
    return START_FILES


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"permissions": {"alice": "write"}}


@pytest.fixture
async def env(forge_repo: ForgeRepo) -> AsyncIterator[Env]:
    await forge_repo.install_app()
    sleep = RecordedSleep()
    recorder = RequestRecorder()
    http = http_client(event_hooks={"request": [recorder]})
    scm = forge_repo.github_app_scm(sleep=sleep, http=http)
    try:
        yield Env(forge_repo, scm, sleep.waits, recorder)
    finally:
        await scm.aclose()
        await http.aclose()


def assert_requests_follow_github_openapi(env: Env) -> set[str]:
    """Every REST request sent so far is valid per GitHub's description; the operations."""
    return validate_all(env.sent.sent)


def git(env: Env, *args: str) -> str:
    return env.on.git(*args)


def show(env: Env, ref: str, path: str) -> str:
    return env.on.show(ref, path)


def open_prs(env: Env, head: str) -> list:
    return env.on.open_prs(head)


# -- what only GitHub has: check runs and deployments, token mode, binary blobs -----------------


async def test_health_of_statuses_and_check_runs(env: Env):
    head = git(env, "rev-parse", "main").strip()
    await env.forge.post_status(REPO, head, "success", creator="acme", context="flux")
    await env.forge.post_check_run(REPO, head, "ci", status="completed", conclusion="failure")
    await env.forge.post_check_run(REPO, head, "ci", status="completed", conclusion="success")
    await env.forge.post_check_run(REPO, head, "lint", status="in_progress")
    health = await env.scm.commit_health(REPO, head)
    assert health.state_of("flux") == "success"
    assert health.state_of("ci") == "success"  # the newest run of a check wins
    assert health.state_of("lint") == "pending"
    assert {s.name: s.kind for s in health.signals} == {
        "flux": "status",
        "ci": "check",
        "lint": "check",
    }
    assert "GET /repos/{owner}/{repo}/commits/{ref}/check-runs" in (
        assert_requests_follow_github_openapi(env)
    )


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
    files = env.on.ls_tree("prbot/bin")
    assert files["current"][0] == "120000" and files["scripts/deploy.sh"][0] == "100755"
    assert env.on.git_bytes("show", "prbot/bin:assets/logo.png") == png
    snap = await env.scm.snapshot(REPO, "prbot/bin")
    assert snap.entries["current"].mode == "120000"
    read = await env.scm.read_files(
        REPO, snap.sha, ["assets/logo.png", "current", "README.md", "nope.txt"]
    )
    assert read == {"assets/logo.png": png, "current": b"clusters/dev", "README.md": b"# gitops\n"}
    # binary content goes up as a blob and comes back over REST: GitHub's own routes
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
