"""A promotion as JSON data and back (every state reached by the machine is also checked
in test_properties)."""

from __future__ import annotations

import json

import pytest

from prbot.pipeline.codec import VERSION, from_data, to_data
from prbot.pipeline.errors import PipelineError
from prbot.pipeline.happenings import (
    Approved,
    HealthObserved,
    PrMerged,
    PrOpened,
    RevertOpened,
    Start,
)
from prbot.pipeline.model import ApprovalRule, WindowRule

from .promotions import Run, failing, ok, pipeline, stage


def rich_run() -> Run:
    gates = (ApprovalRule(users=("bob",), teams=("ops",), count=1), WindowRule(hours="00:00-24:00"))
    run = Run(
        pipeline(
            stage("dev", deployment="dev", context={"env": "dev", "replicas": [1, 2]}),
            stage("prod", gates=gates, on_failure="rollback"),
        ),
        inputs={"tag": "6.7.1", "count": 3, "flag": True},
    )
    run(Start())
    run(PrOpened("dev", 12, "https://github.com/acme/gitops/pull/12"))
    run(PrMerged("dev", 12, "aaa"))
    run(HealthObserved("dev", "aaa", ok("ci")))
    run(HealthObserved("dev", "bbb", ok("dev", kind="deployment"), descendant=True))
    run(Approved("prod", "bob", ("ops",)))
    run(PrMerged("prod", 13, "ccc"))
    run(HealthObserved("prod", "ccc", failing("ci")))
    run(RevertOpened("prod", 14))
    return run


def test_a_promotion_survives_json() -> None:
    p = rich_run().p
    data = json.loads(json.dumps(to_data(p)))
    assert data["version"] == VERSION and data["status"] == "failed"
    assert data["stages"][1]["revert"]["pr"] == {"number": 14, "url": ""}
    assert from_data(data) == p


def test_data_of_another_version_or_incomplete_is_refused() -> None:
    data = to_data(rich_run().p)
    with pytest.raises(PipelineError, match="version 0"):
        from_data({**data, "version": 0})
    del data["stages"]
    with pytest.raises(PipelineError, match="incomplete"):
        from_data(data)
