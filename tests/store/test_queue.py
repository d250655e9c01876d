"""The job queue: due order, leases, owners, retries, dead letters, dedupe."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import pytest

from prbot.store import ops
from prbot.store.base import NewJob, Store
from prbot.store.sqlite import JOB_STATES, SqliteStore

from .helpers import Backend


def jobs_at(*times: float) -> list[NewJob]:
    return [NewJob("t", {"at": t}, run_at=t) for t in times]


@pytest.fixture(params=["sqlite", "sqlite-before-3.35", "postgres"])
def backend(
    request: pytest.FixtureRequest, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    # the queue's semantics on PostgreSQL, and on SQLite with UPDATE ... RETURNING and
    # without it (SQLite < 3.35 takes a fallback)
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres_server").new_database())
    if request.param == "sqlite-before-3.35":
        monkeypatch.setattr(ops, "HAS_RETURNING", False)
    return Backend("sqlite", f"sqlite:{db_path}")


@pytest.fixture
def queue_store(store: Store) -> Store:
    return store


async def test_claim_takes_due_jobs_in_next_run_at_order(queue_store: Store) -> None:
    store = queue_store
    ids = await store.enqueue(jobs_at(30, 10, 20, 99), now=0)
    claimed = await store.claim("w1", limit=10, lease=60, now=50)
    assert [j.payload["at"] for j in claimed] == [10, 20, 30]  # 99 is not due
    assert {j.id for j in claimed} == set(ids[:3])
    for j in claimed:
        assert (j.state, j.lease_owner, j.lease_expires_at, j.attempts) == ("running", "w1", 110, 1)
    assert await store.claim("w2", limit=10, lease=60, now=50) == []
    assert [j.payload["at"] for j in await store.claim("w2", limit=10, lease=60, now=99)] == [99]


async def test_claim_respects_limit(queue_store: Store) -> None:
    await queue_store.enqueue(jobs_at(1, 2, 3, 4, 5), now=0)
    first = await queue_store.claim("w", limit=2, lease=10, now=10)
    assert [j.payload["at"] for j in first] == [1, 2]
    assert await queue_store.claim("w", limit=0, lease=10, now=10) == []


async def test_an_expired_lease_is_reclaimed_and_the_old_owner_is_locked_out(
    queue_store: Store,
) -> None:
    store = queue_store
    [jid] = await store.enqueue(jobs_at(0), now=0)
    [first] = await store.claim("crashed", limit=1, lease=30, now=10)
    # still leased at 39: nobody else gets it
    assert await store.claim("w2", limit=1, lease=30, now=39) == []
    [again] = await store.claim("w2", limit=1, lease=30, now=41)
    assert (again.id, again.lease_owner, again.attempts) == (jid, "w2", 2)
    # the worker that lost its lease comes back: its answers change nothing
    assert await store.complete(jid, "crashed", now=42) is False
    assert await store.fail(jid, "crashed", error="x", retry_at=None, now=42) is False
    assert await store.extend_lease(jid, "crashed", lease=30, now=42) is False
    job = await store.job(jid)
    assert job is not None and (job.state, job.lease_owner) == ("running", "w2")
    assert await store.complete(jid, "w2", now=43) is True
    job = await store.job(jid)
    assert job is not None and (job.state, job.lease_owner, job.lease_expires_at) == (
        "done",
        None,
        None,
    )
    assert first.id == jid


async def test_extend_lease_keeps_the_job(queue_store: Store) -> None:
    store = queue_store
    [jid] = await store.enqueue(jobs_at(0), now=0)
    await store.claim("w1", limit=1, lease=30, now=0)
    assert await store.extend_lease(jid, "w1", lease=30, now=25) is True
    assert await store.claim("w2", limit=1, lease=30, now=40) == []  # 55 now
    assert len(await store.claim("w2", limit=1, lease=30, now=56)) == 1


async def test_failure_with_backoff_requeues_not_before_retry_at(queue_store: Store) -> None:
    store = queue_store
    [jid] = await store.enqueue(jobs_at(0), now=0)
    await store.claim("w1", limit=1, lease=30, now=1)
    assert await store.fail(jid, "w1", error="502 from GitHub", retry_at=61, now=2) is True
    job = await store.job(jid)
    assert job is not None
    assert (job.state, job.next_run_at, job.last_error, job.lease_owner) == (
        "queued",
        61,
        "502 from GitHub",
        None,
    )
    assert await store.claim("w1", limit=1, lease=30, now=60) == []
    [again] = await store.claim("w1", limit=1, lease=30, now=61)
    assert again.attempts == 2


async def test_failure_without_retry_is_a_dead_letter_and_retry_revives_it(
    queue_store: Store,
) -> None:
    store = queue_store
    [jid] = await store.enqueue(jobs_at(0), now=0)
    await store.claim("w1", limit=1, lease=30, now=1)
    assert await store.fail(jid, "w1", error="bad definition", retry_at=None, now=2)
    job = await store.job(jid)
    assert job is not None and (job.state, job.last_error) == ("dead", "bad definition")
    assert await store.claim("w1", limit=1, lease=30, now=1000) == []
    assert [j.id for j in await store.jobs(state="dead")] == [jid]

    assert await store.retry(jid, now=500) is True
    job = await store.job(jid)
    assert job is not None and (job.state, job.attempts, job.next_run_at) == ("queued", 0, 500)
    assert await store.retry(jid, now=500) is False  # only dead or done jobs
    assert await store.retry(12345, now=500) is False
    [again] = await store.claim("w1", limit=1, lease=30, now=500)
    assert again.attempts == 1


async def test_a_retry_is_honoured_even_on_the_last_attempt(queue_store: Store) -> None:
    # the worker owns the retry policy (e.g. a job interrupted by shutdown goes back)
    store = queue_store
    [jid] = await store.enqueue([NewJob("t", {}, max_attempts=1)], now=0)
    await store.claim("w", limit=1, lease=30, now=0)
    assert await store.fail(jid, "w", error="interrupted", retry_at=5, now=1) is True
    job = await store.job(jid)
    assert job is not None and (job.state, job.next_run_at, job.attempts) == ("queued", 5, 1)
    [again] = await store.claim("w", limit=1, lease=30, now=5)
    assert again.attempts == 2


async def test_a_job_that_keeps_killing_its_worker_is_buried(queue_store: Store) -> None:
    store = queue_store
    [jid] = await store.enqueue([NewJob("t", {}, max_attempts=2)], now=0)
    await store.claim("w1", limit=1, lease=10, now=0)  # w1 dies
    await store.claim("w2", limit=1, lease=10, now=20)  # w2 dies too
    assert await store.claim("w3", limit=1, lease=10, now=40) == []
    job = await store.job(jid)
    assert job is not None and job.state == "dead"
    assert job.last_error == "lease of w2 expired on attempt 2 of 2"


async def test_dedupe_key_returns_the_existing_job(queue_store: Store) -> None:
    store = queue_store
    first = await store.enqueue([NewJob("t", {"v": 1}, dedupe_key="k")], now=0)
    second = await store.enqueue(
        [NewJob("t", {"v": 2}, dedupe_key="k"), NewJob("t", {"v": 3})], now=1
    )
    assert second[0] == first[0] and second[1] != first[0]
    job = await store.job(first[0])
    assert job is not None and job.payload == {"v": 1}
    assert (await store.queue_depth())["queued"] == 2


async def test_queue_depth_counts_every_state(queue_store: Store) -> None:
    store = queue_store
    assert await store.queue_depth() == {"queued": 0, "running": 0, "done": 0, "dead": 0}
    ids = await store.enqueue(jobs_at(0, 0, 0, 0, 0), now=0)
    await store.claim("w", limit=3, lease=30, now=1)
    await store.complete(ids[0], "w", now=2)
    await store.fail(ids[1], "w", error="x", retry_at=None, now=2)
    assert await store.queue_depth() == {"queued": 2, "running": 1, "done": 1, "dead": 1}


async def test_jobs_listing_newest_first_and_by_state(store: Store) -> None:
    ids = await store.enqueue(jobs_at(0, 0, 0), now=0)
    assert [j.id for j in await store.jobs()] == ids[::-1]
    assert [j.id for j in await store.jobs(limit=2)] == ids[:0:-1]
    assert await store.jobs(state="running") == []
    assert await store.job(999) is None


async def test_eight_claimers_on_two_stores_never_share_a_job(backend: Backend) -> None:
    async with backend.make() as a, backend.make() as b:
        await a.enqueue([NewJob("t", {"i": i}) for i in range(500)], now=0)
        claimed: Counter[int] = Counter()

        async def claimer(store: Store, name: str) -> None:
            while True:
                jobs = await store.claim(name, limit=7, lease=1000, now=1)
                if not jobs:
                    return
                claimed.update(j.id for j in jobs)
                for j in jobs:
                    assert j.lease_owner == name

        await asyncio.gather(*(claimer(a if i % 2 else b, f"w{i}") for i in range(8)))
        assert len(claimed) == 500 and set(claimed.values()) == {1}
        assert (await a.queue_depth())["running"] == 500


def test_claimers_in_separate_threads_and_loops_never_share_a_job(backend: Backend) -> None:
    # four independent stores (as four worker processes would have), two claimers each
    async def setup() -> None:
        async with backend.make() as s:
            await s.enqueue([NewJob("t", {"i": i}) for i in range(500)], now=0)

    asyncio.run(setup())
    seen: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        async def main() -> None:
            async with backend.make() as s:

                async def claimer(name: str) -> None:
                    while jobs := await s.claim(name, limit=5, lease=1000, now=1):
                        with lock:
                            seen.extend(j.id for j in jobs)

                await asyncio.gather(claimer(f"p{n}a"), claimer(f"p{n}b"))

        try:
            asyncio.run(main())
        except BaseException as exc:  # surface thread failures in the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 500 and len(set(seen)) == 500


def test_claim_walks_the_due_index_instead_of_sorting_the_backlog() -> None:
    import sqlite3

    from prbot.store import migrations

    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrations.migrate(conn)
    plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + ops._PICK, {"now": 1, "limit": 5})]
    conn.close()
    queued = [line for line in plan if "jobs_due" in line]
    assert queued, plan
    assert any("jobs_lease" in line for line in plan), plan


async def test_jobs_listing_by_each_state_newest_first(queue_store: Store) -> None:
    # each state is read through its own partial index (done jobs by walking back)
    store = queue_store
    ids = await store.enqueue(jobs_at(*[0] * 8), now=0)
    claimed = [j.id for j in await store.claim("w", limit=6, lease=30, now=1)]
    for jid in claimed[:2]:
        await store.complete(jid, "w", now=2)
    for jid in claimed[2:4]:
        await store.fail(jid, "w", error="x", retry_at=None, now=2)
    by_state = {s: [j.id for j in await store.jobs(state=s)] for s in JOB_STATES}
    assert by_state == {
        "queued": ids[7:5:-1],
        "running": claimed[5:3:-1],
        "done": claimed[1::-1],
        "dead": claimed[3:1:-1],
    }
    assert [j.id for j in await store.jobs(state="dead", limit=1)] == [claimed[3]]
    assert await store.queue_depth() == {"queued": 2, "running": 2, "done": 2, "dead": 2}


async def test_concurrent_completions_share_a_commit(sqlite_store: SqliteStore) -> None:
    store = sqlite_store
    # what a WorkerPool's jobs do when they finish together: each complete() is its own
    # op, but they go through the one writer queue and commit together
    await store.enqueue([NewJob("t", {"i": i}) for i in range(64)], now=0)
    claimed = await store.claim("w", limit=64, lease=30, now=1)
    before = store.commits
    done = await asyncio.gather(*(store.complete(j.id, "w", now=2) for j in claimed))
    assert done == [True] * 64
    assert store.commits - before <= 4
