"""The values of a promotion: what the pipeline asks (specs) and where a run stands (state).

The specs mirror the ``kind: Pipeline`` definition field for field (``stages[]`` with
``health.checks / deployment / soak / timeout``, ``gates[]`` of ``approval`` or ``window``,
``onFailure``), so the engine converts a definition with a small function; a promotion
keeps its own copy, so a definition edited mid-run does not change a run in flight.

Times are epoch seconds (floats). Every value is frozen; mappings (``inputs``, a stage's
``context``) are plain dicts and must be treated as read-only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from prbot.pipeline.errors import PipelineError

StageStatus = Literal[
    "pending",  # not reached yet
    "gates",  # reached: waiting for its gates (approval, window) before its PR opens
    "pr_open",  # PR asked for (``pr`` is None until the engine reports it) or open
    "merged",  # merged; no required health signal reported yet
    "verifying",  # some required signal reported, not all succeeded
    "soaking",  # healthy; staying healthy for ``health.soak``
    "succeeded",
    "failed",  # health failed, the timeout passed, its PR could not be opened, rolled back
    "rolled_back",  # its revert PR merged
    "cancelled",  # its PR closed unmerged, or the promotion cancelled
    "superseded",  # a newer promotion of the pipeline and repository took over
]
PromotionStatus = Literal[
    "running", "waiting", "held", "succeeded", "failed", "cancelled", "superseded"
]
OnFailure = Literal["hold", "rollback"]
SignalState = Literal["pending", "success", "failure"]
SignalKind = Literal["status", "check", "deployment", "pipeline"]
RequirementKind = Literal["check", "deployment"]
RevertState = Literal["open", "merged", "closed"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "superseded"})
IN_FLIGHT: frozenset[str] = frozenset(
    {"pending", "gates", "pr_open", "merged", "verifying", "soaking"}
)
AWAITING_HEALTH: frozenset[str] = frozenset({"merged", "verifying", "soaking"})

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # as definitions' metadata.name
PROMOTION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
REVERT_LABEL = "prbot/revert"


def epoch(now: float | datetime) -> float:
    """``now`` as epoch seconds; a datetime must carry its time zone."""
    if isinstance(now, datetime):
        if now.tzinfo is None or now.utcoffset() is None:
            raise PipelineError(f"{now.isoformat()} has no time zone; pass an aware datetime")
        return now.timestamp()
    return float(now)


# ---------------------------------------------------------------- what the pipeline asks


@dataclass(frozen=True)
class ApprovalRule:
    """``gates[].approval``: ``count`` distinct approvers among ``users`` or members of
    ``teams`` (anyone, when neither is listed)."""

    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise PipelineError(f"an approval gate needs a count of 1 or more, not {self.count}")


@dataclass(frozen=True)
class WindowRule:
    """``gates[].window``: the PR may open on ``days`` between ``hours`` (``HH:MM-HH:MM``,
    local wall time in ``timezone``). An end before the start runs past midnight into the
    next day; ``24:00`` is the end of the day."""

    days: tuple[str, ...] = DAYS
    hours: str = "00:00-24:00"
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not self.days or any(d not in DAYS for d in self.days):
            raise PipelineError(f"window days must be some of {', '.join(DAYS)}: {self.days}")
        m = HOURS_RE.fullmatch(self.hours)
        if not m:
            raise PipelineError(f"window hours {self.hours!r} must look like 09:00-17:00")
        if m.group(3) == "24" and m.group(4) != "00":
            raise PipelineError(f"window hours {self.hours!r} end after 24:00")
        if self.start == self.end:
            raise PipelineError(f"window hours {self.hours!r} are empty")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PipelineError(f"{self.timezone!r} is not a known time zone") from exc

    @property
    def start(self) -> int:
        """Seconds after local midnight when the window opens."""
        return _seconds(self.hours.split("-")[0])

    @property
    def end(self) -> int:
        """Seconds after local midnight when it closes (86400: midnight)."""
        return _seconds(self.hours.split("-")[1])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _seconds(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


GateRule = ApprovalRule | WindowRule


@dataclass(frozen=True)
class HealthRule:
    """``health``: what "healthy" means for a stage, read on its merge commit."""

    checks: tuple[str, ...] = ()  # commit status / check run / pipeline names, all needed
    deployment: str = ""  # an environment that needs a successful deployment
    soak_seconds: int = 0
    timeout_seconds: int | None = None  # None: wait for health as long as it takes

    def __post_init__(self) -> None:
        if self.soak_seconds < 0 or (self.timeout_seconds is not None and self.timeout_seconds < 0):
            raise PipelineError("soak and timeout cannot be negative")

    @property
    def required(self) -> bool:
        return bool(self.checks or self.deployment)


@dataclass(frozen=True)
class StageSpec:
    """One ``stages[]`` entry: the automation that makes its change, the context it adds,
    what healthy means, the gates before its PR, and what a failure does."""

    name: str
    automation: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    health: HealthRule = field(default_factory=HealthRule)
    gates: tuple[GateRule, ...] = ()
    on_failure: OnFailure = "hold"

    def __post_init__(self) -> None:
        if not NAME_RE.fullmatch(self.name) or len(self.name) > 63:
            raise PipelineError(f"stage name {self.name!r} must be lower-case letters, digits, '-'")
        if self.on_failure not in ("hold", "rollback"):
            raise PipelineError(f"onFailure must be hold or rollback, not {self.on_failure!r}")

    @property
    def approvals(self) -> tuple[ApprovalRule, ...]:
        return tuple(g for g in self.gates if isinstance(g, ApprovalRule))

    @property
    def windows(self) -> tuple[WindowRule, ...]:
        return tuple(g for g in self.gates if isinstance(g, WindowRule))


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    stages: tuple[StageSpec, ...]

    def __post_init__(self) -> None:
        if not NAME_RE.fullmatch(self.name) or len(self.name) > 63:
            raise PipelineError(
                f"pipeline name {self.name!r} must be lower-case letters, digits, '-'"
            )
        if not self.stages:
            raise PipelineError(f"pipeline {self.name!r} has no stages")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise PipelineError(f"pipeline {self.name!r} names a stage twice: {names}")


# ---------------------------------------------------------------- where a run stands


@dataclass(frozen=True)
class PullRequestRef:
    number: int
    url: str = ""


@dataclass(frozen=True)
class Approval:
    by: str
    teams: tuple[str, ...]  # the approver's teams, as the engine found them
    at: float


@dataclass(frozen=True)
class Observation:
    """The latest state of one signal on one commit."""

    sha: str
    state: SignalState
    url: str = ""


@dataclass(frozen=True)
class RequirementHealth:
    """One required signal of a stage: a check by name, or the deployment to an
    environment, with what was last seen on the merge commit and on a descendant."""

    kind: RequirementKind
    name: str
    on_merge: Observation | None = None
    on_descendant: Observation | None = None

    @property
    def label(self) -> str:
        return f"deployment {self.name}" if self.kind == "deployment" else self.name

    @property
    def state(self) -> SignalState:
        """failure: it failed on the merge commit; success: it succeeded on the merge
        commit or a descendant; pending otherwise (a descendant's failure only waits:
        it may be someone else's commit, and the timeout catches it)."""
        if self.on_merge is not None and self.on_merge.state == "failure":
            return "failure"
        if any(o is not None and o.state == "success" for o in (self.on_merge, self.on_descendant)):
            return "success"
        return "pending"


@dataclass(frozen=True)
class Revert:
    """The revert of a stage's merge: asked for, then its PR (once the engine reports
    it), then merged (the stage is rolled back) or closed unmerged (given up)."""

    requested_at: float
    reason: str
    state: RevertState = "open"
    pr: PullRequestRef | None = None


@dataclass(frozen=True)
class StageState:
    name: str
    status: StageStatus = "pending"
    pr: PullRequestRef | None = None
    merge_sha: str = ""  # the merge commit (or the base head when nothing changed)
    approvals: tuple[Approval, ...] = ()
    window_opens_at: float | None = None  # gates: when every window is next open
    health: tuple[RequirementHealth, ...] = ()
    reached_at: float | None = None  # became the current stage
    pr_requested_at: float | None = None
    merged_at: float | None = None
    healthy_at: float | None = None
    soak_until: float | None = None
    deadline: float | None = None  # health timeout, or the re-check's after the soak
    recheck_requested: bool = False
    finished_at: float | None = None
    failure: str = ""
    revert: Revert | None = None


@dataclass(frozen=True)
class Hold:
    by: str  # a person, or "prbot" when a failure holds it
    at: float
    reason: str


@dataclass(frozen=True)
class Promotion:
    """One run of a pipeline with its inputs against one repository."""

    id: str
    pipeline: PipelineSpec
    repo: str
    inputs: Mapping[str, Any]  # public inputs only: this value is stored and shown
    requested_by: str
    created_at: float
    stages: tuple[StageState, ...]
    status: PromotionStatus = "running"
    started_at: float | None = None
    hold: Hold | None = None
    finished_at: float | None = None
    reason: str = ""  # why it finished, when it did not succeed
    superseded_by: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def done(self) -> bool:
        """Finished, and no revert PR still in flight: nothing can change it any more."""
        return self.finished and not any(
            s.revert is not None and s.revert.state == "open" for s in self.stages
        )

    @property
    def current(self) -> int | None:
        """Index of the first stage that has not succeeded (None: all have)."""
        for i, s in enumerate(self.stages):
            if s.status != "succeeded":
                return i
        return None

    def index_of(self, stage: str) -> int | None:
        for i, s in enumerate(self.stages):
            if s.name == stage:
                return i
        return None

    def stage(self, name: str) -> StageState:
        i = self.index_of(name)
        if i is None:
            raise PipelineError(f"promotion {self.id} has no stage {name!r}")
        return self.stages[i]

    def spec(self, name: str) -> StageSpec:
        i = self.index_of(name)
        if i is None:
            raise PipelineError(f"pipeline {self.pipeline.name!r} has no stage {name!r}")
        return self.pipeline.stages[i]

    @property
    def pr_numbers(self) -> tuple[int, ...]:
        """The stage PRs known so far, in stage order: each carries the status comment."""
        return tuple(s.pr.number for s in self.stages if s.pr is not None)


def new_promotion(
    id: str,
    pipeline: PipelineSpec,
    repo: str,
    inputs: Mapping[str, Any],
    requested_by: str,
    now: float | datetime,
) -> Promotion:
    """A promotion not started yet (every stage pending): store it, then ``decide`` it
    with ``Start()``."""
    if not PROMOTION_ID_RE.fullmatch(id):
        raise PipelineError(
            f"promotion id {id!r} must be 1-64 letters, digits, '-' or '_' (it names branches)"
        )
    if not repo.strip():
        raise PipelineError("a promotion needs a repository")
    return Promotion(
        id=id,
        pipeline=pipeline,
        repo=repo,
        inputs=dict(inputs),
        requested_by=requested_by,
        created_at=epoch(now),
        stages=tuple(StageState(s.name) for s in pipeline.stages),
    )


def format_duration(seconds: float) -> str:
    """3600 -> '1h', 5400 -> '1h30m', 90 -> '1m30s', 0 -> '0s' (as definitions spell them)."""
    left = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def stage_branch(pipeline: str, promotion_id: str, stage: str) -> str:
    """The head branch of a stage's PR: the same whenever the same stage of the same
    promotion is opened, so a re-run finds and updates its PR."""
    return f"prbot/promote/{pipeline}/{promotion_id}/{stage}"


def revert_branch(pipeline: str, promotion_id: str, stage: str) -> str:
    return f"prbot/revert/{pipeline}/{promotion_id}/{stage}"
