"""Health: required signals matched by kind and name, read on the merge commit and its
descendants, and judged."""

from __future__ import annotations

from prbot.pipeline.happenings import Signal
from prbot.pipeline.health import anything_seen, judge, record, requirements
from prbot.pipeline.model import HealthRule, Observation, RequirementHealth


def test_requirements_are_the_checks_then_the_deployment() -> None:
    needed = requirements(HealthRule(("ci", "e2e", "ci"), "staging"))
    assert [(r.kind, r.name) for r in needed] == [
        ("check", "ci"),
        ("check", "e2e"),
        ("deployment", "staging"),
    ]
    assert requirements(HealthRule()) == ()
    assert judge(()).verdict == "healthy"


def test_a_check_is_any_status_check_or_pipeline_by_name_and_a_deployment_only_a_deployment() -> (
    None
):
    needed = requirements(HealthRule(("pipeline",), "prod"))
    seen = record(
        needed,
        "aaa",
        True,
        (
            Signal("deployment", "pipeline", "failure"),  # not the check of that name
            Signal("pipeline", "pipeline", "success", "https://gitlab.example/p/1"),
            Signal("status", "prod", "failure"),  # not the deployment of that name
        ),
    )
    assert seen[0].on_merge == Observation("aaa", "success", "https://gitlab.example/p/1")
    assert seen[1].on_merge is None
    assert judge(seen).verdict == "waiting" and judge(seen).reason == "waiting for deployment prod"


def test_on_the_merge_commit_the_latest_state_wins() -> None:
    (ci,) = requirements(HealthRule(("ci",)))
    failed = record((ci,), "aaa", True, (Signal("check", "ci", "failure"),))
    assert judge(failed).verdict == "failing" and judge(failed).reason == "ci failed on aaa"
    rerun = record(failed, "aaa", True, (Signal("check", "ci", "success"),))
    assert judge(rerun).verdict == "healthy"


def test_a_descendant_can_only_help() -> None:
    ci = RequirementHealth("check", "ci")
    assert (
        RequirementHealth("check", "ci", on_descendant=Observation("b", "success")).state
        == "success"
    )
    assert (
        RequirementHealth("check", "ci", on_descendant=Observation("b", "failure")).state
        == "pending"
    )
    both = RequirementHealth(
        "check", "ci", Observation("a", "failure"), Observation("b", "success")
    )
    assert both.state == "failure"  # a failure of the merge commit itself fails
    later = record((ci,), "b", False, (Signal("status", "ci", "success"),))
    assert later[0].on_descendant == Observation("b", "success") and later[0].on_merge is None
    assert anything_seen(later) and not anything_seen((ci,))


def test_only_a_report_that_could_count_may_change_a_stage() -> None:
    from prbot.pipeline.happenings import Signal
    from prbot.pipeline.health import may_change
    from prbot.pipeline.model import HealthRule

    rule = HealthRule(("ci", "e2e"), "dev", 0, None)
    assert may_change(rule, Signal("status", "ci", "success"))
    assert may_change(rule, Signal("check", "e2e", "failure"))
    assert may_change(rule, Signal("deployment", "dev", "success"))
    assert not may_change(rule, Signal("deployment", "ci", "success"))
    assert not may_change(rule, Signal("status", "dev", "success"))
    assert not may_change(rule, Signal("status", "prbot/definitions", "success"))
    assert may_change(rule, Signal("pipeline", "pipeline", "success"))  # GitLab's statuses
    assert not may_change(HealthRule((), "dev", 0, None), Signal("pipeline", "pipeline", "success"))
