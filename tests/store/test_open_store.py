from __future__ import annotations

import os
from pathlib import Path

import pytest

from prbot.errors import redact_url as redact
from prbot.store import open_store
from prbot.store.postgres import DEFAULT_POOL_SIZE, PostgresStore
from prbot.store.sqlite import SqliteStore


def test_absolute_sqlite_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a.db".replace("////", "///"))
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "a.db"
    assert store.synchronous == "NORMAL"
    # what config.py builds from an absolute PRBOT_DATA_DIR: sqlite:/abs/prbot.db
    single = open_store(f"sqlite:{tmp_path}/b.db")
    assert isinstance(single, SqliteStore) and single.path == tmp_path / "b.db"


def test_relative_sqlite_url_and_bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = open_store("sqlite:data/prbot.db")
    bare = open_store("data/prbot.db")
    assert isinstance(rel, SqliteStore) and isinstance(bare, SqliteStore)
    # resolved when the store is made, so a later chdir does not move it
    assert rel.path == bare.path == tmp_path / "data" / "prbot.db"


def test_synchronous_option() -> None:
    store = open_store("sqlite:///var/lib/prbot/prbot.db?synchronous=full")
    assert isinstance(store, SqliteStore)
    assert store.synchronous == "FULL"
    with pytest.raises(ValueError, match="synchronous must be normal or full"):
        open_store("sqlite:///x.db?synchronous=off")
    with pytest.raises(ValueError, match="unknown option"):
        open_store("sqlite:///x.db?cache=shared")


@pytest.mark.parametrize(
    ("url", "conninfo"),
    [
        ("postgresql://prbot@db/prbot", "postgresql://prbot@db/prbot"),
        ("postgres://db:5433/x", "postgresql://db:5433/x"),
        ("postgresql+psycopg://db/x", "postgresql://db/x"),
        # libpq's parameters pass through; pool_size is prbot's own
        ("postgresql://db/x?sslmode=require&pool_size=4", "postgresql://db/x?sslmode=require"),
    ],
)
def test_postgresql_urls_select_the_postgresql_store(url: str, conninfo: str) -> None:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    assert store.conninfo == conninfo
    assert store.pool_size == (4 if "pool_size" in url else DEFAULT_POOL_SIZE)
    assert store.migrate is True
    assert open_store(url, migrate=False).migrate is False  # type: ignore[attr-defined]


def test_migrate_off_in_the_url_and_its_override() -> None:
    off = open_store("postgresql://db/x?migrate=off")
    assert isinstance(off, PostgresStore) and off.migrate is False
    assert off.conninfo == "postgresql://db/x"
    forced = open_store("postgresql://db/x?migrate=off", migrate=True)
    assert isinstance(forced, PostgresStore) and forced.migrate is True
    with pytest.raises(ValueError, match="migrate must be on or off, not 'later'"):
        open_store("postgresql://db/x?migrate=later")


@pytest.mark.parametrize("size", ["0", "many", "-1"])
def test_a_bad_pool_size_is_named_and_the_password_is_not(size: str) -> None:
    with pytest.raises(ValueError, match="pool_size must be a whole number") as info:
        open_store(f"postgresql://prbot:hunter2@db/x?pool_size={size}")
    assert "hunter2" not in str(info.value)


def test_a_postgresql_url_without_a_host_part_is_refused() -> None:
    with pytest.raises(ValueError, match="postgresql://user@host:port/database"):
        open_store("postgresql:prbot")


def test_other_schemes_are_named_and_passwords_never_echoed() -> None:
    with pytest.raises(ValueError) as info:
        open_store("mysql://admin:hunter2@db.internal:3306/prbot")
    message = str(info.value)
    assert "'mysql'" in message
    assert "hunter2" not in message and "admin" not in message
    assert "db.internal" in message


@pytest.mark.parametrize(
    "url", ["", "sqlite:", "sqlite:///:memory:", "sqlite::memory:", "sqlite://host/x.db"]
)
def test_sqlite_urls_without_a_file_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)


def test_redact() -> None:
    assert redact("postgresql://u:p@h/db") == "postgresql://***@h/db"
    assert redact("postgresql://h/db?x=a@b") == "postgresql://h/db?x=a@b"
    assert redact("sqlite:///a@b.db") == "sqlite:///a@b.db"


async def test_database_file_is_private(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "new" / "dir" / "prbot.db"))
    await store.open()
    await store.ping()
    await store.close()
    assert os.stat(tmp_path / "new" / "dir" / "prbot.db").st_mode & 0o777 == 0o600
