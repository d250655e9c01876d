"""Promotions in the store: a promotion's state (``prbot.pipeline.codec``) as one JSON
document, saved with optimistic concurrency, listed by repository, pipeline and status."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from prbot.pipeline.codec import from_data, to_data
from prbot.pipeline.happenings import Approved, HealthObserved, PrMerged, PrOpened, Start
from prbot.pipeline.model import ApprovalRule, Promotion
from prbot.store.base import NewJob, Run, Store
from prbot.store.migrations import LATEST, MIGRATIONS, migrate, schema_version
from prbot.store.sqlite import SqliteStore
from tests.pipeline.promotions import T0, ok, pipeline, stage
from tests.pipeline.promotions import Run as Driven

from .helpers import Backend


def promotion() -> Promotion:
    """A promotion part way through: dev merged and healthy, prod waiting on an approval."""
    run = Driven(
        pipeline(
            stage("dev", context={"env": "dev", "replicas": [1, 2]}),
            stage("prod", gates=(ApprovalRule(users=("bob",), count=2),), on_failure="rollback"),
        ),
        inputs={"tag": "6.7.1", "count": 3, "flag": True, "note": "ünïcode"},
    )
    run(Start())
    run(PrOpened("dev", 12, "https://github.com/acme/gitops/pull/12"))
    run(PrMerged("dev", 12, "aaa"))
    run(HealthObserved("dev", "aaa", ok("ci")))
    run(Approved("prod", "bob", ("ops",)))
    return run.p


async def create(
    store: Store,
    *,
    pipeline: str = "myapp",
    repo: str = "acme/gitops",
    platform: str = "github",
    status: str = "running",
    now: float = T0,
    data: dict[str, Any] | None = None,
) -> int:
    return await store.create_promotion(
        pipeline=pipeline,
        repo=repo,
        platform=platform,
        requested_by="alice",
        status=status,
        data=data if data is not None else {"status": status},
        now=now,
    )


async def test_a_promotion_reads_back_as_it_was_stored(store: Store) -> None:
    p = promotion()
    data = to_data(p)
    pid = await store.create_promotion(
        pipeline=p.pipeline.name,
        repo=p.repo,
        platform="github",
        requested_by=p.requested_by,
        status=p.status,
        data=data,
        now=T0 + 5,
    )
    row = await store.promotion(pid)
    assert row is not None
    assert (row.id, row.pipeline, row.repo, row.platform, row.status, row.requested_by) == (
        pid,
        "myapp",
        "acme/gitops",
        "github",
        "waiting",  # on prod's approvals
        "alice",
    )
    assert (row.version, row.created_at, row.updated_at) == (1, T0 + 5, T0 + 5)
    assert isinstance(row.created_at, float)
    assert row.data == json.loads(json.dumps(data))
    assert from_data(row.data) == p
    assert await store.promotion(pid + 1) is None


async def test_a_save_needs_the_version_read_and_a_stale_one_changes_nothing(
    store: Store,
) -> None:
    p = promotion()
    pid = await create(store, data=to_data(p), status=p.status)
    read = await store.promotion(pid)
    assert read is not None and read.version == 1
    held = {**to_data(p), "status": "held"}
    assert await store.save_promotion(
        pid, status="held", data=held, expected_version=1, now=T0 + 60
    )
    saved = await store.promotion(pid)
    assert saved is not None
    assert (saved.status, saved.version, saved.data) == ("held", 2, held)
    assert (saved.created_at, saved.updated_at) == (T0, T0 + 60)

    # a second writer that read version 1 too loses, and leaves the row as it was
    assert not await store.save_promotion(
        pid, status="cancelled", data={"status": "cancelled"}, expected_version=1, now=T0 + 61
    )
    assert await store.promotion(pid) == saved
    # so does one ahead of the store, and any save of a promotion that does not exist
    assert not await store.save_promotion(pid, status="x", data={}, expected_version=3, now=T0 + 62)
    assert not await store.save_promotion(
        pid + 1, status="x", data={}, expected_version=1, now=T0 + 62
    )
    assert await store.promotion(pid) == saved
    # the winner's version goes on
    assert await store.save_promotion(
        pid, status="running", data=to_data(p), expected_version=2, now=T0 + 70
    )
    final = await store.promotion(pid)
    assert final is not None and final.version == 3 and from_data(final.data) == p


async def test_of_saves_racing_on_one_version_exactly_one_wins(store: Store) -> None:
    pid = await create(store)
    results = await asyncio.gather(
        *(
            store.save_promotion(pid, status=f"s{i}", data={"i": i}, expected_version=1, now=T0 + i)
            for i in range(8)
        )
    )
    assert results.count(True) == 1
    row = await store.promotion(pid)
    winner = results.index(True)
    assert row is not None and (row.version, row.status, row.data) == (
        2,
        f"s{winner}",
        {"i": winner},
    )


async def test_listing_filters_and_goes_newest_first(store: Store) -> None:
    a = await create(store, status="succeeded", now=1)
    b = await create(store, pipeline="other", now=2)
    c = await create(store, repo="acme/web", status="held", now=3)
    d = await create(store, platform="gitlab", now=4)
    e = await create(store, now=5)

    async def ids(**filters: Any) -> list[int]:
        return [p.id for p in await store.promotions(**filters)]

    assert await ids() == [e, d, c, b, a]
    assert await ids(limit=2) == [e, d]
    assert await ids(platform="github") == [e, c, b, a]
    assert await ids(platform="github", repo="acme/gitops") == [e, b, a]
    assert await ids(platform="github", repo="acme/gitops", pipeline="myapp") == [e, a]
    assert await ids(status=["running"]) == [e, d, b]
    assert await ids(status=("running", "held")) == [e, d, c, b]
    assert await ids(status="held") == [c]  # one status as a plain string, as runs take it
    assert await ids(status=[]) == []
    assert await ids(repo="acme/gitops", pipeline="myapp", status=["succeeded"]) == [a]
    assert await ids(pipeline="nope") == []
    # repositories compare without case, as forges do; the stored spelling is kept
    assert await ids(repo="ACME/Web") == [c]
    found = await store.promotions(repo="Acme/Web")
    assert [p.repo for p in found] == ["acme/web"]


async def test_listing_uses_the_promotion_indexes(sqlite_store: SqliteStore, db_path: Path) -> None:
    await create(sqlite_store)
    conn = sqlite3.connect(db_path)
    try:

        def plan(where: str, params: tuple[Any, ...]) -> str:
            rows = conn.execute(
                f"EXPLAIN QUERY PLAN SELECT id FROM promotions WHERE {where} "
                "ORDER BY id DESC LIMIT 10",
                params,
            ).fetchall()
            return " ".join(r[-1] for r in rows)

        assert "promotions_repo" in plan(
            "platform = ? AND repo = ? AND pipeline = ?", ("github", "ACME/gitops", "myapp")
        )
        assert "promotions_status" in plan("status = ?", ("running",))
    finally:
        conn.close()


async def test_promotions_survive_closing_and_reopening(backend: Backend) -> None:
    data = to_data(promotion())
    async with backend.make() as store:
        pid = await create(store, data=data)
        assert await store.save_promotion(
            pid, status="held", data=data, expected_version=1, now=T0 + 1
        )
    async with backend.make() as store:
        row = await store.promotion(pid)
        assert row is not None and (row.status, row.version) == ("held", 2)
        assert from_data(row.data) == promotion()
        assert [p.id for p in await store.promotions(status=["held"])] == [pid]
        # and a save after the reopen still needs the version
        assert not await store.save_promotion(
            pid, status="x", data={}, expected_version=1, now=T0 + 2
        )


async def test_retention_keeps_promotions(store: Store, backend: Backend) -> None:
    pid = await create(store, status="succeeded", now=1.0)
    assert await store.save_promotion(
        pid, status="succeeded", data={"done": True}, expected_version=1, now=2.0
    )
    await store.prune(before=1e12)
    assert backend.count("promotions") == 1
    row = await store.promotion(pid)
    assert row is not None and row.data == {"done": True}


def v4_database(path: Path) -> None:
    """A database as prbot with schema version 4 left it: a run, a job, a delivery."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:4])
    conn.executescript(
        """
        INSERT INTO deliveries (id, platform, delivery_id, event, received_at, payload)
        VALUES (1, 'github', 'd-1', 'pull_request', 10, x'7b7d');
        INSERT INTO jobs (id, kind, payload, max_attempts, next_run_at, dedupe_key, delivery,
                          created_at, updated_at)
        VALUES (5, 'automation.run', '{"run":1}', 8, 10, 'k', 1, 10, 10);
        INSERT INTO runs (id, automation, repo, platform, requested_by, inputs, status, head,
                          pr_number, pr_url, error, created_at, updated_at)
        VALUES (1, 'image-bump', 'acme/gitops', 'github', 'alice', '{"tag":"1"}', 'pr_open',
                'prbot/image-bump-1', 12, 'https://x/12', '', 10, 11);
        """
    )
    assert schema_version(conn) == 4
    conn.close()


async def test_a_version_4_database_gains_promotions_and_keeps_runs_and_jobs(
    db_path: Path,
) -> None:
    v4_database(db_path)
    async with SqliteStore(db_path) as store:
        conn = sqlite3.connect(db_path)
        assert schema_version(conn) == LATEST
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = [r[1] for r in conn.execute("PRAGMA table_info(promotions)")]
        conn.close()
        assert "promotion_stages" not in tables  # V1's, never written: gone
        assert columns == [
            "id",
            "pipeline",
            "repo",
            "platform",
            "status",
            "requested_by",
            "data",
            "version",
            "created_at",
            "updated_at",
            "request_key",  # V6: slash-commands
            "requested_in",
        ]
        assert await store.run(1) == Run(
            id=1,
            automation="image-bump",
            repo="acme/gitops",
            platform="github",
            requested_by="alice",
            inputs={"tag": "1"},
            status="pr_open",
            head="prbot/image-bump-1",
            pr_number=12,
            pr_url="https://x/12",
            error="",
            created_at=10.0,
            updated_at=11.0,
        )
        assert [r.id for r in await store.runs(head="prbot/image-bump-1")] == [1]
        job = await store.job(5)
        assert job is not None and (job.payload, job.state, job.dedupe_key) == (
            {"run": 1},
            "queued",
            "k",
        )
        assert await store.enqueue([NewJob("t", {}, dedupe_key="k")], now=20) == [5]
        assert await store.promotions() == []
        pid = await create(store, data=to_data(promotion()))
        row = await store.promotion(pid)
        assert row is not None and from_data(row.data) == promotion()


async def test_an_id_no_row_could_have_finds_nothing(store: Store) -> None:
    # ids come from URLs and comments: beyond 64 bits a driver raises instead of finding none
    for row_id in (-1, 2**63, 10**20):
        assert await store.promotion(row_id) is None
        assert await store.run(row_id) is None
