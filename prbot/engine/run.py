"""Running an automation against a repository on a forge: read, render, commit, open a PR.

The render is pure and synchronous, so the files it needs are fetched first. Which files
those are depends on the inputs (globs, templated paths), so a first pass renders with
a view that records every read of a file not fetched yet; those are fetched in one batch
and the render runs again. Usually two passes; bounded in any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prbot.automation.changeset import SYMLINK
from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import RenderError
from prbot.automation.inputs import ValidInputs, validate_inputs
from prbot.automation.render import RenderResult, render_automation
from prbot.errors import PrbotError
from prbot.scm.port import PullRequest, PullRequestDraft, Scm, Snapshot

MAX_PASSES = 4


@dataclass
class SnapshotView:
    """A RepoView over a Snapshot that notes which file contents it was asked for."""

    snapshot: Snapshot
    contents: dict[str, bytes]
    missing: set[str] = field(default_factory=set)

    def list_files(self) -> list[str]:
        return sorted(self.snapshot.entries)

    def read(self, path: str) -> bytes | None:
        if path not in self.snapshot.entries:
            return None
        if path in self.contents:
            return self.contents[path]
        self.missing.add(path)
        return b""  # a placeholder: this pass's result is thrown away

    def mode(self, path: str) -> str | None:
        entry = self.snapshot.entries.get(path)
        return entry.mode if entry else None

    def symlink_target(self, path: str) -> str | None:
        entry = self.snapshot.entries.get(path)
        if entry is None or entry.mode != SYMLINK:
            return None
        return self.contents[path].decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class RunOutcome:
    render: RenderResult
    pull_request: PullRequest | None  # None: nothing to change and no PR open
    changed: bool  # a commit was made


async def render_remote(
    scm: Scm,
    repo: str,
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    *,
    ref: str,
    extra_context: Mapping[str, Any] | None = None,
) -> tuple[Snapshot, RenderResult]:
    """Render against ``ref`` on the forge, fetching exactly the files the render reads."""
    valid = (
        inputs
        if isinstance(inputs, ValidInputs)
        else validate_inputs(automation.configuration, inputs)
    )
    snapshot = await scm.snapshot(repo, ref)
    contents: dict[str, bytes] = {}
    need = {p for p, e in snapshot.entries.items() if e.mode == SYMLINK}
    for _ in range(MAX_PASSES):
        if need:
            contents.update(await scm.read_files(repo, snapshot.sha, sorted(need)))
            for path in need - contents.keys():
                contents[path] = b""  # listed but unreadable: treat as empty, don't loop
        view = SnapshotView(snapshot, contents)
        try:
            result = render_automation(automation, valid, view, extra_context=extra_context)
        except PrbotError:
            if not view.missing:
                raise
        else:
            if not view.missing:
                return snapshot, result
        need = set(view.missing)
    raise RenderError(f"{automation.name}: the files to read kept changing; gave up")


async def run_automation(
    scm: Scm,
    repo: str,
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    *,
    extra_context: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Render, commit to the deterministic head branch, open or update the PR.

    Idempotent: the same automation and inputs give the same head branch; a re-run
    whose change is already on that branch makes no commit and updates the same PR.
    """
    valid = (
        inputs
        if isinstance(inputs, ValidInputs)
        else validate_inputs(automation.configuration, inputs)
    )
    base = automation.base or await scm.default_branch(repo)
    # render with the base branch known, so a templated base can't disagree with it
    snapshot, result = await render_remote(
        scm, repo, automation, valid, ref=base, extra_context=extra_context
    )
    spec = result.pull_request
    if spec.base and spec.base != base:
        base = spec.base
        snapshot, result = await render_remote(
            scm, repo, automation, valid, ref=base, extra_context=extra_context
        )
        spec = result.pull_request
    if not result.changes:
        return RunOutcome(result, await scm.find_pull_request(repo, spec.head), False)
    commit = await scm.commit_changes(
        repo,
        base_sha=snapshot.sha,
        branch=spec.head,
        changes=result.changes,
        message=spec.commit_message or spec.title,
    )
    draft = PullRequestDraft(
        head=spec.head,
        base=base,
        title=spec.title,
        body=spec.body,
        labels=spec.labels,
        reviewers=spec.reviewers,
    )
    pull_request = await scm.open_pull_request(repo, draft)
    return RunOutcome(result, pull_request, commit.changed)
