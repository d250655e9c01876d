"""``WorkerPool``: runs jobs from the store with leases, retries and dead letters.

A job is claimed with a lease; while its handler runs, the lease is renewed every third
of its length, so a live worker keeps its job and a crashed one loses it when the lease
runs out (another worker then claims it again: handlers are idempotent). A failure goes
back to the queue after an exponential backoff with full jitter, until the job's
``max_attempts``; then it is dead, with its error, for a person to look at
(``prbot jobs dead`` / ``prbot jobs retry``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from prbot.errors import PermanentError, describe, is_permanent, redact, retry_after
from prbot.retry import Backoff
from prbot.store.base import Job, Store

log = logging.getLogger("prbot.worker")

Handler = Callable[[Job], Awaitable[None]]
Clock = Callable[[], float]
# a job's retries: 2 s, 4 s, ... at most 10 min apart (jittered)
JOB_BACKOFF = Backoff(base=2.0, cap=600.0)
MAX_ERROR_CHARS = 2000  # a job's last_error is for people, not for whole tracebacks


def _observe(kind: str, seconds: float, outcome: str) -> None:
    """Report to prbot.metrics when that module is there (it is optional for the pool)."""
    try:
        metrics = importlib.import_module("prbot.metrics")
    except ImportError:
        return
    observe = getattr(metrics, "observe_job", None)
    if observe is not None:
        try:
            observe(kind, seconds, outcome)
        except Exception:  # metrics must never fail a job
            log.debug("observe_job failed", exc_info=True)


class WorkerPool:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 4,
        lease_seconds: float = 60.0,
        max_attempts: int = 8,
        poll_interval: float = 0.5,
        name: str | None = None,
        clock: Clock = time.time,
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
        secrets: Iterable[str] = (),
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        # the store keeps each job's own max_attempts; this caps it for this deployment
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        # unique per process, so a restarted worker never mistakes an old lease for its own
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.clock = clock
        self.rng = rng or random.Random()
        self.backoff = backoff or JOB_BACKOFF
        self.secrets = tuple(s for s in secrets if s)
        self._loop_task: asyncio.Task[None] | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}
        # jobs whose handler runs: the slots. A job leaves it when its handler ends, before
        # its outcome is written, so the write does not hold the slot (see _run)
        self._busy: set[int] = set()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._loop_task = asyncio.create_task(self._claim_loop(), name=f"worker {self.name}")
        # jobs stored in this process (a webhook's, a promotion's next step) are claimed
        # at once; others' at the next poll
        self.store.on_new_jobs(self._wake.set)
        log.info("worker pool %s started (concurrency %d)", self.name, self.concurrency)

    async def drain(self, timeout: float = 30.0) -> None:
        """Stop claiming, let the jobs in flight finish; after ``timeout`` cancel the rest
        (they go back to the queue at once, see ``_run``)."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self._inflight.values())
        if tasks:
            log.info("draining %d job(s) in flight (up to %.0f s)", len(tasks), timeout)
            _, pending = await asyncio.wait(tasks, timeout=max(timeout, 0))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        log.info("worker pool %s stopped", self.name)

    async def stop(self) -> None:
        """Stop now: jobs in flight are interrupted and requeued."""
        await self.drain(timeout=0)

    # -- claiming -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            # cleared before the claim, not after: a slot freed while the claim waited for
            # the writer must wake the next round, not wait out the poll interval
            self._wake.clear()
            free = self.concurrency - len(self._busy)
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = await self.store.claim(
                        self.name, limit=free, lease=self.lease_seconds, now=self.clock()
                    )
                except Exception:
                    log.exception("claiming jobs failed; trying again shortly")
            for job in claimed:
                self._busy.add(job.id)
                self._inflight[job.id] = asyncio.create_task(
                    self._run(job), name=f"job {job.id} {job.kind}"
                )
            if claimed and len(claimed) == free:
                continue  # there may be more waiting: claim again right away
            # wake early when a slot frees up or on drain; else poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    # -- running one job ------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        started = time.monotonic()
        outcome = "error"
        handler = self.handlers.get(job.kind)
        work = asyncio.create_task(self._call(handler, job))
        renew = asyncio.create_task(self._renew(job, work))
        try:
            try:
                try:
                    await asyncio.shield(work)
                finally:
                    if work.done():
                        self._release(job.id)
            except asyncio.CancelledError:
                if not work.done():  # we were cancelled (drain timeout): stop the handler too
                    work.cancel()
                    with contextlib.suppress(BaseException):
                        await work
                    outcome = await self._interrupted(job)
                    raise
                # the handler itself was cancelled: our lease was lost
                outcome = "lease_lost"
            except Exception as exc:
                outcome = await self._failed(job, exc)
            else:
                recorded = await self.store.complete(job.id, self.name, now=self.clock())
                # False: the lease ran out and another worker took the job meanwhile; the
                # work is done all the same (idempotent), theirs will find nothing to do
                outcome = "lease_lost" if recorded is False else "done"
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s: recording its outcome failed; its lease will run out", job.id)
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
            seconds = time.monotonic() - started
            self._release(job.id)
            self._inflight.pop(job.id, None)
            log.info(
                "job %s kind=%s attempt=%d/%d outcome=%s seconds=%.3f",
                job.id,
                job.kind,
                job.attempts,
                self._max_attempts(job),
                outcome,
                seconds,
                extra={
                    "job_id": job.id,
                    "job_kind": job.kind,
                    "attempt": job.attempts,
                    "outcome": outcome,
                    "seconds": round(seconds, 3),
                },
            )
            _observe(job.kind, seconds, outcome)

    def _release(self, job_id: int) -> None:
        """Free the job's slot. Called as soon as its handler ended: writing the outcome
        waits for a writer batch (behind intake, ~20 ms under load), and a slot held
        through it idled the pool; freed now, the claim for the next job goes to the
        store together with this job's completion, in the same batch."""
        if job_id in self._busy:
            self._busy.discard(job_id)
            self._wake.set()

    async def _call(self, handler: Handler | None, job: Job) -> None:
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            raise PermanentError(f"no handler for job kind {job.kind!r} (known kinds: {known})")
        await handler(job)

    def _max_attempts(self, job: Job) -> int:
        return min(job.max_attempts, self.max_attempts)

    async def _failed(self, job: Job, exc: Exception) -> str:
        now = self.clock()
        error = describe_error(exc, self.secrets)
        permanent = is_permanent(exc)
        if permanent or job.attempts >= self._max_attempts(job):
            await self.store.fail(job.id, self.name, error=error, retry_at=None, now=now)
            level = logging.WARNING if permanent else logging.ERROR
            log.log(level, "job %s (%s) is dead: %s", job.id, job.kind, error)
            await self._tell_dead(job, error)
            return "dead"
        delay = self.backoff.delay(job.attempts, self.rng)
        wait = retry_after(exc)
        if wait:
            delay = max(delay, wait)  # retrying before a rate limit resets only fails again
        await self.store.fail(job.id, self.name, error=error, retry_at=now + delay, now=now)
        log.warning("job %s (%s) failed, retry in %.1f s: %s", job.id, job.kind, delay, error)
        return "retry"

    async def _tell_dead(self, job: Job, error: str) -> None:
        hook = getattr(self.handlers.get(job.kind), "on_dead", None)
        if hook is None:
            return
        try:
            await hook(job, error)
        except Exception:
            log.exception("job %s: its dead-letter hook failed", job.id)

    async def _interrupted(self, job: Job) -> str:
        """A job cut short by shutdown goes back to the queue now, not after its lease
        (on its last attempt the store makes it dead: max_attempts is the store's rule)."""
        with contextlib.suppress(Exception):
            now = self.clock()
            error = "interrupted: the worker shut down before the job finished"
            await self.store.fail(job.id, self.name, error=error, retry_at=now, now=now)
        return "interrupted"

    async def _renew(self, job: Job, work: asyncio.Task[None]) -> None:
        every = max(self.lease_seconds / 3, 0.01)
        while True:
            await asyncio.sleep(every)
            try:
                kept = await self.store.extend_lease(
                    job.id, self.name, lease=self.lease_seconds, now=self.clock()
                )
            except Exception:
                log.warning("job %s: renewing its lease failed; will try again", job.id)
                continue
            if not kept:
                # another worker holds it now; carrying on would only race that worker
                log.warning("job %s: lease lost; abandoning it", job.id)
                work.cancel()
                return


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The text stored for a failure: ``Type: message``, secrets replaced by ``***``."""
    return redact(describe(exc), secrets)[:MAX_ERROR_CHARS]
