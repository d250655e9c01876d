"""Benchmark: webhook intake (record_delivery) and the job queue, on the SQLite store.

Intake: each call stores a delivery (a 30 KB body by default: a GitHub pull_request
payload's size), one event and one job made from it, as the web edge does. "group commit"
is SqliteStore (one writer thread, many calls per transaction); "naive" is the obvious
alternative in the same process: plain sqlite3 on one thread, BEGIN/INSERTs/COMMIT per
call, same schema, same pragmas. Both are awaited from N concurrent asyncio submitters.
"writer µs" is the writer thread's CPU time per delivery. ``--job-keys per-event`` gives
each job the key the web edge used to set (``github:<delivery id>:0``).

Jobs: a WorkerPool with a no-op handler works through a queue of jobs, alone ("idle") and
while 32 submitters store deliveries as above ("under intake"); jobs completed per second.

PostgreSQL (``bench/pg_replicas.py``; ``--no-postgres`` skips it): the same intake (32
submitters per replica) and jobs (a WorkerPool per replica), with 1 and 3 replicas, each
a process of its own on one PostgreSQL server started for the bench, printed beside the
SQLite rows of the same run at the same submitters and concurrency. The 2 cores are
shared by the replicas, the server and the bench.

    .venv/bin/python bench/store.py [--calls 6000] [--submitters 1,8,32]
                                    [--synchronous normal,full] [--payload FILE]
                                    [--job-keys none|per-event] [--no-naive]
                                    [--prefill N] [--concurrency 4,16] [--seconds 3]
                                    [--no-postgres] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prbot.events import PullRequestEvent  # noqa: E402
from prbot.store.base import Delivery, Job, NewJob  # noqa: E402
from prbot.store.sqlite import SqliteStore  # noqa: E402
from prbot.worker.pool import WorkerPool  # noqa: E402

EVENT = PullRequestEvent(platform="github", repo="acme/infra", action="merged", number=7)


def deliveries(n: int, payload: bytes, prefix: str) -> list[Delivery]:
    # GUIDs, as X-GitHub-Delivery: their index entries land at random places, as in
    # production (sequential ids would all append to the same page)
    rng = random.Random(prefix)
    ids = (uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n))
    return [Delivery("github", str(i), "pull_request", 1.0, payload) for i in ids]


def intake_job(d: Delivery, keys: bool) -> NewJob:
    # what the web edge enqueues for an event: its dict as the payload
    key = f"{d.platform}:{d.delivery_id}:0" if keys else None
    return NewJob("event", EVENT.to_dict(), dedupe_key=key)


async def drive(submitters: int, items: list[Delivery], call) -> float:
    """Run ``call`` over ``items`` from ``submitters`` concurrent tasks; seconds taken."""
    chunks = [items[i::submitters] for i in range(submitters)]

    async def submitter(chunk: list[Delivery]) -> None:
        for d in chunk:
            await call(d)

    start = time.perf_counter()
    await asyncio.gather(*(submitter(c) for c in chunks))
    return time.perf_counter() - start


def writer_cpu(store: SqliteStore) -> float:
    """CPU seconds the store's writer thread has used so far."""
    thread = store._writer._thread
    assert thread is not None and thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def prefill(path: Path, n: int, keys: bool) -> None:
    """A database that has been running a while: ``n`` old deliveries (small bodies), their
    events and their jobs, done. Index inserts cost more in big B-trees than in new ones."""
    async with SqliteStore(path) as store:
        for start in range(0, n, 1000):
            old = deliveries(min(1000, n - start), b"{}", f"old-{start}")
            await asyncio.gather(
                *(store.record_delivery(d, [EVENT], [intake_job(d, keys)]) for d in old)
            )
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE jobs SET state = 'done', updated_at = 1")
    conn.close()


@contextlib.contextmanager
def database(template: Path | None, path: Path) -> Iterator[Path]:
    """The file for one row: a copy of ``template`` (or nothing yet), on a quiet disk, and
    deleted after the row. Left dirty, earlier rows' files would be written back during
    later rows and slow down their fsyncs (synchronous=FULL)."""
    if template is not None:
        shutil.copyfile(template, path)
    os.sync()
    try:
        yield path
    finally:
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            name.unlink(missing_ok=True)


async def group_commit(path: Path, sync: str, submitters: int, items: list[Delivery], keys: bool):
    store = SqliteStore(path, synchronous=sync)  # type: ignore[arg-type]
    await store.open()
    try:
        before, cpu = store.commits, writer_cpu(store)

        async def call(d: Delivery) -> None:
            await store.record_delivery(d, [EVENT], [intake_job(d, keys)])

        seconds = await drive(submitters, items, call)
        return seconds, store.commits - before, writer_cpu(store) - cpu
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
        job = json.dumps(EVENT.to_dict())
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO deliveries (platform, delivery_id, event, received_at, payload) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, delivery_id) DO NOTHING",
                (d.platform, d.delivery_id, d.event, d.received_at, d.payload),
            )
            if cur.rowcount:
                pk = cur.lastrowid
                job_id = conn.execute(
                    "INSERT INTO jobs (kind, payload, max_attempts, next_run_at, delivery, "
                    "created_at, updated_at) VALUES ('event', ?, 8, ?, ?, ?, ?)",
                    (job, d.received_at, pk, d.received_at, d.received_at),
                ).lastrowid
                conn.execute(
                    "INSERT INTO events (delivery, position, kind, job) VALUES (?, 0, ?, ?)",
                    (pk, EVENT.kind, job_id),
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


async def pool_jobs(
    path: Path, concurrency: int, seconds: float, payload: bytes, under_intake: bool
) -> dict[str, float]:
    """Jobs a WorkerPool completes per second (no-op handler), and intake/s beside it."""
    async with SqliteStore(path) as store:
        # more than the pool can finish in ``seconds``: it must never run dry
        backlog = int(30_000 * seconds)
        for _ in range(0, backlog, 5_000):
            await store.enqueue([NewJob("noop", {"i": i}) for i in range(5_000)], now=0)

        async def noop(job: Job) -> None:
            pass

        pool = WorkerPool(
            store, {"noop": noop, "event": noop}, concurrency=concurrency, poll_interval=0.05
        )
        stop = asyncio.Event()
        stored = 0

        async def submitter() -> None:
            nonlocal stored
            while not stop.is_set():
                d = Delivery("github", str(uuid.uuid4()), "pull_request", 1.0, payload)
                await store.record_delivery(d, [EVENT], [intake_job(d, False)])
                stored += 1

        load = [asyncio.create_task(submitter()) for _ in range(32 if under_intake else 0)]
        done_before = (await store.queue_depth())["done"]
        cpu = writer_cpu(store)
        start = time.perf_counter()
        await pool.start()
        await asyncio.sleep(seconds)
        await pool.drain(timeout=10)
        elapsed = time.perf_counter() - start
        stop.set()
        await asyncio.gather(*load)
        cpu = writer_cpu(store) - cpu
        done = (await store.queue_depth())["done"] - done_before
        if done >= backlog:
            print(f"warning: the pool ran out of jobs ({backlog:,})", file=sys.stderr)
    # writer CPU per job is for the idle rows: under intake it is mostly deliveries'
    return {
        "jobs_per_s": done / elapsed,
        "intake_per_s": stored / elapsed,
        "writer_us": cpu / max(done, 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6000, help="deliveries per measurement")
    parser.add_argument("--submitters", default="1,8,32")
    parser.add_argument("--synchronous", default="normal,full")
    parser.add_argument("--payload", type=Path, help="a webhook body to store (default 30 KB)")
    parser.add_argument("--job-keys", choices=("none", "per-event"), default="none")
    parser.add_argument("--prefill", type=int, default=0, help="old deliveries in each db")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive comparison")
    parser.add_argument("--concurrency", default="4,16", help="WorkerPool sizes ('' skips)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per WorkerPool row")
    parser.add_argument("--dir", type=Path, help="where the databases go (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead")
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip the PostgreSQL rows (1 and 3 replicas)"
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the pool logs a line per job

    payload = args.payload.read_bytes() if args.payload else b"x" * 30_000
    keys = args.job_keys == "per-event"
    levels = [int(s) for s in args.submitters.split(",") if s]
    modes = [m.strip().upper() for m in args.synchronous.split(",") if m.strip()]
    sizes = [int(s) for s in args.concurrency.split(",") if s]
    rows: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        template = Path(tmp, "template.db") if args.prefill else None
        if template is not None:
            asyncio.run(prefill(template, args.prefill, keys))
        for sync in modes:
            for n in levels:
                items = deliveries(args.calls, payload, f"{sync}-{n}")
                with database(template, Path(tmp, "group.db")) as path:
                    g_sec, g_commits, g_cpu = asyncio.run(group_commit(path, sync, n, items, keys))
                row = {
                    "synchronous": sync,
                    "submitters": n,
                    "calls": args.calls,
                    "group_per_s": args.calls / g_sec,
                    "group_commits": g_commits,
                    "writer_us": g_cpu / args.calls * 1e6,
                }
                if not args.no_naive:
                    with database(template, Path(tmp, "naive.db")) as path:
                        n_sec, _ = asyncio.run(naive(path, sync, n, items))
                    row |= {"naive_per_s": args.calls / n_sec, "ratio": n_sec / g_sec}
                rows.append(row)
        for size in sizes:
            for loaded in (False, True):
                with database(None, Path(tmp, "jobs.db")) as path:
                    result = asyncio.run(pool_jobs(path, size, args.seconds, payload, loaded))
                jobs.append({"concurrency": size, "under_intake": loaded, **result})
    postgres = [] if args.no_postgres else postgres_rows(args, payload, levels, sizes)
    if args.json:
        print(
            json.dumps(
                {"record_delivery": rows, "worker_pool": jobs, "postgres": postgres}, indent=2
            )
        )
        return
    print(
        f"record_delivery: {args.calls} calls, {len(payload):,} B payload, 1 event + 1 job "
        f"each, job keys: {args.job_keys}, {args.prefill:,} old deliveries in the database"
    )
    print()
    header = ("sync", "submitters", "group commit/s", "commits", "writer µs", "naive/s", "ratio")
    print("{:<7} {:>10} {:>15} {:>8} {:>10} {:>10} {:>7}".format(*header))
    for r in rows:
        naive_cols = f"{r['naive_per_s']:>10,.0f} {r['ratio']:>6.1f}x" if "naive_per_s" in r else ""
        print(
            f"{r['synchronous']:<7} {r['submitters']:>10} {r['group_per_s']:>15,.0f} "
            f"{r['group_commits']:>8,} {r['writer_us']:>10.0f} {naive_cols}"
        )
    if jobs:
        print()
        print(f"WorkerPool, no-op handler, {args.seconds:g} s per row (NORMAL)")
        print()
        header = ("concurrency", "load", "jobs/s", "writer µs/job", "intake/s")
        print("{:>11} {:>14} {:>8} {:>14} {:>9}".format(*header))
        for r in jobs:
            if r["under_intake"]:
                load, cpu, intake = "32 submitters", "", f"{r['intake_per_s']:>9,.0f}"
            else:
                load, cpu, intake = "idle", f"{r['writer_us']:.0f}", ""
            print(f"{r['concurrency']:>11} {load:>14} {r['jobs_per_s']:>8,.0f} {cpu:>14} {intake}")
    if postgres:
        print_postgres(postgres, rows, jobs)


def postgres_rows(
    args: argparse.Namespace, payload: bytes, levels: list[int], sizes: list[int]
) -> list[dict[str, Any]]:
    from bench import pg_replicas
    from tests.support.postgres import PostgresServer

    server = PostgresServer(durable=True).start()
    try:
        return pg_replicas.rows(
            server,
            calls=args.calls,
            submitters=max(levels),
            payload=payload,
            concurrency=max(sizes) if sizes else 16,
            seconds=args.seconds,
        )
    finally:
        server.stop()


def print_postgres(
    postgres: list[dict[str, Any]], rows: list[dict[str, Any]], jobs: list[dict[str, Any]]
) -> None:
    """The PostgreSQL rows, each beside the SQLite row of this run it compares with."""
    print()
    print(
        "PostgreSQL (fsync on, synchronous_commit=on), replicas = processes, 2 cores shared "
        "by the replicas, the server and the bench"
    )
    print()
    print(
        "{:<16} {:>8} {:>10} {:>14} {:>7}  {}".format(
            "", "replicas", "/s", "SQLite /s", "ratio", ""
        )
    )
    for r in postgres:
        if r["what"] == "record_delivery":
            same = [x for x in rows if x["submitters"] == max(y["submitters"] for y in rows)]
            base = {x["synchronous"]: x["group_per_s"] for x in same}
            # like for like: PostgreSQL flushes each commit, as SQLite's FULL does
            mode = "FULL" if "FULL" in base else next(iter(base), "")
            sqlite = base.get(mode, 0.0)
            label = f"{mode}, 1 process"
        else:
            idle = [x for x in jobs if not x["under_intake"]]
            sqlite = max(
                (
                    x["jobs_per_s"]
                    for x in idle
                    if x["concurrency"] == max(y["concurrency"] for y in idle)
                ),
                default=0.0,
            )
            label = "idle, 1 process"
        ratio = f"{r['per_s'] / sqlite:>6.2f}x" if sqlite else ""
        print(
            f"{r['what']:<16} {r['replicas']:>8} {r['per_s']:>10,.0f} {sqlite:>14,.0f} {ratio:>7}  "
            f"{r['detail']}; SQLite: {label}"
        )


if __name__ == "__main__":
    main()
