"""500 deliveries (the real fixtures under unique ids), shuffled, some sent twice, 32 at a
time over real HTTP: the store ends with exactly the expected deliveries and jobs."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from prbot.events import event_from_dict
from prbot.store.base import Store

from .conftest import MakeClient, github_fixtures, gitlab_fixtures
from .test_intake import headers_for
from .test_normalize import EXPECTED

DELIVERIES = 500
SENT_TWICE = 60
CONCURRENCY = 32


async def test_concurrent_shuffled_deliveries_with_redeliveries(
    make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    fixtures = [*github_fixtures(), *gitlab_fixtures()]
    planned = []  # (fixture, delivery id)
    for i in range(DELIVERIES):
        fx = fixtures[i % len(fixtures)]
        planned.append((fx, f"load-{i:04d}"))
    rng = random.Random(20240611)
    sends = planned + rng.sample(planned, SENT_TWICE)
    rng.shuffle(sends)

    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(fx, delivery_id: str) -> str:  # type: ignore[no-untyped-def]
        async with gate:
            resp = await client.post(
                f"/webhooks/{fx.platform}", data=fx.body, headers=headers_for(fx, delivery_id)
            )
            assert resp.status in (200, 202), await resp.text()
            return (await resp.json())["status"]

    answers = Counter(await asyncio.gather(*(send(fx, d) for fx, d in sends)))
    assert answers["duplicate"] == SENT_TWICE
    assert answers["accepted"] + answers["ignored"] == DELIVERIES

    expected = {(fx.platform, d): EXPECTED[f"{fx.platform}/{fx.name}"] for fx, d in planned}
    deliveries = await store.deliveries(limit=10_000)
    jobs = await store.jobs(limit=10_000)
    assert sorted(d.delivery_id for d in deliveries) == sorted(d for _, d in planned)
    # each delivery's events exactly once, and one queued job per event: none for a
    # redelivery
    for (platform, delivery_id), events in expected.items():
        assert await store.delivery_events(platform, delivery_id) == events
    every_event = [e for events in expected.values() for e in events]
    assert len(jobs) == len(every_event)
    job_events = [event_from_dict(j.payload) for j in jobs]
    assert sorted(map(repr, job_events)) == sorted(map(repr, every_event))
    assert (await store.queue_depth())["queued"] == len(every_event)
