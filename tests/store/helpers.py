"""Builders shared by the store tests, and ``Backend``: one database, either kind."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from prbot.events import PullRequestEvent
from prbot.store import open_store
from prbot.store.base import Delivery, NewJob, Store
from prbot.store.url import parse_sqlite


def delivery(delivery_id: str, *, platform: str = "github", at: float = 100.0) -> Delivery:
    return Delivery(
        platform=platform,
        delivery_id=delivery_id,
        event="pull_request",
        received_at=at,
        payload=b'{"action":"closed","number":7}',
    )


def merged(number: int = 7) -> PullRequestEvent:
    return PullRequestEvent(
        platform="github", repo="acme/infra", action="merged", number=number, labels=("a",)
    )


def job(kind: str = "event", **payload: object) -> NewJob:
    return NewJob(kind=kind, payload=dict(payload))


def count(path: Path, table: str, where: str = "1", params: tuple = ()) -> int:
    """Count rows straight from the file, with a fresh connection (what another process sees)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
    finally:
        conn.close()


@dataclass(frozen=True)
class Backend:
    """A database of either kind: more stores on it, and its rows read directly with a
    connection of its own (what another process sees). SQL given here uses ``?``
    placeholders and is translated for PostgreSQL."""

    kind: str  # "sqlite" or "postgres"
    url: str

    def make(self) -> Store:
        return open_store(self.url)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            target = parse_sqlite(self.url)
            assert target is not None
            conn = sqlite3.connect(target.path)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        with psycopg.connect(self.url, autocommit=True) as pg:
            return pg.execute(sql.replace("?", "%s"), params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        if self.kind == "sqlite":
            target = parse_sqlite(self.url)
            assert target is not None
            conn = sqlite3.connect(target.path)
            try:
                with conn:
                    conn.execute(sql, params)
            finally:
                conn.close()
            return
        with psycopg.connect(self.url, autocommit=True) as pg:
            pg.execute(sql.replace("?", "%s"), params)

    def count(self, table: str, where: str = "1 = 1", params: tuple[Any, ...] = ()) -> int:
        return int(self.rows(f"SELECT count(*) FROM {table} WHERE {where}", params)[0][0])

    def refuse_job_kind(self, kind: str) -> None:
        """A real database failure for jobs of ``kind`` (no mocks): a trigger that aborts
        their insert, after whatever the transaction inserted before."""
        if self.kind == "sqlite":
            self.execute(
                f"CREATE TRIGGER refuse_{kind} BEFORE INSERT ON jobs WHEN NEW.kind = '{kind}' "
                f"BEGIN SELECT RAISE(ABORT, '{kind} refused'); END"
            )
            return
        self.execute(
            f"CREATE FUNCTION refuse_{kind}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{kind} refused'; END $$"
        )
        self.execute(
            f"CREATE TRIGGER refuse_{kind} BEFORE INSERT ON jobs FOR EACH ROW "
            f"WHEN (NEW.kind = '{kind}') EXECUTE FUNCTION refuse_{kind}()"
        )
