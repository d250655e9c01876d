"""A stage's health: its required signals, what was seen of them, and the verdict.

A requirement is a check by name (a commit status, a check run, GitLab's "pipeline";
``health.checks``) or the deployment to an environment (``health.deployment``). Signals
are read on the stage's merge commit; CD tools report on the commit they applied, which
may be a later commit of the base branch, so a success on a descendant counts too. A
failure fails the stage only on the merge commit itself: a descendant's failure may be
another change's, so it only keeps the signal from counting (the timeout decides).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from prbot.pipeline.happenings import Signal
from prbot.pipeline.model import HealthRule, Observation, RequirementHealth

Verdict = Literal["healthy", "failing", "waiting"]


@dataclass(frozen=True)
class HealthVerdict:
    verdict: Verdict
    reason: str = ""  # what failed, or what is still awaited


def requirements(rule: HealthRule) -> tuple[RequirementHealth, ...]:
    """What a stage must see, nothing seen yet: the checks in order, then the deployment."""
    needed = [RequirementHealth("check", name) for name in dict.fromkeys(rule.checks)]
    if rule.deployment:
        needed.append(RequirementHealth("deployment", rule.deployment))
    return tuple(needed)


def may_change(rule: HealthRule, signal: Signal) -> bool:
    """Whether a report of ``signal`` could change what a stage under ``rule`` sees: a
    signal it requires, or GitLab's pipeline, whose hook also stands for the commit
    statuses in it (GitLab has no hook of its own for them). A report of anything else,
    such as another tool's status on the same commit, needs no health read."""
    if signal.kind == "pipeline" and rule.checks:
        return True
    return any(_matches(r, signal) for r in requirements(rule))


def _matches(requirement: RequirementHealth, signal: Signal) -> bool:
    if requirement.kind == "deployment":
        return signal.kind == "deployment" and signal.name == requirement.name
    return signal.kind != "deployment" and signal.name == requirement.name


def record(
    health: tuple[RequirementHealth, ...],
    sha: str,
    on_merge: bool,
    signals: Iterable[Signal],
) -> tuple[RequirementHealth, ...]:
    """``health`` with what ``signals`` on ``sha`` say (the first signal of a name wins,
    as providers list the newest first). Unrequired signals are ignored."""
    signals = tuple(signals)
    updated = []
    for requirement in health:
        signal = next((s for s in signals if _matches(requirement, s)), None)
        if signal is not None:
            seen = Observation(sha, signal.state, signal.url)
            requirement = (
                replace(requirement, on_merge=seen)
                if on_merge
                else replace(requirement, on_descendant=seen)
            )
        updated.append(requirement)
    return tuple(updated)


def judge(health: Iterable[RequirementHealth]) -> HealthVerdict:
    health = tuple(health)
    for r in health:
        if r.state == "failure":
            assert r.on_merge is not None
            return HealthVerdict("failing", f"{r.label} failed on {r.on_merge.sha[:12]}")
    waiting = [r.label for r in health if r.state != "success"]
    if waiting:
        return HealthVerdict("waiting", "waiting for " + ", ".join(waiting))
    return HealthVerdict("healthy")


def anything_seen(health: Iterable[RequirementHealth]) -> bool:
    return any(r.on_merge is not None or r.on_descendant is not None for r in health)
