"""What one decision does to a promotion, step by step: the stage life ``decide`` drives.

``Step`` holds the promotion as a decision changes it and the actions so far; the
functions move a stage along ``pending`` -> ``gates`` -> ``pr_open`` -> ``merged`` ->
``verifying`` -> ``soaking`` -> ``succeeded`` or end it, and emit what the engine must do.
Only ``machine`` uses them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from prbot.pipeline import gates as gate_rules
from prbot.pipeline.actions import (
    Action,
    Audit,
    CheckHealth,
    ClosePr,
    OpenRevertPr,
    OpenStagePr,
    ScheduleWakeUp,
)
from prbot.pipeline.health import anything_seen, judge, requirements
from prbot.pipeline.model import (
    IN_FLIGHT,
    REVERT_LABEL,
    Hold,
    Promotion,
    PullRequestRef,
    Revert,
    StageStatus,
    epoch,
    format_duration,
    revert_branch,
    stage_branch,
)

MACHINE = "prbot"  # who did it, in the audit log, when nobody did


class Step:
    """The promotion as a decision changes it, and the actions so far (local to one call)."""

    def __init__(self, promotion: Promotion, now: float) -> None:
        self.before = promotion  # what the engine knew when it acted: reports refer to it
        self.p = promotion
        self.now = now
        self.actions: list[Action] = []

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def set(self, **changes: Any) -> None:
        self.p = replace(self.p, **changes)

    def set_stage(self, i: int, **changes: Any) -> None:
        stages = list(self.p.stages)
        stages[i] = replace(stages[i], **changes)
        self.p = replace(self.p, stages=tuple(stages))

    def emit(self, action: Action) -> None:
        self.actions.append(action)

    def audit(self, what: str, who: str = MACHINE, stage: str = "", detail: str = "") -> None:
        self.actions.append(Audit(what, who, self.now, stage, detail))

    def wake_up(self, at: float | None) -> None:
        if at is not None:
            self.actions.append(ScheduleWakeUp(at))

    def finish(self, status: str, reason: str = "") -> None:
        self.set(status=status, finished_at=self.now, reason=reason, hold=None)


def caught_up(promotion: Promotion, now: float | datetime | None) -> Promotion:
    """The promotion after the deadlines passed by ``now`` (as ``decide`` sees it first)."""
    if now is None or promotion.done:
        return promotion
    step = Step(promotion, epoch(now))
    advance(step, open_prs=False)
    return step.p


def advance(step: Step, *, open_prs: bool = True) -> None:
    """Move the promotion on as far as ``now`` and its state allow (with ``open_prs``
    False, stop at a stage's gates: a happening decided next may still hold or end it)."""
    while True:
        p = step.p
        if p.started_at is None or p.finished:
            return
        i = p.current
        if i is None:
            step.finish("succeeded")
            step.audit("succeeded")
            return
        s, spec = p.stages[i], p.pipeline.stages[i]
        if s.status == "pending":
            step.set_stage(i, status="gates", reached_at=step.now)
            continue
        if s.status == "gates":
            if open_prs:
                at_gates(step, i)
            return
        if s.status in ("merged", "verifying"):
            if s.deadline is not None and step.now >= s.deadline:
                timeout = format_duration(spec.health.timeout_seconds or 0)
                fail(step, i, f"not healthy within {timeout} ({judge(s.health).reason})")
            return
        if s.status == "soaking":
            assert s.soak_until is not None
            if step.now < s.soak_until:
                return
            if not spec.health.required:
                succeed(step, i, f"soaked {format_duration(spec.health.soak_seconds)}")
                continue
            if not s.recheck_requested:  # the soak is over: read the health afresh
                deadline = deadline_after(step.now, spec.health.timeout_seconds)
                step.set_stage(i, recheck_requested=True, deadline=deadline)
                step.emit(CheckHealth(s.name, s.merge_sha))
                step.wake_up(deadline)
            elif s.deadline is not None and step.now >= s.deadline:
                fail(step, i, f"not healthy when the soak ended ({judge(s.health).reason})")
            return
        return  # pr_open, failed: waiting for the engine or a person


def at_gates(step: Step, i: int) -> None:
    p = step.p
    s, spec = p.stages[i], p.pipeline.stages[i]
    if p.hold is not None:
        return
    if gate_rules.gates_pass(spec, s.approvals, p.requested_by, step.at):
        open_stage(step, i)
        return
    if not spec.windows:
        return  # waiting for approvals only
    opening = gate_rules.next_common_opening(spec.windows, step.at)
    if opening is None:
        fail(step, i, "its time windows are never open at the same time")
        return
    opens_at = None if opening <= step.at else opening.timestamp()
    if opens_at != s.window_opens_at:
        step.set_stage(i, window_opens_at=opens_at)
        step.wake_up(opens_at)


def open_stage(step: Step, i: int) -> None:
    p = step.p
    s, spec = p.stages[i], p.pipeline.stages[i]
    names = [x.name for x in p.pipeline.stages]
    extra = {
        "pipeline": {
            "name": p.pipeline.name,
            "promotion": p.id,
            "repo": p.repo,
            "requested_by": p.requested_by,
            "stages": names,
            "stage": {
                "name": s.name,
                "index": i,
                "previous": names[i - 1] if i > 0 else "",
                "next": names[i + 1] if i + 1 < len(names) else "",
            },
        }
    }
    step.set_stage(i, status="pr_open", pr_requested_at=step.now, window_opens_at=None)
    if spec.gates:
        who = ", ".join(a.by for a in s.approvals)
        step.audit("gates passed", stage=s.name, detail=f"approved by {who}" if who else "")
    step.emit(
        OpenStagePr(
            s.name,
            spec.automation,
            stage_branch(p.pipeline.name, p.id, s.name),
            dict(spec.context),
            extra,
        )
    )


def merged(step: Step, i: int, pr: PullRequestRef | None, sha: str, what: str, detail: str) -> None:
    s, spec = step.p.stages[i], step.p.pipeline.stages[i]
    deadline = (
        deadline_after(step.now, spec.health.timeout_seconds) if spec.health.required else None
    )
    step.set_stage(
        i,
        status="merged",
        pr=pr,
        merge_sha=sha,
        merged_at=step.now,
        health=requirements(spec.health),
        deadline=deadline,
        recheck_requested=False,
    )
    step.audit(what, stage=s.name, detail=detail)
    if spec.health.required:
        step.emit(CheckHealth(s.name, sha))
        step.wake_up(deadline)
    judge_health(step, i)


def judge_health(step: Step, i: int) -> None:
    """Act on stage ``i``'s health as it now stands."""
    s, spec = step.p.stages[i], step.p.pipeline.stages[i]
    verdict = judge(s.health)
    if verdict.verdict == "failing":
        fail(step, i, verdict.reason)
    elif verdict.verdict == "healthy":
        if s.status in ("merged", "verifying"):
            if spec.health.soak_seconds == 0:
                succeed(step, i, "healthy")
            else:
                until = step.now + spec.health.soak_seconds
                step.set_stage(
                    i, status="soaking", healthy_at=step.now, soak_until=until, deadline=None
                )
                step.audit(
                    "healthy",
                    stage=s.name,
                    detail=f"soaking for {format_duration(spec.health.soak_seconds)}",
                )
                step.wake_up(until)
        elif s.status == "soaking" and s.soak_until is not None and step.now >= s.soak_until:
            succeed(step, i, "healthy at the end of the soak")
    elif s.status == "merged" and anything_seen(s.health):
        step.set_stage(i, status="verifying")


def succeed(step: Step, i: int, detail: str) -> None:
    s = step.p.stages[i]
    healthy_at = s.healthy_at if s.healthy_at is not None else step.now
    step.set_stage(
        i, status="succeeded", healthy_at=healthy_at, finished_at=step.now, deadline=None
    )
    step.audit("stage succeeded", stage=s.name, detail=detail)


def fail(step: Step, i: int, reason: str) -> None:
    s, spec = step.p.stages[i], step.p.pipeline.stages[i]
    step.set_stage(i, status="failed", failure=reason, finished_at=step.now, deadline=None)
    step.audit("stage failed", stage=s.name, detail=reason)
    if spec.on_failure == "rollback":
        if s.pr is not None and s.merge_sha:
            request_revert(step, i, reason)
        step.finish("failed", f"stage {s.name} failed: {reason}")
    else:
        step.set(hold=Hold(MACHINE, step.now, f"stage {s.name} failed: {reason}"))


def request_revert(step: Step, i: int, reason: str) -> None:
    p = step.p
    s = p.stages[i]
    assert s.pr is not None
    step.set_stage(i, revert=Revert(step.now, reason))
    step.emit(
        OpenRevertPr(
            s.name,
            s.pr.number,
            s.merge_sha,
            revert_branch(p.pipeline.name, p.id, s.name),
            (REVERT_LABEL, f"prbot/pipeline/{p.pipeline.name}"),
            reason,
        )
    )
    step.audit("revert requested", stage=s.name, detail=reason)


def stop_in_flight(step: Step, status: StageStatus, comment: str) -> None:
    """End every stage not finished with ``status``, closing a PR that has not merged."""
    for i, s in enumerate(step.p.stages):
        if s.status not in IN_FLIGHT:
            continue
        if s.status == "pr_open":
            close_pr(step, i, comment)
        step.set_stage(i, status=status, finished_at=step.now, deadline=None)


def close_pr(step: Step, i: int, comment: str) -> None:
    p = step.p
    s = p.stages[i]
    branch = stage_branch(p.pipeline.name, p.id, s.name)
    step.emit(ClosePr(s.name, branch, s.pr.number if s.pr else None, comment))


def settle(step: Step) -> None:
    """The promotion's status from its stages, while it runs."""
    p = step.p
    if p.finished:
        return
    current = p.current
    if p.hold is not None:
        status = "held"
    elif current is not None and p.stages[current].status == "gates":
        status = "waiting"
    else:
        status = "running"
    if status != p.status:
        step.set(status=status)


def deadline_after(now: float, timeout: int | None) -> float | None:
    return None if timeout is None else now + timeout
