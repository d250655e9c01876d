"""PRBOT_WEB_PROCESSES: several `prbot serve` processes on one port, one store, one set
of metrics. Real processes, real SQLite on disk, real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from prbot import metrics
from prbot.store.base import Delivery
from prbot.store.sqlite import SqliteStore
from tests.fixtures import WEBHOOKS
from tests.test_e2e_serve import free_port

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = WEBHOOKS / "github" / "pull_request.closed.merged.json"
SECRET = "web-processes-secret-1234"


def signed(body: bytes, delivery_id: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


class Serve:
    """`prbot serve` with PRBOT_WEB_PROCESSES=2, JSON logs to a file."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.log_path = tmp / "serve.log"
        self.db = tmp / "data" / "prbot.db"
        env = {
            "PATH": os.environ["PATH"],
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEBHOOK_SECRET": SECRET,
            "PRBOT_DATA_DIR": str(tmp / "data"),
            "PRBOT_AUTOMATIONS_DIR": str(ROOT / "automations"),
            "PRBOT_WEB_PROCESSES": "2",
            "PRBOT_WORKERS": "1",
            "PRBOT_RECONCILE_SECONDS": "0",
            "LOG_FORMAT": "json",
        }
        self.log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prbot", "serve"],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )

    def lines(self) -> list[dict]:
        return [json.loads(x) for x in self.log_path.read_text().splitlines() if x.startswith("{")]

    def listening_pids(self) -> set[int]:
        return {x["pid"] for x in self.lines() if x["message"] == "listening"}

    def wait_listening(self, count: int, timeout: float = 20.0) -> set[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()
            if len(pids := self.listening_pids()) >= count:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"not {count} listening processes:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.log_file.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for a parent that was killed)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(x for x in status.splitlines() if x.startswith("State:"))
    return "zombie" not in state and "(Z)" not in state


def delivery_rows(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT delivery_id FROM deliveries")]
    finally:
        conn.close()


async def test_two_processes_share_the_port_the_store_and_the_metrics(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    try:
        pids = serve.wait_listening(2)
        assert serve.proc.pid in pids
        body = FIXTURE.read_bytes()
        url = f"http://127.0.0.1:{serve.port}/webhooks/github"
        ids = [f"wp-{i}" for i in range(120)]
        # 20 redeliveries, on connections of their own: most land on the other process
        sends = ids + ids[:20]
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each: spread
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            sem = asyncio.Semaphore(16)

            async def send(delivery_id: str) -> tuple[str, int, str]:
                async with sem:
                    r = await client.post(url, content=body, headers=signed(body, delivery_id))
                    return delivery_id, r.status_code, r.json()["status"]

            first = await asyncio.gather(*(send(i) for i in ids))
            again = await asyncio.gather(*(send(i) for i in sends[len(ids) :]))
            metrics_pages = [
                (await client.get(f"http://127.0.0.1:{serve.port}/metrics")).text for _ in range(6)
            ]
        assert {(s, o) for _, s, o in first} == {(202, "accepted")}
        # dedupe holds across processes: one store decides
        assert {(s, o) for _, s, o in again} == {(200, "duplicate")}
        # both processes took deliveries (each logs its pid on its lines)
        served_by = {x["pid"] for x in serve.lines() if x["message"] == "delivery accepted"}
        assert served_by == pids
        # whichever process answers /metrics counts every process's deliveries
        for page in metrics_pages:
            assert (
                'prbot_webhook_deliveries_total{event="pull_request",outcome="accepted",'
                'platform="github"} 120.0'
            ) in page
            assert (
                'prbot_webhook_deliveries_total{event="pull_request",outcome="duplicate",'
                'platform="github"} 20.0'
            ) in page
    finally:
        code = serve.stop()
    assert code == 0
    assert SECRET not in serve.log_path.read_text()  # children inherit it, never log it
    assert sorted(delivery_rows(serve.db)) == sorted(ids)
    # every process stopped with the parent
    assert not any(alive(pid) for pid in pids)


async def test_a_child_that_dies_is_restarted_and_children_follow_a_killed_parent(
    tmp_path: Path,
) -> None:
    serve = Serve(tmp_path)
    try:
        pids = serve.wait_listening(2)
        [child] = pids - {serve.proc.pid}
        os.kill(child, signal.SIGKILL)
        new = serve.wait_listening(3) - pids
        [replacement] = new
        assert alive(replacement)
        assert any("exited with" in x["message"] for x in serve.lines())
        # the parent dies without a word: its children notice the closed pipe and stop
        serve.kill()
        deadline = time.monotonic() + 10
        while alive(replacement) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(replacement)
        # its metrics folder outlived it; the next parent's start removes it
        parent = serve.proc.pid
        stale = list(Path(tempfile.gettempdir()).glob(f"prbot-metrics-{parent}-*"))
        assert stale
        fresh = metrics.make_multiprocess_dir()
        try:
            assert not any(d.exists() for d in stale)
        finally:
            shutil.rmtree(fresh)
    finally:
        if serve.proc.poll() is None:
            serve.kill()


async def test_two_stores_on_one_file_take_turns_without_busy_errors(tmp_path: Path) -> None:
    # two writers on one database, as two web processes have: the writer's file lock
    # makes them wait their turn in the kernel. With SQLite's busy wait off, a writer
    # that found the other's transaction open would fail with "database is locked"
    db = tmp_path / "shared.db"
    body = b"x" * 30_000
    async with SqliteStore(db, busy_timeout=0) as one, SqliteStore(db, busy_timeout=0) as two:

        async def store(s: SqliteStore, i: int) -> bool:
            return await s.record_delivery(Delivery("github", f"d-{i}", "push", 1.0, body), [], [])

        # every id twice, once through each store: exactly one of each pair is new
        results = await asyncio.gather(*(store(s, i) for i in range(300) for s in (one, two)))
    assert sum(results) == 300
    assert len(delivery_rows(db)) == 300
