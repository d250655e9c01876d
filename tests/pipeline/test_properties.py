"""Random sequences of happenings (fitting ones, noise, duplicates, replays out of order)
against the invariants of the issue:

- at most one PR per stage (one head branch; the PR number, once known, never changes;
  no second request while one is outstanding);
- no stage PR before the previous stage succeeded and its own gates passed (and never
  while held or finished);
- a failed stage never opens the next;
- a finished promotion never changes (only a rolled-back stage's revert is followed);

and the machine's own rules: no actions without a change, the same happening twice
changes nothing, stages move only along the life the issue lists, the status follows the
stages, and every state survives the codec.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from prbot.pipeline.actions import Action, OpenStagePr
from prbot.pipeline.codec import from_data, to_data
from prbot.pipeline.happenings import (
    Approved,
    Command,
    Happening,
    HealthObserved,
    NothingToChange,
    PrClosed,
    PrMerged,
    PrOpened,
    RevertMerged,
    RevertOpened,
    Signal,
    StagePrFailed,
    Start,
    Superseded,
    Tick,
)
from prbot.pipeline.machine import decide
from prbot.pipeline.model import (
    ApprovalRule,
    HealthRule,
    PipelineSpec,
    Promotion,
    StageSpec,
    WindowRule,
    new_promotion,
    stage_branch,
)

from .promotions import T0

T = TypeVar("T")
Choose = Callable[[Sequence[T]], T]

PEOPLE = ("alice", "bob", "carol", "zoe")
GATES: tuple[tuple[ApprovalRule | WindowRule, ...], ...] = (
    (),
    (),
    (ApprovalRule(users=("bob", "carol")),),
    (ApprovalRule(users=("alice", "bob", "carol"), teams=("ops",), count=2),),
    (WindowRule(("mon", "tue", "wed", "thu", "fri"), "09:00-17:00", "Europe/Berlin"),),
    (ApprovalRule(teams=("ops",)), WindowRule(("mon", "tue"), "22:00-02:00", "America/New_York")),
)
STEPS = (0, 0, 1, 30, 60, 60, 300, 300, 601, 601, 1801, 6 * 3600, 86400)
FORWARD = ("pending", "gates", "pr_open", "merged", "verifying", "soaking", "succeeded")
ENDINGS = {"failed", "cancelled", "superseded"}


def make_pipeline(choose: Choose) -> PipelineSpec:
    stages = []
    for name in ("dev", "staging", "prod")[: choose((1, 2, 3, 3))]:
        stages.append(
            StageSpec(
                name,
                "image-bump",
                {"env": name},
                HealthRule(
                    choose(((), ("ci",), ("ci", "e2e"))),
                    choose(("", name)),
                    choose((0, 600)),
                    choose((None, 1800)),
                ),
                choose(GATES),
                choose(("hold", "rollback")),
            )
        )
    return PipelineSpec("myapp", tuple(stages))


def number_of(p: Promotion, stage: str) -> int:
    return 10 + (p.index_of(stage) or 0)


def signals(choose: Choose, spec: StageSpec) -> tuple[Signal, ...]:
    out = []
    for name in (*spec.health.checks, "other"):
        if choose((True, True, True, False)):
            state = choose(("success",) * 12 + ("pending", "pending", "failure"))
            out.append(Signal("status", name, state))
    if spec.health.deployment and choose((True, True, False)):
        state = choose(("success",) * 12 + ("pending", "pending", "failure"))
        out.append(Signal("deployment", spec.health.deployment, state))
    return tuple(out)


def fitting(p: Promotion, choose: Choose) -> Happening:
    """A happening that fits where the promotion stands: mostly one that moves it on,
    now and then a person or a newer promotion stepping in."""
    if p.started_at is None:
        return Start()
    if choose(range(40)) == 0:
        return choose((Command("hold", "bob"), Command("cancel", "bob"), Superseded("p2")))
    reverts = [s for s in p.stages if s.revert is not None and s.revert.state == "open"]
    if reverts:
        s = choose(reverts)
        n = 100 + (p.index_of(s.name) or 0)
        return choose((RevertOpened(s.name, n), RevertMerged(s.name), PrClosed(s.name, n)))
    if p.hold is not None and choose((True, True, False)):
        return Command(choose(("resume",) * 3 + ("retry",) * 2 + ("rollback",)), "bob")
    i = p.current if p.current is not None else len(p.stages) - 1
    s, spec = p.stages[i], p.pipeline.stages[i]
    n = number_of(p, s.name)
    options: list[Happening] = [Tick()]
    if s.status in ("pending", "gates"):
        options += [Approved(s.name, choose(PEOPLE), choose(((), ("ops",))))] * 3
    elif s.status == "pr_open" and s.pr is None:
        options += [PrOpened(s.name, n)] * 8 + [PrMerged(s.name, n, f"m-{s.name}")] * 2
        options += [StagePrFailed(s.name, "render error"), NothingToChange(s.name, f"b-{s.name}")]
    elif s.status == "pr_open":
        options += [PrMerged(s.name, n, f"m-{s.name}")] * 12 + [PrClosed(s.name, n)]
    elif s.status in ("merged", "verifying", "soaking"):
        sha, descendant = choose(((s.merge_sha, False), (s.merge_sha, False), ("later", True)))
        options += [HealthObserved(s.name, sha, signals(choose, spec), descendant)] * 12
        options += [Command("rollback", "bob")]
    elif s.status == "failed":
        options += [Command(choose(("retry", "resume", "rollback")), "bob")] * 2
    return choose(options)


def noise(p: Promotion, choose: Choose) -> Happening:
    """Any happening at all: other stages, other numbers, other commits."""
    name = choose([*(s.name for s in p.stages), "nope"])
    n = choose((10, 11, 12, 13, 99, 100, 101))
    sha = choose(("m-dev", "m-staging", "m-prod", "b-dev", "later", "zzz"))
    spec = p.pipeline.stages[0]
    return choose(
        (
            Start(),
            Tick(),
            PrOpened(name, n),
            PrMerged(name, n, sha),
            PrClosed(name, n),
            StagePrFailed(name, "boom"),
            NothingToChange(name, sha),
            HealthObserved(name, sha, signals(choose, spec), choose((False, True))),
            Approved(name, choose(PEOPLE), choose(((), ("ops",)))),
            Command(choose(("hold", "resume", "retry", "rollback")), "bob"),
            RevertOpened(name, n),
            RevertMerged(name),
            Superseded("p1"),  # itself: ignored (fitting() sends the real ones)
        )
    )


@dataclass
class Checked:
    """What one run saw, for the invariants that span a run."""

    branches: dict[str, set[str]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    statuses: set[str] = field(default_factory=set)


def check_step(
    before: Promotion,
    happening: Happening,
    now: float,
    after: Promotion,
    actions: tuple[Action, ...],
    seen: Checked,
) -> None:
    # a finished promotion never changes; a failed one only follows its revert
    if before.done:
        assert after is before and actions == ()
    elif before.finished:
        assert after.status == before.status
        for b, a in zip(before.stages, after.stages, strict=True):
            assert replace(a, revert=b.revert, status=b.status) == b
            assert a.status == b.status or (b.status, a.status) in {
                ("failed", "rolled_back"),
                ("succeeded", "rolled_back"),
            }
    # no actions without a change; the same happening twice changes nothing
    if after == before:
        assert actions == ()
    again, more = decide(after, happening, now)
    assert again is after and more == (), f"{happening} twice"
    # stages move only along their life
    for b, a in zip(before.stages, after.stages, strict=True):
        assert allowed(b.status, a.status), f"{b.name}: {b.status} -> {a.status} on {happening}"
    # the promotion's status follows the stages
    if not after.finished:
        current = after.current
        assert current is not None
        expected = (
            "held"
            if after.hold is not None
            else ("waiting" if after.stages[current].status == "gates" else "running")
        )
        assert after.status == expected
        assert after.stages[current].status != "failed" or after.hold is not None
    # a stage succeeds only healthy (every required signal succeeded) and soaked;
    # a stage fails with a reason
    for b, a, spec in zip(before.stages, after.stages, after.pipeline.stages, strict=True):
        if a.status == "succeeded" and b.status != "succeeded":
            assert all(
                any(o is not None and o.state == "success" for o in (r.on_merge, r.on_descendant))
                for r in a.health
            )
            assert len(a.health) == len(spec.health.checks) + bool(spec.health.deployment)
            assert a.healthy_at is not None and a.finished_at is not None
            assert a.finished_at - a.healthy_at >= spec.health.soak_seconds
        if a.status == "failed":
            assert a.failure
    # every stage PR: the right branch, at the right time, once
    for action in actions:
        if not isinstance(action, OpenStagePr):
            continue
        i = after.index_of(action.stage)
        assert i is not None
        assert action.head_branch == stage_branch("myapp", after.id, action.stage)
        assert before.stages[i].status != "pr_open" and before.stages[i].pr is None
        assert after.stages[i].status == "pr_open"
        assert not after.finished and after.hold is None
        if i > 0:
            assert after.stages[i - 1].status == "succeeded"
            assert before.stages[i - 1].status not in ("failed", "rolled_back", "cancelled")
        assert gates_open(after, i, now)
        seen.branches.setdefault(action.stage, set()).add(action.head_branch)
    for s in after.stages:
        if s.pr is not None:
            assert seen.numbers.setdefault(s.name, s.pr.number) == s.pr.number
    assert all(len(b) == 1 for b in seen.branches.values())
    # every state survives the store
    assert from_data(json.loads(json.dumps(to_data(after)))) == after
    seen.statuses.update(s.status for s in after.stages)
    seen.statuses.add(f"promotion {after.status}")


def gates_open(p: Promotion, i: int, now: float) -> bool:
    """The gates of stage ``i`` at ``now``, worked out here again, plainly."""
    spec, approvals = p.pipeline.stages[i], p.stages[i].approvals
    for gate in spec.gates:
        if isinstance(gate, ApprovalRule):
            users = {u.lower() for u in gate.users}
            teams = {t.lower() for t in gate.teams}
            who = {
                a.by.lower()
                for a in approvals
                if (not users and not teams)
                or a.by.lower() in users
                or teams & {t.lower() for t in a.teams}
            }
            only_requester_listed = users == {"alice"} and not teams
            if len(who) < gate.count or (who == {"alice"} and not only_requester_listed):
                return False
        else:
            local = datetime.fromtimestamp(now, ZoneInfo(gate.timezone))
            minute = local.hour * 60 + local.minute
            start, end = (int(x[:2]) * 60 + int(x[3:]) for x in gate.hours.split("-"))
            day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
            yesterday = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")[local.weekday()]
            if start < end:
                is_open = day in gate.days and start <= minute < end
            else:
                is_open = (day in gate.days and minute >= start) or (
                    yesterday in gate.days and minute < end
                )
            if not is_open:
                return False
    return True


def allowed(old: str, new: str) -> bool:
    """One decision may take several steps: a deadline fails a stage, then a command in
    the same decision retries it."""
    return step_allowed(old, new) or (step_allowed(old, "failed") and step_allowed("failed", new))


def step_allowed(old: str, new: str) -> bool:
    if old == new:
        return True
    if old in FORWARD and new in FORWARD:
        return FORWARD.index(new) > FORWARD.index(old)
    if old in FORWARD[:-1] and new in ENDINGS:
        return True
    if old == "failed":  # retried (merged: verify again; not merged: its gates again)
        return new in ("merged", "gates", "pr_open", "rolled_back", "cancelled", "superseded")
    return old == "succeeded" and new == "rolled_back"


def run_randomly(choose: Choose, steps: int) -> Checked:
    p = new_promotion("p1", make_pipeline(choose), "acme/gitops", {"tag": "1"}, "alice", T0)
    now = T0
    history: list[Happening] = []
    seen = Checked()
    for _ in range(steps):
        how = choose(("fit",) * 8 + ("noise", "replay"))
        if how == "replay" and history:
            happening = choose(history)
        elif how == "noise":
            happening = noise(p, choose)
        else:
            happening = fitting(p, choose)
        now += choose(STEPS)
        after, actions = decide(p, happening, now)
        check_step(p, happening, now, after, actions, seen)
        history.append(happening)
        p = after
    return seen


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.binary(min_size=300, max_size=600))
def test_random_happenings_keep_the_invariants(picks: bytes) -> None:
    """Every choice of a run is one drawn byte (past the end: the first option), so
    hypothesis shrinks a failing run towards a short one of first options."""
    remaining = iter(picks)

    def choose(options: Sequence[Any]) -> Any:
        options = list(options)
        return options[next(remaining, 0) % len(options)]

    run_randomly(choose, 60)


def test_random_runs_reach_every_ending() -> None:
    """The same runs from a seeded generator: the invariants hold, and the runs go far
    enough to mean something (every stage status and promotion status is reached)."""
    seen: set[str] = set()
    for seed in range(150):
        seen |= run_randomly(random.Random(seed).choice, 60).statuses
    stage_statuses = {*FORWARD, "failed", "rolled_back", "cancelled", "superseded"}
    promotion_statuses = {
        f"promotion {s}"
        for s in ("running", "waiting", "held", "succeeded", "failed", "cancelled", "superseded")
    }
    assert stage_statuses | promotion_statuses <= seen, (stage_statuses | promotion_statuses) - seen
