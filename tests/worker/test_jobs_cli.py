"""``prbot jobs``: the table, dead letters, show, retry; the store found as serve finds it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prbot.cli import main
from prbot.settings import database_url
from prbot.store import open_store
from prbot.store.base import NewJob
from prbot.worker.cli import format_table


async def _fill(url: str) -> None:
    store = open_store(url)
    await store.open()
    try:
        await store.enqueue(
            [
                NewJob("event", {"kind": "push"}, dedupe_key="d1"),
                NewJob("automation.run", {"run_id": 7}, dedupe_key="d2", max_attempts=1),
                NewJob("automation.run", {"run_id": 8}, dedupe_key="d3", run_at=4e9),
            ],
            now=1000,
        )
        [job] = await store.claim("w", limit=1, lease=60, now=1000)
        await store.complete(job.id, "w", now=1001)
        [job] = await store.claim("w", limit=1, lease=60, now=1002)
        await store.fail(
            job.id, "w", error="ScmNotConfigured: GitHub is not configured", retry_at=None, now=1003
        )
    finally:
        await store.close()


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'prbot.db'}"
    asyncio.run(_fill(url))
    return url


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_dead_show_and_retry(url: str, capsys) -> None:
    code, out, _ = run(capsys, "jobs", "--database-url", url)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATE", "ATTEMPTS", "NEXT", "RUN", "LAST", "ERROR"]
    assert len(lines) == 4
    assert "ScmNotConfigured: GitHub is not configured" in out

    code, out, _ = run(capsys, "jobs", "--database-url", url, "dead")
    assert code == 0 and len(out.splitlines()) == 2
    assert out.splitlines()[1].split()[:4] == ["2", "automation.run", "dead", "1/1"]

    code, out, _ = run(capsys, "jobs", "--database-url", url, "--state", "queued")
    assert "in " in out.splitlines()[1]  # due in the future

    code, out, _ = run(capsys, "jobs", "--database-url", url, "show", "2")
    assert code == 0
    assert "Last error: ScmNotConfigured" in out and '"run_id": 7' in out

    code, out, _ = run(capsys, "jobs", "--database-url", url, "retry", "2")
    assert (code, out.strip()) == (0, "job 2 (automation.run) queued again")
    code, out, _ = run(capsys, "jobs", "--database-url", url, "dead")
    assert out.strip() == "no jobs"

    code, _, err = run(capsys, "jobs", "--database-url", url, "retry", "3")
    assert code == 2 and "job 3 is queued; only dead or done jobs can be retried" in err
    code, _, err = run(capsys, "jobs", "--database-url", url, "show", "99")
    assert code == 2 and "no job 99" in err


def test_a_missing_database_is_not_created(tmp_path: Path, capsys) -> None:
    url = f"sqlite:{tmp_path / 'nope.db'}"
    code, _, err = run(capsys, "jobs", "--database-url", url)
    assert code == 2 and "no store at" in err
    assert not (tmp_path / "nope.db").exists()


def test_database_url_resolves_like_settings(tmp_path: Path) -> None:
    assert database_url({}) == "sqlite:.prbot-data/prbot.db"
    assert database_url({"PRBOT_DATA_DIR": "/var/lib/prbot"}) == "sqlite:/var/lib/prbot/prbot.db"
    assert database_url({"PRBOT_DATABASE_URL": "sqlite:///x.db", "PRBOT_DATA_DIR": "/y"}) == (
        "sqlite:///x.db"
    )
    config = tmp_path / "prbot.yaml"
    config.write_text("PRBOT_DATA_DIR: /from/config\n")
    assert database_url({"PRBOT_CONFIG": str(config)}) == "sqlite:/from/config/prbot.db"

    from prbot.settings import load_settings

    env = {"PRBOT_DATA_DIR": "/srv/p", "WEBHOOK_SECRET": "jobs-cli-secret"}
    assert load_settings(env).database_url == database_url(env)


def test_format_table_cuts_long_errors() -> None:
    from prbot.store.base import Job

    job = Job(1, "event", {}, "dead", 8, 8, 0.0, last_error="x" * 500)
    line = format_table([job], now=0).splitlines()[1]
    assert line.endswith("…") and len(line) < 120
