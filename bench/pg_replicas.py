"""PostgreSQL rows of ``bench/store.py``: intake and the job queue with 1 and 3 replicas.

A replica is a process of its own with its own ``PostgresStore`` (its pool), as each
``prbot serve`` replica is; every replica of a row starts at the same wall-clock moment
and the row's rate is all the work done divided by the time from the first start to the
last finish. The server is Debian's PostgreSQL started for the bench
(``tests/support/postgres.py``) with its durable defaults (fsync on,
``synchronous_commit=on``: a commit is flushed to disk before it returns; concurrent
commits share the flush), on 127.0.0.1. On a 2-core machine the replicas, the server and
the bench share the two cores: 3 replicas measure contention, not scale-out.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from prbot.events import PullRequestEvent
from prbot.store import open_store
from prbot.store.base import Delivery, Job, NewJob

EVENT = PullRequestEvent(platform="github", repo="acme/infra", action="merged", number=7)
START_DELAY = 1.5  # seconds for every replica process to start and open its store


def _intake(
    url: str, calls: int, submitters: int, payload: bytes, start_at: float
) -> tuple[float, float]:
    async def main() -> tuple[float, float]:
        items = [
            Delivery("github", str(uuid.uuid4()), "pull_request", 1.0, payload)
            for _ in range(calls)
        ]
        async with open_store(url) as store:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            chunks = [items[i::submitters] for i in range(submitters)]

            async def submitter(chunk: list[Delivery]) -> None:
                for d in chunk:
                    await store.record_delivery(d, [EVENT], [NewJob("event", EVENT.to_dict())])

            start = time.time()
            await asyncio.gather(*(submitter(c) for c in chunks))
            return start, time.time()

    return asyncio.run(main())


def _jobs(url: str, concurrency: int, seconds: float, start_at: float) -> tuple[float, float]:
    import logging

    from prbot.worker.pool import WorkerPool

    logging.disable(logging.INFO)  # the pool logs a line per job

    async def main() -> tuple[float, float]:
        async def noop(job: Job) -> None:
            pass

        async with open_store(url) as store:
            pool = WorkerPool(store, {"noop": noop}, concurrency=concurrency, poll_interval=0.05)
            await asyncio.sleep(max(0.0, start_at - time.time()))
            start = time.time()
            await pool.start()
            await asyncio.sleep(seconds)
            await pool.drain(timeout=10)
            return start, time.time()

    return asyncio.run(main())


def _run(fn: Any, replicas: int, *args: Any) -> float:
    """Run ``fn`` in ``replicas`` processes at once; seconds from first start to last end."""
    context = multiprocessing.get_context("spawn")  # no event loop or pool copied by fork
    with ProcessPoolExecutor(replicas, mp_context=context) as executor:
        start_at = time.time() + START_DELAY + replicas * 0.5
        spans = list(executor.map(fn, *([a] * replicas for a in (*args, start_at))))
    return max(end for _, end in spans) - min(start for start, _ in spans)


async def _count_done(url: str) -> int:
    async with open_store(url) as store:
        return (await store.queue_depth())["done"]


async def _fill(url: str, jobs: int) -> None:
    async with open_store(url) as store:
        for start in range(0, jobs, 5000):
            await store.enqueue(
                [NewJob("noop", {"i": i}) for i in range(start, min(jobs, start + 5000))], now=0
            )


def intake_rate(url: str, replicas: int, calls: int, submitters: int, payload: bytes) -> float:
    """Deliveries stored per second by ``replicas`` processes of ``submitters`` tasks."""
    seconds = _run(_intake, replicas, url, calls // replicas, submitters, payload)
    return (calls // replicas) * replicas / seconds


def jobs_rate(url: str, replicas: int, concurrency: int, seconds: float, backlog: int) -> float:
    """Jobs (no-op handler) completed per second by ``replicas`` WorkerPools."""
    asyncio.run(_fill(url, backlog))
    elapsed = _run(_jobs, replicas, url, concurrency, seconds)
    done = asyncio.run(_count_done(url))
    if done >= backlog:
        print(f"warning: the pools ran out of jobs ({backlog:,})", flush=True)
    return done / elapsed


def rows(server: Any, *, calls: int, submitters: int, payload: bytes, concurrency: int,
         seconds: float) -> list[dict[str, Any]]:  # fmt: skip
    """The PostgreSQL rows: intake and jobs at 1 and 3 replicas, each on a fresh database."""
    found = []
    for replicas in (1, 3):
        found.append(
            {
                "what": "record_delivery",
                "replicas": replicas,
                "per_s": intake_rate(
                    server.new_database("bench"), replicas, calls, submitters, payload
                ),
                "detail": f"{submitters} submitters per replica, {calls} calls in all",
            }
        )
    for replicas in (1, 3):
        found.append(
            {
                "what": "jobs",
                "replicas": replicas,
                "per_s": jobs_rate(
                    server.new_database("bench"),
                    replicas,
                    concurrency,
                    seconds,
                    backlog=int(6000 * seconds),
                ),
                "detail": f"WorkerPool concurrency {concurrency} per replica, no-op handler",
            }
        )
    return found
