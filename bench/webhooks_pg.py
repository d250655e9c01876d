"""PostgreSQL rows of ``bench/webhooks.py``: ``prbot serve`` replicas on one PostgreSQL.

- ``prbot-pg-1``: one replica (PRBOT_WEB_PROCESSES=1), PRBOT_DATABASE_URL=postgresql://…;
  like-for-like with ``prbot-1`` (SQLite, one process).
- ``prbot-pg-3``: three replicas on three ports (one web process each), the same
  database; wrk runs three times at once, one per replica, with a third of the
  connections each (as a load balancer would spread them); the row sums their rates and
  takes the worst p99. Like-for-like with ``prbot`` only when that runs 3 processes.

The server is Debian's PostgreSQL started for the bench (``tests/support/postgres.py``),
durable (fsync on, ``synchronous_commit=on``: an answered delivery survives a power loss),
on 127.0.0.1; every row gets a fresh database. On this 2-core machine the replicas, the
PostgreSQL server and wrk all share the two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from bench import webhooks as wh

PG_ROWS = ("prbot-pg-1", "prbot-pg-3")
POWER_LOSS = "PG: power loss"


class Postgres:
    """The bench's PostgreSQL server, started on first use, stopped by ``stop()``."""

    def __init__(self) -> None:
        self._server: Any = None

    def database(self) -> str:
        if self._server is None:
            from tests.support.postgres import PostgresServer

            try:
                self._server = PostgresServer(durable=True).start()
            except Exception as exc:  # the binaries missing, the port taken...
                raise wh.BenchError(f"cannot start PostgreSQL: {exc}") from None
        return self._server.new_database("bench")

    def pid(self) -> int | None:
        return None if self._server is None else self._server.pid()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def servers(name: str, url: str, workers: str | None, level: str | None) -> list[wh.Server]:
    count = 3 if name == "prbot-pg-3" else 1
    found = []
    for i in range(count):
        port = wh.free_port()
        extra = {
            "WEBHOOK_SECRET": wh.SECRET,
            "PRBOT_DATABASE_URL": url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PRBOT_WEB_PROCESSES": "1",
        }
        if workers is not None:
            extra["PRBOT_WORKERS"] = workers
        if level is not None:
            extra["LOG_LEVEL"] = level
        note = (
            f"{count} replica(s) of prbot serve, PRBOT_WEB_PROCESSES=1 each, "
            f"PRBOT_WORKERS={workers or 'unset'}, one PostgreSQL database (durable defaults), "
            "wrk spread over the replicas"
        )
        found.append(
            wh.Server(
                f"{name}#{i}",
                [*wh.prbot_command(), "serve"],
                wh.base_env(**extra),
                port,
                "/webhooks/github",
                cwd=wh.ROOT,
                note=note,
                durability=POWER_LOSS,
            )
        )
    return found


@contextlib.contextmanager
def all_running(
    group: list[wh.Server], workdir: Path, body: bytes, signature: str
) -> Iterator[list[wh.Server]]:
    with contextlib.ExitStack() as stack:
        for server in group:
            stack.enter_context(wh.running(server, workdir, body, signature))
        yield group


def measure(
    name: str,
    group: list[wh.Server],
    wrk: str,
    args: argparse.Namespace,
    payload: Path,
    signature: str,
    run_id: str,
    database_pid: int | None,
) -> tuple[list[wh.Row], list[str]]:
    """One row per connection count: wrk against every replica at once. The server's CPU
    is the replicas' and the PostgreSQL server's (its backends are its children)."""
    rows: list[wh.Row] = []
    prefixes: list[str] = []

    def run_all(conns: int, seconds: float, tag: str) -> list[wh.WrkResult]:
        share = max(1, conns // len(group))
        with ThreadPoolExecutor(len(group)) as pool:
            futures = []
            for i, server in enumerate(group):
                prefix = f"{run_id}-{name}-{tag}-r{i}"
                prefixes.append(prefix)
                futures.append(
                    pool.submit(
                        wh.run_wrk,
                        wrk,
                        server.url,
                        connections=share,
                        seconds=seconds,
                        body=payload,
                        signature=signature,
                        prefix=prefix,
                    )
                )
            return [f.result() for f in futures]

    if args.warmup > 0:
        wh.log(f"{name}: warm-up {args.warmup:g} s")
        run_all(max(args.connections), args.warmup, "w")
    for conns in args.connections:
        os.sync()
        wh.log(f"{name}: {args.duration:g} s at {conns} connections over {len(group)} replica(s)")
        pids = [s.proc.pid if s.proc else None for s in group] + [database_pid]
        before = [wh.cpu_snap(pid) for pid in pids]
        results = run_all(conns, args.duration, f"c{conns}")
        after = [wh.cpu_snap(pid) for pid in pids]
        used = [wh.cpu_used(a, b) for a, b in zip(before, after, strict=True)]
        for server in group:
            if server.proc is not None and server.proc.poll() is not None:
                raise wh.BenchError(f"{server.name} died during the run:\n{server.log_tail()}")
        rows.append(
            wh.Row(
                name,
                conns,
                sum(r.rps for r in results),
                max(r.p50_ms for r in results),
                max(r.p99_ms for r in results),
                sum(r.non_2xx for r in results),
                sum(r.socket_errors for r in results),
                sum(r.requests for r in results),
                sum(r.sent for r in results),
                server_cores=round(sum(u["server_cores"] for u in used), 2),
                # wrk's and the others' CPU are machine-wide: the same in every snapshot
                wrk_cores=used[0]["wrk_cores"],
                other_cores=round(
                    max(0.0, used[0]["other_cores"] - sum(u["server_cores"] for u in used[1:])), 2
                ),
                processes=len(group),
                durability=POWER_LOSS,
                extra={"prefixes": prefixes[-len(group) :]},
            )
        )
    return rows, prefixes


def count_stored(url: str, prefixes: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Deliveries stored per wrk prefix, and jobs by state, from the PostgreSQL database."""
    with psycopg.connect(url, autocommit=True) as conn:
        stored = {
            p: conn.execute(
                "SELECT count(*) FROM deliveries WHERE delivery_id LIKE %s", (p + "-%",)
            ).fetchone()[0]  # type: ignore[index]
            for p in prefixes
        }
        jobs = dict(conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    return stored, jobs
