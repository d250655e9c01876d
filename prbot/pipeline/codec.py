"""A promotion as JSON data and back, for the store: ``from_data(to_data(p)) == p``.

The data carries ``"version"`` so that a later shape can still read rows written by this
one. Inputs and stage contexts go as they are (they came from JSON or YAML).
"""

from __future__ import annotations

from typing import Any

from prbot.pipeline.errors import PipelineError
from prbot.pipeline.model import (
    Approval,
    ApprovalRule,
    GateRule,
    HealthRule,
    Hold,
    Observation,
    PipelineSpec,
    Promotion,
    PullRequestRef,
    RequirementHealth,
    Revert,
    StageSpec,
    StageState,
    WindowRule,
)

VERSION = 1


def to_data(p: Promotion) -> dict[str, Any]:
    return {
        "version": VERSION,
        "id": p.id,
        "pipeline": _pipeline_data(p.pipeline),
        "repo": p.repo,
        "inputs": dict(p.inputs),
        "requested_by": p.requested_by,
        "created_at": p.created_at,
        "stages": [_stage_data(s) for s in p.stages],
        "status": p.status,
        "started_at": p.started_at,
        "hold": None
        if p.hold is None
        else {"by": p.hold.by, "at": p.hold.at, "reason": p.hold.reason},
        "finished_at": p.finished_at,
        "reason": p.reason,
        "superseded_by": p.superseded_by,
    }


def from_data(data: dict[str, Any]) -> Promotion:
    if data.get("version") != VERSION:
        raise PipelineError(
            f"promotion data of version {data.get('version')!r}; this reads {VERSION}"
        )
    try:
        hold = data["hold"]
        return Promotion(
            id=data["id"],
            pipeline=_pipeline(data["pipeline"]),
            repo=data["repo"],
            inputs=dict(data["inputs"]),
            requested_by=data["requested_by"],
            created_at=data["created_at"],
            stages=tuple(_stage(s) for s in data["stages"]),
            status=data["status"],
            started_at=data["started_at"],
            hold=None if hold is None else Hold(hold["by"], hold["at"], hold["reason"]),
            finished_at=data["finished_at"],
            reason=data["reason"],
            superseded_by=data["superseded_by"],
        )
    except (KeyError, TypeError) as exc:
        raise PipelineError(f"promotion data is incomplete: {exc!r}") from exc


# ---------------------------------------------------------------- the pipeline


def _pipeline_data(spec: PipelineSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "stages": [
            {
                "name": s.name,
                "automation": s.automation,
                "context": dict(s.context),
                "health": {
                    "checks": list(s.health.checks),
                    "deployment": s.health.deployment,
                    "soak_seconds": s.health.soak_seconds,
                    "timeout_seconds": s.health.timeout_seconds,
                },
                "gates": [_gate_data(g) for g in s.gates],
                "on_failure": s.on_failure,
            }
            for s in spec.stages
        ],
    }


def _gate_data(gate: GateRule) -> dict[str, Any]:
    if isinstance(gate, ApprovalRule):
        return {
            "approval": {"users": list(gate.users), "teams": list(gate.teams), "count": gate.count}
        }
    return {"window": {"days": list(gate.days), "hours": gate.hours, "timezone": gate.timezone}}


def _pipeline(data: dict[str, Any]) -> PipelineSpec:
    return PipelineSpec(
        data["name"],
        tuple(
            StageSpec(
                name=s["name"],
                automation=s["automation"],
                context=dict(s["context"]),
                health=HealthRule(
                    tuple(s["health"]["checks"]),
                    s["health"]["deployment"],
                    s["health"]["soak_seconds"],
                    s["health"]["timeout_seconds"],
                ),
                gates=tuple(_gate(g) for g in s["gates"]),
                on_failure=s["on_failure"],
            )
            for s in data["stages"]
        ),
    )


def _gate(data: dict[str, Any]) -> GateRule:
    if "approval" in data:
        a = data["approval"]
        return ApprovalRule(tuple(a["users"]), tuple(a["teams"]), a["count"])
    w = data["window"]
    return WindowRule(tuple(w["days"]), w["hours"], w["timezone"])


# ---------------------------------------------------------------- where stages stand


def _pr_data(pr: PullRequestRef | None) -> dict[str, Any] | None:
    return None if pr is None else {"number": pr.number, "url": pr.url}


def _pr(data: dict[str, Any] | None) -> PullRequestRef | None:
    return None if data is None else PullRequestRef(data["number"], data["url"])


def _seen_data(o: Observation | None) -> dict[str, Any] | None:
    return None if o is None else {"sha": o.sha, "state": o.state, "url": o.url}


def _seen(data: dict[str, Any] | None) -> Observation | None:
    return None if data is None else Observation(data["sha"], data["state"], data["url"])


def _stage_data(s: StageState) -> dict[str, Any]:
    return {
        "name": s.name,
        "status": s.status,
        "pr": _pr_data(s.pr),
        "merge_sha": s.merge_sha,
        "approvals": [{"by": a.by, "teams": list(a.teams), "at": a.at} for a in s.approvals],
        "window_opens_at": s.window_opens_at,
        "health": [
            {
                "kind": r.kind,
                "name": r.name,
                "on_merge": _seen_data(r.on_merge),
                "on_descendant": _seen_data(r.on_descendant),
            }
            for r in s.health
        ],
        "reached_at": s.reached_at,
        "pr_requested_at": s.pr_requested_at,
        "merged_at": s.merged_at,
        "healthy_at": s.healthy_at,
        "soak_until": s.soak_until,
        "deadline": s.deadline,
        "recheck_requested": s.recheck_requested,
        "finished_at": s.finished_at,
        "failure": s.failure,
        "revert": None
        if s.revert is None
        else {
            "requested_at": s.revert.requested_at,
            "reason": s.revert.reason,
            "state": s.revert.state,
            "pr": _pr_data(s.revert.pr),
        },
    }


def _stage(data: dict[str, Any]) -> StageState:
    revert = data["revert"]
    return StageState(
        name=data["name"],
        status=data["status"],
        pr=_pr(data["pr"]),
        merge_sha=data["merge_sha"],
        approvals=tuple(Approval(a["by"], tuple(a["teams"]), a["at"]) for a in data["approvals"]),
        window_opens_at=data["window_opens_at"],
        health=tuple(
            RequirementHealth(r["kind"], r["name"], _seen(r["on_merge"]), _seen(r["on_descendant"]))
            for r in data["health"]
        ),
        reached_at=data["reached_at"],
        pr_requested_at=data["pr_requested_at"],
        merged_at=data["merged_at"],
        healthy_at=data["healthy_at"],
        soak_until=data["soak_until"],
        deadline=data["deadline"],
        recheck_requested=data["recheck_requested"],
        finished_at=data["finished_at"],
        failure=data["failure"],
        revert=None
        if revert is None
        else Revert(revert["requested_at"], revert["reason"], revert["state"], _pr(revert["pr"])),
    )
