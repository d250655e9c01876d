"""Benchmark: webhook intake (record_delivery) with group commit vs one commit per call.

Each call stores a delivery (a 30 KB body by default: a GitHub pull_request payload's
size), one event and one job, as the web edge does. "group commit" is SqliteStore (one
writer thread, many calls per transaction); "naive" is the obvious alternative in the
same process: plain sqlite3 on one thread, BEGIN/INSERTs/COMMIT per call, same schema,
same pragmas. Both are awaited from N concurrent asyncio submitters.

    .venv/bin/python bench/store.py [--calls 6000] [--submitters 1,8,32]
                                    [--synchronous normal,full] [--payload FILE] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prbot.events import PullRequestEvent  # noqa: E402
from prbot.store.base import Delivery, NewJob  # noqa: E402
from prbot.store.sqlite import SqliteStore  # noqa: E402

EVENT = PullRequestEvent(platform="github", repo="acme/infra", action="merged", number=7)


def deliveries(n: int, payload: bytes, prefix: str) -> list[Delivery]:
    return [Delivery("github", f"{prefix}-{i}", "pull_request", 1.0, payload) for i in range(n)]


async def drive(submitters: int, items: list[Delivery], call) -> float:
    """Run ``call`` over ``items`` from ``submitters`` concurrent tasks; seconds taken."""
    chunks = [items[i::submitters] for i in range(submitters)]

    async def submitter(chunk: list[Delivery]) -> None:
        for d in chunk:
            await call(d)

    start = time.perf_counter()
    await asyncio.gather(*(submitter(c) for c in chunks))
    return time.perf_counter() - start


async def group_commit(path: Path, sync: str, submitters: int, items: list[Delivery]):
    store = SqliteStore(path, synchronous=sync)  # type: ignore[arg-type]
    await store.open()
    try:
        before = store.commits

        async def call(d: Delivery) -> None:
            await store.record_delivery(d, [EVENT], [NewJob("event", {"id": d.delivery_id})])

        seconds = await drive(submitters, items, call)
        return seconds, store.commits - before
    finally:
        await store.close()


async def naive(path: Path, sync: str, submitters: int, items: list[Delivery]):
    # the schema comes from the store's migrations, so both write identical tables
    async with SqliteStore(path):
        pass
    pool = ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()
    conn: sqlite3.Connection = await loop.run_in_executor(
        pool, lambda: sqlite3.connect(path, isolation_level=None)
    )

    def setup() -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {sync}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")

    await loop.run_in_executor(pool, setup)

    def write(d: Delivery) -> bool:
        event = json.dumps(EVENT.to_dict())
        job = json.dumps({"id": d.delivery_id})
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO deliveries (platform, delivery_id, event, received_at, payload) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, delivery_id) DO NOTHING",
                (d.platform, d.delivery_id, d.event, d.received_at, d.payload),
            )
            if cur.rowcount:
                pk = cur.lastrowid
                conn.execute(
                    "INSERT INTO events (delivery, kind, data) VALUES (?, ?, ?)",
                    (pk, EVENT.kind, event),
                )
                conn.execute(
                    "INSERT INTO jobs (kind, payload, max_attempts, next_run_at, delivery, "
                    "created_at, updated_at) VALUES ('event', ?, 8, ?, ?, ?, ?)",
                    (job, d.received_at, pk, d.received_at, d.received_at),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return bool(cur.rowcount)

    async def call(d: Delivery) -> None:
        await loop.run_in_executor(pool, write, d)

    try:
        seconds = await drive(submitters, items, call)
        return seconds, len(items)
    finally:
        await loop.run_in_executor(pool, conn.close)
        pool.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6000, help="deliveries per measurement")
    parser.add_argument("--submitters", default="1,8,32")
    parser.add_argument("--synchronous", default="normal,full")
    parser.add_argument("--payload", type=Path, help="a webhook body to store (default 30 KB)")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead")
    args = parser.parse_args()

    payload = args.payload.read_bytes() if args.payload else b"x" * 30_000
    levels = [int(s) for s in args.submitters.split(",")]
    modes = [m.strip().upper() for m in args.synchronous.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for sync in modes:
            for n in levels:
                items = deliveries(args.calls, payload, f"{sync}-{n}")
                g_sec, g_commits = asyncio.run(
                    group_commit(Path(tmp, f"g-{sync}-{n}.db"), sync, n, items)
                )
                n_sec, _ = asyncio.run(naive(Path(tmp, f"n-{sync}-{n}.db"), sync, n, items))
                rows.append(
                    {
                        "synchronous": sync,
                        "submitters": n,
                        "calls": args.calls,
                        "group_per_s": args.calls / g_sec,
                        "group_commits": g_commits,
                        "naive_per_s": args.calls / n_sec,
                        "ratio": n_sec / g_sec,
                    }
                )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"record_delivery: {args.calls} calls, {len(payload):,} B payload, 1 event + 1 job each")
    print()
    header = ("sync", "submitters", "group commit/s", "commits", "naive/s", "ratio")
    print("{:<7} {:>10} {:>15} {:>8} {:>10} {:>7}".format(*header))
    for r in rows:
        print(
            f"{r['synchronous']:<7} {r['submitters']:>10} {r['group_per_s']:>15,.0f} "
            f"{r['group_commits']:>8,} {r['naive_per_s']:>10,.0f} {r['ratio']:>6.1f}x"
        )


if __name__ == "__main__":
    main()
