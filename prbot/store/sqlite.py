"""The SQLite store: WAL, one group-committing writer thread, pooled readers.

Writes go through ``GroupCommitWriter`` (one thread, one connection, many ops per
commit); reads run on a small thread pool, each thread with its own connection, beside
the writer thanks to WAL; a third thread checkpoints the WAL (``checkpointer.py``).
Nothing here blocks the event loop.

Durability: WAL with ``synchronous=NORMAL`` (the default) syncs the WAL only at
checkpoints, so a commit is a write() into the OS page cache. That survives a crash or
SIGKILL of prbot itself (the data is in the kernel) and never corrupts the database; only
a power loss or kernel crash can lose the last moments of commits. For a webhook
receiver that is the right trade: the lost window is rare and small, and the reconciler
re-polls anything in flight. ``synchronous="FULL"`` fsyncs the WAL at every commit and
makes an acknowledged delivery survive power loss too; group commit shares each fsync
among all the writes of a batch, so it costs far less here than one commit per write.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from prbot.events import Event, event_from_dict
from prbot.store import file_locks, migrations, ops, rows
from prbot.store.base import (
    AuditEntry,
    Delivery,
    Held,
    Job,
    JobState,
    NewJob,
    PromotionRow,
    Pruned,
    Run,
    StoreError,
)
from prbot.store.bodies import BodyFiles
from prbot.store.checkpointer import Checkpointer
from prbot.store.encode import event_rows as _event_rows
from prbot.store.encode import job_row as _job_row
from prbot.store.writer import GroupCommitWriter, StoreClosedError

log = logging.getLogger(__name__)

T = TypeVar("T")
Synchronous = Literal["NORMAL", "FULL"]

JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "dead")
# the partial index holding each state's jobs (migrations.V2); done jobs have none
_STATE_WHERE = {
    "queued": "INDEXED BY jobs_due WHERE state = 'queued'",
    "running": "INDEXED BY jobs_lease WHERE state = 'running'",
    "dead": "INDEXED BY jobs_dead WHERE state = 'dead'",
}

# ~16 MB of 4 KB pages: the WAL's bound under load (SQLite's default is 1000 pages)
WAL_AUTOCHECKPOINT_PAGES = 4000
WAL_SIZE_LIMIT = 64 << 20
# past this, the writer itself checkpoints the whole WAL and truncates it (see _after_commit)
WAL_RESET_BYTES = 24 << 20
WAL_RESET_WAIT_MS = 200

# ON CONFLICT ... DO NOTHING (the dedupe) needs 3.24 (2018)
MIN_SQLITE = (3, 24, 0)


class SqliteStore:
    """``Store`` on one SQLite file. Several processes may open the same file (web
    processes, workers, ``prbot jobs``): the writer's file lock (``writer.py``) gives
    their transactions turns, ``busy_timeout`` covers any other writer. Webhook bodies go
    to files beside it (``bodies.py``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "NORMAL",
        busy_timeout: float = 10.0,
        readers: int = 4,
        max_batch: int = 256,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        # absolute now, so a later chdir does not move the database
        self.path = Path(path).expanduser().absolute()
        self.synchronous = synchronous
        self._busy_ms = int(busy_timeout * 1000)
        self._readers_max = readers
        self._max_batch = max_batch
        self._wal_path = f"{self.path}-wal"
        self._bodies = BodyFiles(Path(f"{self.path}-bodies"), fsync=synchronous == "FULL")
        self.wal_resets = 0  # TRUNCATE checkpoints the writer had to run (see _after_commit)
        self._checkpointer, self._writer = self._make_writers()
        self._opened = False
        self._readers: ThreadPoolExecutor | None = None
        self._job_listeners: list[Callable[[], None]] = []
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()

    # -- metrics

    @property
    def commits(self) -> int:
        """Write transactions committed since open (group commit: far fewer than writes)."""
        return self._writer.commits

    @property
    def writes(self) -> int:
        """Write operations run since open."""
        return self._writer.ops

    # -- lifecycle

    async def open(self) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"SQLite {sqlite3.sqlite_version} is too old: prbot needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer"
            )
        if self._opened:
            raise StoreError(f"{self.path} is open already")
        self._prepare_file()
        if self._writer.started:  # reopened after close(): threads run once
            self._checkpointer, self._writer = self._make_writers()
        await asyncio.wrap_future(self._writer.start())
        self._opened = True
        self._checkpointer.start()
        self._readers = ThreadPoolExecutor(
            max_workers=self._readers_max, thread_name_prefix="prbot-store-read"
        )

    async def close(self) -> None:
        self._opened = False
        await asyncio.wrap_future(self._writer.stop())
        self._bodies.close()
        await asyncio.to_thread(self._checkpointer.stop)
        if self._writer.commits:
            log.info(
                "store closed: %d writes in %d transactions (%.1f a transaction), "
                "%d WAL checkpoints, %d WAL resets",
                self._writer.ops,
                self._writer.commits,
                self._writer.ops / self._writer.commits,
                self._checkpointer.checkpoints,
                self.wal_resets,
            )
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def pool_stats(self) -> dict[str, int]:
        """No pool: one writer and a few reader connections of its own."""
        return {}

    async def ping(self) -> bool:
        if not self._writer.alive:
            return False
        try:
            return await self._read(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)
        except StoreError:
            return False

    # -- locks (flock on files beside the database: every process on it takes turns)

    def lock(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        return file_locks.locked(self._locks_folder, name)

    async def hold(self, name: str) -> Held | None:
        return await file_locks.hold(self._locks_folder, name)

    @property
    def _locks_folder(self) -> Path:
        return Path(f"{self.path}-locks")

    # -- intake

    async def record_delivery(
        self, delivery: Delivery, events: Sequence[Event], jobs: Sequence[NewJob]
    ) -> bool:
        row = (delivery.platform, delivery.delivery_id, delivery.event, delivery.received_at)
        job_rows = [_job_row(j, now=delivery.received_at) for j in jobs]
        event_rows = _event_rows(events, jobs, job_rows)
        body, bodies = delivery.payload, self._bodies
        stored = await self._write(
            lambda c: ops.record_delivery(c, row, body, bodies, event_rows, job_rows),
            size=len(body),
        )
        if stored and job_rows:
            self._new_jobs()
        return stored

    # -- the queue

    async def enqueue(self, jobs: Sequence[NewJob], *, now: float) -> list[int]:
        job_rows = [_job_row(j, now=now) for j in jobs]
        ids = await self._write(lambda c: ops.insert_jobs(c, job_rows))
        if any(j.run_at <= now for j in jobs):
            self._new_jobs()
        return ids

    def on_new_jobs(self, callback: Callable[[], None]) -> None:
        self._job_listeners.append(callback)

    def _new_jobs(self) -> None:
        for callback in self._job_listeners:
            callback()

    async def claim(self, worker: str, *, limit: int, lease: float, now: float) -> list[Job]:
        if limit <= 0:
            return []
        found = await self._write(lambda c: ops.claim(c, worker, limit=limit, lease=lease, now=now))
        return [rows.job(r) for r in found]

    async def extend_lease(self, job_id: int, worker: str, *, lease: float, now: float) -> bool:
        return await self._write(
            lambda c: ops.extend_lease(c, job_id, worker, lease=lease, now=now)
        )

    async def complete(self, job_id: int, worker: str, *, now: float) -> bool:
        return await self._write(lambda c: ops.complete(c, job_id, worker, now=now))

    async def fail(
        self, job_id: int, worker: str, *, error: str, retry_at: float | None, now: float
    ) -> bool:
        return await self._write(
            lambda c: ops.fail(c, job_id, worker, error=error, retry_at=retry_at, now=now)
        )

    async def jobs(self, *, state: JobState | None = None, limit: int = 100) -> list[Job]:
        sql = f"SELECT {rows.JOB_COLUMNS} FROM jobs"
        params: tuple[Any, ...] = (limit,)
        if state is not None:
            # the state's partial index (the planner may otherwise walk the whole table
            # backwards looking for a few dead jobs), named with the state as a literal:
            # a partial index is usable only when the query spells out its WHERE
            where = _STATE_WHERE.get(state)
            if where is None:  # done jobs are most rows: found at once walking back
                where, params = "WHERE state = ?", (state, limit)
            sql += f" {where}"
        sql += " ORDER BY id DESC LIMIT ?"
        found = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [rows.job(r) for r in found]

    async def job(self, job_id: int) -> Job | None:
        sql = f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE id = ?"
        found = await self._read(lambda c: c.execute(sql, (job_id,)).fetchone())
        return rows.job(found) if found else None

    async def job_by_key(self, dedupe_key: str) -> Job | None:
        # migrations.V2's partial unique index on dedupe_key answers this
        sql = f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE dedupe_key = ?"
        found = await self._read(lambda c: c.execute(sql, (dedupe_key,)).fetchone())
        return rows.job(found) if found else None

    async def retry(self, job_id: int, *, now: float) -> bool:
        return await self._write(lambda c: ops.retry(c, job_id, now=now))

    async def queue_depth(self) -> dict[str, int]:
        # one statement, so one snapshot. The live states are counted in their partial
        # indexes; done jobs (most of the table) are the rest of count(*), which SQLite
        # answers from the smallest full index without reading rows. (GROUP BY state
        # would scan the whole table: 70 ms at 300k jobs, once per scrape.)
        queued, running, dead, total = await self._read(
            lambda c: c.execute(
                "SELECT (SELECT count(*) FROM jobs INDEXED BY jobs_due WHERE state = 'queued'),"
                " (SELECT count(*) FROM jobs INDEXED BY jobs_lease WHERE state = 'running'),"
                " (SELECT count(*) FROM jobs INDEXED BY jobs_dead WHERE state = 'dead'),"
                " (SELECT count(*) FROM jobs)"
            ).fetchone()
        )
        # every state always present, so /metrics series do not appear and vanish
        done = total - queued - running - dead
        return {"queued": queued, "running": running, "done": done, "dead": dead}

    # -- runs

    async def create_run(self, run: Run) -> int:
        """Store a new run; ``run.id`` is ignored (the store assigns ids)."""
        values = rows.run_values(run)
        return await self._write(lambda c: ops.create_run(c, values, run.request_key))

    async def update_run(self, run_id: int, *, now: float, **changes: Any) -> None:
        """Change some of a run's fields (status, head, pr_number, pr_url, error,
        inputs). Raises ValueError for another field, LookupError for an unknown run."""
        changes = rows.run_changes(changes)
        if not await self._write(lambda c: ops.update_run(c, run_id, changes, now=now)):
            raise LookupError(f"no run with id {run_id}")

    async def run(self, run_id: int) -> Run | None:
        if not rows.storable_id(run_id):
            return None
        sql = f"SELECT {rows.RUN_COLUMNS} FROM runs WHERE id = ?"
        found = await self._read(lambda c: c.execute(sql, (run_id,)).fetchone())
        return rows.run(found) if found else None

    async def runs(
        self,
        *,
        status: Sequence[str] | None = None,
        head: str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        sql = f"SELECT {rows.RUN_COLUMNS} FROM runs"
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        if head is not None:
            where.append("head = ?")  # migrations.V4's index
            params.append(head)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        found = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [rows.run(r) for r in found]

    # -- promotions

    async def create_promotion(
        self,
        *,
        pipeline: str,
        repo: str,
        platform: str,
        requested_by: str,
        status: str,
        data: dict[str, Any],
        now: float,
        request_key: str | None = None,
        requested_in: str = "",
    ) -> int:
        text = rows.dumps(data)
        values = (pipeline, repo, platform, status, requested_by, text, now, now, requested_in)
        return await self._write(
            lambda c: ops.create_promotion(c, values, request_key), size=len(text)
        )

    async def save_promotion(
        self,
        promotion_id: int,
        *,
        status: str,
        data: dict[str, Any],
        expected_version: int,
        now: float,
    ) -> bool:
        text = rows.dumps(data)  # encoded here: a bad value fails before it is queued
        return await self._write(
            lambda c: ops.save_promotion(
                c,
                promotion_id,
                status=status,
                data=text,
                expected_version=expected_version,
                now=now,
            ),
            size=len(text),
        )

    async def promotion(self, promotion_id: int) -> PromotionRow | None:
        if not rows.storable_id(promotion_id):
            return None
        sql = f"SELECT {rows.PROMOTION_COLUMNS} FROM promotions WHERE id = ?"
        found = await self._read(lambda c: c.execute(sql, (promotion_id,)).fetchone())
        return rows.promotion(found) if found else None

    async def promotion_by_key(self, request_key: str) -> PromotionRow | None:
        sql = f"SELECT {rows.PROMOTION_COLUMNS} FROM promotions WHERE request_key = ?"
        found = await self._read(lambda c: c.execute(sql, (request_key,)).fetchone())
        return rows.promotion(found) if found else None

    async def promotions(
        self,
        *,
        platform: str | None = None,
        repo: str | None = None,
        pipeline: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[PromotionRow]:
        sql = f"SELECT {rows.PROMOTION_COLUMNS} FROM promotions"
        where: list[str] = []
        params: list[Any] = []
        # repo = ? takes the column's NOCASE collation (migrations.V5), so the index serves it
        for column, value in (("platform", platform), ("repo", repo), ("pipeline", pipeline)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        found = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [rows.promotion(r) for r in found]

    # -- audit

    async def audit(self, entry: AuditEntry, *, once: bool = False) -> None:
        values = (entry.at, entry.actor, entry.action, entry.repo, rows.dumps(entry.detail))
        await self._write(lambda c: ops.audit(c, values, once=once))

    async def audit_log(self, *, repo: str | None = None, limit: int = 100) -> list[AuditEntry]:
        sql = f"SELECT {rows.AUDIT_COLUMNS} FROM audit"
        params: tuple[Any, ...] = (limit,)
        if repo is not None:
            sql += " WHERE repo = ?"
            params = (repo, limit)
        sql += " ORDER BY id DESC LIMIT ?"
        found = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [rows.audit(r) for r in found]

    async def deliveries(self, *, limit: int = 100) -> list[Delivery]:
        sql = (
            f"SELECT {rows.DELIVERY_COLUMNS}, body_file, body_offset, body_length "
            "FROM deliveries ORDER BY id DESC LIMIT ?"
        )

        def read(c: sqlite3.Connection) -> list[Delivery]:
            return [self._delivery(r) for r in c.execute(sql, (limit,)).fetchall()]

        return await self._read(read)

    def _delivery(self, row: Sequence[Any]) -> Delivery:
        found = rows.delivery(row)
        body_file, offset, length = row[5:8]
        if body_file is None:  # stored before bodies moved to files (migrations.V3)
            return found
        return dataclasses.replace(found, payload=self._bodies.read(body_file, offset, length))

    def read_body(self, inline: bytes, body_file: str | None, offset: int, length: int) -> bytes:
        """A delivery's body from its row's columns: in its body file, or inline (rows
        stored before migrations.V3). For ``prbot db copy``, which reads rows itself."""
        if body_file is None:
            return bytes(inline)
        return self._bodies.read(body_file, offset, length)

    def connect_reader(self) -> sqlite3.Connection:
        """A read-only connection of the caller's own (``prbot db copy``: one snapshot)."""
        conn = self._connect()
        conn.execute("PRAGMA query_only = ON")
        return conn

    async def prune(self, *, before: float, chunk: int = 500) -> Pruned:
        deliveries = jobs = 0
        while True:  # one short transaction per chunk: intake batches go in between
            gone = await self._write(lambda c: ops.prune_deliveries(c, before=before, limit=chunk))
            deliveries += gone
            if gone < chunk:
                break
        after: int | None = 0
        while after is not None:
            gone, after = await self._write(
                functools.partial(ops.prune_jobs, before=before, after_id=after, limit=chunk)
            )
            jobs += gone
        await self._read(functools.partial(self._remove_body_files, before=before))
        return Pruned(deliveries, jobs)

    def _remove_body_files(self, conn: sqlite3.Connection, *, before: float) -> None:
        """Delete body files written to last before ``before`` that no delivery names any
        more (the rows are gone: pruned just now). Files only grow, so such a file never
        gets a new row; a file another process still appends to was written to lately."""
        for name in self._bodies.files_older_than(before):
            named = conn.execute(
                "SELECT 1 FROM deliveries WHERE body_file = ? LIMIT 1", (name,)
            ).fetchone()
            if named is None:
                self._bodies.remove(name)

    async def delivery_events(self, platform: str, delivery_id: str) -> list[Event]:
        """The events stored with a delivery, in order (their data may live in a job)."""
        sql = (
            "SELECT v.data FROM event_data v JOIN deliveries d ON d.id = v.delivery "
            "WHERE d.platform = ? AND d.delivery_id = ? ORDER BY v.position"
        )
        found = await self._read(lambda c: c.execute(sql, (platform, delivery_id)).fetchall())
        return [event_from_dict(json.loads(data)) for (data,) in found]

    # -- plumbing

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, size: int = 0) -> T:
        try:
            return await self._writer.submit(fn, size=size)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path.name}: {exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise StoreClosedError("the store is closed (or was never opened)")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, self._run_read, fn)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path.name}: {exc}") from exc

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            # a reader must never write: all writes go through the writer's batches
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        # every read fetches all its rows (fetchall/fetchone), so the implicit read
        # transaction ends at once and never holds back WAL checkpoints
        return fn(conn)

    def _make_writers(self) -> tuple[Checkpointer, GroupCommitWriter]:
        checkpointer = Checkpointer(self._connect, name=self.path.name)
        writer = GroupCommitWriter(
            self._connect,
            self._setup_writer,
            max_batch=self._max_batch,
            name=f"store:{self.path}",
            on_commit=self._after_commit,
            lock_path=f"{self.path}-writelock",
            before_commit=self._bodies.flush,
            on_rollback=self._bodies.discard,
        )
        return checkpointer, writer

    def _after_commit(self, conn: sqlite3.Connection) -> None:
        """After each write transaction, on the writer thread: wake the checkpointer, and
        bound the WAL. The background checkpoint is PASSIVE, and so is the writer's
        autocheckpoint: while one runs the other gives up, and under constant writes
        neither may finish, so the WAL never restarts and grows by every batch. Past
        WAL_RESET_BYTES the writer runs a TRUNCATE checkpoint, which waits for readers,
        copies everything and empties the file: the WAL stays under that plus one batch
        (max_batch_bytes). Rare: normally the checkpointer keeps the WAL far below."""
        self._checkpointer.poke()
        try:
            wal_bytes = os.stat(self._wal_path).st_size
        except FileNotFoundError:
            return
        if wal_bytes > WAL_RESET_BYTES:
            # a reader holding an old snapshot would make it wait: briefly, as every write
            # waits meanwhile; if it cannot finish, the next commit tries again
            conn.execute(f"PRAGMA busy_timeout = {WAL_RESET_WAIT_MS}")
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self.wal_resets += 1
            if busy:
                log.warning(
                    "the WAL of %s is %d MB and a reader kept it from being reset",
                    self.path.name,
                    wal_bytes >> 20,
                )

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the writer issues BEGIN/COMMIT itself (group commit);
        # check_same_thread=False only so close() can close reader connections from the
        # closing thread, after their pool has stopped
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        return conn

    def _setup_writer(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            # e.g. some network filesystems: without WAL, readers would block the writer
            raise StoreError(f"{self.path}: cannot use WAL journal mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        # the background checkpointer does most of the copying; this is the backstop
        # that lets the WAL restart (see checkpointer.py)
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        # a burst of big bodies can grow the WAL file; give the space back when it restarts
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        migrations.migrate(conn, name=str(self.path))

    def _prepare_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # owner-only: payloads carry private repository content. SQLite gives the -wal
        # and -shm files the database file's permissions, so create it ourselves first.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        self._bodies.prepare()
