"""``prbot db copy``: a SQLite installation moved into PostgreSQL with nothing lost (ids,
bodies, jobs in every state, runs, promotions, audit), counts checked; a target holding
prbot data is refused unless ``--replace``; and the copied installation carries on: a
promotion in flight when prbot stopped completes on PostgreSQL, one PR per stage."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from prbot.events import PullRequestEvent
from prbot.store import open_store
from prbot.store.base import AuditEntry, Delivery, NewJob, Run
from prbot.store.sqlite import SqliteStore
from tests.support.forge import ForgeRepo
from tests.support.postgres import PostgresServer, postgres_server_fixture  # noqa: F401
from tests.support.promotions import STAGES, PromotionsApi, repo_files, serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/gitops"
TOKEN = "copy-forge-token-5678"
SECRET = "copy-webhook-secret-1234"
API_TOKEN = "copy-internal-api-token"
SLOW = {"timeout": 30.0, "every": 0.1}


def prbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prbot.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def populate(path: Path) -> None:
    """A SQLite installation with a bit of everything."""
    async with SqliteStore(path) as store:
        for i in range(30):
            body = f'{{"n": {i}, "pad": "{"x" * (i * 100)}"}}'.encode()
            event = PullRequestEvent(platform="github", repo=REPO, action="merged", number=i)
            await store.record_delivery(
                Delivery("github", f"d-{i}", "pull_request", 10.0 + i, body),
                [event],
                [NewJob("event", event.to_dict())],
            )
        await store.enqueue([NewJob("later", {"k": 1}, dedupe_key="later:1", run_at=1e9)], now=50)
        [done, dead, leased, *_] = await store.claim("w", limit=10, lease=60, now=60)
        await store.complete(done.id, "w", now=61)
        await store.fail(dead.id, "w", error="boom", retry_at=None, now=61)
        run_id = await store.create_run(
            Run(0, "bump", REPO, "github", "alice", {"tag": "1"}, "pr_open", "prbot/b", 4, "u", "")
        )
        await store.update_run(run_id, now=70, status="merged")
        pid = await store.create_promotion(
            pipeline="app",
            repo="Acme/GitOps",
            platform="github",
            requested_by="alice",
            status="running",
            data={"stages": ["dev"]},
            now=80,
            request_key="command:x",
        )
        await store.save_promotion(
            pid, status="held", data={"held": True}, expected_version=1, now=81
        )
        await store.audit(AuditEntry(90.0, "alice", "merge", REPO, {"n": 4}))
        assert leased.state == "running"


async def snapshot(url: str) -> dict[str, object]:
    """Everything the store's API shows, to compare two stores."""
    async with open_store(url) as store:
        return {
            "deliveries": await store.deliveries(limit=1000),
            "jobs": await store.jobs(limit=1000),
            "runs": await store.runs(limit=1000),
            "promotions": await store.promotions(limit=1000),
            "audit": await store.audit_log(limit=1000),
            "depth": await store.queue_depth(),
            "by_key": await store.promotion_by_key("command:x"),
            "job_by_key": await store.job_by_key("later:1"),
            "events": [await store.delivery_events("github", f"d-{i}") for i in range(30)],  # type: ignore[attr-defined]
        }


def test_a_populated_store_is_copied_whole_and_a_full_target_is_refused(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    source = tmp_path / "prbot.db"
    asyncio.run(populate(source))
    # trust authentication takes any password: the one given must still never be printed
    target = postgres_server.new_database().replace("prbot@", "prbot:pg-s3cret-pw@")

    copied = prbot("db", "copy", "--from", f"sqlite:{source}", "--to", target)
    assert copied.returncode == 0, copied.stderr
    assert "counts checked: 30 deliveries, 31 jobs, 30 events, 1 runs, 1 promotions, 1 audit" in (
        copied.stdout
    )
    before = asyncio.run(snapshot(f"sqlite:{source}"))
    after = asyncio.run(snapshot(target))
    assert after == before  # ids, bodies, states, leases, keys, versions: all the same
    assert after["depth"] == {"queued": 21, "running": 8, "done": 1, "dead": 1}

    # a second copy into the now full target changes nothing
    refused = prbot("db", "copy", "--from", f"sqlite:{source}", "--to", target)
    assert refused.returncode == 2
    assert "holds prbot data already (30 deliveries, 31 jobs" in refused.stderr
    assert "--replace" in refused.stderr
    assert asyncio.run(snapshot(target)) == before
    replaced = prbot("db", "copy", "--from", f"sqlite:{source}", "--to", target, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert asyncio.run(snapshot(target)) == before
    for answer in (copied, refused, replaced):
        assert "pg-s3cret-pw" not in answer.stdout + answer.stderr

    async def new_rows_get_new_ids() -> None:
        async with open_store(target) as store:
            [job_id] = await store.enqueue([NewJob("t", {})], now=100)
            assert job_id == 32
            assert await store.record_delivery(Delivery("github", "d-99", "push", 1, b"x"), [], [])

    asyncio.run(new_rows_get_new_ids())


def test_the_target_must_be_postgresql_and_the_source_must_exist(tmp_path: Path) -> None:
    answer = prbot(
        "db", "copy", "--from", f"sqlite:{tmp_path}/a.db", "--to", f"sqlite:{tmp_path}/b.db"
    )
    assert answer.returncode == 2
    assert "the target must be a PostgreSQL URL" in answer.stderr
    answer = prbot("db", "copy", "--from", "mysql://u:pw-zz9@h/db", "--to", "postgresql://h/db")
    assert answer.returncode == 2 and "unsupported store URL scheme 'mysql'" in answer.stderr
    assert "pw-zz9" not in answer.stderr


def test_db_migrate_creates_then_finds_the_schema(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    first = prbot("db", "migrate", "--database-url", url)
    assert first.returncode == 0 and "schema created" in first.stdout, first.stderr
    again = prbot("db", "migrate", "--database-url", url)
    assert again.returncode == 0 and "schema up to date" in again.stdout, again.stderr
    bad = prbot("db", "migrate", "--database-url", "postgresql://h/db?pool_size=none")
    assert bad.returncode == 2 and "pool_size must be a whole number" in bad.stderr


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


async def test_a_promotion_in_flight_completes_after_the_move_to_postgresql(
    tmp_path: Path, forge_repo: ForgeRepo, postgres_server: PostgresServer
) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = serve_env(forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API_TOKEN)
    sqlite_db = tmp_path / "data" / "prbot.db"
    target = postgres_server.new_database()

    async def merge_and_report(api: PromotionsApi, pid: int, index: int) -> None:
        async def opened() -> dict | None:
            return (await api.get(pid))["stages"][index]["pr"]

        pr = await wait_for(opened, **SLOW, what=f"stage {index}'s PR")
        merged = await forge.merge_pull_request(REPO, pr["number"], actor="alice")

        async def taken_in() -> bool:
            return (await api.get(pid))["stages"][index]["status"] in ("merged", "verifying")

        await wait_for(taken_in, **SLOW, what=f"stage {index} merged")
        await forge.post_status(
            REPO, merged.merge_commit_sha, "success", creator="flux", context="ci/deploy"
        )

    # on SQLite: dev merges and reports healthy, staging's PR opens; then prbot stops
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO)
        pid = (await api.start("2.0.0"))["id"]
        await merge_and_report(api, pid, 0)

        async def staging_open() -> bool:
            return (await api.get(pid))["stages"][1]["status"] == "pr_open"

        await wait_for(staging_open, **SLOW, what="staging's PR")
    assert served.exit_code == 0, served.output()[-3000:]

    copied = prbot("db", "copy", "--from", f"sqlite:{sqlite_db}", "--to", target)
    assert copied.returncode == 0, copied.stderr

    # on PostgreSQL, the same port and hooks: staging and prod go through
    (tmp_path / "pg").mkdir()
    async with (
        serve_process(tmp_path / "pg", {**env, "PRBOT_DATABASE_URL": target}, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO)
        assert (await api.get(pid))["stages"][0]["status"] == "succeeded"
        await merge_and_report(api, pid, 1)
        await merge_and_report(api, pid, 2)

        async def succeeded() -> dict | None:
            found = await api.get(pid)
            return found if found["status"] == "succeeded" else None

        done = await wait_for(succeeded, **SLOW, what="the promotion to succeed")
        assert [s["status"] for s in done["stages"]] == ["succeeded"] * 3
    assert served.exit_code == 0, served.output()[-3000:]
    prs = [p for p in forge.pull_requests(REPO, state="all") if p.head.startswith("prbot/promote/")]
    assert sorted(p.head for p in prs) == sorted(f"prbot/promote/app/{pid}/{s}" for s in STAGES)
    assert all(p.state == "merged" for p in prs)


async def test_a_count_that_differs_rolls_the_whole_copy_back(
    tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prbot.store import copy as store_copy

    source = tmp_path / "prbot.db"
    await populate(source)
    target = postgres_server.new_database()
    whole = store_copy._SqliteSource.rows

    def one_row_short(self: store_copy._SqliteSource, table: str) -> Any:
        batches = list(whole(self, table))
        if table == "events":  # a row lost on the way: the counts must catch it
            batches[-1] = batches[-1][:-1]
        yield from batches

    monkeypatch.setattr(store_copy._SqliteSource, "rows", one_row_short)
    with pytest.raises(store_copy.CopyError, match=r"^events: 30 rows in the source but 29 "):
        await store_copy.copy_store(f"sqlite:{source}", target)
    async with open_store(target) as store:  # nothing at all was kept
        assert await store.queue_depth() == {"queued": 0, "running": 0, "done": 0, "dead": 0}
        assert await store.runs() == [] and await store.promotions() == []
