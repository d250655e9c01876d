"""Builders for the pipeline tests: specs like the shipped myapp pipeline, and ``Run``, a
promotion driven through ``decide`` with a clock the test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from prbot.pipeline.actions import Action
from prbot.pipeline.happenings import Happening, Signal
from prbot.pipeline.machine import decide
from prbot.pipeline.model import (
    ApprovalRule,
    HealthRule,
    PipelineSpec,
    Promotion,
    StageSpec,
    StageState,
    WindowRule,
    new_promotion,
)

# Monday 2024-03-04 10:00 UTC (11:00 in Berlin, 05:00 in New York)
T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC).timestamp()
A = TypeVar("A")


def stage(
    name: str,
    *,
    checks: tuple[str, ...] = ("ci",),
    deployment: str = "",
    soak: int = 0,
    timeout: int | None = 1800,
    gates: tuple[ApprovalRule | WindowRule, ...] = (),
    on_failure: str = "hold",
    context: dict[str, Any] | None = None,
) -> StageSpec:
    return StageSpec(
        name,
        "image-bump",
        context if context is not None else {"env": name},
        HealthRule(checks, deployment, soak, timeout),
        gates,
        on_failure,  # type: ignore[arg-type]
    )


def pipeline(*stages: StageSpec, name: str = "myapp") -> PipelineSpec:
    return PipelineSpec(name, stages or (stage("dev"), stage("staging"), stage("prod")))


def ok(*names: str, kind: str = "status") -> tuple[Signal, ...]:
    return tuple(Signal(kind, n, "success") for n in names)  # type: ignore[arg-type]


def failing(*names: str, kind: str = "status") -> tuple[Signal, ...]:
    return tuple(Signal(kind, n, "failure") for n in names)  # type: ignore[arg-type]


class Run:
    """One promotion, the time, and every action decided so far."""

    def __init__(
        self,
        spec: PipelineSpec | None = None,
        *,
        now: float = T0,
        requester: str = "alice",
        id: str = "p1",
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self.now = now
        self.p: Promotion = new_promotion(
            id, spec or pipeline(), "acme/gitops", inputs or {"tag": "6.7.1"}, requester, now
        )
        self.log: list[Action] = []

    def __call__(self, happening: Happening, *, after: float = 0) -> tuple[Action, ...]:
        self.now += after
        self.p, actions = decide(self.p, happening, self.now)
        self.log.extend(actions)
        return actions

    def unchanged(self, happening: Happening, *, after: float = 0) -> bool:
        """Whether ``happening`` is ignored: same promotion, no actions."""
        before = self.p
        actions = self(happening, after=after)
        return self.p is before and actions == ()

    def stage(self, name: str) -> StageState:
        return self.p.stage(name)

    def statuses(self) -> list[str]:
        return [s.status for s in self.p.stages]


def of_type(actions: tuple[Action, ...] | list[Action], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]
