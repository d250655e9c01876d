"""Builders shared by the store tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from prbot.events import PullRequestEvent
from prbot.store.base import Delivery, NewJob


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
