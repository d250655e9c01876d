"""Actions: what the engine must do after a decision, as values.

Every action is safe to do twice (the engine may crash between doing one and recording
it): a stage PR and a revert PR have deterministic head branches, a comment is found by
its marker, a wake-up is a Tick that changes nothing when early or repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OpenStagePr:
    """Render ``automation`` with the promotion's inputs, the stage's ``context`` and
    ``extra_context`` (``{"pipeline": {...}}``), commit it to ``head_branch`` and open (or
    update) the PR from it; then report ``PrOpened``, ``NothingToChange`` or
    ``StagePrFailed``. The head branch wins over the automation's own ``head``."""

    stage: str
    automation: str
    head_branch: str
    context: Mapping[str, Any] = field(default_factory=dict)
    extra_context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckHealth:
    """Read the health of ``sha`` and of the base branch's head if it descends from
    ``sha``, and report each as ``HealthObserved`` (even with no signals)."""

    stage: str
    sha: str


@dataclass(frozen=True)
class UpdateStatusComment:
    """Post, or edit in place, the status comment (``status.render_status``, found by
    ``status.status_marker``) on each of these PRs."""

    numbers: tuple[int, ...]


@dataclass(frozen=True)
class OpenRevertPr:
    """Open a PR reverting PR ``number`` (merged as ``merge_sha``) from ``head_branch``,
    with ``labels``; then report ``RevertOpened``."""

    stage: str
    number: int
    merge_sha: str
    head_branch: str
    labels: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ClosePr:
    """Close the stage's PR unmerged, commenting ``comment``: PR ``number``, or when it is
    not known yet (the PR was being opened) the open PR from ``head_branch``, if any."""

    stage: str
    head_branch: str
    number: int | None
    comment: str


@dataclass(frozen=True)
class ScheduleWakeUp:
    """Decide ``Tick()`` for this promotion at ``at`` (epoch seconds), durably."""

    at: float


@dataclass(frozen=True)
class Audit:
    """One line of the audit log: ``what`` happened, ``who`` did it ("prbot" for the
    machine), ``at`` when, on which ``stage`` ("" for the whole promotion)."""

    what: str
    who: str
    at: float
    stage: str = ""
    detail: str = ""


Action = (
    OpenStagePr
    | CheckHealth
    | UpdateStatusComment
    | OpenRevertPr
    | ClosePr
    | ScheduleWakeUp
    | Audit
)
