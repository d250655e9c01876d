"""``prbot db copy``: move an installation's data into a PostgreSQL database.

Everything the store holds goes, ids included (jobs name their delivery, events their
job, the API and the PRs name runs and promotions by id): deliveries with their bodies
(read from SQLite's body files), jobs in whatever state they are (a leased job keeps its
lease, and is retaken after it like any other), events, runs, promotions, the audit log.

Safe by construction:
- the source is read in one snapshot (one read transaction), so a copy of a live
  installation is consistent, though what arrives after the snapshot is not copied: stop
  ``prbot serve`` first;
- the target is written in ONE transaction, with PostgreSQL's COPY; before COMMIT the
  rows of each table are counted on both sides, and any difference rolls everything
  back: the target is then as it was;
- a target that holds any prbot row is refused, unless ``replace`` (then its prbot tables
  are emptied first, in the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from prbot.errors import PrbotError, redact_url
from prbot.store import open_store
from prbot.store.postgres import PostgresStore
from prbot.store.postgres_schema import TABLES
from prbot.store.sqlite import SqliteStore

# each table's columns, ids included, in the order of postgres_schema.TABLES (foreign
# keys: deliveries before jobs, both before events)
COLUMNS: dict[str, str] = {
    "deliveries": "id, platform, delivery_id, event, received_at, payload",
    "jobs": (
        "id, kind, payload, state, attempts, max_attempts, next_run_at, lease_owner, "
        "lease_expires_at, last_error, dedupe_key, delivery, created_at, updated_at"
    ),
    "events": "delivery, position, kind, job, data",
    "runs": (
        "id, automation, repo, platform, requested_by, inputs, status, head, pr_number, "
        "pr_url, error, created_at, updated_at, request_key, requested_in"
    ),
    "promotions": (
        "id, pipeline, repo, platform, status, requested_by, data, version, created_at, "
        "updated_at, request_key, requested_in"
    ),
    "audit": "id, at, actor, action, repo, detail",
}
ORDER = {"events": "delivery, position"}  # every other table: by id
IDENTITY_TABLES = ("deliveries", "jobs", "runs", "promotions", "audit")
BATCH = 1000


class CopyError(PrbotError):
    """The copy was refused or failed; the target is unchanged."""


@dataclass
class CopyReport:
    counts: dict[str, int] = field(default_factory=dict)  # rows copied, by table
    replaced: dict[str, int] = field(default_factory=dict)  # rows the target held before


class _Source:
    """Rows of the source store, table by table, in one snapshot."""

    def count(self, table: str) -> int:
        raise NotImplementedError

    def rows(self, table: str) -> Iterator[list[tuple[Any, ...]]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _SqliteSource(_Source):
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.conn = store.connect_reader()
        # one read transaction: every count and row below sees the same snapshot
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT count(*) FROM jobs").fetchone()

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def rows(self, table: str) -> Iterator[list[tuple[Any, ...]]]:
        columns = COLUMNS[table]
        if table == "deliveries":
            columns += ", body_file, body_offset, body_length"
        cur = self.conn.execute(f"SELECT {columns} FROM {table} ORDER BY {ORDER.get(table, 'id')}")
        while batch := cur.fetchmany(BATCH):
            if table == "deliveries":
                batch = [(*r[:5], self.store.read_body(r[5], r[6], r[7], r[8])) for r in batch]
            yield batch

    def close(self) -> None:
        self.conn.close()


class _PostgresSource(_Source):
    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo)
        self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def count(self, table: str) -> int:
        row = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def rows(self, table: str) -> Iterator[list[tuple[Any, ...]]]:
        with self.conn.cursor(name=f"copy_{table}") as cur:
            cur.execute(f"SELECT {COLUMNS[table]} FROM {table} ORDER BY {ORDER.get(table, 'id')}")
            while batch := cur.fetchmany(BATCH):
                yield batch

    def close(self) -> None:
        self.conn.close()


async def copy_store(source_url: str, target_url: str, *, replace: bool = False) -> CopyReport:
    """Copy every row of ``source_url``'s store into ``target_url`` (PostgreSQL)."""
    source_store = open_store(source_url)
    target_store = open_store(target_url, migrate=True)
    if not isinstance(target_store, PostgresStore):
        raise CopyError(
            f"--to {redact_url(target_url)}: the target must be a PostgreSQL URL "
            "(postgresql://user@host:port/database)"
        )
    # opening migrates both to this prbot's schema (the target's tables are created)
    await source_store.open()
    try:
        await target_store.open()
        await target_store.close()
        source: _Source = (
            _SqliteSource(source_store)
            if isinstance(source_store, SqliteStore)
            else _PostgresSource(source_store.conninfo)  # type: ignore[attr-defined]
        )
        try:
            return await _copy(source, target_store.conninfo, target_url, replace=replace)
        except psycopg.Error as exc:
            raise CopyError(
                f"copying into {redact_url(target_url)} failed, nothing copied: "
                f"{target_store.clean(exc)}"
            ) from None
        finally:
            source.close()
    finally:
        await source_store.close()


async def _copy(source: _Source, conninfo: str, target_url: str, *, replace: bool) -> CopyReport:
    report = CopyReport()
    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
        # nothing else writes prbot's tables while the copy runs (a replica started
        # too early waits, then finds the copy whole)
        await conn.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
        held = {t: await _count(conn, t) for t in TABLES}
        if any(held.values()):
            if not replace:
                found = ", ".join(f"{n} {t}" for t, n in held.items() if n)
                raise CopyError(
                    f"--to {redact_url(target_url)} holds prbot data already ({found}): "
                    "nothing copied; use --replace to empty it first"
                )
            await conn.execute(f"TRUNCATE {', '.join(TABLES)}")
            report.replaced = held
        for table in TABLES:
            async with conn.cursor().copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                for batch in source.rows(table):
                    for row in batch:
                        await copy.write_row(row)
        for table in IDENTITY_TABLES:
            # new rows continue after the copied ids
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        for table in TABLES:
            want, got = source.count(table), await _count(conn, table)
            if want != got:
                raise CopyError(
                    f"{table}: {want} rows in the source but {got} copied: nothing "
                    "copied (rolled back)"
                )
            report.counts[table] = got
    return report


async def _count(conn: psycopg.AsyncConnection[Any], table: str) -> int:
    cur = await conn.execute(f"SELECT count(*) FROM {table}")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
