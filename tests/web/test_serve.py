"""``prbot serve``: --help lists every variable, misconfiguration exits 2 naming the
variable, and a real process serves webhooks and stops cleanly on SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from prbot.cli import main
from prbot.settings import VARIABLES
from prbot.store import open_store
from tests.support.serve import free_port

from .conftest import GH_SECRET, fixture_named, github_headers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in VARIABLES:
        monkeypatch.delenv(var.name, raising=False)
    return monkeypatch


def test_help_lists_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for var in VARIABLES:
        assert var.name in out, var.name
    assert "--config" in out and "WEBHOOK_SECRET_PREVIOUS" in out


def test_misconfiguration_exits_2_naming_the_variable(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("WEBHOOK_SECRET", "serve-test-secret")
    clean_env.setenv("PRBOT_WORKERS", "many")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prbot: PRBOT_WORKERS: must be an integer")


def test_no_secret_exits_2(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 2
    assert "prbot: WEBHOOK_SECRET: no webhook secret configured" in capsys.readouterr().err


def test_config_file_option(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "prbot.toml"
    path.write_text('WEBHOOK_SECRET = "serve-test-secret"\nPORT = "nope"\n')
    assert main(["serve", "--config", str(path)]) == 2
    assert "prbot: PORT: must be an integer" in capsys.readouterr().err


async def test_real_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {var.name for var in VARIABLES}} | {
        "WEBHOOK_SECRET": GH_SECRET,
        "GITHUB_TOKEN": "ghp_" + "z" * 36,
        "PRBOT_DATA_DIR": str(tmp_path / "data"),
        "PRBOT_AUTOMATIONS_DIR": str(ROOT / "automations"),
        "PRBOT_RECONCILE_SECONDS": "0",
        "LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "prbot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                await asyncio.sleep(0.05)
            else:
                pytest.fail("prbot serve did not become ready")
            ping = fixture_named("github/ping")
            async with http.post(
                f"{base}/webhooks/github",
                data=ping.body,
                headers=github_headers("ping", ping.body, "serve-1"),
            ) as resp:
                assert (resp.status, await resp.json()) == (200, {"status": "ignored"})
            async with http.post(f"{base}/webhooks/gitlab", data=b"{}") as resp:
                assert resp.status == 404  # no GitLab secret: no GitLab route
            async with http.get(f"{base}/metrics") as resp:
                assert "prbot_webhook_deliveries_total" in await resp.text()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, stderr
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    messages = [r["message"] for r in records]
    assert "listening" in messages and "stopped" in messages
    assert any(r.get("delivery_id") == "serve-1" and r.get("outcome") == "ignored" for r in records)
    assert GH_SECRET not in stderr and "z" * 36 not in stderr

    store = open_store(f"sqlite:{tmp_path / 'data' / 'prbot.db'}")
    await store.open()
    try:
        assert [d.delivery_id for d in await store.deliveries()] == ["serve-1"]
    finally:
        await store.close()


async def _wait(check, what: str, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_intake_only_process_beside_a_worker_process(tmp_path: Path) -> None:
    """PRBOT_WORKERS=0: the process takes webhooks and is ready without workers; its jobs
    wait in the shared SQLite file until a `prbot serve` with workers runs them."""
    from prbot.serve import serve
    from prbot.settings import Secret, Settings

    common = {
        "webhook_secrets": (Secret(GH_SECRET),),
        "database_url": f"sqlite:{tmp_path / 'prbot.db'}",
        "automations_dir": ROOT / "automations",
        "reconcile_seconds": 0.0,
    }
    intake_port, worker_port = free_port(), free_port()
    stop_intake, stop_worker = asyncio.Event(), asyncio.Event()
    intake = asyncio.create_task(
        serve(Settings(**common, workers=0), host="127.0.0.1", port=intake_port, stop=stop_intake)
    )
    worker: asyncio.Task[int] | None = None
    store = open_store(str(common["database_url"]))
    await store.open()
    try:
        async with aiohttp.ClientSession() as http:

            async def ready(port: int) -> dict[str, object] | None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                        return await resp.json() if resp.status == 200 else None
                except aiohttp.ClientConnectionError:
                    return None

            assert await _wait(lambda: ready(intake_port), "intake ready") == {"status": "ready"}
            fx = fixture_named("github/pull_request.opened")
            async with http.post(
                f"http://127.0.0.1:{intake_port}/webhooks/github",
                data=fx.body,
                headers=github_headers(fx.event, fx.body, "split-1"),
            ) as resp:
                assert (resp.status, await resp.json()) == (
                    202,
                    {"status": "accepted", "events": 1},
                )
            await asyncio.sleep(0.7)  # longer than a pool's poll: nobody here runs jobs
            assert [j.state for j in await store.jobs()] == ["queued"]

            worker = asyncio.create_task(
                serve(
                    Settings(**common, workers=1),
                    host="127.0.0.1",
                    port=worker_port,
                    stop=stop_worker,
                )
            )

            async def done() -> bool:
                return [j.state for j in await store.jobs()] == ["done"]

            await _wait(done, "the worker process to run the job")
    finally:
        stop_intake.set()
        stop_worker.set()
        codes = await asyncio.gather(intake, *([worker] if worker else []))
        await store.close()
    assert codes == [0, 0]
