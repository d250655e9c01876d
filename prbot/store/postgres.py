"""The PostgreSQL store: for more than one ``prbot serve`` replica, or high availability.

psycopg 3 (async) with a pool of connections in autocommit mode: a read is one
statement, a write one short transaction (``postgres_ops.py`` holds their SQL).
PostgreSQL shares each WAL flush among the transactions committing together, so there is
no writer thread of our own as SQLite needs. Everything a replica needs is in the
database: webhook bodies (``deliveries.payload``), the queue, runs, promotions, audit.
Replicas meet only there: delivery dedupe is a unique key, claims skip rows another
replica is leasing, workers wake on ``LISTEN/NOTIFY`` (``postgres_notify.py``), named
locks are advisory locks (``postgres_locks.py``).

The schema is created or upgraded at ``open()`` (``postgres_schema.py``), unless
``migrate=False`` (PRBOT_DATABASE_MIGRATE=off: ``prbot db migrate`` does it, and start-up
refuses a database at another version).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from prbot.errors import redact, redact_url
from prbot.events import Event, event_from_dict
from prbot.store import postgres_locks, postgres_ops, postgres_schema, rows
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
from prbot.store.encode import event_rows, job_row
from prbot.store.postgres_notify import JobListener
from prbot.store.writer import StoreClosedError

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

DEFAULT_POOL_SIZE = 10
LOCK_POOL_SIZE = 32  # connections holding named locks (one per piece of work in flight)
CONNECT_SECONDS = 10.0
PING_SECONDS = 0.7  # under /readyz's own timeout


class PostgresStore:
    """``Store`` on a PostgreSQL database; any number of processes may share it."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        migrate: bool = True,
        connect_timeout: float = CONNECT_SECONDS,
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self.conninfo = conninfo
        self.display = redact_url(conninfo)
        self.pool_size = pool_size
        self.migrate = migrate
        self._connect_timeout = connect_timeout
        # the password as written in the URL and as libpq reads it (percent-decoded),
        # from the authority or the query: never repeated in an error
        given = conninfo_to_dict(conninfo)
        self._secrets = [
            s
            for s in {urlsplit(conninfo).password, given.get("password"), given.get("sslpassword")}
            if s
        ]
        self._pool: AsyncConnectionPool | None = None
        self._lock_pool: AsyncConnectionPool | None = None
        self._job_listeners: list[Callable[[], None]] = []
        self._listener: JobListener | None = None
        # operations under way: close() lets them finish (an acknowledged write is stored)
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.schema_from: int | None = None  # the version open() found (before migrating)

    # -- lifecycle

    async def open(self) -> None:
        if self._pool is not None:
            raise StoreError(f"{self.display} is open already")
        connect = {"autocommit": True, "connect_timeout": max(1, int(self._connect_timeout))}
        pool = AsyncConnectionPool(
            self.conninfo,
            min_size=min(2, self.pool_size),
            max_size=self.pool_size,
            kwargs=connect,
            open=False,
            name="prbot-store",
            timeout=30.0,
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout)
            async with pool.connection() as conn:
                if self.migrate:
                    self.schema_from, _ = await postgres_schema.migrate(conn, name=self.display)
                else:
                    await postgres_schema.check_current(conn, name=self.display)
        except psycopg.Error as exc:
            await pool.close()
            raise StoreError(f"cannot open {self.display}: {self.clean(exc)}") from None
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._lock_pool = AsyncConnectionPool(
            self.conninfo,
            min_size=0,
            max_size=LOCK_POOL_SIZE,
            kwargs=connect,
            open=False,
            name="prbot-store-locks",
        )
        await self._lock_pool.open()
        if self._job_listeners:
            self._listen()

    async def close(self) -> None:
        pool, self._pool = self._pool, None  # refuses new operations from now on
        await self._idle.wait()
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        locks, self._lock_pool = self._lock_pool, None
        if locks is not None:
            await locks.close()
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ping(self) -> bool:
        """A connection of the pool answers within PING_SECONDS (/readyz)."""
        if self._pool is None:
            return False
        try:
            async with self._pool.connection(timeout=PING_SECONDS) as conn:
                cur = await conn.execute("SELECT 1")
                row = await cur.fetchone()
        except psycopg.Error:
            return False
        return row == (1,)

    def pool_stats(self) -> dict[str, int]:
        """The query pool's counters (psycopg_pool's names): size, available, waiting..."""
        return dict(self._pool.get_stats()) if self._pool is not None else {}

    # -- waking workers

    def on_new_jobs(self, callback: Callable[[], None]) -> None:
        """``callback`` runs when jobs due now were stored by this process (at once) or by
        any other replica (on their NOTIFY)."""
        self._job_listeners.append(callback)
        if self._pool is not None:
            self._listen()

    def _listen(self) -> None:
        if self._listener is None:
            self._listener = JobListener(
                self.conninfo,
                self._new_jobs,
                name=self.display,
                clean=self.clean,
                connect_timeout=max(1, int(self._connect_timeout)),
            )
            self._listener.start()

    async def listening(self, timeout: float = 5.0) -> bool:
        return self._listener is not None and await self._listener.listening(timeout)

    def _new_jobs(self) -> None:
        for callback in self._job_listeners:
            callback()

    # -- locks

    def lock(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        if self._lock_pool is None:
            raise StoreClosedError("the store is closed (or was never opened)")
        return postgres_locks.locked(self._lock_pool, name)

    async def hold(self, name: str) -> Held | None:
        if self._pool is None:
            raise StoreClosedError("the store is closed (or was never opened)")
        try:
            return await postgres_locks.hold(
                self.conninfo, name, connect_timeout=max(1, int(self._connect_timeout))
            )
        except psycopg.Error as exc:
            raise StoreError(f"{self.display}: {self.clean(exc)}") from None

    # -- intake

    async def record_delivery(
        self, delivery: Delivery, events: Sequence[Event], jobs: Sequence[NewJob]
    ) -> bool:
        row = (delivery.platform, delivery.delivery_id, delivery.event, delivery.received_at)
        job_rows = [job_row(j, now=delivery.received_at) for j in jobs]
        paired = event_rows(events, jobs, job_rows)
        body = delivery.payload

        # one statement (postgres_ops.record_delivery): its own transaction, NOTIFY included
        stored = await self._statement(
            lambda c: postgres_ops.record_delivery(c, row, body, paired, job_rows)
        )
        if stored and job_rows:
            self._new_jobs()
        return stored

    # -- the queue

    async def enqueue(self, jobs: Sequence[NewJob], *, now: float) -> list[int]:
        job_rows = [job_row(j, now=now) for j in jobs]
        due = any(j.run_at <= now for j in jobs)

        async def write(conn: Conn) -> list[int]:
            ids = await postgres_ops.insert_jobs(conn, job_rows)
            if due:
                await postgres_ops.notify_jobs(conn)
            return ids

        ids = await self._write(write)
        if due:
            self._new_jobs()
        return ids

    async def claim(self, worker: str, *, limit: int, lease: float, now: float) -> list[Job]:
        if limit <= 0:
            return []
        found = await self._statement(
            lambda c: postgres_ops.claim(c, worker, limit=limit, lease=lease, now=now)
        )
        return [rows.job(r) for r in found]

    async def extend_lease(self, job_id: int, worker: str, *, lease: float, now: float) -> bool:
        return await self._statement(
            lambda c: postgres_ops.extend_lease(c, job_id, worker, lease=lease, now=now)
        )

    async def complete(self, job_id: int, worker: str, *, now: float) -> bool:
        return await self._statement(lambda c: postgres_ops.complete(c, job_id, worker, now=now))

    async def fail(
        self, job_id: int, worker: str, *, error: str, retry_at: float | None, now: float
    ) -> bool:
        return await self._statement(
            lambda c: postgres_ops.fail(c, job_id, worker, error=error, retry_at=retry_at, now=now)
        )

    async def jobs(self, *, state: JobState | None = None, limit: int = 100) -> list[Job]:
        if state is None:
            found = await self._fetch(
                f"SELECT {rows.JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT %s", (limit,)
            )
        else:  # the state as a literal where it has a partial index (jobs_dead)
            found = await self._fetch(
                f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE state = %s ORDER BY id DESC LIMIT %s",
                (state, limit),
            )
        return [rows.job(r) for r in found]

    async def job(self, job_id: int) -> Job | None:
        found = await self._fetch(f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
        return rows.job(found[0]) if found else None

    async def job_by_key(self, dedupe_key: str) -> Job | None:
        found = await self._fetch(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE dedupe_key = %s", (dedupe_key,)
        )
        return rows.job(found[0]) if found else None

    async def retry(self, job_id: int, *, now: float) -> bool:
        return await self._statement(lambda c: postgres_ops.retry(c, job_id, now=now))

    async def queue_depth(self) -> dict[str, int]:
        # the live states from their partial indexes; done jobs are the rest of count(*)
        [(queued, running, dead, total)] = await self._fetch(
            "SELECT (SELECT count(*) FROM jobs WHERE state = 'queued'),"
            " (SELECT count(*) FROM jobs WHERE state = 'running'),"
            " (SELECT count(*) FROM jobs WHERE state = 'dead'),"
            " (SELECT count(*) FROM jobs)",
            (),
        )
        done = total - queued - running - dead
        return {"queued": queued, "running": running, "done": done, "dead": dead}

    # -- runs

    async def create_run(self, run: Run) -> int:
        values = rows.run_values(run)
        return await self._write(lambda c: postgres_ops.create_run(c, values, run.request_key))

    async def update_run(self, run_id: int, *, now: float, **changes: Any) -> None:
        changes = rows.run_changes(changes)
        if not await self._statement(
            lambda c: postgres_ops.update_run(c, run_id, changes, now=now)
        ):
            raise LookupError(f"no run with id {run_id}")

    async def run(self, run_id: int) -> Run | None:
        if not rows.storable_id(run_id):
            return None
        found = await self._fetch(f"SELECT {rows.RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        return rows.run(found[0]) if found else None

    async def runs(
        self,
        *,
        status: Sequence[str] | None = None,
        head: str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append("status = ANY(%s)")
            params.append(statuses)
        if head is not None:
            where.append("head = %s")
            params.append(head)
        sql = f"SELECT {rows.RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        found = await self._fetch(f"{sql} ORDER BY id DESC LIMIT %s", (*params, limit))
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
        return await self._write(lambda c: postgres_ops.create_promotion(c, values, request_key))

    async def save_promotion(
        self,
        promotion_id: int,
        *,
        status: str,
        data: dict[str, Any],
        expected_version: int,
        now: float,
    ) -> bool:
        text = rows.dumps(data)
        return await self._statement(
            lambda c: postgres_ops.save_promotion(
                c,
                promotion_id,
                status=status,
                data=text,
                expected_version=expected_version,
                now=now,
            )
        )

    async def promotion(self, promotion_id: int) -> PromotionRow | None:
        if not rows.storable_id(promotion_id):
            return None
        found = await self._fetch(
            f"SELECT {rows.PROMOTION_COLUMNS} FROM promotions WHERE id = %s", (promotion_id,)
        )
        return rows.promotion(found[0]) if found else None

    async def promotion_by_key(self, request_key: str) -> PromotionRow | None:
        found = await self._fetch(
            f"SELECT {rows.PROMOTION_COLUMNS} FROM promotions WHERE request_key = %s",
            (request_key,),
        )
        return rows.promotion(found[0]) if found else None

    async def promotions(
        self,
        *,
        platform: str | None = None,
        repo: str | None = None,
        pipeline: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[PromotionRow]:
        where: list[str] = []
        params: list[Any] = []
        if platform is not None:
            where.append("platform = %s")
            params.append(platform)
        if repo is not None:  # the promotions_repo index is on lower(repo)
            where.append("lower(repo) = lower(%s)")
            params.append(repo)
        if pipeline is not None:
            where.append("pipeline = %s")
            params.append(pipeline)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append("status = ANY(%s)")
            params.append(statuses)
        sql = f"SELECT {rows.PROMOTION_COLUMNS} FROM promotions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        found = await self._fetch(f"{sql} ORDER BY id DESC LIMIT %s", (*params, limit))
        return [rows.promotion(r) for r in found]

    # -- audit

    async def audit(self, entry: AuditEntry, *, once: bool = False) -> None:
        values = (entry.at, entry.actor, entry.action, entry.repo, rows.dumps(entry.detail))
        await self._write(lambda c: postgres_ops.audit(c, values, once=once))

    async def audit_log(self, *, repo: str | None = None, limit: int = 100) -> list[AuditEntry]:
        if repo is None:
            found = await self._fetch(
                f"SELECT {rows.AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT %s", (limit,)
            )
        else:
            found = await self._fetch(
                f"SELECT {rows.AUDIT_COLUMNS} FROM audit WHERE repo = %s ORDER BY id DESC LIMIT %s",
                (repo, limit),
            )
        return [rows.audit(r) for r in found]

    async def deliveries(self, *, limit: int = 100) -> list[Delivery]:
        found = await self._fetch(
            f"SELECT {rows.DELIVERY_COLUMNS} FROM deliveries ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [rows.delivery(r) for r in found]

    async def delivery_events(self, platform: str, delivery_id: str) -> list[Event]:
        found = await self._fetch(
            "SELECT v.data FROM event_data v JOIN deliveries d ON d.id = v.delivery "
            "WHERE d.platform = %s AND d.delivery_id = %s ORDER BY v.position",
            (platform, delivery_id),
        )
        return [event_from_dict(json.loads(data)) for (data,) in found]

    # -- retention

    async def prune(self, *, before: float, chunk: int = 500) -> Pruned:
        deliveries = jobs = 0
        while True:  # short transactions: intake goes on in between
            gone = await self._statement(
                lambda c: postgres_ops.prune_deliveries(c, before=before, limit=chunk)
            )
            deliveries += gone
            if gone < chunk:
                break
        after: int | None = 0
        while after is not None:
            gone, after = await self._write(
                functools.partial(
                    postgres_ops.prune_jobs, before=before, after_id=after, limit=chunk
                )
            )
            jobs += gone
        return Pruned(deliveries, jobs)

    # -- plumbing

    def _pool_or_fail(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreClosedError("the store is closed (or was never opened)")
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        pool = self._pool_or_fail()
        self._inflight += 1
        self._idle.clear()
        try:
            async with pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self.display}: {self.clean(exc)}") from exc
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def _write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn`` in one transaction (committed when it returns, rolled back if it raises)."""
        async with self._connection() as conn, conn.transaction():
            return await fn(conn)

    async def _statement(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """``fn`` running ONE statement on an autocommit connection: the statement is its
        own transaction (no BEGIN and COMMIT round trips around it)."""
        async with self._connection() as conn:
            return await fn(conn)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    def clean(self, exc: BaseException) -> str:
        """An error's text with this URL's password, wherever it was given, hidden."""
        # libpq does not repeat passwords in its messages; this makes sure of it
        text = str(exc).strip() or type(exc).__name__
        return redact(text, self._secrets)
