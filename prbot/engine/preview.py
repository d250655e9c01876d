"""What a run would change, without changing anything: the render a run makes (in the
sandbox, against the PR's base branch through the SCM) and each file's unified diff.

Only reads reach the forge: the listing, the files the render reads, and one batched
read of the files it updates or deletes (their old text, for the diff).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prbot.automation.changeset import ChangeSet, MemoryRepoView, RepoFile, unified_diff
from prbot.automation.definitions import PrAutomation
from prbot.automation.inputs import ValidInputs
from prbot.automation.limits import LIMITS, Limits
from prbot.engine.run import render_on_base
from prbot.engine.sandbox import Sandbox
from prbot.scm.port import Scm


@dataclass(frozen=True)
class FilePreview:
    path: str
    change: str  # create | update | delete
    diff: str  # git-style unified diff of this file (as `prbot render` prints it)


@dataclass(frozen=True)
class Preview:
    title: str
    branch: str  # the PR's head branch
    base: str
    body: str
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    files: tuple[FilePreview, ...]


async def preview_run(
    scm: Scm,
    repo: str,
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    *,
    sandbox: Sandbox | None = None,
    limits: Limits = LIMITS,
) -> Preview:
    base, snapshot, result = await render_on_base(
        scm, repo, automation, inputs, sandbox=sandbox, limits=limits
    )
    existing = [c.path for c in result.changes if c.operation != "create"]
    old = await scm.read_files(repo, snapshot.sha, existing) if existing else {}
    before = MemoryRepoView(
        {p: RepoFile(content, snapshot.entries[p].mode) for p, content in old.items()}
    )
    spec = result.pull_request
    return Preview(
        title=spec.title,
        branch=spec.head,
        base=base,
        body=spec.body,
        labels=spec.labels,
        reviewers=spec.reviewers,
        files=tuple(
            FilePreview(c.path, c.operation, unified_diff(ChangeSet((c,)), before))
            for c in result.changes
        ),
    )
