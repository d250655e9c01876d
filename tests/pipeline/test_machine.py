"""The promotion state machine, transition by transition, with a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from prbot.pipeline.actions import (
    Audit,
    CheckHealth,
    ClosePr,
    OpenRevertPr,
    OpenStagePr,
    ScheduleWakeUp,
    UpdateStatusComment,
)
from prbot.pipeline.errors import PipelineError
from prbot.pipeline.happenings import (
    Approved,
    Command,
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
from prbot.pipeline.machine import approval_refusal, command_refusal, decide
from prbot.pipeline.model import ApprovalRule, WindowRule

from .promotions import T0, Run, failing, of_type, ok, pipeline, stage

URL = "https://github.com/acme/gitops/pull/{}"


def merged(run: Run, name: str, number: int, sha: str, *, after: float = 0) -> None:
    """Open and merge the stage's PR."""
    run(PrOpened(name, number, URL.format(number)), after=after)
    run(PrMerged(name, number, sha))


def through(run: Run, name: str, number: int, sha: str, checks: tuple[str, ...] = ("ci",)) -> None:
    """Take a stage without gates or soak from PR to succeeded."""
    merged(run, name, number, sha)
    run(HealthObserved(name, sha, ok(*checks)))
    assert run.stage(name).status == "succeeded"


# ---------------------------------------------------------------- start and the first PR


def test_start_reaches_the_first_stage_and_asks_for_its_pr() -> None:
    run = Run()
    assert run.p.status == "running" and run.statuses() == ["pending"] * 3
    actions = run(Start())
    assert run.statuses() == ["pr_open", "pending", "pending"]
    assert run.p.started_at == T0 and run.stage("dev").reached_at == T0
    (open_pr,) = of_type(actions, OpenStagePr)
    assert open_pr.stage == "dev"
    assert open_pr.automation == "image-bump"
    assert open_pr.head_branch == "prbot/promote/myapp/p1/dev"
    assert open_pr.context == {"env": "dev"}
    assert open_pr.extra_context == {
        "pipeline": {
            "name": "myapp",
            "promotion": "p1",
            "repo": "acme/gitops",
            "requested_by": "alice",
            "stages": ["dev", "staging", "prod"],
            "stage": {"name": "dev", "index": 0, "previous": "", "next": "staging"},
        }
    }
    assert of_type(actions, Audit)[0].what == "started"
    assert of_type(actions, Audit)[0].detail == "pipeline myapp on acme/gitops; tag=6.7.1"
    assert not of_type(actions, UpdateStatusComment)  # no PR to comment on yet


def test_start_twice_and_a_tick_before_the_start_change_nothing() -> None:
    run = Run()
    assert run.unchanged(Tick(), after=3600)
    run(Start())
    assert run.unchanged(Start())


def test_pr_opened_records_the_pr_and_posts_the_status_comment() -> None:
    run = Run()
    run(Start())
    actions = run(PrOpened("dev", 12, URL.format(12)))
    assert run.stage("dev").pr is not None and run.stage("dev").pr.number == 12
    assert UpdateStatusComment((12,)) in actions
    assert run.unchanged(PrOpened("dev", 12, URL.format(12)))  # a duplicate
    assert run.unchanged(PrOpened("dev", 99, URL.format(99)))  # never a second PR
    assert run.unchanged(PrOpened("staging", 13))  # not that stage's turn


def test_the_stage_pr_may_merge_before_its_opening_is_reported() -> None:
    run = Run()
    run(Start())
    run(PrMerged("dev", 12, "aaa"))
    assert run.stage("dev").status == "merged" and run.stage("dev").pr.number == 12
    run(PrOpened("dev", 12, URL.format(12)))  # late: fills in the link only
    assert run.stage("dev").pr.url == URL.format(12) and run.stage("dev").status == "merged"
    assert run.unchanged(PrOpened("dev", 12, URL.format(12)))


# ---------------------------------------------------------------- merge and health


def test_merge_starts_verifying_on_the_merge_commit_with_a_timeout() -> None:
    run = Run()
    run(Start())
    run(PrOpened("dev", 12))
    actions = run(PrMerged("dev", 12, "aaa"), after=60)
    s = run.stage("dev")
    assert s.status == "merged" and s.merge_sha == "aaa" and s.merged_at == T0 + 60
    assert CheckHealth("dev", "aaa") in actions
    assert ScheduleWakeUp(T0 + 60 + 1800) in actions
    assert s.deadline == T0 + 60 + 1800
    assert run.unchanged(PrMerged("dev", 12, "aaa"))
    assert run.unchanged(PrMerged("dev", 13, "bbb"))


def test_a_merge_of_another_pr_is_ignored() -> None:
    run = Run()
    run(Start())
    run(PrOpened("dev", 12))
    assert run.unchanged(PrMerged("dev", 13, "bbb"))
    assert run.unchanged(PrMerged("staging", 12, "bbb"))


def test_health_before_the_merge_is_ignored() -> None:
    run = Run()
    run(Start())
    run(PrOpened("dev", 12))
    assert run.unchanged(HealthObserved("dev", "aaa", ok("ci")))


def test_all_required_signals_must_succeed() -> None:
    run = Run(pipeline(stage("dev", checks=("ci", "e2e"), deployment="dev"), stage("prod")))
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(HealthObserved("dev", "aaa", (*ok("ci"), Signal("status", "unrelated", "failure"))))
    assert run.stage("dev").status == "verifying"
    run(HealthObserved("dev", "aaa", ok("e2e")))
    assert run.stage("dev").status == "verifying"  # the deployment is still missing
    run(HealthObserved("dev", "aaa", ok("dev")))  # a status named like the env is no deployment
    assert run.stage("dev").status == "verifying"
    actions = run(HealthObserved("dev", "aaa", ok("dev", kind="deployment")))
    assert run.statuses() == ["succeeded", "pr_open"]  # soak 0: on at once
    assert of_type(actions, OpenStagePr)[0].stage == "prod"


def test_the_first_signal_of_a_name_counts() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(
        HealthObserved(
            "dev", "aaa", (Signal("check", "ci", "pending"), Signal("status", "ci", "success"))
        )
    )
    assert run.stage("dev").status == "verifying"


def test_a_success_on_a_descendant_counts() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    assert run.unchanged(HealthObserved("dev", "bbb", ok("ci")))  # not said to descend
    run(HealthObserved("dev", "bbb", ok("ci"), descendant=True))
    assert run.stage("dev").status == "succeeded"
    assert run.stage("dev").health[0].on_descendant.sha == "bbb"


def test_a_failure_on_a_descendant_only_waits_and_the_timeout_fails_the_stage() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(HealthObserved("dev", "bbb", failing("ci"), descendant=True))
    assert run.stage("dev").status == "verifying"
    assert run.unchanged(Tick(), after=1799)
    actions = run(Tick(), after=1)
    assert run.stage("dev").status == "failed"
    assert run.stage("dev").failure == "not healthy within 30m (waiting for ci)"
    assert run.p.status == "held"
    assert any(a.what == "stage failed" for a in of_type(actions, Audit))


def test_nothing_reported_before_the_timeout_fails_the_stage() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(Tick(), after=1800)
    assert run.stage("dev").status == "failed"
    assert run.stage("dev").failure == "not healthy within 30m (waiting for ci)"


def test_without_a_timeout_health_is_awaited_as_long_as_it_takes() -> None:
    run = Run(pipeline(stage("dev", timeout=None), stage("prod")))
    run(Start())
    actions = run(PrMerged("dev", 12, "aaa"))
    assert not of_type(actions, ScheduleWakeUp)
    assert run.unchanged(Tick(), after=30 * 86400)


def test_a_failure_on_the_merge_commit_fails_the_stage_at_once() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(HealthObserved("dev", "aaa", failing("ci")))
    assert run.stage("dev").status == "failed"
    assert run.stage("dev").failure == "ci failed on aaa"
    assert run.p.status == "held" and run.p.hold.by == "prbot"
    assert run.p.hold.reason == "stage dev failed: ci failed on aaa"


def test_a_stage_without_health_requirements_is_healthy_when_merged() -> None:
    run = Run(pipeline(stage("dev", checks=()), stage("prod")))
    run(Start())
    actions = run(PrMerged("dev", 12, "aaa"))
    assert not of_type(actions, CheckHealth)
    assert run.statuses() == ["succeeded", "pr_open"]


def test_health_for_another_stage_or_sha_is_ignored() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    assert run.unchanged(HealthObserved("staging", "aaa", ok("ci")))
    assert run.unchanged(HealthObserved("dev", "zzz", ok("ci")))
    assert run.unchanged(HealthObserved("nope", "aaa", ok("ci")))


# ---------------------------------------------------------------- soak


def soaking_run(**kw) -> Run:
    run = Run(pipeline(stage("dev", soak=600, **kw), stage("prod")))
    run(Start())
    merged(run, "dev", 12, "aaa")
    return run


def test_healthy_then_soaking_until_the_soak_ends() -> None:
    run = soaking_run()
    actions = run(HealthObserved("dev", "aaa", ok("ci")), after=10)
    s = run.stage("dev")
    assert s.status == "soaking" and s.healthy_at == T0 + 10 and s.soak_until == T0 + 610
    assert s.deadline is None
    assert ScheduleWakeUp(T0 + 610) in actions
    assert run.unchanged(HealthObserved("dev", "aaa", ok("ci")), after=100)  # still soaking
    assert run.unchanged(Tick(), after=100)


def test_the_soak_ends_with_a_fresh_reading() -> None:
    run = soaking_run()
    run(HealthObserved("dev", "aaa", ok("ci")), after=10)
    actions = run(Tick(), after=600)
    assert run.stage("dev").status == "soaking"  # re-checked before it succeeds
    assert CheckHealth("dev", "aaa") in actions
    assert ScheduleWakeUp(run.now + 1800) in actions
    assert run.unchanged(Tick())
    actions = run(HealthObserved("dev", "aaa", ok("ci")), after=5)
    assert run.statuses() == ["succeeded", "pr_open"]
    assert of_type(actions, OpenStagePr)[0].stage == "prod"


def test_a_reading_after_the_soak_ends_counts_even_before_the_tick() -> None:
    run = soaking_run()
    run(HealthObserved("dev", "aaa", ok("ci")))
    run(HealthObserved("dev", "aaa", ok("ci")), after=601)
    assert run.stage("dev").status == "succeeded"


def test_a_failure_during_the_soak_fails_the_stage() -> None:
    run = soaking_run(on_failure="rollback")
    run(HealthObserved("dev", "aaa", ok("ci")))
    actions = run(HealthObserved("dev", "aaa", failing("ci")), after=300)
    assert run.stage("dev").status == "failed" and run.p.status == "failed"
    assert of_type(actions, OpenRevertPr)[0].merge_sha == "aaa"


def test_not_healthy_again_at_the_end_of_the_soak_fails_after_the_timeout() -> None:
    run = soaking_run()
    run(HealthObserved("dev", "aaa", ok("ci")))
    run(HealthObserved("dev", "bbb", failing("ci"), descendant=True), after=100)
    run(HealthObserved("dev", "aaa", (Signal("status", "ci", "pending"),)), after=100)
    assert run.stage("dev").status == "soaking"  # pending is no failure
    run(Tick(), after=400)
    run(HealthObserved("dev", "aaa", ()), after=1)
    assert run.stage("dev").status == "soaking"
    run(Tick(), after=1800)
    assert run.stage("dev").status == "failed"
    assert run.stage("dev").failure.startswith("not healthy when the soak ended")


def test_a_soak_without_health_requirements_ends_on_the_tick() -> None:
    run = Run(pipeline(stage("dev", checks=(), soak=600), stage("prod")))
    run(Start())
    run(PrMerged("dev", 12, "aaa"))
    assert run.stage("dev").status == "soaking"
    assert run.unchanged(Tick(), after=599)
    run(Tick(), after=1)
    assert run.statuses() == ["succeeded", "pr_open"]


# ---------------------------------------------------------------- the last stage


def test_the_last_stage_succeeding_finishes_the_promotion() -> None:
    run = Run()
    run(Start())
    through(run, "dev", 12, "aaa")
    through(run, "staging", 13, "bbb")
    actions = run(PrOpened("prod", 14))
    assert UpdateStatusComment((12, 13, 14)) in actions  # every stage PR shows the table
    run(PrMerged("prod", 14, "ccc"))
    actions = run(HealthObserved("prod", "ccc", ok("ci")))
    assert run.p.status == "succeeded" and run.p.finished_at == run.now and run.p.done
    assert [a.what for a in of_type(actions, Audit)][-1] == "succeeded"


def test_a_finished_promotion_never_changes() -> None:
    run = Run(pipeline(stage("dev")))
    run(Start())
    through(run, "dev", 12, "aaa")
    assert run.p.done
    for h in (
        Tick(),
        Start(),
        PrOpened("dev", 12),
        PrMerged("dev", 12, "aaa"),
        PrClosed("dev", 12),
        HealthObserved("dev", "aaa", failing("ci")),
        Command("rollback", "bob"),
        Command("cancel", "bob"),
        Superseded("p2"),
        RevertMerged("dev"),
    ):
        assert run.unchanged(h, after=60)


# ---------------------------------------------------------------- gates: approval


def approval_run(rule: ApprovalRule, requester: str = "alice") -> Run:
    run = Run(pipeline(stage("dev"), stage("prod", gates=(rule,))), requester=requester)
    run(Start())
    through(run, "dev", 12, "aaa")
    return run


def test_an_approval_gate_waits_for_its_approval() -> None:
    run = approval_run(ApprovalRule(teams=("platform",)))
    assert run.statuses() == ["succeeded", "gates"] and run.p.status == "waiting"
    assert run.unchanged(Tick(), after=86400)
    assert run.unchanged(Approved("prod", "mallory", ("other",)))
    actions = run(Approved("prod", "Bob", ("Platform",)))  # names compare without case
    assert run.statuses() == ["succeeded", "pr_open"] and run.p.status == "running"
    audit = next(a for a in of_type(actions, Audit) if a.what == "approved")
    assert (audit.who, audit.stage, audit.at) == ("Bob", "prod", run.now)
    assert audit.detail == "teams Platform; 1/1 approvals"
    assert of_type(actions, OpenStagePr)[0].stage == "prod"
    assert run.stage("prod").approvals[0].by == "Bob"


def test_approvals_count_distinct_listed_people() -> None:
    run = approval_run(ApprovalRule(users=("bob", "carol", "dave"), count=2))
    run(Approved("prod", "bob"))
    assert run.unchanged(Approved("prod", "BOB"))  # the same person again
    assert run.stage("prod").status == "gates"
    run(Approved("prod", "carol"))
    assert run.stage("prod").status == "pr_open"


def test_the_requester_never_approves_alone_while_others_are_listed() -> None:
    run = approval_run(ApprovalRule(users=("alice", "bob")))
    run(Approved("prod", "alice"))
    assert run.stage("prod").status == "gates"
    run(Approved("prod", "bob"))
    assert run.stage("prod").status == "pr_open"


def test_the_requester_counts_beside_someone_else() -> None:
    run = approval_run(ApprovalRule(users=("alice", "bob", "carol"), count=2))
    run(Approved("prod", "alice"))
    run(Approved("prod", "bob"))
    assert run.stage("prod").status == "pr_open"


def test_the_requester_may_approve_when_the_only_one_listed() -> None:
    run = approval_run(ApprovalRule(users=("alice",)))
    run(Approved("prod", "alice"))
    assert run.stage("prod").status == "pr_open"


def test_an_approval_gate_listing_nobody_takes_anyone_but_the_requester() -> None:
    run = approval_run(ApprovalRule())
    run(Approved("prod", "alice"))
    assert run.stage("prod").status == "gates"
    run(Approved("prod", "zoe"))
    assert run.stage("prod").status == "pr_open"


def test_approvals_count_only_while_the_stage_waits_at_its_gates() -> None:
    run = Run(pipeline(stage("dev"), stage("prod", gates=(ApprovalRule(users=("bob",)),))))
    run(Start())
    assert (
        approval_refusal(run.p, "prod", "bob", ())
        == "stage prod is pending, not waiting at its gates"
    )
    assert run.unchanged(Approved("prod", "bob"))  # no approving in advance
    assert run.unchanged(Approved("dev", "bob"))
    assert approval_refusal(run.p, "dev", "bob", ()) == "stage dev has no approval gate"
    assert approval_refusal(run.p, "qa", "bob", ()) == "promotion p1 has no stage 'qa'"
    through(run, "dev", 12, "aaa")
    assert approval_refusal(run.p, "prod", "eve", ()) == "eve is not an approver of stage prod"
    assert approval_refusal(run.p, "prod", "bob", ()) is None


# ---------------------------------------------------------------- gates: window


BERLIN_WORKDAYS = WindowRule(("mon", "tue", "wed", "thu"), "09:00-16:00", "Europe/Berlin")


def test_a_closed_window_waits_and_wakes_up_when_it_opens() -> None:
    # Thursday 2024-03-28 16:30 Berlin: closed until Monday 09:00, in summer time by then
    start = datetime(2024, 3, 28, 15, 30, tzinfo=UTC).timestamp()
    run = Run(pipeline(stage("prod", gates=(BERLIN_WORKDAYS,))), now=start)
    actions = run(Start())
    opening = datetime(2024, 4, 1, 7, 0, tzinfo=UTC).timestamp()
    assert run.stage("prod").status == "gates" and run.p.status == "waiting"
    assert run.stage("prod").window_opens_at == opening
    assert ScheduleWakeUp(opening) in actions
    assert run.unchanged(Tick(), after=3600)  # still closed, same wake-up
    actions = run(Tick(), after=opening - run.now)
    assert run.stage("prod").status == "pr_open"
    assert of_type(actions, OpenStagePr)
    assert run.stage("prod").window_opens_at is None


def test_an_open_window_lets_the_pr_open_at_once() -> None:
    run = Run(pipeline(stage("prod", gates=(BERLIN_WORKDAYS,))))  # Monday 11:00 Berlin
    run(Start())
    assert run.stage("prod").status == "pr_open"


def test_approval_and_window_must_both_pass() -> None:
    evening = datetime(2024, 3, 4, 17, 0, tzinfo=UTC).timestamp()  # Monday 18:00 Berlin
    gates = (ApprovalRule(users=("bob",)), BERLIN_WORKDAYS)
    run = Run(pipeline(stage("prod", gates=gates)), now=evening)
    actions = run(Start())
    assert ScheduleWakeUp(datetime(2024, 3, 5, 8, 0, tzinfo=UTC).timestamp()) in actions
    run(Approved("prod", "bob"), after=60)
    assert run.stage("prod").status == "gates"  # approved, but the window is shut
    run(Tick(), after=datetime(2024, 3, 5, 8, 0, tzinfo=UTC).timestamp() - run.now)
    assert run.stage("prod").status == "pr_open"


def test_an_approval_in_a_closed_window_then_waits_for_the_window() -> None:
    gates = (ApprovalRule(users=("bob",)), BERLIN_WORKDAYS)
    run = Run(pipeline(stage("prod", gates=gates)))  # Monday 11:00 Berlin: open
    run(Start())
    assert run.stage("prod").window_opens_at is None  # open now; waits for approval only
    actions = run(Approved("prod", "bob"), after=6 * 3600)  # 17:00 Berlin: closed
    assert run.stage("prod").status == "gates"
    assert ScheduleWakeUp(datetime(2024, 3, 5, 8, 0, tzinfo=UTC).timestamp()) in actions


def test_windows_that_never_open_together_fail_the_stage() -> None:
    mornings = WindowRule(hours="08:00-09:00")
    evenings = WindowRule(hours="18:00-19:00")
    run = Run(pipeline(stage("prod", gates=(mornings, evenings))))
    run(Start())
    assert run.stage("prod").status == "failed"
    assert run.stage("prod").failure == "its time windows are never open at the same time"


# ---------------------------------------------------------------- onFailure


def test_on_failure_rollback_opens_one_revert_pr_and_fails_the_promotion() -> None:
    run = Run(pipeline(stage("dev"), stage("staging", on_failure="rollback"), stage("prod")))
    run(Start())
    through(run, "dev", 12, "aaa")
    merged(run, "staging", 13, "bbb")
    actions = run(HealthObserved("staging", "bbb", failing("ci")))
    (revert,) = of_type(actions, OpenRevertPr)
    assert revert == OpenRevertPr(
        "staging",
        13,
        "bbb",
        "prbot/revert/myapp/p1/staging",
        ("prbot/revert", "prbot/pipeline/myapp"),
        "ci failed on bbb",
    )
    assert run.p.status == "failed" and run.p.reason == "stage staging failed: ci failed on bbb"
    assert run.statuses() == ["succeeded", "failed", "pending"]
    assert not run.p.done  # its revert is still to be followed
    assert run.unchanged(HealthObserved("staging", "bbb", failing("ci")))
    assert run.unchanged(Command("retry", "bob"))
    run(RevertOpened("staging", 15, URL.format(15)))
    assert run.stage("staging").revert.pr.number == 15
    assert run.unchanged(RevertOpened("staging", 15, URL.format(15)))
    run(RevertMerged("staging"))
    assert run.statuses() == ["succeeded", "rolled_back", "pending"]
    assert run.p.status == "failed" and run.p.done
    assert len(of_type(run.log, OpenRevertPr)) == 1


def test_a_revert_pr_closed_unmerged_is_given_up() -> None:
    run = Run(pipeline(stage("dev", on_failure="rollback")))
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(HealthObserved("dev", "aaa", failing("ci")))
    run(RevertOpened("dev", 15))
    assert run.unchanged(PrClosed("dev", 12))  # the stage PR is long merged
    run(PrClosed("dev", 15))
    assert run.stage("dev").status == "failed" and run.stage("dev").revert.state == "closed"
    assert run.p.done


def test_on_failure_hold_holds_until_a_retry() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(HealthObserved("dev", "aaa", failing("ci")), after=60)
    assert run.p.status == "held"
    assert run.unchanged(Tick(), after=86400)
    actions = run(Command("retry", "bob"))
    s = run.stage("dev")
    assert s.status == "merged" and s.failure == "" and s.deadline == run.now + 1800
    assert s.health[0].on_merge is None  # read afresh
    assert CheckHealth("dev", "aaa") in actions and ScheduleWakeUp(run.now + 1800) in actions
    assert run.p.status == "running" and run.p.hold is None
    assert next(a for a in of_type(actions, Audit) if a.what == "retried").who == "bob"
    run(HealthObserved("dev", "aaa", ok("ci")))
    assert run.statuses() == ["succeeded", "pr_open", "pending"]


def test_resume_after_a_failure_tries_the_stage_again() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(Tick(), after=1800)
    assert run.stage("dev").status == "failed"
    run(Command("resume", "bob"))
    assert run.stage("dev").status == "merged" and run.p.status == "running"


def test_rollback_of_a_held_failure_reverts_and_fails() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    run(HealthObserved("dev", "aaa", failing("ci")))
    actions = run(Command("rollback", "bob"))
    assert of_type(actions, OpenRevertPr)[0].number == 12
    assert run.p.status == "failed" and run.p.reason == "stage dev rolled back by bob"
    assert run.stage("dev").failure == "ci failed on aaa"


# ---------------------------------------------------------------- the stage PR's own fate


def test_a_stage_pr_closed_unmerged_cancels_the_promotion() -> None:
    run = Run()
    run(Start())
    run(PrOpened("dev", 12))
    assert run.unchanged(PrClosed("dev", 99))
    actions = run(PrClosed("dev", 12))
    assert run.statuses() == ["cancelled", "cancelled", "cancelled"]
    assert run.p.status == "cancelled" and run.p.done
    assert run.p.reason == "the dev PR #12 was closed without merging"
    assert not of_type(actions, ClosePr)  # it is closed already


def test_a_stage_pr_closed_before_its_opening_was_reported_is_recorded() -> None:
    run = Run()
    run(Start())
    run(PrClosed("dev", 12))
    assert run.stage("dev").status == "cancelled" and run.stage("dev").pr.number == 12


def test_a_stage_pr_that_cannot_be_opened_fails_the_stage_and_a_retry_asks_again() -> None:
    run = Run()
    run(Start())
    run(StagePrFailed("dev", "RenderError: spec.title: undefined"))
    assert run.stage("dev").status == "failed" and run.p.status == "held"
    assert (
        run.stage("dev").failure == "its PR could not be opened: RenderError: spec.title: undefined"
    )
    actions = run(Command("retry", "bob"))
    assert run.stage("dev").status == "pr_open"
    assert of_type(actions, OpenStagePr)[0].head_branch == "prbot/promote/myapp/p1/dev"


def test_a_stage_pr_that_cannot_be_opened_with_rollback_fails_without_a_revert() -> None:
    run = Run(pipeline(stage("dev", on_failure="rollback")))
    run(Start())
    actions = run(StagePrFailed("dev", "boom"))
    assert run.p.status == "failed" and run.p.done and not of_type(actions, OpenRevertPr)


def test_nothing_to_change_verifies_the_base_branch() -> None:
    run = Run()
    run(Start())
    actions = run(NothingToChange("dev", "base1"))
    s = run.stage("dev")
    assert s.status == "merged" and s.pr is None and s.merge_sha == "base1"
    assert CheckHealth("dev", "base1") in actions
    assert command_refusal(run.p, "rollback") == (
        "stage dev changed nothing, so there is no merge to revert"
    )
    run(HealthObserved("dev", "base1", ok("ci")))
    assert run.statuses() == ["succeeded", "pr_open", "pending"]


# ---------------------------------------------------------------- commands


def test_hold_stops_the_next_pr_and_resume_opens_it() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    actions = run(Command("hold", "bob"))
    assert run.p.status == "held" and run.p.hold.by == "bob"
    assert [a.what for a in of_type(actions, Audit)] == ["held"]
    assert command_refusal(run.p, "hold") == "promotion p1 is already held"
    assert run.unchanged(Command("hold", "bob"))
    actions = run(HealthObserved("dev", "aaa", ok("ci")))
    assert run.statuses() == ["succeeded", "gates", "pending"]  # the stage goes on; no PR
    assert not of_type(actions, OpenStagePr) and run.p.status == "held"
    actions = run(Command("resume", "bob"))
    assert of_type(actions, OpenStagePr)[0].stage == "staging"
    assert run.p.status == "running"
    assert command_refusal(run.p, "resume") == "promotion p1 is not held"


def test_cancel_closes_the_open_stage_pr() -> None:
    run = Run()
    run(Start())
    through(run, "dev", 12, "aaa")
    run(PrOpened("staging", 13))
    actions = run(Command("cancel", "bob"))
    assert of_type(actions, ClosePr) == [
        ClosePr(
            "staging", "prbot/promote/myapp/p1/staging", 13, "Promotion p1 was cancelled by bob."
        )
    ]
    assert run.statuses() == ["succeeded", "cancelled", "cancelled"]
    assert run.p.status == "cancelled" and run.p.reason == "cancelled by bob" and run.p.done


def test_cancel_while_the_pr_is_being_opened_closes_it_by_branch() -> None:
    run = Run()
    run(Start())
    (close,) = of_type(run(Command("cancel", "bob")), ClosePr)
    assert close.number is None and close.head_branch == "prbot/promote/myapp/p1/dev"


def test_rollback_command_reverts_the_stage_being_verified() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    actions = run(Command("rollback", "bob"))
    assert of_type(actions, OpenRevertPr)[0].reason == "rolled back by bob"
    assert run.stage("dev").status == "failed" and run.stage("dev").failure == "rolled back by bob"
    assert run.p.status == "failed"


def test_rollback_command_while_the_next_pr_is_open_closes_it_and_reverts_the_last_merge() -> None:
    run = Run()
    run(Start())
    through(run, "dev", 12, "aaa")
    run(PrOpened("staging", 13))
    actions = run(Command("rollback", "bob"))
    assert of_type(actions, ClosePr)[0].number == 13
    assert of_type(actions, OpenRevertPr)[0].number == 12
    assert run.statuses() == ["succeeded", "cancelled", "pending"]
    run(RevertMerged("dev"))
    assert run.statuses() == ["rolled_back", "cancelled", "pending"]


def test_refusals_judge_what_decide_would_at_now() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    later = run.now + 1800  # the health timeout has passed by then, no Tick yet
    assert command_refusal(run.p, "retry") == (
        "stage dev is merged; only a failed stage can be retried"
    )
    assert command_refusal(run.p, "retry", later) is None
    assert command_refusal(run.p, "resume", later) is None  # held by the failure
    p, actions = decide(run.p, Command("retry", "bob"), later)
    assert p.stage("dev").status == "merged" and p.stage("dev").deadline == later + 1800
    assert [a.what for a in of_type(actions, Audit)] == ["stage failed", "retried"]


def test_command_refusals_say_why() -> None:
    run = Run()
    assert command_refusal(run.p, "hold") == "promotion p1 has not started"
    run(Start())
    assert (
        command_refusal(run.p, "retry")
        == "stage dev is pr_open; only a failed stage can be retried"
    )
    assert command_refusal(run.p, "rollback") == (
        "nothing has merged yet, so there is nothing to roll back (cancel instead)"
    )
    assert run.unchanged(Command("rollback", "bob"))
    assert command_refusal(run.p, "cancel") is None
    run(Command("cancel", "bob"))
    assert command_refusal(run.p, "hold") == "promotion p1 has already been cancelled"


# ---------------------------------------------------------------- supersede


def test_a_newer_promotion_closes_unmerged_prs_and_leaves_merged_stages() -> None:
    run = Run()
    run(Start())
    through(run, "dev", 12, "aaa")
    run(PrOpened("staging", 13))
    actions = run(Superseded("p2"))
    assert of_type(actions, ClosePr) == [
        ClosePr(
            "staging",
            "prbot/promote/myapp/p1/staging",
            13,
            "Superseded by promotion p2 of pipeline myapp: this PR is no longer needed.",
        )
    ]
    assert run.statuses() == ["succeeded", "superseded", "superseded"]
    assert run.p.status == "superseded" and run.p.superseded_by == "p2" and run.p.done
    assert UpdateStatusComment((12, 13)) in actions


def test_a_merged_stage_is_not_closed_when_superseded() -> None:
    run = Run()
    run(Start())
    merged(run, "dev", 12, "aaa")
    actions = run(Superseded("p2"))
    assert not of_type(actions, ClosePr)
    assert run.stage("dev").status == "superseded" and run.stage("dev").merge_sha == "aaa"


def test_a_promotion_is_not_superseded_by_itself() -> None:
    run = Run()
    run(Start())
    assert run.unchanged(Superseded("p1"))


# ---------------------------------------------------------------- time and errors


def test_now_may_be_an_aware_datetime() -> None:
    run = Run()
    at = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
    p, _ = decide(run.p, Start(), at)
    assert p.started_at == at.timestamp()
    with pytest.raises(PipelineError, match="no time zone"):
        decide(run.p, Start(), datetime(2024, 3, 4, 12, 0))


def test_an_unknown_happening_is_an_error() -> None:
    with pytest.raises(PipelineError, match="not a happening: str"):
        decide(Run().p, "merged", T0)  # type: ignore[arg-type]


def test_malformed_happenings_are_refused() -> None:
    with pytest.raises(PipelineError):
        PrMerged("dev", 12, "")
    with pytest.raises(PipelineError):
        PrOpened("dev", 0)
    with pytest.raises(PipelineError):
        Command("deploy", "bob")  # type: ignore[arg-type]
    with pytest.raises(PipelineError):
        Approved("dev", " ")


def test_the_status_comment_is_updated_only_when_the_table_changes() -> None:
    run = Run()
    run(Start())
    run(PrOpened("dev", 12))
    merged_actions = run(PrMerged("dev", 12, "aaa"))
    assert UpdateStatusComment((12,)) in merged_actions
    actions = run(HealthObserved("dev", "aaa", (Signal("status", "unrelated", "success"),)))
    assert actions == ()  # nothing required changed: no edit


def test_a_cancel_before_the_start_wins_over_it() -> None:
    """Cancelled while its start job is still queued: finished, and the start then does
    nothing (no PR is asked for)."""
    run = Run()
    assert command_refusal(run.p, "cancel") is None
    p, _ = decide(run.p, Command("cancel", "bob"), run.now)
    assert p.status == "cancelled"
    after, actions = decide(p, Start(), run.now)
    assert after == p and actions == ()
