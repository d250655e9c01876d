"""The promotions API, behind the API token like ``/api/runs``:

- ``POST /api/promotions`` ``{"pipeline", "repo", "platform", "inputs", "requested_by"}``
  -> 202 ``{"promotion": {...}}``; 422 with one message per field.
- ``GET /api/promotions/{id}``, ``GET /api/promotions?repo=&status=&pipeline=``.
- ``POST /api/promotions/{id}/{approve|hold|resume|retry|rollback|cancel}`` ``{"by"}``
  (approve also ``{"stage"}``) -> 202, or 409 saying why it would change nothing.

Only the store is touched here: the promotion is stored and its happenings queued; the
workers do the SCM work (``prbot.engine.promotions``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from prbot.engine.promotion_requests import COMMANDS, input_problems, judge
from prbot.engine.promotions import PromotionEngine, happen_job
from prbot.engine.run_requests import REPO_PATHS
from prbot.errors import PrbotError, describe, did_you_mean
from prbot.pipeline.codec import from_data
from prbot.pipeline.gates import approval_counted, approvers
from prbot.pipeline.model import ApprovalRule, Promotion, StageSpec, StageState
from prbot.store.base import PromotionRow, Store
from prbot.web.api import invalid

log = logging.getLogger("prbot.api")

Handler = Callable[[web.Request], Awaitable[web.Response]]
Guard = Callable[[Handler], Handler]
PipelineLookup = Callable[[str, str, str], Awaitable[Any]]


def promotion_view(row: PromotionRow, promotion: Promotion | None = None) -> dict[str, Any]:
    p = promotion or from_data(row.data)
    return {
        "id": row.id,
        "pipeline": row.pipeline,
        "repo": row.repo,
        "platform": row.platform,
        "status": p.status,
        "requested_by": p.requested_by,
        "inputs": dict(p.inputs),
        "reason": p.reason,
        "stages": [
            {
                "name": s.name,
                "status": s.status,
                "pr": {"number": s.pr.number, "url": s.pr.url} if s.pr else None,
                "merge_sha": s.merge_sha or None,
                "health": [{"name": h.name, "kind": h.kind, "state": h.state} for h in s.health],
                "gates": gates_view(p, s, spec),
                "failure": s.failure,
                "merged_at": s.merged_at,
                "finished_at": s.finished_at,
            }
            for s, spec in zip(p.stages, p.pipeline.stages, strict=True)
        ],
    }


def gates_view(p: Promotion, s: StageState, spec: StageSpec) -> list[dict[str, Any]]:
    """A stage's gates as data: each approval (who is listed, who counted, how many are
    needed) and window (days, hours, timezone, and when it next opens while waiting)."""
    gates: list[dict[str, Any]] = []
    for rule in spec.gates:
        if isinstance(rule, ApprovalRule):
            gates.append(
                {
                    "type": "approval",
                    "users": list(rule.users),
                    "teams": list(rule.teams),
                    "count": rule.count,
                    "approved_by": list(approvers(rule, s.approvals)),
                    "counted": approval_counted(rule, s.approvals, p.requested_by),
                }
            )
        else:
            gates.append(
                {
                    "type": "window",
                    "days": list(rule.days),
                    "hours": rule.hours,
                    "timezone": rule.timezone,
                    "opens_at": s.window_opens_at if s.status == "gates" else None,
                }
            )
    return gates


class PromotionsApi:
    def __init__(
        self,
        store: Store,
        engine: PromotionEngine,
        pipeline_lookup: PipelineLookup,
        guard: Guard,
        *,
        automation_lookup: PipelineLookup | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.engine = engine
        self.pipeline_lookup = pipeline_lookup
        self.guard = guard
        self.automation_lookup = automation_lookup
        self.clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/promotions", self.guard(self.create))
        app.router.add_get("/api/promotions", self.guard(self.list))
        app.router.add_get("/api/promotions/{id}", self.guard(self.get))
        app.router.add_post("/api/promotions/{id}/{verb}", self.guard(self.command))

    async def create(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        if body is None:
            return invalid({"body": "must be a JSON object"})
        errors: dict[str, str] = {}
        name, repo = body.get("pipeline"), body.get("repo")
        platform = body.get("platform", "github")
        requested_by, inputs = body.get("requested_by"), body.get("inputs", {})
        if platform not in ("github", "gitlab"):
            errors["platform"] = "must be github or gitlab"
        path = REPO_PATHS.get(platform, REPO_PATHS["gitlab"])  # gitlab's: the widest
        if not isinstance(repo, str) or not path.fullmatch(repo):
            errors["repo"] = "must be a repository path like owner/name"
        if not isinstance(requested_by, str) or not requested_by.strip():
            errors["requested_by"] = "is required (who asked for this promotion)"
        if not isinstance(inputs, dict) or not all(
            isinstance(v, str | int | float | bool) for v in inputs.values()
        ):
            errors["inputs"] = "must be an object of input names to plain values"
        pipeline = None
        if not isinstance(name, str) or not name:
            errors["pipeline"] = "is required"
        elif "repo" not in errors and "platform" not in errors:
            try:
                pipeline = await self.pipeline_lookup(platform, repo, name)
            except PrbotError as exc:
                errors["pipeline"] = str(exc)
        if pipeline is not None and isinstance(inputs, dict) and self.automation_lookup:
            errors.update(
                await input_problems(
                    self.automation_lookup, platform, repo, pipeline, inputs, self.engine.limits
                )
            )
        if errors:
            return invalid(errors)
        try:
            promotion_id, promotion = await self.engine.create(
                platform=platform,
                repo=repo,
                pipeline=pipeline,
                inputs=inputs,
                requested_by=requested_by.strip(),
            )
        except PrbotError as exc:  # the definition does not make a valid pipeline
            return invalid({"pipeline": str(exc)})
        row = await self.store.promotion(promotion_id)
        assert row is not None
        return web.json_response({"promotion": promotion_view(row, promotion)}, status=202)

    async def get(self, request: web.Request) -> web.Response:
        row = await self._row(request)
        if row is None:
            return web.json_response({"status": "not_found"}, status=404)
        return web.json_response({"promotion": promotion_view(row)})

    async def list(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            limit = max(1, min(int(q.get("limit", "50") or 50), 500))
        except ValueError:
            return invalid({"limit": "must be an integer"})
        statuses = [s for s in q.get("status", "").split(",") if s] or None
        rows = await self.store.promotions(
            platform=q.get("platform") or None,
            repo=q.get("repo") or None,
            pipeline=q.get("pipeline") or None,
            status=statuses,
            limit=limit,
        )
        return web.json_response({"promotions": [promotion_view(r) for r in rows]})

    async def command(self, request: web.Request) -> web.Response:
        row = await self._row(request)
        if row is None:
            return web.json_response({"status": "not_found"}, status=404)
        verb = request.match_info["verb"]
        body = await _json_object(request) or {}
        by = body.get("by")
        if verb not in (*COMMANDS, "approve"):
            hint = did_you_mean(verb, [*COMMANDS, "approve"])
            reason = f"no command {verb!r}{hint}"
            return web.json_response({"status": "not_found", "reason": reason}, status=404)
        if not isinstance(by, str) or not by.strip():
            return invalid({"by": "is required (who asks)"})
        now = self.clock()
        stage = body.get("stage") if isinstance(body.get("stage"), str) else None
        try:
            judged = await judge(self.engine, row, verb, by, stage=stage, now=now)
        except PrbotError as exc:  # the platform could not say who is in the teams
            reason = f"could not read {by}'s team membership: {describe(exc)}"
            return web.json_response({"status": "unavailable", "reason": reason}, status=503)
        if judged.refusal:
            return web.json_response({"status": "refused", "reason": judged.refusal}, status=409)
        await self.store.enqueue([happen_job(row.id, judged.happening)], now=now)
        answer = {"status": "accepted", "promotion": promotion_view(row)}
        return web.json_response(answer, status=202)

    async def _row(self, request: web.Request) -> PromotionRow | None:
        try:
            promotion_id = int(request.match_info["id"])
        except ValueError:
            return None
        return await self.store.promotion(promotion_id)


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
