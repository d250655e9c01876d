"""The values: specs refuse what cannot run, promotions start well-formed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from prbot.errors import is_permanent
from prbot.pipeline.errors import PipelineError
from prbot.pipeline.model import (
    HealthRule,
    PipelineSpec,
    StageSpec,
    epoch,
    format_duration,
    new_promotion,
    revert_branch,
    stage_branch,
)

from .promotions import T0, pipeline, stage


def test_a_new_promotion_has_every_stage_pending() -> None:
    p = new_promotion("p-1_a", pipeline(), "acme/gitops", {"tag": "1"}, "alice", T0)
    assert [s.name for s in p.stages] == ["dev", "staging", "prod"]
    assert {s.status for s in p.stages} == {"pending"}
    assert (p.status, p.started_at, p.created_at, p.finished, p.done) == (
        "running",
        None,
        T0,
        False,
        False,
    )
    assert p.current == 0 and p.pr_numbers == ()


@pytest.mark.parametrize("bad", ["", "a/b", "x" * 65, "-x", "a b", "a..b"])
def test_a_promotion_id_must_be_safe_in_a_branch_name(bad: str) -> None:
    with pytest.raises(PipelineError, match="promotion id"):
        new_promotion(bad, pipeline(), "acme/gitops", {}, "alice", T0)


def test_specs_refuse_what_cannot_run() -> None:
    with pytest.raises(PipelineError, match="no stages"):
        PipelineSpec("myapp", ())
    with pytest.raises(PipelineError, match="names a stage twice"):
        PipelineSpec("myapp", (stage("dev"), stage("dev")))
    with pytest.raises(PipelineError, match="pipeline name"):
        PipelineSpec("My App", (stage("dev"),))
    with pytest.raises(PipelineError, match="stage name"):
        StageSpec("Dev")
    with pytest.raises(PipelineError, match="onFailure"):
        StageSpec("dev", on_failure="ignore")  # type: ignore[arg-type]
    with pytest.raises(PipelineError, match="negative"):
        HealthRule(soak_seconds=-1)
    assert is_permanent(PipelineError("x"))


def test_branches_are_deterministic_per_promotion_and_stage() -> None:
    assert stage_branch("myapp", "p1", "prod") == "prbot/promote/myapp/p1/prod"
    assert revert_branch("myapp", "p1", "prod") == "prbot/revert/myapp/p1/prod"


def test_time_is_epoch_seconds_or_an_aware_datetime() -> None:
    assert epoch(12) == 12.0
    assert epoch(datetime(1970, 1, 1, 0, 1, tzinfo=UTC)) == 60.0
    with pytest.raises(PipelineError):
        epoch(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m"), (90000, "1d1h")]
)
def test_durations_read_as_definitions_write_them(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
