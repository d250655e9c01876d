"""/healthz, /readyz (store and workers), /metrics (prbot_ metrics, deliveries by
outcome, queue depth read at most once a second)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from prbot import metrics
from prbot.automation.loader import DefinitionSet
from prbot.store import open_store
from prbot.store.base import NewJob, Store
from prbot.web.app import create_app

from .conftest import MakeClient, Ready, fixture_named, github_headers, make_settings, sign


async def test_healthz(make_client: MakeClient) -> None:
    client = await make_client(ready=Ready(False))
    resp = await client.get("/healthz")
    assert (resp.status, await resp.text()) == (200, "ok")


async def test_readyz(make_client: MakeClient) -> None:
    ready = Ready(True)
    client = await make_client(ready=ready)
    resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (200, {"status": "ready"})
    ready.value = False
    resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (
        503,
        {"status": "unavailable", "reasons": ["workers: not running"]},
    )


async def test_readyz_without_workers_checks_the_store_only(
    aiohttp_client: Any, store: Store, tmp_path: Path
) -> None:
    # PRBOT_WORKERS=0: an intake-only process is ready when its store answers
    def app(s: Store) -> web.Application:
        return create_app(make_settings(), s, ready=None, definitions=DefinitionSet)

    client = await aiohttp_client(app(store))
    resp = await client.get("/readyz")
    assert (resp.status, await resp.json()) == (200, {"status": "ready"})
    down = await aiohttp_client(app(open_store(f"sqlite:{tmp_path / 'down.db'}")))
    resp = await down.get("/readyz")
    assert (resp.status, await resp.json()) == (
        503,
        {"status": "unavailable", "reasons": ["store: not answering"]},
    )


async def test_readyz_store_down(make_client: MakeClient, tmp_path: Path) -> None:
    down = open_store(f"sqlite:{tmp_path / 'down.db'}")  # never opened
    client = await make_client(app_store=down)
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["reasons"] == ["store: not answering"]


async def test_readyz_store_closed_after_start(make_client: MakeClient, tmp_path: Path) -> None:
    s = open_store(f"sqlite:{tmp_path / 'closing.db'}")
    await s.open()
    client = await make_client(app_store=s)
    assert (await client.get("/readyz")).status == 200
    await s.close()
    assert (await client.get("/readyz")).status == 503


def count(outcome: str, platform: str = "github", event: str | None = None) -> float:
    labels = {"platform": platform, "outcome": outcome}
    if event is not None:
        labels["event"] = event
        return metrics.REGISTRY.get_sample_value("prbot_webhook_deliveries_total", labels) or 0.0
    total = 0.0
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "prbot_webhook_deliveries_total" and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                total += sample.value
    return total


async def test_metrics_count_deliveries_by_outcome(make_client: MakeClient, store: Store) -> None:
    client = await make_client(settings=make_settings(max_body_bytes=64 * 1024))
    fx = fixture_named("github/pull_request.opened")
    outcomes = (
        "accepted",
        "duplicate",
        "ignored",
        "rejected_signature",
        "bad_request",
        "too_large",
    )
    before = {o: count(o) for o in outcomes}

    headers = github_headers(fx.event, fx.body, "m-1")
    await client.post("/webhooks/github", data=fx.body, headers=headers)  # accepted
    await client.post("/webhooks/github", data=fx.body, headers=headers)  # duplicate
    ping = fixture_named("github/ping")
    await client.post(
        "/webhooks/github", data=ping.body, headers=github_headers("ping", ping.body, "m-2")
    )
    await client.post(
        "/webhooks/github",
        data=fx.body,
        headers={**headers, "X-Hub-Signature-256": sign("x", fx.body)},
    )
    await client.post("/webhooks/github", data=b"{", headers=github_headers("push", b"{", "m-3"))
    big = b"{" + b" " * (70 * 1024) + b"}"
    await client.post("/webhooks/github", data=big, headers=github_headers("push", big, "m-4"))

    after = {o: count(o) for o in outcomes}
    assert {o: after[o] - before[o] for o in outcomes} == dict.fromkeys(outcomes, 1.0)

    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert (
        'prbot_webhook_deliveries_total{event="pull_request",outcome="accepted",platform="github"}'
        in text
    )
    for state in ("queued", "running", "done", "dead"):
        assert f'prbot_queue_jobs{{state="{state}"}}' in text
    assert all(line.startswith(("#", "prbot_")) for line in text.splitlines() if line), (
        "only prbot_ metrics in our registry"
    )


async def test_metrics_queue_depth_reflects_the_store(
    make_client: MakeClient, store: Store
) -> None:
    await store.enqueue(
        [NewJob(kind="event", payload={}, dedupe_key=f"q-{i}") for i in range(3)], now=0
    )
    client = await make_client()
    text = await (await client.get("/metrics")).text()
    assert 'prbot_queue_jobs{state="queued"} 3.0' in text


async def test_queue_depth_is_read_at_most_once_a_second() -> None:
    calls = 0
    now = [100.0]

    async def read() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {"queued": calls}

    depth = metrics.QueueDepth(read, clock=lambda: now[0])
    await asyncio.gather(*(depth.refresh() for _ in range(20)))
    assert calls == 1
    now[0] += 0.5
    await depth.refresh()
    assert calls == 1
    now[0] += 0.6
    await depth.refresh()
    assert calls == 2
    assert metrics.REGISTRY.get_sample_value("prbot_queue_jobs", {"state": "queued"}) == 2


async def test_queue_depth_failure_keeps_last_values() -> None:
    async def broken() -> dict[str, int]:
        raise RuntimeError("database is locked")

    metrics.QUEUE_DEPTH.labels("dead").set(5)
    await metrics.QueueDepth(broken).refresh()
    assert metrics.REGISTRY.get_sample_value("prbot_queue_jobs", {"state": "dead"}) == 5


def test_worker_feeds() -> None:
    # the SCM metrics are fed by the providers themselves: tests/scm/test_metrics.py
    failures = (
        metrics.REGISTRY.get_sample_value("prbot_job_failures_total", {"kind": "t.kind"}) or 0
    )
    metrics.observe_job("t.kind", 0.2, "done")
    metrics.observe_job("t.kind", 1.5, "retry")
    metrics.observe_job("t.kind", 3.0, "dead")
    get = metrics.REGISTRY.get_sample_value
    assert get("prbot_job_failures_total", {"kind": "t.kind"}) == failures + 2
    assert get("prbot_job_duration_seconds_count", {"kind": "t.kind", "outcome": "done"}) >= 1


async def test_metrics_show_the_postgresql_pool(
    make_client: MakeClient, store: Store, postgres_url: str
) -> None:
    assert store.pool_stats() == {}  # SQLite has no pool: the gauge gets nothing from it
    pg = open_store(postgres_url)
    await pg.open()
    try:
        client = await make_client(app_store=pg)
        text = await (await client.get("/metrics")).text()
        size = re.search(r'^prbot_store_pool\{stat="pool_size"\} (\S+)$', text, re.M)
        assert size is not None and float(size.group(1)) >= 1, text[-2000:]
        assert re.search(r'^prbot_store_pool\{stat="requests_waiting"\} 0\.0$', text, re.M)
    finally:
        await pg.close()
