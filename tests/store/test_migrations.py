from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from prbot.store import SchemaTooNewError
from prbot.store.migrations import LATEST, MIGRATIONS, migrate, schema_version, split_statements
from prbot.store.sqlite import SqliteStore

TABLES = {"deliveries", "events", "jobs", "runs", "promotions", "promotion_stages", "audit"}


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


async def test_jobs_have_the_due_index(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass
    conn = sqlite3.connect(db_path)
    cols = [r[2] for r in conn.execute("PRAGMA index_info(jobs_due)")]
    conn.close()
    assert cols == ["state", "next_run_at"]


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
