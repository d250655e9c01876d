"""Retention: Store.prune deletes old deliveries (bodies, events) and old done jobs, in
chunks, oldest first; it keeps dead and queued jobs, newer rows, and anything an event
still points at. The reconciler runs it with PRBOT_RETENTION_DAYS."""

from __future__ import annotations

import dataclasses

from prbot.settings import Settings
from prbot.store.base import NewJob, Store
from prbot.worker.reconciler import Reconciler

from .helpers import Backend, delivery, merged

OLD, NEW, CUTOFF = 1_000.0, 900_000.0, 500_000.0


async def finish(store: Store, *, now: float = OLD + 1, dead: int = 0) -> None:
    """Claim every job due at ``now`` and complete it, except ``dead`` of them:
    dead-lettered."""
    jobs = await store.claim("w", limit=10_000, lease=60, now=now)
    for i, job in enumerate(jobs):
        if i < dead:
            await store.fail(job.id, "w", error="boom", retry_at=None, now=now)
        else:
            await store.complete(job.id, "w", now=now)


async def test_prune_removes_old_deliveries_and_done_jobs_only(
    store: Store, backend: Backend
) -> None:
    event = merged()
    job = NewJob(kind="event", payload=event.to_dict())
    # 1,200 old deliveries (more than two chunks), each with an event and its job
    for i in range(1200):
        assert await store.record_delivery(delivery(f"old-{i}", at=OLD), [event], [job])
    await finish(store, dead=3)
    # jobs not from a delivery: one done long ago, one queued long ago (never ran)
    await store.enqueue([NewJob(kind="x", payload={"n": 1})], now=OLD)
    [lone] = await store.claim("w", limit=1, lease=60, now=OLD + 2)
    await store.complete(lone.id, "w", now=OLD + 2)
    await store.enqueue([NewJob(kind="x", payload={"n": 2})], now=OLD)
    # recent deliveries, their jobs done recently
    for i in range(10):
        assert await store.record_delivery(delivery(f"new-{i}", at=NEW), [event], [job])

    pruned = await store.prune(before=CUTOFF, chunk=500)

    assert (pruned.deliveries, pruned.jobs) == (1200, 1200 - 3 + 1)
    assert sorted(d.delivery_id for d in await store.deliveries(limit=100)) == sorted(
        f"new-{i}" for i in range(10)
    )
    assert backend.count("events") == 10  # the old ones went with their deliveries
    # dead letters and the queued job stay; the new deliveries' jobs too
    assert backend.count("jobs", "state = 'dead'") == 3
    assert backend.count("jobs", "state = 'queued'") == 1 + 10
    assert (await store.prune(before=CUTOFF)).deliveries == 0  # nothing left to do
    # a delivery pruned is forgotten: the same id is new again (hence the 3-day floor)
    assert await store.record_delivery(delivery("old-0", at=NEW), [], [])


async def test_a_done_job_an_event_still_points_at_is_kept(store: Store, backend: Backend) -> None:
    event = merged()
    job = NewJob(kind="event", payload=event.to_dict())
    # both old: both go
    assert await store.record_delivery(delivery("d-1", at=NEW), [event], [job])
    await finish(store, now=NEW + 1)
    pruned = await store.prune(before=NEW + 10)
    assert (pruned.deliveries, pruned.jobs) == (1, 1)
    # a kept delivery whose job looks older than the cut (clocks of two processes may
    # differ): its event's data lives in the job's payload, so the job must stay
    assert await store.record_delivery(delivery("d-2", at=NEW + 20), [event], [job])
    await finish(store, now=NEW + 21)
    backend.execute("UPDATE jobs SET updated_at = ?", (OLD,))
    pruned = await store.prune(before=NEW + 20)
    assert (pruned.deliveries, pruned.jobs) == (0, 0)
    assert await store.delivery_events("github", "d-2") == [event]


async def test_the_reconciler_prunes_past_the_retention(store: Store) -> None:
    event = merged()
    job = NewJob(kind="event", payload=event.to_dict())
    day = 86400.0
    assert await store.record_delivery(delivery("d-old", at=0.0), [event], [job])
    assert await store.record_delivery(delivery("d-new", at=9 * day), [event], [job])
    settings = dataclasses.replace(Settings(), retention_days=5, reconcile_seconds=60)
    report = await Reconciler(store, settings, clock=lambda: 10 * day).reconcile_once()
    assert report.pruned.deliveries == 1
    assert [d.delivery_id for d in await store.deliveries()] == ["d-new"]
    # 0 keeps everything
    keep = dataclasses.replace(settings, retention_days=0)
    report = await Reconciler(store, keep, clock=lambda: 100 * day).reconcile_once()
    assert report.pruned.deliveries == 0
    assert len(await store.deliveries()) == 1
