"""Waking workers when any replica queues a job: ``LISTEN`` on one connection.

Every transaction that stores jobs due now ends with ``pg_notify`` (``postgres_ops``);
PostgreSQL delivers it at commit to every connection listening on the channel, in every
replica. A notification only wakes the worker pools (``Store.on_new_jobs``): they claim
with SKIP LOCKED as they would at a poll, so a lost or extra notification costs nothing
but latency. Polling stays as the fallback (``WorkerPool.poll_interval``), and while the
listening connection is down (a restart of the server, a network cut) it is reconnected
with a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from prbot.store.postgres_ops import JOBS_CHANNEL

log = logging.getLogger(__name__)

RECONNECT_MIN, RECONNECT_MAX = 0.5, 10.0


class JobListener:
    def __init__(
        self,
        conninfo: str,
        wake: Callable[[], None],
        *,
        name: str = "",
        clean: Callable[[BaseException], str] = str,
        **connect: Any,
    ) -> None:
        self._conninfo = conninfo
        self._wake = wake
        self._name = name
        self._clean = clean  # an error's text as it may be logged (no password)
        self._connect = connect
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._main(), name=f"listen {JOBS_CHANNEL}")

    async def listening(self, timeout: float) -> bool:
        """Wait until LISTEN is in place (tests: a job queued after it is heard)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout)
        return self._listening.is_set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _main(self) -> None:
        delay = RECONNECT_MIN
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, **self._connect
                )
            except psycopg.Error as exc:
                log.warning(
                    "cannot listen for new jobs on %s (polling meanwhile): %s",
                    self._name,
                    self._clean(exc),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            try:
                async with conn:
                    await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    self._listening.set()
                    delay = RECONNECT_MIN
                    # a job queued while no one listened was missed: poll once now
                    self._wake()
                    async for _ in conn.notifies():
                        self._wake()
            except psycopg.Error as exc:
                log.warning("listening for new jobs stopped (%s); reconnecting", self._clean(exc))
            finally:
                self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)
