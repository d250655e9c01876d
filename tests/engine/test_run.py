"""run_automation's orchestration: which files it fetches, in how many batches, and when it
commits. tests/support's MemoryScm stands in for the forge here (the end-to-end tests run
the same function against the real forge over HTTP)."""

from __future__ import annotations

import pytest

from prbot.automation.changeset import MemoryRepoView, RepoFile
from prbot.automation.errors import InputError, RenderError
from prbot.automation.loader import load_view
from prbot.engine.run import render_remote, run_automation
from tests.support.memory_scm import MemoryScm

REPO = "acme/gitops"


AUTOMATION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump}
spec:
  title: "Bump {{ context.env }} to {{ context.tag }}"
  configuration:
    - {name: env, type: string}
    - {name: tag, type: string}
  updates:
    yamlEdits:
      - file: "services/*-{{ context.env }}.yaml"
        path: image.tag
        value: "{{ context.tag }}"
"""


def repo_files() -> dict[str, RepoFile]:
    files = {f"services/s{i}-dev.yaml": RepoFile(b"image:\n  tag: '1' # keep\n") for i in range(3)}
    files["services/s0-prod.yaml"] = RepoFile(b"image:\n  tag: '1'\n")
    files["README.md"] = RepoFile(b"hello")
    files["link"] = RepoFile(b"services", "120000")
    return files


def memory_scm() -> MemoryScm:
    """The forge: acme/gitops holding ``repo_files()`` on main."""
    return MemoryScm({REPO: repo_files()})


def automation():
    return load_view(MemoryRepoView({"a.yaml": AUTOMATION})).automations["bump"]


async def test_reads_exactly_the_needed_files_in_one_batch() -> None:
    scm = memory_scm()
    outcome = await run_automation(scm, REPO, automation(), {"env": "dev", "tag": "2"})
    # the symlink first (path safety needs its target), then the three dev overlays at once
    assert scm.reads == [["link"], [f"services/s{i}-dev.yaml" for i in range(3)]]
    assert sorted(outcome.render.changes.paths()) == [f"services/s{i}-dev.yaml" for i in range(3)]
    assert outcome.changed and outcome.pull_request.number == 1
    assert b"tag: '2' # keep" in outcome.render.changes.changes[0].content


async def test_rerun_reuses_the_pr_and_makes_no_commit() -> None:
    scm = memory_scm()
    first = await run_automation(scm, REPO, automation(), {"env": "dev", "tag": "2"})
    again = await run_automation(scm, REPO, automation(), {"env": "dev", "tag": "2"})
    assert again.pull_request == first.pull_request and not again.changed
    assert len(scm.committed) == 1


async def test_nothing_to_change_opens_nothing() -> None:
    scm = memory_scm()
    outcome = await run_automation(scm, REPO, automation(), {"env": "dev", "tag": "1"})
    assert outcome.pull_request is None and not outcome.changed and scm.committed == []


async def test_errors_surface_after_the_files_are_read() -> None:
    scm = memory_scm()
    with pytest.raises(RenderError, match="no file matches"):
        await render_remote(scm, REPO, automation(), {"env": "qa", "tag": "2"}, ref="main")
    with pytest.raises(InputError):
        await run_automation(scm, REPO, automation(), {"env": "dev"})
    assert scm.committed == []
