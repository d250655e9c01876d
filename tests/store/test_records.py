"""Runs, audit, deliveries listing, ping and the store's lifecycle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from prbot.store import StoreClosedError, StoreError
from prbot.store.base import AuditEntry, Run, Store
from prbot.store.sqlite import SqliteStore

from .helpers import Backend, delivery


def a_run(**changes: object) -> Run:
    values: dict = dict(
        id=0,
        automation="new-service",
        repo="acme/infra",
        platform="github",
        requested_by="alice",
        inputs={"name": "api", "replicas": 2},
        status="queued",
        created_at=10.0,
    )
    values.update(changes)
    return Run(**values)


async def test_runs_crud(store: Store) -> None:
    rid = await store.create_run(a_run())
    run = await store.run(rid)
    assert run == a_run(id=rid, updated_at=10.0)

    await store.update_run(
        rid,
        now=20.0,
        status="pr_open",
        head="prbot/new-service-1",
        pr_number=4,
        pr_url="https://x/4",
    )
    run = await store.run(rid)
    assert run is not None
    assert (run.status, run.head, run.pr_number, run.pr_url, run.updated_at, run.created_at) == (
        "pr_open",
        "prbot/new-service-1",
        4,
        "https://x/4",
        20.0,
        10.0,
    )
    assert await store.run(rid + 1) is None


async def test_update_run_refuses_unknown_fields_statuses_and_runs(store: Store) -> None:
    rid = await store.create_run(a_run())
    with pytest.raises(ValueError, match="cannot update run field"):
        await store.update_run(rid, now=1.0, requested_by="mallory")
    with pytest.raises(ValueError, match="unknown run status"):
        await store.update_run(rid, now=1.0, status="exploded")
    with pytest.raises(ValueError, match="unknown run status"):
        await store.create_run(a_run(status="exploded"))
    with pytest.raises(LookupError):
        await store.update_run(rid + 100, now=1.0, status="failed")
    run = await store.run(rid)
    assert run is not None and run.status == "queued" and run.requested_by == "alice"


async def test_runs_listing_by_status(store: Store) -> None:
    ids = [
        await store.create_run(a_run(status=s)) for s in ("queued", "pr_open", "merged", "pr_open")
    ]
    assert [r.id for r in await store.runs()] == ids[::-1]
    assert [r.id for r in await store.runs(status=["pr_open"])] == [ids[3], ids[1]]
    assert [r.id for r in await store.runs(status=("queued", "merged"))] == [ids[2], ids[0]]
    assert [r.id for r in await store.runs(limit=1)] == [ids[3]]
    assert await store.runs(status=[]) == []


async def test_audit_log(store: Store) -> None:
    entries = [
        AuditEntry(at=1.0, actor="prbot", action="commit", repo="acme/a", detail={"sha": "abc"}),
        AuditEntry(at=2.0, actor="alice", action="merge", repo="acme/b"),
        AuditEntry(at=3.0, actor="prbot", action="open_pr", repo="acme/a", detail={"n": 5}),
    ]
    for e in entries:
        await store.audit(e)
    assert await store.audit_log() == entries[::-1]
    assert await store.audit_log(repo="acme/a") == [entries[2], entries[0]]
    assert await store.audit_log(limit=1) == [entries[2]]


async def test_an_audit_line_written_once_is_not_written_twice(store: Store) -> None:
    """An action carried out again after a crash (the same decision, the same time)
    leaves one line; a different line is still written."""
    line = AuditEntry(at=5.0, actor="bob", action="approve", repo="acme/a", detail={"s": "prod"})
    await store.audit(line, once=True)
    await store.audit(line, once=True)
    assert await store.audit_log(repo="acme/a") == [line]
    other = AuditEntry(at=5.0, actor="bob", action="approve", repo="acme/a", detail={"s": "dev"})
    await store.audit(other, once=True)
    await store.audit(line)  # without once: appended, as before
    assert await store.audit_log(repo="acme/a") == [line, other, line]


async def test_deliveries_listing_newest_first(store: Store) -> None:
    for i in range(3):
        await store.record_delivery(delivery(f"d-{i}", at=float(i)), [], [])
    assert [d.delivery_id for d in await store.deliveries()] == ["d-2", "d-1", "d-0"]
    assert [d.delivery_id for d in await store.deliveries(limit=1)] == ["d-2"]


async def test_ping_and_closed_store(backend: Backend) -> None:
    await asyncio.wait_for(backend.make().close(), 5)  # never opened: nothing to do
    store = backend.make()
    with pytest.raises(StoreClosedError):
        await store.record_delivery(delivery("early"), [], [])
    assert await store.ping() is False
    await store.open()
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False
    with pytest.raises(StoreClosedError):
        await store.enqueue([], now=0)
    with pytest.raises(StoreClosedError):
        await store.jobs()
    # a closed store can be opened again; a double open is a bug
    await store.open()
    try:
        assert await store.ping() is True
        assert await store.record_delivery(delivery("later"), [], []) is True
        with pytest.raises(StoreError, match="open already"):
            await store.open()
    finally:
        await store.close()


async def test_close_finishes_queued_writes(backend: Backend) -> None:
    store = backend.make()
    await store.open()
    pending = [
        asyncio.ensure_future(store.record_delivery(delivery(f"d-{i}"), [], [])) for i in range(50)
    ]
    await asyncio.sleep(0)  # let them all submit
    await store.close()
    assert all(await asyncio.gather(*pending))
    async with backend.make() as again:
        assert len(await again.deliveries(limit=100)) == 50


async def test_full_synchronous_mode(db_path: Path) -> None:
    async with SqliteStore(db_path, synchronous="FULL") as store:
        assert await store.record_delivery(delivery("d"), [], []) is True
    with pytest.raises(ValueError):
        SqliteStore(db_path, synchronous="OFF")  # type: ignore[arg-type]


async def test_a_pr_event_finds_its_run_by_head_among_many_open_ones(
    store: Store, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prbot.engine import runs as handlers
    from prbot.events import PullRequestEvent

    # the run the event is about is the oldest of many open ones: a scan of the newest
    # open runs (bounded, as every scan must be) would never reach it
    monkeypatch.setattr(handlers, "MAX_RUNS_SCANNED", 10)
    target = await store.create_run(
        a_run(status="pr_open", head="prbot/bump/a", pr_number=7, repo="Acme/GitOps")
    )
    for i in range(30):
        await store.create_run(a_run(status="pr_open", head=f"prbot/other/{i}", pr_number=100 + i))
    event = PullRequestEvent(
        platform="github", repo="acme/gitops", action="merged", number=7, head="prbot/bump/a"
    )
    found = await handlers.matching_runs(store, event, ("pr_open",))
    assert [r.id for r in found] == [target]
    # and the lookup is an index search, not a walk over the runs
    query = (
        "SELECT id FROM runs WHERE status IN ('pr_open', 'queued', 'running') "
        "AND head = ? ORDER BY id DESC LIMIT 10"
    )
    if backend.kind == "postgres":
        plan = _pg_plan(backend, query)
    else:
        plan = backend.rows(f"EXPLAIN QUERY PLAN {query}", ("x",))
    assert any("runs_head" in str(step) for step in plan), plan


def _pg_plan(backend: Backend, query: str) -> list[tuple]:
    """PostgreSQL's plan as if the table were large (at 31 rows it rightly scans)."""
    with psycopg.connect(backend.url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        return conn.execute("EXPLAIN " + query.replace("?", "%s"), ("x",)).fetchall()
