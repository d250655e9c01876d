"""Prometheus metrics, in prbot's own registry (so tests and embedders do not collide with
the process-global default registry). Every name starts with ``prbot_``.

Other parts feed them through small functions (``observe_job``, ``scm_request``,
``rate_limit_remaining``) so they never touch prometheus-client directly. Label values
are bounded: they come from code (kinds, platforms, outcomes, status codes), and the
webhook event label only from verified deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERIES = Counter(
    "prbot_webhook_deliveries",
    "Webhook deliveries by platform, event and outcome (accepted, duplicate, ignored, "
    "rejected_signature, bad_request, too_large, unavailable)",
    ["platform", "event", "outcome"],
    registry=REGISTRY,
)
# gauges: with several web processes, the value last set by any of them
QUEUE_DEPTH = Gauge(
    "prbot_queue_jobs",
    "Jobs in the queue by state",
    ["state"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
JOB_SECONDS = Histogram(
    "prbot_job_duration_seconds",
    "Time a job attempt took, by job kind and outcome",
    ["kind", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)
JOB_FAILURES = Counter(
    "prbot_job_failures", "Failed job attempts by job kind", ["kind"], registry=REGISTRY
)
SCM_REQUESTS = Counter(
    "prbot_scm_requests",
    "Requests made to GitHub/GitLab by platform, route template ('GET /repos/{owner}/"
    "{repo}/pulls') and HTTP status ('error': no answer); retries count",
    ["platform", "route", "status"],
    registry=REGISTRY,
)
RATE_LIMIT = Gauge(
    "prbot_scm_rate_limit_remaining",
    "Requests left in the current rate-limit window, as last reported by the platform, "
    "per installation (GitHub App), token or GitLab user",
    ["platform", "installation"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)

STORE_POOL = Gauge(
    "prbot_store_pool",
    "The PostgreSQL store's query pool: connections open (pool_size), idle "
    "(pool_available), and requests waiting for one (requests_waiting); none on SQLite",
    ["stat"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
POOL_STATS = ("pool_size", "pool_available", "requests_waiting")

JOB_STATES = ("queued", "running", "done", "dead")
SUCCESS_OUTCOMES = frozenset({"done", "success", "ok"})


# labelled children of DELIVERIES, looked up once: ``labels()`` validates and locks on
# every call, and this runs once per webhook delivery. Bounded like the labels themselves.
_DELIVERY_CHILDREN: dict[tuple[str, str, str], Counter] = {}


def delivery(platform: str, event: str, outcome: str) -> None:
    key = (platform, event, outcome)
    child = _DELIVERY_CHILDREN.get(key)
    if child is None:
        child = _DELIVERY_CHILDREN[key] = DELIVERIES.labels(platform, event, outcome)
    child.inc()


def observe_job(kind: str, seconds: float, outcome: str) -> None:
    """One job attempt finished: outcome "done", or a failure ("retry", "dead", ...)."""
    JOB_SECONDS.labels(kind, outcome).observe(seconds)
    if outcome not in SUCCESS_OUTCOMES:
        JOB_FAILURES.labels(kind).inc()


def scm_request(platform: str, route: str, status: int | str) -> None:
    SCM_REQUESTS.labels(platform, route, str(status)).inc()


def rate_limit_remaining(platform: str, installation: str, value: float) -> None:
    RATE_LIMIT.labels(platform, installation).set(value)


def store_pool(stats: Mapping[str, int]) -> None:
    """The pool's counters as the store reports them (``Store.pool_stats``)."""
    for stat in POOL_STATS:
        if stat in stats:
            STORE_POOL.labels(stat).set(stats[stat])


class QueueDepth:
    """Reads ``store.queue_depth()`` for the gauge at most once per ``max_age`` seconds,
    and once at a time however many scrapes arrive together."""

    def __init__(
        self,
        read: Callable[[], Awaitable[dict[str, int]]],
        *,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._max_age = max_age
        self._clock = clock
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if self._clock() - self._read_at < self._max_age:
            return
        async with self._lock:
            if self._clock() - self._read_at < self._max_age:
                return  # another scrape refreshed it while we waited
            try:
                depth = await self._read()
            except Exception as exc:
                # keep the last values: a scrape must not fail because the DB is slow
                log.warning("queue depth unavailable: %s", exc)
                return
            finally:
                self._read_at = self._clock()
            for state in {*JOB_STATES, *depth}:
                QUEUE_DEPTH.labels(state).set(depth.get(state, 0))


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


MULTIPROCESS_PREFIX = "prbot-metrics-"


def make_multiprocess_dir() -> str:
    """A fresh folder for multiprocess metrics, in the temp dir, named by this process;
    first removing those of earlier parents that are gone (killed before they could
    remove their own)."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{MULTIPROCESS_PREFIX}*"):
        pid = old.name[len(MULTIPROCESS_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)) and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{MULTIPROCESS_PREFIX}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def use_multiprocess() -> str:
    """Keep every metric value in a fresh folder (prometheus-client's multiprocess mode),
    so that any of several web processes answers /metrics for all of them; returns the
    folder, for the caller to remove at exit. Called before any value is recorded;
    processes started afterwards inherit it through the environment. (Every prbot metric
    has labels, so its values are created on first use, after this.)"""
    directory = make_multiprocess_dir()
    os.environ[MULTIPROCESS_ENV] = directory
    values.ValueClass = values.MultiProcessValue()
    return directory


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format (of all web processes, in multiprocess mode),
    and their content type."""
    # multiprocess mode: use_multiprocess() here, or prometheus-client in a child that
    # inherited the folder (it chooses its value class when it is imported)
    if values.ValueClass is not values.MutexValue:
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
