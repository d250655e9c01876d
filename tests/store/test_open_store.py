from __future__ import annotations

import os
from pathlib import Path

import pytest

from prbot.errors import redact_url as redact
from prbot.store import open_store
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
    "url", ["postgresql://prbot@db/prbot", "postgres://db/x", "postgresql+psycopg://db/x"]
)
def test_postgresql_is_not_built_yet(url: str) -> None:
    with pytest.raises(ValueError, match=r"^PostgreSQL support is not built yet: use sqlite$"):
        open_store(url)


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
