"""Happenings: what the engine tells the machine about a promotion, as values.

The engine turns webhook events, timers, API calls and the outcome of its own actions
into these and hands them to ``decide`` one at a time per promotion. A happening that
does not fit where the promotion stands (an old stage, a duplicate, one out of order) is
ignored: ``decide`` returns the promotion unchanged and no actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prbot.pipeline.errors import PipelineError
from prbot.pipeline.model import SignalKind, SignalState

CommandName = Literal["hold", "resume", "retry", "rollback", "cancel"]
COMMANDS: tuple[str, ...] = ("hold", "resume", "retry", "rollback", "cancel")


def _number(number: int) -> None:
    if number < 1:
        raise PipelineError(f"a pull request number is 1 or more, not {number}")


@dataclass(frozen=True)
class Start:
    """Begin a promotion made by ``new_promotion``: its first stage is reached."""


@dataclass(frozen=True)
class Tick:
    """The clock: deadlines (health timeout, soak end, a window opening) that have passed
    by ``now`` take effect. Sent at each ``ScheduleWakeUp``, and harmless at any time."""


@dataclass(frozen=True)
class PrOpened:
    """The engine opened (or found open) the stage's PR that ``OpenStagePr`` asked for."""

    stage: str
    number: int
    url: str = ""

    def __post_init__(self) -> None:
        _number(self.number)


@dataclass(frozen=True)
class StagePrFailed:
    """The engine could not open the stage's PR for a reason no retry fixes (a render
    error, invalid inputs). The stage fails."""

    stage: str
    reason: str


@dataclass(frozen=True)
class NothingToChange:
    """The stage's automation changes nothing: the base branch already holds it, at
    ``sha``. No PR is opened; the stage's health is read on ``sha``."""

    stage: str
    sha: str

    def __post_init__(self) -> None:
        if not self.sha:
            raise PipelineError("NothingToChange needs the base branch's sha")


@dataclass(frozen=True)
class PrMerged:
    stage: str
    number: int
    merge_sha: str

    def __post_init__(self) -> None:
        _number(self.number)
        if not self.merge_sha:
            raise PipelineError("PrMerged needs the merge commit's sha")


@dataclass(frozen=True)
class PrClosed:
    """A PR closed without merging: the stage's PR (the stage and the promotion are
    cancelled) or the stage's revert PR (the revert is given up)."""

    stage: str
    number: int

    def __post_init__(self) -> None:
        _number(self.number)


@dataclass(frozen=True)
class Signal:
    """One commit status, check run, deployment status or pipeline on a commit (as the
    SCM port's ``HealthSignal``). Within one ``HealthObserved``, the first signal of a
    name counts: list the newest first."""

    kind: SignalKind
    name: str  # status context, check name, deployment environment, "pipeline"
    state: SignalState
    url: str = ""


@dataclass(frozen=True)
class HealthObserved:
    """Signals reported on ``sha``, for the stage whose merge commit is ``sha`` or, with
    ``descendant=True``, an ancestor of ``sha`` (the engine knows the ancestry)."""

    stage: str
    sha: str
    signals: tuple[Signal, ...]
    descendant: bool = False


@dataclass(frozen=True)
class Approved:
    """``by`` approves the stage's gate; ``teams`` are the approver's teams (the engine
    looks them up), matched against the gate's ``teams``."""

    stage: str
    by: str
    teams: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.by.strip():
            raise PipelineError("an approval needs the approver")


@dataclass(frozen=True)
class Command:
    """hold, resume, retry, rollback or cancel, by a person (authorised by the engine)."""

    name: CommandName
    by: str

    def __post_init__(self) -> None:
        if self.name not in COMMANDS:
            raise PipelineError(f"unknown command {self.name!r}; one of {', '.join(COMMANDS)}")


@dataclass(frozen=True)
class RevertOpened:
    """The engine opened the revert PR that ``OpenRevertPr`` asked for."""

    stage: str
    number: int
    url: str = ""

    def __post_init__(self) -> None:
        _number(self.number)


@dataclass(frozen=True)
class RevertMerged:
    stage: str


@dataclass(frozen=True)
class Superseded:
    """A newer promotion of the same pipeline and repository started."""

    by_promotion: str


Happening = (
    Start
    | Tick
    | PrOpened
    | StagePrFailed
    | NothingToChange
    | PrMerged
    | PrClosed
    | HealthObserved
    | Approved
    | Command
    | RevertOpened
    | RevertMerged
    | Superseded
)
