"""Named locks across processes (``Store.lock``, ``Store.hold``), on both backends: one
holder at a time, a dead holder's lock passes on, and the reconciler runs on one replica
at a time with failover."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from prbot.settings import Settings
from prbot.store.base import Store
from prbot.store.sqlite import SqliteStore
from prbot.worker.reconciler import Reconciler
from tests.support.waiting import wait_for

from .helpers import Backend

ROOT = Path(__file__).resolve().parents[2]


async def test_a_lock_has_one_holder_at_a_time_across_stores(backend: Backend) -> None:
    async with backend.make() as a, backend.make() as b:
        inside: list[str] = []
        overlaps: list[tuple[str, ...]] = []

        async def work(store: Store, name: str) -> None:
            for _ in range(5):
                async with store.lock("promotion:7"):
                    inside.append(name)
                    if len(inside) > 1:
                        overlaps.append(tuple(inside))
                    await asyncio.sleep(0.005)
                    inside.remove(name)

        await asyncio.wait_for(
            asyncio.gather(
                *(work(s, f"{n}{i}") for i in range(3) for n, s in (("a", a), ("b", b)))
            ),
            30,
        )
        assert overlaps == []
        # another name is another lock: held together
        async with a.lock("promotion:7"), asyncio.timeout(5), b.lock("promotion:8"):
            pass


async def test_a_held_lock_is_refused_to_others_until_released(backend: Backend) -> None:
    async with backend.make() as a, backend.make() as b:
        held = await a.hold("reconciler")
        assert held is not None and await held.alive()
        assert await b.hold("reconciler") is None
        other = await b.hold("something-else")
        assert other is not None
        await held.release()
        assert await held.alive() is False
        again = await b.hold("reconciler")
        assert again is not None
        await again.release()
        await other.release()


HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from prbot.store import open_store

    async def main(url):
        store = open_store(url)
        await store.open()
        held = await store.hold("reconciler")
        print("held" if held else "refused", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_the_lock_of_a_killed_process_passes_to_the_next(backend: Backend) -> None:
    async with backend.make():  # the schema first, so the holder does not race to make it
        pass
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, backend.url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert line.strip() == "held"
        async with backend.make() as store:
            assert await store.hold("reconciler") is None
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

            async def taken() -> object:
                return await store.hold("reconciler")

            held = await wait_for(taken, timeout=10, every=0.1, what="the lock after the kill")
            await held.release()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


async def test_one_reconciler_runs_and_another_takes_over_when_it_stops(
    backend: Backend,
) -> None:
    settings = dataclasses.replace(Settings(), retention_days=0, reconcile_seconds=0.05)
    async with backend.make() as a, backend.make() as b:
        first = Reconciler(a, settings, scm_for=_no_scm)
        second = Reconciler(b, settings, scm_for=_no_scm)
        await first.start()
        await wait_for(lambda: first.passes >= 1, timeout=10, what="the first reconciler's pass")
        await second.start()
        await asyncio.sleep(0.3)  # several intervals: the second only tries and waits
        assert first.leading and not second.leading
        assert second.passes == 0
        await first.stop()  # its replica goes away: the lock with it
        await wait_for(lambda: second.passes >= 1, timeout=10, what="the takeover")
        assert second.leading and not first.leading
        await second.stop()


def _no_scm(platform: str) -> object:
    raise AssertionError("no runs or promotions here: no platform is asked")


async def test_sqlite_lock_files_go_when_their_locks_do(db_path: Path) -> None:
    async with SqliteStore(db_path) as store:
        for i in range(20):
            async with store.lock(f"run:{i}"):
                pass
        folder = Path(f"{db_path}-locks")
        assert list(folder.iterdir()) == []  # one file per lock held, none per name used


async def test_two_jobs_of_one_run_never_run_at_once_across_stores(backend: Backend) -> None:
    from prbot.store.base import Job
    from prbot.worker.handlers import OneRunAtATime

    inside: list[int] = []
    overlaps: list[int] = []

    async def handler(job: Job) -> None:
        inside.append(job.id)
        if len(inside) > 1:
            overlaps.append(job.id)
        await asyncio.sleep(0.02)
        inside.remove(job.id)

    def job(job_id: int, run_id: int) -> Job:
        return Job(job_id, "automation.run", {"run_id": run_id}, "running", 1, 8, 0.0)

    async with backend.make() as a, backend.make() as b:
        # a reconciler's re-enqueued job beside the original, in two replicas
        await asyncio.gather(
            *(OneRunAtATime(s, handler)(job(i, 7)) for i, s in enumerate((a, b, a, b)))
        )
        assert overlaps == []
        # jobs of different runs are not held up by each other: both get inside together
        both_in = asyncio.Event()
        arrived: list[int] = []

        async def meet(j: Job) -> None:
            arrived.append(j.id)
            if len(arrived) == 2:
                both_in.set()
            await asyncio.wait_for(both_in.wait(), 10)

        await asyncio.gather(OneRunAtATime(a, meet)(job(10, 1)), OneRunAtATime(b, meet)(job(11, 2)))
        assert sorted(arrived) == [10, 11]
