"""Running an automation against a repository on a forge: read, render, commit, open a PR.

The render is pure and synchronous, and untrusted: it runs in the sandbox's processes
(``prbot.engine.sandbox``), so the files it needs are fetched first. Which files
those are depends on the inputs (globs, templated paths), so a first pass renders with
a view that records every read of a file not fetched yet; those are fetched in one batch
and the render runs again. Usually two passes; bounded in any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from prbot.automation.changeset import SYMLINK
from prbot.automation.definitions import PrAutomation
from prbot.automation.errors import RenderError
from prbot.automation.inputs import ValidInputs, validate_inputs
from prbot.automation.limits import LIMITS, Limits
from prbot.automation.render import RenderResult
from prbot.engine.boxed import render_pass
from prbot.engine.sandbox import Sandbox, shared_sandbox
from prbot.scm.port import PullRequest, PullRequestDraft, Scm, Snapshot

MAX_PASSES = 4


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
    sandbox: Sandbox | None = None,
    limits: Limits = LIMITS,
) -> tuple[Snapshot, RenderResult]:
    """Render against ``ref`` on the forge, fetching exactly the files the render reads."""
    valid = (
        inputs
        if isinstance(inputs, ValidInputs)
        else validate_inputs(automation.configuration, inputs, limits)
    )
    box = sandbox or shared_sandbox()
    snapshot = await scm.snapshot(repo, ref)
    contents: dict[str, bytes] = {}
    need = {p for p, e in snapshot.entries.items() if e.mode == SYMLINK}
    # what crosses to the box: plain values (a provider may hand out read-only mappings)
    listing = replace(snapshot, entries=dict(snapshot.entries), contents={})
    for _ in range(MAX_PASSES):
        if need:
            contents.update(await scm.read_files(repo, snapshot.sha, sorted(need)))
            for path in need - contents.keys():
                contents[path] = b""  # listed but unreadable: treat as empty, don't loop
        # the render is untrusted work: in the box, never on this event loop
        result, need = await box.run(
            f"render of {automation.name}",
            render_pass,
            automation,
            valid,
            listing,
            contents,
            extra_context,
            limits,
        )
        if result is not None:
            return snapshot, result
    raise RenderError(f"{automation.name}: the files to read kept changing; gave up")


async def render_on_base(
    scm: Scm,
    repo: str,
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    *,
    extra_context: Mapping[str, Any] | None = None,
    sandbox: Sandbox | None = None,
    limits: Limits = LIMITS,
) -> tuple[str, Snapshot, RenderResult]:
    """Render against the PR's base branch (the automation's, else the default branch;
    a templated base that names another is rendered again there): (base, snapshot,
    result). Reads only: a run and a preview see the same change."""
    valid = (
        inputs
        if isinstance(inputs, ValidInputs)
        else validate_inputs(automation.configuration, inputs, limits)
    )
    base = automation.base or await scm.default_branch(repo)

    async def render_on(ref: str) -> tuple[Snapshot, RenderResult]:
        return await render_remote(
            scm, repo, automation, valid, ref=ref, extra_context=extra_context,
            sandbox=sandbox, limits=limits,
        )  # fmt: skip

    # render with the base branch known, so a templated base can't disagree with it
    snapshot, result = await render_on(base)
    spec = result.pull_request
    if spec.base and spec.base != base:
        base = spec.base
        snapshot, result = await render_on(base)
    return base, snapshot, result


async def run_automation(
    scm: Scm,
    repo: str,
    automation: PrAutomation,
    inputs: Mapping[str, Any] | ValidInputs,
    *,
    extra_context: Mapping[str, Any] | None = None,
    sandbox: Sandbox | None = None,
    limits: Limits = LIMITS,
    note: str = "",
) -> RunOutcome:
    """Render, commit to the deterministic head branch, open or update the PR.

    Idempotent: the same automation and inputs give the same head branch; a re-run
    whose change is already on that branch makes no commit and updates the same PR.
    ``note`` (Markdown: who asked, where) ends the PR's body, below a rule.
    """
    base, snapshot, result = await render_on_base(
        scm, repo, automation, inputs, extra_context=extra_context, sandbox=sandbox,
        limits=limits,
    )  # fmt: skip
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
        body=f"{spec.body.rstrip()}\n\n---\n{note}".lstrip() if note else spec.body,
        labels=spec.labels,
        reviewers=spec.reviewers,
    )
    pull_request = await scm.open_pull_request(repo, draft)
    return RunOutcome(result, pull_request, commit.changed)
