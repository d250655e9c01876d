from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from prbot.store import SchemaTooNewError
from prbot.store.base import NewJob
from prbot.store.migrations import LATEST, MIGRATIONS, migrate, schema_version, split_statements
from prbot.store.sqlite import SqliteStore

from .helpers import delivery, merged

TABLES = {"deliveries", "events", "jobs", "runs", "promotions", "audit"}


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


async def test_fresh_database_gets_every_table_and_the_latest_version(db_path: Path) -> None:
    store = SqliteStore(db_path)
    await store.open()
    await store.close()
    assert tables(db_path) >= TABLES
    assert pragma(db_path, "user_version") == LATEST == len(MIGRATIONS)
    assert pragma(db_path, "journal_mode") == "wal"  # persistent, so visible to others


async def test_job_indexes_hold_only_the_jobs_their_queries_read(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass
    conn = sqlite3.connect(db_path)
    indexes = {
        name: (sql, [r[2] for r in conn.execute(f"PRAGMA index_info({name})")])
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'"
        )
    }
    conn.close()
    # no autoindex: V1's "dedupe_key TEXT UNIQUE" indexed every job, unkeyed ones too
    assert sorted(indexes) == [
        "jobs_dead",
        "jobs_dedupe",
        "jobs_delivery",
        "jobs_due",
        "jobs_lease",
    ]
    assert indexes["jobs_due"][1] == ["next_run_at"]
    assert "WHERE state = 'queued'" in indexes["jobs_due"][0]
    assert indexes["jobs_lease"][1] == ["lease_expires_at"]
    assert "WHERE state = 'running'" in indexes["jobs_lease"][0]
    assert "UNIQUE" in indexes["jobs_dedupe"][0]
    assert "WHERE dedupe_key IS NOT NULL" in indexes["jobs_dedupe"][0]


async def test_reopening_is_a_no_op_and_keeps_data(db_path: Path) -> None:
    async with SqliteStore(db_path) as store:
        await store.audit_log()  # touch the read side too
        from prbot.store.base import AuditEntry

        await store.audit(AuditEntry(at=1.0, actor="prbot", action="commit", repo="a/b"))
    schema_before = sqlite3.connect(db_path).execute("SELECT sql FROM sqlite_master").fetchall()
    async with SqliteStore(db_path) as store:
        assert len(await store.audit_log()) == 1
    schema_after = sqlite3.connect(db_path).execute("SELECT sql FROM sqlite_master").fetchall()
    assert schema_before == schema_after
    assert pragma(db_path, "user_version") == LATEST


async def test_a_database_from_a_newer_prbot_is_refused(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    store = SqliteStore(db_path)
    with pytest.raises(SchemaTooNewError, match=rf"schema version {LATEST + 1}.*newer prbot"):
        await store.open()
    assert pragma(db_path, "user_version") == LATEST + 1  # untouched
    await store.close()  # closing a store that failed to open is harmless


def test_missing_migrations_apply_in_order_in_one_transaction(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    steps = ("CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'a;b';")
    assert migrate(conn, steps[:1]) == 1
    assert migrate(conn, steps) == 2
    assert schema_version(conn) == 2
    assert [r[1] for r in conn.execute("PRAGMA table_info(a)")] == ["x", "y"]
    # a failing step rolls back the whole upgrade, version included
    broken = (*steps, "CREATE TABLE b (z INTEGER);", "CREATE TABLE a (oops);")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    assert schema_version(conn) == 2
    assert "b" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()


def test_split_statements_respects_literals_and_triggers() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c;d';
    END;
    """
    parts = split_statements(script)
    assert len(parts) == 2
    assert parts[0].endswith("DEFAULT 'a;b');")
    assert parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")


def v1_database(path: Path) -> None:
    """A database as prbot with schema version 1 left it: two deliveries (one event that
    became a job, one that did not), a keyed job, a running one and a dead one."""
    event = json.dumps(merged().to_dict(), separators=(",", ":"))
    other = json.dumps(merged(8).to_dict(), separators=(",", ":"))
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.executescript(
        f"""
        INSERT INTO deliveries VALUES (1, 'github', 'd-1', 'pull_request', 10, x'7b7d');
        INSERT INTO deliveries VALUES (2, 'github', 'd-2', 'pull_request', 11, x'7b7d');
        INSERT INTO events VALUES (1, 1, 'pull_request', '{event}');
        INSERT INTO events VALUES (2, 2, 'pull_request', '{other}');
        INSERT INTO events VALUES (3, 2, 'pull_request', '{event}');
        INSERT INTO jobs (id, kind, payload, max_attempts, next_run_at, dedupe_key, delivery,
                          created_at, updated_at)
        VALUES (5, 'event', '{event}', 8, 10, 'github:d-1:0', 1, 10, 10),
               (6, 't', '{{}}', 8, 20, 'k', NULL, 20, 20);
        INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, next_run_at,
                          lease_owner, lease_expires_at, last_error, created_at, updated_at)
        VALUES (7, 't', '{{}}', 'running', 1, 8, 30, 'w', 90, NULL, 30, 30),
               (8, 't', '{{}}', 'dead', 8, 8, 40, NULL, NULL, 'boom', 40, 40);
        """
    )
    assert schema_version(conn) == 1
    conn.close()


async def test_a_version_1_database_is_upgraded_with_its_data(db_path: Path) -> None:
    v1_database(db_path)
    async with SqliteStore(db_path) as store:
        assert pragma(db_path, "user_version") == LATEST
        # jobs keep their ids and every field
        assert [(j.id, j.state, j.dedupe_key) for j in await store.jobs()] == [
            (8, "dead", None),
            (7, "running", None),
            (6, "queued", "k"),
            (5, "queued", "github:d-1:0"),
        ]
        assert await store.queue_depth() == {"queued": 2, "running": 1, "done": 0, "dead": 1}
        # events read back as they were stored; the one its job carries is now kept once
        assert await store.delivery_events("github", "d-1") == [merged()]
        assert await store.delivery_events("github", "d-2") == [merged(8), merged()]
        conn = sqlite3.connect(db_path)
        links = conn.execute("SELECT delivery, position, job, data IS NULL FROM events").fetchall()
        conn.close()
        assert sorted(links) == [(1, 0, 5, 1), (2, 0, None, 0), (2, 1, None, 0)]
        # keys still deduplicate, leases still run out, dead jobs are still listed
        assert await store.enqueue([NewJob("t", {}, dedupe_key="k")], now=50) == [6]
        claimed = await store.claim("w2", limit=5, lease=10, now=95)
        assert [(j.id, j.attempts) for j in claimed] == [(5, 1), (6, 1), (7, 2)]
        assert [j.id for j in await store.jobs(state="dead")] == [8]
        assert await store.record_delivery(delivery("d-3"), [merged()], []) is True
