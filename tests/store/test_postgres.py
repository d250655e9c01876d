"""What only the PostgreSQL store has: bodies in the database, its versioned schema, claims
that pass over rows another claimer holds, NOTIFY waking other replicas' workers, and
errors that name the database without its password."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from prbot.store import SchemaTooNewError, StoreError, open_store
from prbot.store.base import Delivery, NewJob
from prbot.store.postgres import PostgresStore
from prbot.store.postgres_schema import LATEST, TABLES
from tests.support.postgres import PostgresServer
from tests.support.serve import free_port
from tests.support.waiting import wait_for

from .helpers import Backend, merged


@pytest.fixture
def pg(postgres_server: PostgresServer) -> Backend:
    return Backend("postgres", postgres_server.new_database())


async def test_bodies_live_in_the_database_and_every_replica_reads_them(pg: Backend) -> None:
    body = bytes(range(256)) * 4000  # 1 MB, every byte value
    async with pg.make() as a, pg.make() as b:
        assert await a.record_delivery(Delivery("github", "d-1", "push", 5.0, body), [], [])
        [seen] = await b.deliveries()
        assert seen.payload == body
    [(stored,)] = pg.rows("SELECT payload FROM deliveries WHERE delivery_id = 'd-1'")
    assert bytes(stored) == body


async def test_a_fresh_database_gets_the_schema_once_however_many_replicas_start(
    pg: Backend,
) -> None:
    stores = [pg.make() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        froms = sorted(s.schema_from for s in stores)  # type: ignore[attr-defined]
        assert froms == [0, LATEST, LATEST, LATEST]  # one created it, the others found it
        assert pg.rows("SELECT version FROM prbot_schema") == [(LATEST,)]
        tables = {
            r[0] for r in pg.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert tables == {*TABLES, "prbot_schema"}
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_database_from_a_newer_prbot_is_refused(pg: Backend) -> None:
    async with pg.make():
        pass
    pg.execute("UPDATE prbot_schema SET version = ?", (LATEST + 1,))
    with pytest.raises(SchemaTooNewError, match="written by a newer prbot"):
        await pg.make().open()


async def test_with_migrate_off_start_up_refuses_an_old_schema_and_creates_nothing(
    pg: Backend,
) -> None:
    store = open_store(f"{pg.url}?migrate=off")
    with pytest.raises(StoreError, match="run `prbot db migrate`"):
        await store.open()
    assert pg.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
    async with open_store(pg.url):  # what prbot db migrate does
        pass
    async with open_store(f"{pg.url}?migrate=off") as current:
        assert await current.ping()


async def test_a_claim_passes_over_a_job_another_transaction_holds(pg: Backend) -> None:
    async with pg.make() as store:
        first, second = await store.enqueue([NewJob("t", {"i": 1}), NewJob("t", {"i": 2})], now=0)
        # another replica's claim, caught half way: it holds the first job's row
        async with await psycopg.AsyncConnection.connect(pg.url) as other:
            await other.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (first,))
            claimed = await asyncio.wait_for(store.claim("w", limit=2, lease=30, now=1), 5)
            assert [j.id for j in claimed] == [second]  # not waited for, not taken
            await other.rollback()
        [late] = await store.claim("w", limit=2, lease=30, now=1)
        assert late.id == first


async def test_a_job_queued_by_one_replica_wakes_the_workers_of_another(pg: Backend) -> None:
    async with pg.make() as intake, pg.make() as worker:
        woken: list[int] = []
        worker.on_new_jobs(lambda: woken.append(1))
        assert isinstance(worker, PostgresStore) and await worker.listening(5)
        woken.clear()  # the wake-up given when listening starts (jobs queued before)
        # a job due later wakes nobody: the workers would only find nothing
        await intake.enqueue([NewJob("t", {}, run_at=1e9)], now=1)
        await asyncio.sleep(0.2)
        assert woken == []
        await intake.record_delivery(
            Delivery("github", "d-1", "pull_request", 2.0, b"{}"),
            [merged()],
            [NewJob("event", merged().to_dict())],
        )
        await wait_for(lambda: woken, timeout=5, what="the NOTIFY of the new job")
        # a redelivery stores nothing and queues nothing: no wake-up either
        count = len(woken)
        await intake.record_delivery(
            Delivery("github", "d-1", "pull_request", 3.0, b"{}"), [], [NewJob("event", {})]
        )
        await asyncio.sleep(0.2)
        assert len(woken) == count


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    port = free_port()  # nothing listens there
    store = open_store(f"postgresql://prbot:hunter2-secret@127.0.0.1:{port}/prbot")
    store._connect_timeout = 2  # type: ignore[attr-defined]
    with pytest.raises(StoreError) as info:
        await store.open()
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "cannot open" in text
    assert "hunter2-secret" not in text and "hunter2-secret" not in repr(info.value.__cause__)
    assert await store.ping() is False

    # a password in the query (libpq reads it there too), percent-encoded: never shown
    store = open_store(f"postgresql://prbot@127.0.0.1:{port}/prbot?password=hunter2%40q")
    store._connect_timeout = 2  # type: ignore[attr-defined]
    with pytest.raises(StoreError) as info:
        await store.open()
    assert "hunter2" not in str(info.value) and "password=***" in str(info.value)


async def test_ping_is_false_once_the_server_is_gone(postgres_server: PostgresServer) -> None:
    # a server of its own, stopped under the open store: /readyz must say so in time
    own = PostgresServer().start()
    try:
        store = open_store(own.new_database())
        await store.open()
        assert await store.ping() is True
        own.stop()
        assert await asyncio.wait_for(store.ping(), 5) is False
        await store.close()
    finally:
        own.stop()


async def test_a_worker_pool_runs_another_replicas_job_without_waiting_for_its_poll(
    pg: Backend,
) -> None:
    from prbot.worker.pool import WorkerPool

    ran: list[int] = []

    async def handler(job: object) -> None:
        ran.append(1)

    async with pg.make() as intake, pg.make() as worker_store:
        # a poll every 60 s: only the NOTIFY can bring the job within the test's 5 s
        pool = WorkerPool(worker_store, {"t": handler}, poll_interval=60)
        await pool.start()
        try:
            assert isinstance(worker_store, PostgresStore) and await worker_store.listening(5)
            await asyncio.sleep(0.1)  # the pool's first claim found nothing and sleeps
            await intake.enqueue([NewJob("t", {})], now=1)
            await wait_for(lambda: ran, timeout=5, what="the job run on the NOTIFY")
        finally:
            await pool.stop()


def test_prbot_jobs_lists_and_retries_on_postgresql(pg: Backend) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    async def dead_job() -> int:
        async with pg.make() as store:
            [job_id] = await store.enqueue([NewJob("t", {"n": 1})], now=1)
            await store.claim("w", limit=1, lease=10, now=2)
            await store.fail(job_id, "w", error="boom from the forge", retry_at=None, now=3)
            return job_id

    job_id = asyncio.run(dead_job())
    root = Path(__file__).resolve().parents[2]

    def prbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prbot.cli", "jobs", "--database-url", pg.url, *args],
            capture_output=True, text=True, timeout=60, cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )  # fmt: skip

    listed = prbot("dead")
    assert listed.returncode == 0, listed.stderr
    assert str(job_id) in listed.stdout and "boom from the forge" in listed.stdout
    retried = prbot("retry", str(job_id))
    assert retried.returncode == 0 and "queued again" in retried.stdout, retried.stderr
    assert pg.rows("SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)) == [("queued", 0)]
