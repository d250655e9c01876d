"""SQLite's webhook bodies live in append-only files beside the database (bodies.py): the
row names file, offset and length; a redelivery or a rolled-back batch writes no bytes; a
body that cannot be written fails its delivery; retention deletes files no row names.
(PostgreSQL keeps bodies in the database: test_postgres.py.)"""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from prbot.store.base import Delivery, StoreError
from prbot.store.sqlite import SqliteStore

from .helpers import delivery, merged
from .test_migrations import v1_database


@pytest.fixture
def store(sqlite_store: SqliteStore) -> SqliteStore:
    return sqlite_store  # body files are SQLite's


def body_dir(db_path: Path) -> Path:
    return Path(f"{db_path}-bodies")


def body_bytes(db_path: Path) -> int:
    return sum(p.stat().st_size for p in body_dir(db_path).iterdir())


def received(delivery_id: str, body: bytes, at: float = 100.0) -> Delivery:
    return Delivery("github", delivery_id, "pull_request", at, body)


async def test_bodies_go_to_a_file_and_read_back_exactly(store: SqliteStore, db_path: Path) -> None:
    bodies = {f"d-{i}": os.urandom(1000 + i * 37) for i in range(40)}
    await asyncio.gather(
        *(store.record_delivery(received(k, v), [], []) for k, v in bodies.items())
    )
    assert {d.delivery_id: d.payload for d in await store.deliveries()} == bodies
    # the database holds where each body is, not the body
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT length(payload), body_file, body_length FROM deliveries").fetchall()
    conn.close()
    assert {(n, length) for n, _, length in rows} == {(0, len(b)) for b in bodies.values()}
    assert body_bytes(db_path) == sum(map(len, bodies.values()))
    # owner-only, like the database: bodies carry private repository content
    assert stat.S_IMODE(body_dir(db_path).stat().st_mode) == 0o700
    for f in body_dir(db_path).iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600


async def test_a_redelivery_writes_no_body(store: SqliteStore, db_path: Path) -> None:
    body = b"x" * 5000
    assert await store.record_delivery(received("d-1", body), [merged()], [])
    assert not await store.record_delivery(received("d-1", body), [merged()], [])
    assert body_bytes(db_path) == 5000


async def test_a_replayed_batch_writes_each_body_once(store: SqliteStore, db_path: Path) -> None:
    # an op that raises makes the writer roll the batch back and replay it op by op:
    # the bodies staged by the first try must not be written too
    body = b"y" * 3000

    def boom(conn: sqlite3.Connection) -> None:
        raise sqlite3.IntegrityError("boom")

    results = await asyncio.gather(
        store.record_delivery(received("d-1", body), [], []),
        store._write(boom),
        store.record_delivery(received("d-2", body), [], []),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], StoreError)
    assert store._writer.replays >= 1
    assert body_bytes(db_path) == 6000
    assert [d.payload for d in await store.deliveries()] == [body, body]


async def test_a_body_that_cannot_be_written_fails_its_delivery(
    store: SqliteStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int, data: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(StoreError, match="No space left"):
        await store.record_delivery(received("d-1", b"z" * 100), [merged()], [])
    monkeypatch.undo()
    # nothing of it was stored, and the next delivery goes through
    assert await store.deliveries() == []
    assert await store.record_delivery(received("d-2", b"ok"), [], [])
    assert [d.payload for d in await store.deliveries()] == [b"ok"]


async def test_files_rotate_and_stay_readable(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store._bodies.max_file_bytes = 10_000
    async with store:
        for i in range(30):
            assert await store.record_delivery(received(f"d-{i}", bytes([i]) * 3000), [], [])
        payloads = {d.delivery_id: d.payload for d in await store.deliveries()}
    assert payloads == {f"d-{i}": bytes([i]) * 3000 for i in range(30)}
    assert len(list(body_dir(db_path).iterdir())) >= 7


async def test_rows_from_before_keep_their_inline_bodies(db_path: Path) -> None:
    v1_database(db_path)  # bodies inline, as schema versions 1 and 2 stored them
    async with SqliteStore(db_path) as store:
        assert await store.record_delivery(delivery("d-3"), [], [])
        found = {d.delivery_id: d.payload for d in await store.deliveries()}
    assert found == {"d-1": b"{}", "d-2": b"{}", "d-3": b'{"action":"closed","number":7}'}


async def test_retention_deletes_body_files_no_row_names(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store._bodies.max_file_bytes = 1
    async with store:
        for i in range(4):  # a file each
            assert await store.record_delivery(received(f"d-{i}", b"b" * 100, at=10.0 * i), [], [])
        files = sorted(p.name for p in body_dir(db_path).iterdir())
        assert len(files) == 4
        for name in files:  # written long ago
            os.utime(body_dir(db_path) / name, (1.0, 1.0))
        # deliveries before 15 go (d-0, d-1); their files go with them; d-2's file is
        # just as old but still named; d-3's is the one this store writes to
        pruned = await store.prune(before=15.0)
        assert pruned.deliveries == 2
        assert sorted(p.name for p in body_dir(db_path).iterdir()) == files[2:]
        assert [d.delivery_id for d in await store.deliveries()] == ["d-3", "d-2"]


@pytest.mark.parametrize(("mode", "synced"), [("full", True), ("normal", False)])
async def test_with_synchronous_full_a_new_body_file_is_in_a_synced_folder(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, synced: bool
) -> None:
    # fdatasync on the file makes its bytes durable, not its name: with FULL the folder
    # is fsync'ed once the file is created, before a COMMIT names it
    from prbot.store import open_store

    real_fsync = os.fsync
    synced_dirs: list[tuple[int, int]] = []  # (st_dev, st_ino) of directories fsync'ed

    def spy(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            synced_dirs.append((st.st_dev, st.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store = open_store(f"sqlite:///{db_path}?synchronous={mode}")
    assert isinstance(store, SqliteStore)
    store._bodies.max_file_bytes = 1  # a new file for each delivery
    async with store:
        for i in range(3):
            synced_dirs.clear()
            assert await store.record_delivery(received(f"d-{i}", b"b" * 100), [], [])
            folder = body_dir(db_path).stat()
            assert ((folder.st_dev, folder.st_ino) in synced_dirs) is synced
        assert len(list(body_dir(db_path).iterdir())) == 3
