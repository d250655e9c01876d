"""GET /healthz (alive), GET /readyz (able to take work), GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from prbot import metrics
from prbot.store.base import Store

log = logging.getLogger("prbot.web.health")

# under the kubelet's default 1 s probe timeout: answer 503 with a reason, not time out
PING_TIMEOUT = 0.8


class Health:
    def __init__(self, store: Store, ready: Callable[[], bool] | None) -> None:
        self.store = store
        self.ready = ready
        self.queue_depth = metrics.QueueDepth(store.queue_depth)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)

    async def healthz(self, request: web.Request) -> web.Response:
        # liveness: the loop answers; deliberately no dependency checks, so a database
        # outage makes the pod unready, not restarted
        return web.Response(text="ok")

    async def readyz(self, request: web.Request) -> web.Response:
        reasons: list[str] = []
        try:
            store_ok = await asyncio.wait_for(self.store.ping(), PING_TIMEOUT)
        except Exception as exc:
            log.warning("store ping failed: %s", exc)
            store_ok = False
        if not store_ok:
            reasons.append("store: not answering")
        if self.ready is not None:  # None: intake-only process, no workers to check
            try:
                workers_ok = bool(self.ready())
            except Exception as exc:
                log.warning("readiness check failed: %s", exc)
                workers_ok = False
            if not workers_ok:
                reasons.append("workers: not running")
        if reasons:
            return web.json_response({"status": "unavailable", "reasons": reasons}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics(self, request: web.Request) -> web.Response:
        await self.queue_depth.refresh()
        metrics.store_pool(self.store.pool_stats())
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})
