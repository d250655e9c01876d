"""WorkerPool against the real SQLite store: success, retries with backoff, dead letters,
unknown kinds, permanent errors, redaction, lease renewal and draining."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from prbot import metrics
from prbot.errors import PermanentError
from prbot.retry import Backoff
from prbot.store.base import Job, NewJob, Store
from prbot.worker.pool import WorkerPool
from tests.support.clock import ManualClock
from tests.support.waiting import wait_for


async def enqueue(store: Store, kind: str = "echo", *, now: float, **kw: object) -> int:
    [job_id] = await store.enqueue([NewJob(kind, {"n": 1}, **kw)], now=now)  # type: ignore[arg-type]
    return job_id


async def state_of(store: Store, job_id: int) -> Job:
    job = await store.job(job_id)
    assert job is not None
    return job


def in_state(store: Store, job_id: int, state: str, attempts: int | None = None):
    async def check() -> bool:
        job = await state_of(store, job_id)
        return job.state == state and (attempts is None or job.attempts == attempts)

    return check


@pytest.fixture
async def pools():
    started: list[WorkerPool] = []

    def make(store: Store, handlers, **kw) -> WorkerPool:
        kw.setdefault("poll_interval", 0.01)
        pool = WorkerPool(store, handlers, **kw)
        started.append(pool)
        return pool

    yield make
    for pool in started:
        await pool.stop()


async def test_success_completes_the_job(store, pools) -> None:
    seen: list[dict] = []

    async def echo(job: Job) -> None:
        seen.append(job.payload)

    clock = ManualClock()
    job_id = await enqueue(store, now=clock())
    pool = pools(store, {"echo": echo}, clock=clock)
    await pool.start()
    assert pool.running
    await wait_for(in_state(store, job_id, "done"), what="job done")
    job = await state_of(store, job_id)
    assert seen == [{"n": 1}]
    assert job.attempts == 1 and job.last_error is None and job.lease_owner is None


async def test_failure_is_retried_with_full_jitter_backoff(store, pools) -> None:
    async def boom(job: Job) -> None:
        raise RuntimeError(f"boom {job.attempts}")

    clock = ManualClock()
    job_id = await enqueue(store, now=clock())
    pool = pools(store, {"echo": boom}, clock=clock, rng=random.Random(7))
    expected = random.Random(7)
    await pool.start()

    await wait_for(in_state(store, job_id, "queued", attempts=1), what="first failure")
    job = await state_of(store, job_id)
    assert job.last_error == "RuntimeError: boom 1"
    assert job.next_run_at == pytest.approx(clock.now + expected.uniform(0, 2.0))

    clock.now = job.next_run_at  # due again: the second attempt's ceiling doubles
    await wait_for(in_state(store, job_id, "queued", attempts=2), what="second failure")
    job = await state_of(store, job_id)
    assert job.last_error == "RuntimeError: boom 2"
    assert job.next_run_at == pytest.approx(clock.now + expected.uniform(0, 4.0))


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    backoff = Backoff(base=2.0, cap=600.0)
    assert [backoff.delay(n, Top()) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff.delay(30, Top()) == 600.0
    assert 0 <= backoff.delay(5, random.Random(1)) <= 32.0


async def test_dead_letter_after_max_attempts_keeps_the_error(store, pools) -> None:
    calls = 0
    dead: list[tuple[int, str]] = []

    class Handler:
        async def __call__(self, job: Job) -> None:
            nonlocal calls
            calls += 1
            raise ConnectionError("forge unreachable")

        async def on_dead(self, job: Job, error: str) -> None:
            dead.append((job.id, error))

    clock = ManualClock()
    job_id = await enqueue(store, now=clock(), max_attempts=3)
    pool = pools(store, {"echo": Handler()}, backoff=Backoff(base=0.0), clock=clock)
    await pool.start()
    await wait_for(in_state(store, job_id, "dead"), what="dead letter")
    job = await state_of(store, job_id)
    assert job.attempts == 3 and calls == 3
    assert job.last_error == "ConnectionError: forge unreachable"
    assert dead == [(job_id, "ConnectionError: forge unreachable")]


async def test_unknown_kind_is_dead_at_once(store, pools) -> None:
    clock = ManualClock()
    job_id = await enqueue(store, "nope", now=clock())

    async def echo(job: Job) -> None:
        pass

    pool = pools(store, {"echo": echo}, clock=clock)
    await pool.start()
    await wait_for(in_state(store, job_id, "dead"), what="dead letter")
    job = await state_of(store, job_id)
    assert job.attempts == 1
    assert job.last_error == ("PermanentError: no handler for job kind 'nope' (known kinds: echo)")


async def test_permanent_error_is_not_retried_and_names_the_cause(store, pools) -> None:
    async def bad(job: Job) -> None:
        try:
            int("x")
        except ValueError as exc:
            raise PermanentError("inputs are invalid: tag must be a version") from exc

    clock = ManualClock()
    job_id = await enqueue(store, now=clock())
    pool = pools(store, {"echo": bad}, clock=clock)
    await pool.start()
    await wait_for(in_state(store, job_id, "dead"), what="dead letter")
    job = await state_of(store, job_id)
    assert job.attempts == 1
    assert job.last_error == "ValueError: inputs are invalid: tag must be a version"


async def test_errors_are_redacted(store, pools) -> None:
    async def leaky(job: Job) -> None:
        raise RuntimeError("GET https://x-access-token:ghs_s3cr3tvalue@host failed")

    clock = ManualClock()
    job_id = await enqueue(store, now=clock(), max_attempts=1)
    pool = pools(store, {"echo": leaky}, clock=clock, secrets=["ghs_s3cr3tvalue"])
    await pool.start()
    await wait_for(in_state(store, job_id, "dead"), what="dead letter")
    job = await state_of(store, job_id)
    assert "s3cr3t" not in (job.last_error or "")
    assert "***" in (job.last_error or "")


async def test_a_long_job_keeps_its_lease(store, pools) -> None:
    """Lease 0.6 s, job 1.8 s: renewals keep a second pool from taking the job over.
    (Renewed every 0.2 s, so a loaded machine may stall the loop 0.4 s and still pass.)"""
    calls: list[str] = []

    def slow(name: str):
        async def handler(job: Job) -> None:
            calls.append(name)
            await asyncio.sleep(1.8)

        return handler

    job_id = await enqueue(store, now=0)
    first = pools(store, {"echo": slow("first")}, lease_seconds=0.6, name="first")
    await first.start()
    await wait_for(lambda: calls, what="first claims")
    second = pools(store, {"echo": slow("second")}, lease_seconds=0.6, name="second")
    await second.start()
    leases = []
    for _ in range(5):
        await asyncio.sleep(0.25)
        job = await state_of(store, job_id)
        if job.state == "running":
            leases.append(job.lease_expires_at)
    await wait_for(in_state(store, job_id, "done"), what="job done")
    assert calls == ["first"]
    assert (await state_of(store, job_id)).attempts == 1
    assert len(set(leases)) > 1, "the lease was never extended"


async def test_drain_finishes_in_flight_jobs_and_claims_no_more(store, pools) -> None:
    started = asyncio.Event()
    finished: list[int] = []

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(job.id)

    first = await enqueue(store, now=0, dedupe_key="a")
    second = await enqueue(store, now=0, dedupe_key="b")
    pool = pools(store, {"echo": slow}, concurrency=1)
    await pool.start()
    await started.wait()
    await pool.drain(timeout=5)
    assert not pool.running
    assert finished == [first]
    assert (await state_of(store, first)).state == "done"
    assert (await state_of(store, second)).state == "queued"
    assert (await state_of(store, second)).attempts == 0


async def test_drain_timeout_requeues_the_interrupted_job(store, pools) -> None:
    started = asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.sleep(3600)

    job_id = await enqueue(store, now=0)
    pool = pools(store, {"echo": stuck})
    await pool.start()
    await started.wait()
    await pool.drain(timeout=0.05)
    job = await state_of(store, job_id)
    assert job.state == "queued" and job.lease_owner is None
    assert "interrupted" in (job.last_error or "")


async def test_job_metrics_are_observed(store, pools) -> None:
    labels = {"kind": "metered", "outcome": "done"}
    name = "prbot_job_duration_seconds_count"
    before = metrics.REGISTRY.get_sample_value(name, labels) or 0

    async def ok(job: Job) -> None:
        pass

    job_id = await enqueue(store, "metered", now=0)
    pool = pools(store, {"metered": ok})
    await pool.start()
    await wait_for(in_state(store, job_id, "done"), what="job done")
    await pool.drain(1)
    assert metrics.REGISTRY.get_sample_value(name, labels) == before + 1


async def test_a_lost_lease_abandons_the_job(store, pools) -> None:
    """If renewing finds another worker owns the job, the handler is cancelled and the
    job is left to its new owner (nothing recorded by the old one)."""

    class Thief:
        def __init__(self, inner: Store):
            self._inner = inner

        def __getattr__(self, name: str):
            return getattr(self._inner, name)

        async def extend_lease(self, *args, **kwargs) -> bool:
            return False

    cancelled = asyncio.Event()

    async def long(job: Job) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job_id = await enqueue(store, now=0)
    pool = pools(Thief(store), {"echo": long}, lease_seconds=0.15)
    await pool.start()
    await asyncio.wait_for(cancelled.wait(), 5)
    await wait_for(lambda: pool.in_flight == 0, what="job abandoned")
    job = await state_of(store, job_id)
    assert job.state == "running" and job.last_error is None


class SlowToRecord:
    """A store whose complete() waits for ``release``: a writer busy with intake."""

    def __init__(self, inner: Store):
        self._inner = inner
        self.release = asyncio.Event()
        self.pending: list[int] = []
        self.claims: list[tuple[int, int]] = []  # (limit, jobs returned)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    async def claim(self, worker: str, *, limit: int, lease: float, now: float) -> list[Job]:
        jobs = await self._inner.claim(worker, limit=limit, lease=lease, now=now)
        self.claims.append((limit, len(jobs)))
        return jobs

    async def complete(self, job_id: int, worker: str, *, now: float) -> bool:
        self.pending.append(job_id)
        await self.release.wait()
        return await self._inner.complete(job_id, worker, now=now)


async def test_a_slot_is_free_while_the_outcome_is_written(store, pools) -> None:
    """The next job starts while the last one's completion waits for the writer (which
    then takes both in one batch); drain still waits for the completion."""
    ran: list[int] = []

    async def echo(job: Job) -> None:
        ran.append(job.id)

    first = await enqueue(store, now=0, dedupe_key="a")
    second = await enqueue(store, now=0, dedupe_key="b")
    slow = SlowToRecord(store)
    pool = pools(slow, {"echo": echo}, concurrency=1)
    await pool.start()
    await wait_for(lambda: len(slow.pending) == 2, what="both handlers ran")
    assert ran == [first, second] and pool.in_flight == 2
    assert (await state_of(store, first)).state == "running"  # not recorded yet
    draining = asyncio.create_task(pool.drain(timeout=5))
    await asyncio.sleep(0.05)
    assert not draining.done()
    slow.release.set()
    await draining
    for job_id in (first, second):
        assert (await state_of(store, job_id)).state == "done"


async def test_claims_fill_every_free_slot_in_one_write(store, pools) -> None:
    async def echo(job: Job) -> None:
        await asyncio.sleep(0.05)

    await store.enqueue([NewJob("echo", {"i": i}) for i in range(8)], now=0)
    counting = SlowToRecord(store)
    counting.release.set()
    pool = pools(counting, {"echo": echo}, concurrency=4)
    await pool.start()
    await wait_for(
        lambda: sum(n for _, n in counting.claims) == 8 and not pool.in_flight, what="all ran"
    )
    assert counting.claims[0] == (4, 4)
    assert sum(1 for _, n in counting.claims if n) <= 4  # not a write per job


async def test_a_job_stored_in_this_process_is_claimed_without_waiting_for_the_poll(
    store, pools
) -> None:
    """The pool polls every 30 s here; a job enqueued in the same process wakes it."""
    done = asyncio.Event()

    async def handler(job: Job) -> None:
        done.set()

    pool = pools(store, {"echo": handler}, poll_interval=30.0)
    await pool.start()
    await asyncio.sleep(0.05)  # the pool has polled once and sleeps now
    await enqueue(store, now=time.time())
    await asyncio.wait_for(done.wait(), timeout=5.0)  # long before the next poll
