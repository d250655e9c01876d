"""record_delivery: atomic, deduplicated, group-committed."""

from __future__ import annotations

import asyncio
import json

import pytest

from prbot.events import event_from_dict
from prbot.store.base import NewJob, Store, StoreError
from prbot.store.sqlite import SqliteStore

from .helpers import Backend, delivery, job, merged


async def test_delivery_events_and_jobs_are_stored_together(store: Store, backend: Backend) -> None:
    event = merged()
    stored = await store.record_delivery(
        delivery("d-1"), [event], [job(pr=7), NewJob("automation.run", {"x": 1}, run_at=500.0)]
    )
    assert stored is True
    assert backend.count("deliveries") == 1
    [(kind, data)] = backend.rows("SELECT kind, data FROM event_data")
    links = backend.rows("SELECT DISTINCT delivery FROM jobs")
    assert kind == "pull_request"
    assert event_from_dict(json.loads(data)) == event
    assert links == [(1,)]
    assert await store.delivery_events("github", "d-1") == [event]
    jobs = sorted(await store.jobs(), key=lambda j: j.id)
    assert [(j.kind, j.state, j.next_run_at, j.created_at) for j in jobs] == [
        ("event", "queued", 100.0, 100.0),  # run_at 0 means "at receipt"
        ("automation.run", "queued", 500.0, 100.0),
    ]
    [d] = await store.deliveries()
    assert d == delivery("d-1")


async def test_a_failing_job_insert_stores_nothing_of_that_delivery(
    store: Store, backend: Backend
) -> None:
    backend.refuse_job_kind("boom")
    with pytest.raises(StoreError, match="boom refused"):
        await store.record_delivery(delivery("d-bad"), [merged()], [job(), job("boom")])
    assert backend.count("deliveries") == 0
    assert backend.count("events") == 0
    assert backend.count("jobs") == 0
    # and the same delivery id can still be stored once the cause is fixed
    assert await store.record_delivery(delivery("d-bad"), [merged()], [job()]) is True


async def test_a_failing_op_fails_alone_inside_a_group_commit(
    store: Store, backend: Backend
) -> None:
    backend.refuse_job_kind("boom")
    calls = [
        store.record_delivery(
            delivery(f"d-{i}"), [merged(i)], [job("boom" if i == 50 else "event")]
        )
        for i in range(200)
    ]
    commits_before = getattr(store, "commits", 0)
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[50], StoreError)
    assert results[:50] + results[51:] == [True] * 199
    assert backend.count("deliveries") == 199
    assert backend.count("events") == 199
    assert backend.count("deliveries", "delivery_id = 'd-50'") == 0
    if isinstance(store, SqliteStore):
        assert store.commits - commits_before < 20  # it really shared transactions


async def test_the_same_delivery_twice_is_stored_once(store: Store, backend: Backend) -> None:
    assert await store.record_delivery(delivery("d-1"), [merged()], [job()]) is True
    assert await store.record_delivery(delivery("d-1"), [merged()], [job()]) is False
    assert backend.count("deliveries") == 1
    assert backend.count("events") == 1
    assert backend.count("jobs") == 1
    # the key is (platform, delivery_id): the same id from GitLab is another delivery
    assert await store.record_delivery(delivery("d-1", platform="gitlab"), [], []) is True


async def test_concurrent_redeliveries_store_exactly_one(store: Store, backend: Backend) -> None:
    results = await asyncio.gather(
        *(store.record_delivery(delivery("same"), [merged()], [job(n=i)]) for i in range(64))
    )
    assert results.count(True) == 1
    assert backend.count("deliveries") == 1
    assert backend.count("jobs") == 1


async def test_concurrent_redeliveries_across_two_stores_store_exactly_one(
    backend: Backend,
) -> None:
    # two processes' worth of writers (web replicas) on one database
    async with backend.make() as a, backend.make() as b:
        results = await asyncio.gather(
            *(
                (a if i % 2 else b).record_delivery(delivery(f"d-{i % 10}"), [merged()], [job()])
                for i in range(100)
            )
        )
    assert results.count(True) == 10
    assert backend.count("deliveries") == 10
    assert backend.count("jobs") == 10


async def test_many_concurrent_deliveries_share_few_commits(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    before = store.commits
    results = await asyncio.gather(
        *(store.record_delivery(delivery(f"d-{i}"), [merged()], [job()]) for i in range(1000))
    )
    assert all(results)
    commits = store.commits - before
    assert 1 <= commits <= 100, commits  # 1000 calls, a handful of transactions
    assert store.writes >= 1000


async def test_a_job_dedupe_key_applies_to_intake(store: Store, backend: Backend) -> None:
    first = NewJob("pr.merged", {"n": 7}, dedupe_key="merged:acme/infra#7")
    assert await store.record_delivery(delivery("d-1"), [merged()], [first]) is True
    # a different delivery of the same fact (GitHub App + repo webhook) adds no job
    assert await store.record_delivery(delivery("d-2"), [merged()], [first]) is True
    assert backend.count("deliveries") == 2
    assert backend.count("jobs") == 1


async def test_unencodable_values_fail_before_anything_is_queued(
    store: Store, backend: Backend
) -> None:
    with pytest.raises(TypeError):
        await store.record_delivery(delivery("d-1"), [], [NewJob("event", {"x": object()})])
    with pytest.raises(ValueError, match="max_attempts"):
        await store.record_delivery(delivery("d-1"), [], [NewJob("event", {}, max_attempts=0)])
    assert backend.count("jobs") == 0
    assert await store.deliveries() == []


def event_rows(backend: Backend) -> list[tuple]:
    return backend.rows(
        "SELECT delivery, position, kind, job, data IS NOT NULL FROM events "
        "ORDER BY delivery, position"
    )


async def test_an_event_that_became_a_job_is_stored_once(store: Store, backend: Backend) -> None:
    # as the web edge does: one job per event, its payload the event's dict, no key
    events = [merged(7), merged(8)]
    jobs = [NewJob("event", e.to_dict()) for e in events]
    assert await store.record_delivery(delivery("d-1"), events, jobs) is True
    [first, second] = sorted(await store.jobs(), key=lambda j: j.id)
    # the events point at their jobs and keep no JSON of their own
    assert event_rows(backend) == [
        (1, 0, "pull_request", first.id, 0),
        (1, 1, "pull_request", second.id, 0),
    ]
    assert [event_from_dict(j.payload) for j in (first, second)] == events
    assert await store.delivery_events("github", "d-1") == events
    assert first.dedupe_key is None


async def test_an_event_without_its_own_job_keeps_its_data(store: Store, backend: Backend) -> None:
    event = merged()
    keyed = NewJob("event", event.to_dict(), dedupe_key="merged:acme/infra#7")
    assert await store.record_delivery(delivery("d-1"), [event], [keyed]) is True
    # the same fact again: its job is deduplicated away, so the event cannot point at a
    # job of this delivery and is stored with its data
    assert await store.record_delivery(delivery("d-2"), [event], [keyed]) is True
    # and an event no job was made from
    assert await store.record_delivery(delivery("d-3"), [event], [job(other=1)]) is True
    [(_, _, _, job_id, has_data), *rest] = event_rows(backend)
    assert job_id is not None and not has_data
    assert [(r[3], r[4]) for r in rest] == [(None, 1), (None, 1)]
    assert backend.count("jobs") == 2
    for d in ("d-1", "d-2", "d-3"):
        assert await store.delivery_events("github", d) == [event]
    assert await store.delivery_events("github", "unknown") == []


async def test_an_event_is_linked_only_to_a_job_with_the_very_same_data(
    store: Store, backend: Backend
) -> None:
    event = merged()
    lookalike = {**event.to_dict(), "number": 7.0}  # == the event's dict, not the same JSON
    assert await store.record_delivery(delivery("d-1"), [event], [NewJob("e", lookalike)])
    [(_, _, _, job_id, has_data)] = event_rows(backend)
    assert job_id is None and has_data
    assert await store.delivery_events("github", "d-1") == [event]
