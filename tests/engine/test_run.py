"""run_automation's orchestration: which files it fetches, in how many batches, and when it
commits. A small in-memory port stands in for the forge here (the end-to-end tests run the
same function against the real forge over HTTP)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from prbot.automation.changeset import ChangeSet, MemoryRepoView, RepoFile
from prbot.automation.errors import InputError, RenderError
from prbot.automation.loader import load_view
from prbot.engine.run import render_remote, run_automation
from prbot.scm.port import (
    CommitResult,
    PullRequest,
    PullRequestDraft,
    Snapshot,
    TreeEntry,
)


@dataclass
class MemoryScm:
    files: dict[str, RepoFile]
    platform: str = "github"
    reads: list[list[str]] = field(default_factory=list)
    commits: list[ChangeSet] = field(default_factory=list)
    prs: dict[str, PullRequest] = field(default_factory=dict)

    async def default_branch(self, repo: str) -> str:
        return "main"

    async def snapshot(self, repo: str, ref: str) -> Snapshot:
        entries = {
            p: TreeEntry(p, f.mode, hashlib.sha1(f.content).hexdigest())
            for p, f in self.files.items()
        }
        return Snapshot(repo, ref, "a" * 40, entries)

    async def read_files(self, repo: str, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        self.reads.append(list(paths))
        return {p: self.files[p].content for p in paths if p in self.files}

    async def commit_changes(self, repo, *, base_sha, branch, changes, message) -> CommitResult:
        changed = not self.commits or self.commits[-1] != changes
        if changed:
            self.commits.append(changes)
        return CommitResult(branch, "b" * 40, len(self.commits) == 1, changed)

    async def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        pr = self.prs.get(draft.head) or PullRequest(
            repo, len(self.prs) + 1, "", draft.head, draft.base, draft.title, draft.body,
            "open", "b" * 40,
        )  # fmt: skip
        self.prs[draft.head] = pr
        return pr

    async def find_pull_request(self, repo: str, head: str) -> PullRequest | None:
        return self.prs.get(head)


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


def automation():
    return load_view(MemoryRepoView({"a.yaml": AUTOMATION})).automations["bump"]


async def test_reads_exactly_the_needed_files_in_one_batch() -> None:
    scm = MemoryScm(repo_files())
    outcome = await run_automation(scm, "acme/gitops", automation(), {"env": "dev", "tag": "2"})
    # the symlink first (path safety needs its target), then the three dev overlays at once
    assert scm.reads == [["link"], [f"services/s{i}-dev.yaml" for i in range(3)]]
    assert sorted(outcome.render.changes.paths()) == [f"services/s{i}-dev.yaml" for i in range(3)]
    assert outcome.changed and outcome.pull_request.number == 1
    assert b"tag: '2' # keep" in outcome.render.changes.changes[0].content


async def test_rerun_reuses_the_pr_and_makes_no_commit() -> None:
    scm = MemoryScm(repo_files())
    first = await run_automation(scm, "acme/gitops", automation(), {"env": "dev", "tag": "2"})
    again = await run_automation(scm, "acme/gitops", automation(), {"env": "dev", "tag": "2"})
    assert again.pull_request == first.pull_request and not again.changed
    assert len(scm.commits) == 1


async def test_nothing_to_change_opens_nothing() -> None:
    scm = MemoryScm(repo_files())
    outcome = await run_automation(scm, "acme/gitops", automation(), {"env": "dev", "tag": "1"})
    assert outcome.pull_request is None and not outcome.changed and scm.commits == []


async def test_errors_surface_after_the_files_are_read() -> None:
    scm = MemoryScm(repo_files())
    with pytest.raises(RenderError, match="no file matches"):
        await render_remote(scm, "r", automation(), {"env": "qa", "tag": "2"}, ref="main")
    with pytest.raises(InputError):
        await run_automation(scm, "r", automation(), {"env": "dev"})
    assert scm.commits == []
