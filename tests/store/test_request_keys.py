"""Request keys (migrations.V6): a run or promotion created with a key is created once; a
second create with the same key, as a retried slash-command job makes, is the first one.
Jobs are found again by their dedupe key. A V5 database is upgraded with its rows."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from prbot.store.base import NewJob, Run, Store
from prbot.store.migrations import MIGRATIONS, migrate
from prbot.store.sqlite import SqliteStore


def run(key: str | None = None, *, automation: str = "bump", at: float = 10.0) -> Run:
    return Run(
        id=0,
        automation=automation,
        repo="acme/gitops",
        platform="github",
        requested_by="alice",
        inputs={"tag": "1.2.3"},
        status="queued",
        created_at=at,
        request_key=key,
        requested_in="https://forge.test/acme/gitops/pull/3#issuecomment-9" if key else "",
    )


async def create_promotion(store: Store, key: str | None, *, pipeline: str = "app") -> int:
    return await store.create_promotion(
        pipeline=pipeline,
        repo="acme/gitops",
        platform="gitlab",
        requested_by="alice",
        status="running",
        data={"n": 1},
        now=10.0,
        request_key=key,
        requested_in="https://forge.test/c/1" if key else "",
    )


async def test_a_keyed_run_is_created_once(store: Store) -> None:
    first = await store.create_run(run("command:github:acme/gitops:9:0"))
    again = await store.create_run(run("command:github:acme/gitops:9:0", automation="other"))
    other = await store.create_run(run("command:github:acme/gitops:9:1"))
    assert again == first != other
    stored = await store.run(first)
    assert stored is not None
    assert (stored.automation, stored.request_key) == ("bump", "command:github:acme/gitops:9:0")
    assert stored.requested_in.endswith("#issuecomment-9")
    assert len(await store.runs()) == 2


async def test_unkeyed_runs_and_promotions_are_never_merged(store: Store) -> None:
    assert await store.create_run(run()) != await store.create_run(run())
    assert await create_promotion(store, None) != await create_promotion(store, None)
    [newest, _] = await store.runs()
    assert (newest.request_key, newest.requested_in) == (None, "")


async def test_a_keyed_promotion_is_created_once_and_found_by_its_key(
    store: Store,
) -> None:
    first = await create_promotion(store, "command:gitlab:acme/gitops:5:0")
    assert await create_promotion(store, "command:gitlab:acme/gitops:5:0", pipeline="x") == first
    row = await store.promotion_by_key("command:gitlab:acme/gitops:5:0")
    assert row is not None
    assert (row.id, row.pipeline, row.version) == (first, "app", 1)
    assert row.requested_in == "https://forge.test/c/1"
    assert await store.promotion_by_key("command:gitlab:acme/gitops:5:1") is None
    assert len(await store.promotions()) == 1


async def test_concurrent_creates_with_one_key_make_one_row(store: Store) -> None:
    ids = await asyncio.gather(*(store.create_run(run("k")) for _ in range(8)))
    assert len(set(ids)) == 1
    assert len(await store.runs()) == 1


async def test_a_job_is_found_by_its_dedupe_key(store: Store) -> None:
    [job_id] = await store.enqueue([NewJob("t", {"a": 1}, dedupe_key="command:x")], now=1.0)
    found = await store.job_by_key("command:x")
    assert found is not None and (found.id, found.payload) == (job_id, {"a": 1})
    assert await store.job_by_key("command:y") is None


async def test_a_version_5_database_gets_the_keys_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:5])
    conn.execute(
        "INSERT INTO runs (automation, repo, platform, requested_by, inputs, status, "
        "created_at, updated_at) VALUES ('bump', 'a/b', 'github', 'bob', '{}', 'queued', 1, 1)"
    )
    conn.close()
    async with SqliteStore(path) as store:
        [old] = await store.runs()
        assert (old.automation, old.request_key, old.requested_in) == ("bump", None, "")
        assert await store.create_run(run("k")) == await store.create_run(run("k")) != old.id
