"""Request recording and fault injection for the API routes (never ``/_forge/``).

``RequestLog`` counts every API request by ``METHOD /route/{template}`` and status, so
tests can assert how many calls a flow costs. ``Faults`` injects, on demand: a share of
5xx answers drawn from a seeded RNG (the same seed and request order give the same
failures), added latency, rate-limit answers for the next N requests (GitHub primary:
403 + ``x-ratelimit-remaining: 0``; GitHub secondary: 403/429 + ``retry-after``; GitLab:
429 + ``Retry-After`` and ``RateLimit-*``) and dropped connections (the socket closes with
no answer) for the next N requests. ``match`` narrows a fault to routes whose
``METHOD template`` matches a regular expression.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from aiohttp import web

ADMIN_PREFIX = "/_forge/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_template(request: web.Request) -> str:
    """``GET /api/v3/repos/{owner}/{repo}/pulls`` (the path itself if no route matched)."""
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    canonical = resource.canonical if resource is not None else request.path
    return f"{request.method} {canonical}"


def platform_of(path: str) -> str:
    return "gitlab" if path.startswith("/api/v4/") else "github"


@dataclass
class RecordedRequest:
    method: str
    route: str  # "GET /api/v3/repos/{owner}/{repo}"
    path: str
    status: int  # 0: the connection was dropped
    at: float


class RequestLog:
    def __init__(self, keep: int = 5000):
        self.keep = keep
        self.entries: list[RecordedRequest] = []
        self._counts: Counter[str] = Counter()
        self._statuses: Counter[tuple[str, int]] = Counter()

    def record(self, method: str, route: str, path: str, status: int) -> None:
        self._counts[route] += 1
        self._statuses[(route, status)] += 1
        self.entries.append(RecordedRequest(method, route, path, status, time.time()))
        if len(self.entries) > self.keep:
            del self.entries[: len(self.entries) - self.keep]

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def count(self, route: str | None = None, *, prefix: str | None = None) -> int:
        """Requests to one route template (``"GET /api/v3/..."``), or whose template
        starts with ``prefix``, or all."""
        if route is not None:
            return self._counts.get(route, 0)
        if prefix is not None:
            return sum(n for r, n in self._counts.items() if r.startswith(prefix))
        return self.total

    def counts(self) -> dict[str, int]:
        return dict(sorted(self._counts.items()))

    def by_status(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (route, status), n in sorted(self._statuses.items()):
            out.setdefault(route, {})[str(status)] = n
        return out

    def reset(self) -> None:
        self.entries.clear()
        self._counts.clear()
        self._statuses.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total, "counts": self.counts(), "by_status": self.by_status()}


@dataclass
class FaultConfig:
    error_rate: float = 0.0  # share of API requests answered with a 5xx
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    seed: int | None = None
    latency_ms: float = 0.0
    rate_limit_next: int = 0
    rate_limit_kind: str = "primary"  # primary | secondary (GitLab: always 429)
    rate_limit_reset_in: int = 60  # seconds until the (fake) window resets
    drop_next: int = 0
    # "before": the request never reaches the handler; "after": it is handled (the change
    # happens) and then the answer is lost, the case idempotent clients must survive
    drop_mode: str = "before"
    match: str | None = None  # regex on "METHOD /route/{template}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Faults:
    def __init__(self) -> None:
        self.config = FaultConfig()
        self._rng = random.Random()
        self._match: re.Pattern[str] | None = None

    def configure(self, **changes: Any) -> FaultConfig:
        """Change some settings (others keep their value); a seed restarts the RNG."""
        allowed = set(FaultConfig.__dataclass_fields__)
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        cfg = FaultConfig(**{**self.config.to_dict(), **changes})
        if not 0.0 <= float(cfg.error_rate) <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not cfg.error_statuses or any(not 500 <= int(s) <= 599 for s in cfg.error_statuses):
            raise ValueError("error_statuses must be 5xx codes")
        if cfg.drop_mode not in ("before", "after"):
            raise ValueError("drop_mode must be before or after")
        if cfg.rate_limit_kind not in ("primary", "secondary"):
            raise ValueError("rate_limit_kind must be primary or secondary")
        self._match = re.compile(cfg.match) if cfg.match else None
        if "seed" in changes:
            self._rng = random.Random(cfg.seed)
        self.config = cfg
        return cfg

    def clear(self) -> None:
        self.config = FaultConfig()
        self._match = None
        self._rng = random.Random()

    def applies(self, route: str) -> bool:
        return self._match is None or bool(self._match.search(route))


def _github_rate_limited(cfg: FaultConfig, path: str) -> web.Response:
    reset = int(time.time()) + cfg.rate_limit_reset_in
    doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    if cfg.rate_limit_kind == "secondary":
        # GitHub answers secondary limits with 403 (sometimes 429) and retry-after
        return web.json_response(
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few "
                "minutes before you try again.",
                "documentation_url": doc,
            },
            status=403,
            headers={"retry-after": str(cfg.rate_limit_reset_in)},
        )
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "graphql" if path == "/api/graphql" else "core",
    }
    body = {"message": "API rate limit exceeded.", "documentation_url": doc}
    if path == "/api/graphql":
        # GraphQL reports an exhausted budget as a 200 with a RATE_LIMITED error
        err = {"type": "RATE_LIMITED", "message": "API rate limit exceeded."}
        return web.json_response({"errors": [err]}, status=200, headers=headers)
    return web.json_response(body, status=403, headers=headers)


def _gitlab_rate_limited(cfg: FaultConfig) -> web.Response:
    reset = int(time.time()) + cfg.rate_limit_reset_in
    return web.Response(
        text="Retry later\n",
        status=429,
        headers={
            "Retry-After": str(cfg.rate_limit_reset_in),
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": "2000",
            "RateLimit-Observed": "2000",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        },
    )


def _server_error(status: int, platform: str) -> web.Response:
    if platform == "gitlab":
        return web.json_response({"message": f"{status} Internal Server Error"}, status=status)
    return web.json_response(
        {"message": "Server Error", "documentation_url": "https://docs.github.com/rest"},
        status=status,
    )


def middleware(log: RequestLog, faults: Faults) -> Any:
    @web.middleware
    async def record_and_inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        route = route_template(request)
        platform = platform_of(request.path)
        cfg = faults.config
        targeted = faults.applies(route)
        if targeted and cfg.drop_next > 0:
            cfg.drop_next -= 1
            if cfg.drop_mode == "after":
                with contextlib.suppress(web.HTTPException):
                    await handler(request)
            log.record(request.method, route, request.path, 0)
            if request.transport is not None:
                request.transport.abort()  # no status line at all: a transport error
            raise asyncio.CancelledError
        status = 500
        try:
            if targeted and cfg.latency_ms > 0:
                await asyncio.sleep(cfg.latency_ms / 1000)
            if targeted and cfg.rate_limit_next > 0:
                cfg.rate_limit_next -= 1
                if platform == "gitlab":
                    resp: web.StreamResponse = _gitlab_rate_limited(cfg)
                else:
                    resp = _github_rate_limited(cfg, request.path)
            elif targeted and cfg.error_rate > 0 and faults._rng.random() < cfg.error_rate:
                code = faults._rng.choice(cfg.error_statuses)
                resp = _server_error(int(code), platform)
            else:
                resp = await handler(request)
            status = resp.status
            return resp
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            log.record(request.method, route, request.path, status)

    return record_and_inject
