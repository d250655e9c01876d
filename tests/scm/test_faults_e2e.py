"""Both providers against a misbehaving forge: 20% 5xx answers, added latency and one
rate-limit answer. An automation run must still end with exactly one branch, one commit on
top of the base and one open PR, checked with git on the forge's bare repository."""

from __future__ import annotations

import pytest

from prbot.automation.changeset import MemoryRepoView
from prbot.automation.loader import load_view
from prbot.engine.run import run_automation
from prbot.scm.gitlab import RetryPolicy
from prbot.scm.port import Scm
from tests.support.clock import RecordedSleep
from tests.support.forge import REPO, Files, ForgeRepo

BRANCH = "prbot/faults/checkout"

AUTOMATION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: faulty}
spec:
  head: "prbot/faults/{{ context.name }}"
  title: "Add {{ context.name }}"
  configuration:
    - {name: name, type: string}
  creates:
    templates:
      - {source: t/svc.yaml, destination: "services/{{ context.name }}.yaml"}
  updates:
    yamlEdits:
      - {file: values.yaml, path: image.tag, value: "2.0.0"}
  deletes:
    files: [legacy.yaml]
"""


def automation():
    loaded = load_view(
        MemoryRepoView({"a.yaml": AUTOMATION, "t/svc.yaml": "name: {{ context.name }}\n"})
    )
    assert not loaded.problems
    return loaded.automations["faulty"]


@pytest.fixture
def forge_files() -> Files:
    return {"values.yaml": "image:\n  tag: '1.0.0' # bump\n", "legacy.yaml": "x: 1\n"}


def make_scm(platform: str, on: ForgeRepo) -> Scm:
    if platform == "github":
        # backoff and rate-limit waits are recorded, not slept
        return on.github_scm(sleep=RecordedSleep())
    retry = RetryPolicy(max_retries=6, base_delay=0.01, max_delay=0.05, max_wait=5.0)
    return on.gitlab_scm(retry=retry)


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_faults_still_give_one_branch_one_commit_one_pr(
    platform: str, forge_repo: ForgeRepo
) -> None:
    server, git = forge_repo.server, forge_repo.git
    scm = make_scm(platform, forge_repo)
    server.faults.configure(
        error_rate=0.2, seed=7, latency_ms=15, rate_limit_next=1, rate_limit_reset_in=1
    )
    try:
        outcome = await run_automation(scm, REPO, automation(), {"name": "checkout"})
        again = await run_automation(scm, REPO, automation(), {"name": "checkout"})
    finally:
        server.faults.clear()
        await scm.aclose()

    statuses = {code for codes in server.requests.by_status().values() for code in codes}
    assert statuses & {"500", "502", "503"}, "no 5xx was injected: the test proved nothing"
    assert statuses & {"403", "429"}, "no rate-limit answer was injected"

    branches = git("for-each-ref", "--format=%(refname:short)", "refs/heads/").split()
    assert sorted(branches) == sorted(["main", BRANCH])
    commits = git("rev-list", f"main..{BRANCH}").split()
    assert len(commits) == 1
    assert git("show", f"{BRANCH}:services/checkout.yaml") == "name: checkout\n"
    assert "2.0.0" in git("show", f"{BRANCH}:values.yaml")
    assert "legacy.yaml" not in git("ls-tree", "--name-only", BRANCH).split()

    prs = [p for p in server.forge.pull_requests(REPO, state="open") if p.head == BRANCH]
    assert len(prs) == 1
    assert outcome.pull_request.number == again.pull_request.number == prs[0].number
    assert not again.changed
