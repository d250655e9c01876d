"""Runs with password inputs, carried out by the process that took the request.

A run's job is stored, and any worker may claim it: the first process's pool when the
form was posted to another web process (``PRBOT_WEB_PROCESSES`` > 1: the others run no
workers), another ``prbot serve`` on the same database, or this one after a restart.
None of those holds the passwords, which live only in this process's memory
(``prbot.engine.vault``). So the process that took the request runs the run itself, at
once, with the very handler the workers use (``AutomationRunHandler.carry``: the same
steps, records and redaction), whether it runs workers or not.

The queue still holds the run's job, as a guard (``request_run``): it names the password
inputs, never their values, and is not due before ``SEALED_SECONDS``, by when the carrier
is done (it has a deadline short of that). A worker that runs the guard then finds the
run finished and does nothing; or, if the process that took the request went away
first (restart, crash), fails the run: "the password input is gone ...; run again". A
run is never tried without its passwords. Meanwhile the reconciler leaves the run alone:
it has a live job.

A failure worth retrying is tried again here, a few times with backoff, within the
deadline; then the run has failed with the last error, as the pool would record it.
These runs are few (people filling forms), so they are not counted in PRBOT_WORKERS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from prbot.engine.runs import AutomationRunHandler
from prbot.engine.vault import SEALED_SECONDS, SecretVault
from prbot.errors import DescribedError
from prbot.retry import Backoff
from prbot.store.base import Store

log = logging.getLogger("prbot.worker")

ATTEMPTS = 4
BACKOFF = Backoff(base=2.0, cap=30.0)
DEADLINE_SECONDS = SEALED_SECONDS - 60  # done (or failed) well before the guard is due
CLOSE_GRACE_SECONDS = 5.0


class SealedRuns:
    def __init__(
        self,
        handler: AutomationRunHandler,
        store: Store,
        vault: SecretVault,
        *,
        attempts: int = ATTEMPTS,
        backoff: Backoff = BACKOFF,
        deadline: float = DEADLINE_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.handler = handler
        self.store = store
        self.vault = vault
        self.attempts = attempts
        self.backoff = backoff
        self.deadline = deadline
        self.sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, run_id: int, job_id: int, passwords: Mapping[str, str]) -> None:
        """Carry out run ``run_id`` (its guard job ``job_id``) in this process, now."""
        self.vault.put(run_id, passwords)
        task = asyncio.create_task(self._carry(run_id, job_id), name=f"sealed run {run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _carry(self, run_id: int, job_id: int) -> None:
        try:
            async with asyncio.timeout(self.deadline):
                await self._attempts(run_id, job_id)
        except TimeoutError:
            error = f"the run took longer than {self.deadline:.0f} s; run again"
            await self._failed(run_id, error)
        except Exception as exc:  # the store failed: the guard will settle the run
            # (the type only: nothing of a failure reaches the log that could hold a value)
            log.error("run %s: could not be carried out: %s", run_id, type(exc).__name__)
        finally:
            self.vault.drop(run_id)

    async def _attempts(self, run_id: int, job_id: int) -> None:
        job = await self.store.job(job_id)
        if job is None:
            await self._failed(run_id, "its job is gone; run again")
            return
        for attempt in range(1, self.attempts + 1):
            passwords = self.vault.get(run_id)
            if passwords is None:
                await self._failed(run_id, "the password input is gone; run again")
                return
            try:
                await self.handler.carry(job, passwords)
                return
            except DescribedError as exc:  # already in words, passwords removed
                if exc.permanent or attempt == self.attempts:
                    await self._failed(run_id, str(exc))
                    return
                wait = max(exc.retry_after or 0.0, self.backoff.delay(attempt))
                log.info("run %s: attempt %d failed; again in %.1f s", run_id, attempt, wait)
                await self.sleep(wait)

    async def _failed(self, run_id: int, error: str) -> None:
        await self.store.update_run(run_id, now=self.handler.clock(), status="failed", error=error)
        log.info("run %s failed: %s", run_id, error)

    async def close(self, grace: float = CLOSE_GRACE_SECONDS) -> None:
        """Let runs under way finish for ``grace`` seconds, then stop them (their guards
        fail them later: the passwords leave with this process)."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
