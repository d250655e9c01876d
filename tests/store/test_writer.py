"""The group-commit writer and the background checkpointer, on their own."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from prbot.store import StoreClosedError, StoreError
from prbot.store.base import NewJob
from prbot.store.sqlite import WAL_RESET_BYTES, WAL_SIZE_LIMIT, SqliteStore
from prbot.store.writer import GroupCommitWriter


def make_writer(path: Path, statements: list[str] | None = None, **options) -> GroupCommitWriter:
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if statements is not None:
            conn.set_trace_callback(statements.append)
        return conn

    def setup(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER UNIQUE)")

    return GroupCommitWriter(connect, setup, **options)


def insert(x: int):
    return lambda c: c.execute("INSERT INTO t VALUES (?)", (x,)).lastrowid


async def hold(writer: GroupCommitWriter) -> tuple[asyncio.Future, threading.Event]:
    """Keep the writer busy in a batch of its own until the event is set, so that what is
    submitted meanwhile makes up the next batch, whole."""
    running, release = threading.Event(), threading.Event()

    def gate(c: sqlite3.Connection) -> None:
        running.set()
        release.wait(10)

    done = writer.submit(gate)
    await asyncio.to_thread(running.wait, 10)
    return done, release


async def test_batches_are_bounded_by_count_and_bytes(tmp_path: Path) -> None:
    commits: list[int] = []
    writer = make_writer(tmp_path / "w.db", max_batch=10, max_batch_bytes=3000)
    writer._on_commit = lambda conn: commits.append(writer.ops)
    await asyncio.wrap_future(writer.start())
    # 50 small ops: at most 10 per transaction
    await asyncio.gather(*(writer.submit(insert(i)) for i in range(50)))
    assert writer.commits >= 5
    # 6 ops of ~1000 bytes each: at most 3 per transaction
    before = writer.commits
    await asyncio.gather(*(writer.submit(insert(100 + i), size=1000) for i in range(6)))
    assert writer.commits - before >= 2
    await asyncio.wrap_future(writer.stop())
    assert len(commits) == writer.commits


async def test_a_clean_batch_runs_without_savepoints(tmp_path: Path) -> None:
    statements: list[str] = []
    writer = make_writer(tmp_path / "w.db", statements)
    await asyncio.wrap_future(writer.start())
    gate, release = await hold(writer)
    statements.clear()
    futures = [writer.submit(insert(i)) for i in range(20)]
    release.set()
    await gate
    assert await asyncio.gather(*futures) == list(range(1, 21))
    await asyncio.wrap_future(writer.stop())
    assert writer.replays == 0
    assert not [s for s in statements if "SAVEPOINT" in s or "RELEASE" in s], statements
    assert statements.count("COMMIT") == 2  # the gate's batch, then all 20 in one


async def test_a_failing_op_is_rolled_back_alone(tmp_path: Path) -> None:
    statements: list[str] = []
    writer = make_writer(tmp_path / "w.db", statements)
    await asyncio.wrap_future(writer.start())
    gate, release = await hold(writer)
    statements.clear()

    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (1000)")
        raise RuntimeError("changed my mind")

    futures = [
        writer.submit(insert(1)),
        writer.submit(half_then_fail),
        writer.submit(insert(1)),  # UNIQUE violation
        writer.submit(insert(2)),
    ]
    release.set()
    await gate
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], RuntimeError)
    assert isinstance(results[2], sqlite3.IntegrityError)
    await asyncio.wrap_future(writer.stop())
    # the batch ran plainly, was rolled back at the first failure, then replayed with a
    # savepoint per op: the one transaction that committed is the replay
    assert writer.replays == 1 and writer.commits == 2  # the gate's, the replay's
    assert statements.count("ROLLBACK") == 1
    assert statements.count("SAVEPOINT op") == 4 and statements.count("ROLLBACK TO op") == 2
    conn = sqlite3.connect(tmp_path / "w.db")
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 2]
    conn.close()


async def test_setup_failure_is_reported_by_start(tmp_path: Path) -> None:
    def connect() -> sqlite3.Connection:
        return sqlite3.connect(tmp_path / "w.db", isolation_level=None)

    def setup(conn: sqlite3.Connection) -> None:
        raise StoreError("schema from the future")

    writer = GroupCommitWriter(connect, setup)
    with pytest.raises(StoreError, match="future"):
        await asyncio.wrap_future(writer.start())
    with pytest.raises(StoreClosedError):
        writer.submit(insert(1))
    await asyncio.wrap_future(writer.stop())


async def test_a_cancelled_caller_does_not_break_the_batch(tmp_path: Path) -> None:
    writer = make_writer(tmp_path / "w.db")
    await asyncio.wrap_future(writer.start())
    futures = [writer.submit(insert(i)) for i in range(20)]
    futures[3].cancel()  # e.g. the HTTP client went away
    done = await asyncio.gather(*futures[4:])
    assert len(done) == 16
    await asyncio.wrap_future(writer.stop())
    conn = sqlite3.connect(tmp_path / "w.db")
    # the write still happened: cancellation does not un-commit
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 20
    conn.close()


def big_job() -> NewJob:
    # 200 KB through the WAL (webhook bodies no longer go there: bodies.py)
    return NewJob(kind="big", payload={"blob": "y" * 200_000})


async def test_the_wal_stays_bounded_and_is_checkpointed_in_the_background(
    db_path: Path,
) -> None:
    sizes = []
    async with SqliteStore(db_path) as store:
        for _ in range(6):  # 6 x 50 x 200 KB = 60 MB through the WAL
            await asyncio.gather(*(store.enqueue([big_job()], now=1.0) for _ in range(50)))
            sizes.append(os.path.getsize(f"{db_path}-wal"))
        assert store._checkpointer.checkpoints > 0
        assert (await store.queue_depth())["queued"] == 300
    # the writer's reset point (24 MB) plus at most one batch (16 MB budget), however
    # busy the machine is (before the writer reset it, the WAL could grow without bound
    # while a PASSIVE checkpoint never finished)
    assert max(sizes) <= min(WAL_SIZE_LIMIT, WAL_RESET_BYTES + (16 << 20)), sizes


async def test_the_writer_resets_a_wal_no_checkpoint_could_finish(db_path: Path) -> None:
    # the failure the reset exists for, made deterministic: no background checkpoint
    # ever completes and the writer's own autocheckpoint is off, so only the writer's
    # reset can keep the WAL from growing with every batch
    sizes = []
    async with SqliteStore(db_path) as store:
        store._checkpointer._checkpoint = lambda conn: None  # type: ignore[method-assign]
        await store._write(lambda c: c.execute("PRAGMA wal_autocheckpoint = 0"))
        for _ in range(6):  # 60 MB through the WAL
            await asyncio.gather(*(store.enqueue([big_job()], now=1.0) for _ in range(50)))
            sizes.append(os.path.getsize(f"{db_path}-wal"))
        assert store.wal_resets >= 1
        assert (await store.queue_depth())["queued"] == 300
    assert max(sizes) <= WAL_RESET_BYTES + (16 << 20), sizes
