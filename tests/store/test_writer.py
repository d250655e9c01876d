"""The group-commit writer and the background checkpointer, on their own."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from prbot.store import StoreClosedError, StoreError
from prbot.store.base import Delivery
from prbot.store.sqlite import WAL_SIZE_LIMIT, SqliteStore
from prbot.store.writer import GroupCommitWriter


def make_writer(path: Path, **options) -> GroupCommitWriter:
    def connect() -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def setup(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER UNIQUE)")

    return GroupCommitWriter(connect, setup, **options)


def insert(x: int):
    return lambda c: c.execute("INSERT INTO t VALUES (?)", (x,)).lastrowid


async def test_batches_are_bounded_by_count_and_bytes(tmp_path: Path) -> None:
    commits: list[int] = []
    writer = make_writer(tmp_path / "w.db", max_batch=10, max_batch_bytes=3000)
    writer._on_commit = lambda: commits.append(writer.ops)
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


async def test_a_failing_op_is_rolled_back_alone(tmp_path: Path) -> None:
    writer = make_writer(tmp_path / "w.db")
    await asyncio.wrap_future(writer.start())

    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (1000)")
        raise RuntimeError("changed my mind")

    results = await asyncio.gather(
        writer.submit(insert(1)),
        writer.submit(half_then_fail),
        writer.submit(insert(1)),  # UNIQUE violation
        writer.submit(insert(2)),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], RuntimeError)
    assert isinstance(results[2], sqlite3.IntegrityError)
    await asyncio.wrap_future(writer.stop())
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


async def test_the_wal_stays_bounded_and_is_checkpointed_in_the_background(
    db_path: Path,
) -> None:
    big = b"y" * 200_000
    sizes = []
    async with SqliteStore(db_path) as store:
        for round_ in range(6):  # 6 x 50 x 200 KB = 60 MB through the WAL
            await asyncio.gather(
                *(
                    store.record_delivery(
                        Delivery("github", f"{round_}-{i}", "push", 1.0, big), [], []
                    )
                    for i in range(50)
                )
            )
            sizes.append(os.path.getsize(f"{db_path}-wal"))
        assert store._checkpointer.checkpoints > 0
        assert len(await store.deliveries(limit=1000)) == 300
    # the autocheckpoint backstop (16 MB) plus at most one batch (16 MB budget)
    assert max(sizes) <= min(WAL_SIZE_LIMIT, 40 << 20), sizes
