"""The store's contract suite runs on both backends: the ``store`` fixture is a SQLite
store and a PostgreSQL one (a fresh database on the session's server,
``tests/support/postgres.py``). ``backend`` opens more stores on the same database (other
processes' worth) and looks at its rows directly. ``sqlite_store`` is for the tests of
SQLite's own machinery (group commit, body files, WAL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.store.base import Store
from prbot.store.sqlite import SqliteStore
from tests.support.postgres import postgres_server_fixture  # noqa: F401

from .helpers import Backend


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "prbot.db"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, db_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:{db_path}")
    server = request.getfixturevalue("postgres_server")
    return Backend("postgres", server.new_database())


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.make()
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(db_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(db_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
