"""The promotion state machine: ``decide(promotion, happening, now) -> (promotion', actions)``.

A stage lives ``pending`` -> ``gates`` -> ``pr_open`` -> ``merged`` -> ``verifying`` ->
``soaking`` -> ``succeeded``, or ends ``failed``, ``rolled_back``, ``cancelled`` or
``superseded``; the promotion is ``running``, ``waiting`` (its current stage is at its
gates), ``held``, or finished: ``succeeded``, ``failed``, ``cancelled``, ``superseded``.

Rules every decision keeps:

- A happening that does not fit where the promotion stands is ignored: the same
  promotion comes back with no actions. So a duplicate, a replay or one out of order
  changes nothing, and the engine may redeliver freely.
- Deadlines that passed by ``now`` take effect before the happening is judged (a health
  report after the timeout finds the stage failed), so the same happening decided twice
  at the same ``now`` never does anything the second time. New PRs are asked for only
  after the happening, so a hold or a cancel at the moment a window opens wins.
- Actions come only with a change of state, and each is safe to do twice.
- A stage's PR is asked for only once the stage before it succeeded and its own gates
  pass at ``now``, and never while the promotion is held.
- A finished promotion never changes, except that the revert PR of a rolled-back stage
  is still followed (opened, merged, closed): ``Promotion.done`` is the real end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from prbot.pipeline import gates as gate_rules
from prbot.pipeline.actions import Action, CheckHealth, UpdateStatusComment
from prbot.pipeline.errors import PipelineError
from prbot.pipeline.happenings import (
    Approved,
    Command,
    CommandName,
    Happening,
    HealthObserved,
    NothingToChange,
    PrClosed,
    PrMerged,
    PrOpened,
    RevertMerged,
    RevertOpened,
    StagePrFailed,
    Start,
    Superseded,
    Tick,
)
from prbot.pipeline.health import record, requirements
from prbot.pipeline.model import AWAITING_HEALTH, Approval, Hold, Promotion, PullRequestRef, epoch
from prbot.pipeline.status import render_status
from prbot.pipeline.steps import (
    Step,
    advance,
    caught_up,
    close_pr,
    deadline_after,
    fail,
    judge_health,
    merged,
    request_revert,
    settle,
    stop_in_flight,
)


def decide(
    promotion: Promotion, happening: Happening, now: float | datetime
) -> tuple[Promotion, tuple[Action, ...]]:
    """The promotion after ``happening`` at ``now``, and what the engine must do."""
    handler = _HANDLERS.get(type(happening))
    if handler is None:
        raise PipelineError(f"not a happening: {type(happening).__name__}")
    if promotion.done:
        return promotion, ()
    step = Step(promotion, epoch(now))
    advance(step, open_prs=False)  # first the deadlines passed by now; PRs open after
    if not handler(step, happening):
        return promotion, ()  # ignored: unchanged, even if time was due (a Tick does that)
    advance(step)
    settle(step)
    if step.p == promotion:
        return promotion, ()
    if step.p.pr_numbers and render_status(step.p) != render_status(promotion):
        step.actions.append(UpdateStatusComment(step.p.pr_numbers))
    return step.p, tuple(step.actions)


def command_refusal(
    promotion: Promotion, name: CommandName, now: float | datetime | None = None
) -> str | None:
    """Why ``name`` would change nothing (for the API's answer), or None. With ``now``,
    judged as ``decide`` would: after the deadlines passed by then."""
    p = caught_up(promotion, now)
    if p.finished:
        return f"promotion {p.id} has already {_finished_word(p)}"
    if p.started_at is None:
        # a cancel may come before the start job ran: the start then finds it finished
        return None if name == "cancel" else f"promotion {p.id} has not started"
    current = p.current
    assert current is not None  # not finished: some stage has not succeeded
    stage = p.stages[current]
    if name == "hold":
        return f"promotion {p.id} is already held" if p.hold is not None else None
    if name == "resume":
        return None if p.hold is not None else f"promotion {p.id} is not held"
    if name == "retry":
        if stage.status != "failed":
            return f"stage {stage.name} is {stage.status}; only a failed stage can be retried"
        return None
    if name == "rollback":
        target = _rollback_target(p)
        if target is None:
            return "nothing has merged yet, so there is nothing to roll back (cancel instead)"
        if p.stages[target].pr is None:
            return f"stage {p.stages[target].name} changed nothing, so there is no merge to revert"
        return None
    return None  # cancel


def approval_refusal(
    promotion: Promotion,
    stage: str,
    by: str,
    teams: tuple[str, ...],
    now: float | datetime | None = None,
) -> str | None:
    """Why this approval would not count (for the API's answer), or None; with ``now``,
    judged as ``decide`` would."""
    p = caught_up(promotion, now)
    if p.finished:
        return f"promotion {p.id} has already {_finished_word(p)}"
    i = p.index_of(stage)
    if i is None:
        return f"promotion {p.id} has no stage {stage!r}"
    state, spec = p.stages[i], p.pipeline.stages[i]
    if not spec.approvals:
        return f"stage {stage} has no approval gate"
    if state.status != "gates":
        return f"stage {stage} is {state.status}, not waiting at its gates"
    if not any(gate_rules.is_listed(rule, by, teams) for rule in spec.approvals):
        return f"{by} is not an approver of stage {stage}"
    if any(a.by.casefold() == by.strip().casefold() for a in state.approvals):
        return f"{by} has already approved stage {stage}"
    return None


def _finished_word(p: Promotion) -> str:
    return {"succeeded": "succeeded", "failed": "failed"}.get(p.status, f"been {p.status}")


# ---------------------------------------------------------------- happenings


def _start(step: Step, h: Start) -> bool:
    p = step.p
    if p.started_at is not None or p.finished:
        return False
    step.set(started_at=step.now)
    inputs = ", ".join(f"{k}={p.inputs[k]}" for k in sorted(p.inputs))
    step.audit(
        "started", p.requested_by, detail=f"pipeline {p.pipeline.name} on {p.repo}; {inputs}"
    )
    return True


def _tick(step: Step, h: Tick) -> bool:
    return not step.p.finished  # advance does what is due


def _pr_opened(step: Step, h: PrOpened) -> bool:
    i = _live_stage(step, h.stage)
    if i is None:
        return False
    s = step.p.stages[i]
    if s.status == "pr_open" and s.pr is None:
        step.set_stage(i, pr=PullRequestRef(h.number, h.url))
        step.audit("pr opened", stage=s.name, detail=f"#{h.number} {h.url}".strip())
        return True
    if s.pr is not None and s.pr.number == h.number and not s.pr.url and h.url:
        step.set_stage(i, pr=PullRequestRef(h.number, h.url))  # merged before it was reported
        return True
    return False


def _stage_pr_failed(step: Step, h: StagePrFailed) -> bool:
    i = _live_stage(step, h.stage)
    if i is None or step.p.stages[i].status != "pr_open" or step.p.stages[i].pr is not None:
        return False
    fail(step, i, f"its PR could not be opened: {h.reason}")
    return True


def _nothing_to_change(step: Step, h: NothingToChange) -> bool:
    i = _live_stage(step, h.stage)
    if i is None or step.p.stages[i].status != "pr_open" or step.p.stages[i].pr is not None:
        return False
    merged(step, i, None, h.sha, "nothing to change", f"already on the base branch at {h.sha[:12]}")
    return True


def _pr_merged(step: Step, h: PrMerged) -> bool:
    i = _live_stage(step, h.stage)
    if i is None:
        return False
    s = step.p.stages[i]
    if s.status != "pr_open" or (s.pr is not None and s.pr.number != h.number):
        return False
    pr = PullRequestRef(h.number, s.pr.url if s.pr is not None else "")
    merged(step, i, pr, h.merge_sha, "merged", f"#{h.number} as {h.merge_sha[:12]}")
    return True


def _pr_closed(step: Step, h: PrClosed) -> bool:
    i = step.p.index_of(h.stage)
    if i is None:
        return False
    s = step.p.stages[i]
    revert = s.revert
    if (
        revert is not None
        and revert.state == "open"
        and revert.pr is not None
        and revert.pr.number == h.number
    ):
        step.set_stage(i, revert=replace(revert, state="closed"))
        step.audit("revert closed", stage=s.name, detail=f"#{h.number} closed without merging")
        return True
    if step.p.finished or s.status != "pr_open" or (s.pr is not None and s.pr.number != h.number):
        return False
    pr = s.pr or PullRequestRef(h.number)  # closed before its opening was reported
    step.set_stage(i, status="cancelled", pr=pr, finished_at=step.now)
    reason = f"the {s.name} PR #{h.number} was closed without merging"
    stop_in_flight(step, "cancelled", f"Promotion {step.p.id} was cancelled: {reason}.")
    step.finish("cancelled", reason)
    step.audit("cancelled", stage=s.name, detail=reason)
    return True


def _health_observed(step: Step, h: HealthObserved) -> bool:
    i = _live_stage(step, h.stage)
    if i is None:
        return False
    s = step.p.stages[i]
    if s.status not in AWAITING_HEALTH:
        return False
    on_merge = h.sha == s.merge_sha
    if not on_merge and not h.descendant:
        return False  # some other commit (the PR's head, a stale report)
    step.set_stage(i, health=record(s.health, h.sha, on_merge, h.signals))
    judge_health(step, i)
    return True


def _approved(step: Step, h: Approved) -> bool:
    if approval_refusal(step.p, h.stage, h.by, h.teams) is not None:
        return False
    i = step.p.index_of(h.stage)
    assert i is not None
    s, spec = step.p.stages[i], step.p.pipeline.stages[i]
    approvals = (*s.approvals, Approval(h.by.strip(), tuple(h.teams), step.now))
    step.set_stage(i, approvals=approvals)
    counted = "; ".join(
        f"{gate_rules.approval_counted(r, approvals, step.p.requested_by)}/{r.count} approvals"
        for r in spec.approvals
    )
    teams = f"teams {', '.join(h.teams)}; " if h.teams else ""
    step.audit("approved", h.by, s.name, f"{teams}{counted}")
    return True


def _command(step: Step, h: Command) -> bool:
    if command_refusal(step.p, h.name) is not None:
        return False
    _COMMANDS[h.name](step, h.by)
    return True


def _revert_opened(step: Step, h: RevertOpened) -> bool:
    i = step.p.index_of(h.stage)
    if i is None or step.before.stages[i].revert is None:
        return False  # not a revert asked for before this decision
    revert = step.p.stages[i].revert
    if revert is None or revert.state != "open" or revert.pr is not None:
        return False
    step.set_stage(i, revert=replace(revert, pr=PullRequestRef(h.number, h.url)))
    step.audit("revert opened", stage=h.stage, detail=f"#{h.number} {h.url}".strip())
    return True


def _revert_merged(step: Step, h: RevertMerged) -> bool:
    i = step.p.index_of(h.stage)
    if i is None or step.before.stages[i].revert is None:
        return False  # not a revert asked for before this decision
    revert = step.p.stages[i].revert
    if revert is None or revert.state != "open":
        return False
    step.set_stage(i, status="rolled_back", revert=replace(revert, state="merged"))
    step.audit("rolled back", stage=h.stage, detail="the revert PR merged")
    return True


def _superseded(step: Step, h: Superseded) -> bool:
    p = step.p
    if p.finished or h.by_promotion == p.id:
        return False
    comment = (
        f"Superseded by promotion {h.by_promotion} of pipeline {p.pipeline.name}: "
        "this PR is no longer needed."
    )
    stop_in_flight(step, "superseded", comment)
    step.finish("superseded", f"superseded by promotion {h.by_promotion}")
    step.set(superseded_by=h.by_promotion)
    step.audit("superseded", detail=f"by promotion {h.by_promotion}")
    return True


_HANDLERS: dict[type, Callable[[Step, Any], bool]] = {
    Start: _start,
    Tick: _tick,
    PrOpened: _pr_opened,
    StagePrFailed: _stage_pr_failed,
    NothingToChange: _nothing_to_change,
    PrMerged: _pr_merged,
    PrClosed: _pr_closed,
    HealthObserved: _health_observed,
    Approved: _approved,
    Command: _command,
    RevertOpened: _revert_opened,
    RevertMerged: _revert_merged,
    Superseded: _superseded,
}


def _live_stage(step: Step, name: str) -> int | None:
    """The stage's index, if the promotion is still going and has the stage."""
    return None if step.p.finished else step.p.index_of(name)


# ---------------------------------------------------------------- commands


def _hold(step: Step, by: str) -> None:
    step.set(hold=Hold(by, step.now, f"held by {by}"))
    step.audit("held", by)


def _resume(step: Step, by: str) -> None:
    current = step.p.current
    if current is not None and step.p.stages[current].status == "failed":
        _retry(step, by, "resumed")  # resuming after a failure tries the stage again
        return
    step.set(hold=None)
    step.audit("resumed", by)


def _retry(step: Step, by: str, what: str = "retried") -> None:
    i = step.p.current
    assert i is not None
    s, spec = step.p.stages[i], step.p.pipeline.stages[i]
    step.set(hold=None)
    step.audit(what, by, s.name, f"after: {s.failure}")
    if s.merge_sha:  # merged: verify its health again, from now
        deadline = deadline_after(step.now, spec.health.timeout_seconds)
        step.set_stage(
            i,
            status="merged",
            health=requirements(spec.health),
            healthy_at=None,
            soak_until=None,
            deadline=deadline,
            recheck_requested=False,
            finished_at=None,
            failure="",
        )
        if spec.health.required:
            step.emit(CheckHealth(s.name, s.merge_sha))
            step.wake_up(deadline)
        judge_health(step, i)
    else:  # its PR could not be opened: ask again (same branch, same PR)
        step.set_stage(i, status="gates", finished_at=None, failure="")


def _rollback(step: Step, by: str) -> None:
    target = _rollback_target(step.p)
    assert target is not None
    name = step.p.stages[target].name
    reason = f"rolled back by {by}"
    for i, s in enumerate(step.p.stages):
        if s.status == "pr_open" and i != target:
            close_pr(step, i, f"Promotion {step.p.id} was rolled back by {by}.")
            step.set_stage(i, status="cancelled", finished_at=step.now)
        elif s.status == "gates":
            step.set_stage(i, status="cancelled", finished_at=step.now)
    if step.p.stages[target].status in AWAITING_HEALTH:
        step.set_stage(target, status="failed", failure=reason, finished_at=step.now, deadline=None)
    request_revert(step, target, reason)
    step.finish("failed", f"stage {name} {reason}")
    step.audit("rollback", by, name)


def _cancel(step: Step, by: str) -> None:
    stop_in_flight(step, "cancelled", f"Promotion {step.p.id} was cancelled by {by}.")
    step.finish("cancelled", f"cancelled by {by}")
    step.audit("cancelled", by)


_COMMANDS: dict[str, Callable[[Step, str], None]] = {
    "hold": _hold,
    "resume": _resume,
    "retry": _retry,
    "rollback": _rollback,
    "cancel": _cancel,
}


def _rollback_target(p: Promotion) -> int | None:
    """The last stage that merged (or found nothing to change), if not reverted yet."""
    for i in range(len(p.stages) - 1, -1, -1):
        s = p.stages[i]
        if s.merge_sha:
            return i if s.revert is None and s.status != "rolled_back" else None
    return None
