"""Named locks across replicas: PostgreSQL session advisory locks.

``lock(name)`` serialises one piece of work (a promotion's happening, a run) across every
replica: it holds ``pg_advisory_lock`` on a connection of its own pool (never the store's
query pool, so work holding locks cannot starve the queries it makes while holding them)
for the block, and unlocks before giving the connection back. ``hold(name)`` takes a lock
for as long as the process wants it (the reconciler's leadership) on a connection of its
own: if the process dies, its connection closes and PostgreSQL releases the lock, so
another replica's next try takes over.

Names are hashed to advisory keys with ``hashtextextended``: two different names could
share a key (1 in 2^64), which would only serialise them needlessly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

_TRY = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"
# waiting for a lock: tries back off to this (a promotion's step takes ~100 ms)
MAX_WAIT_STEP = 0.2


async def _try(conn: psycopg.AsyncConnection[Any], name: str) -> bool:
    cur = await conn.execute(_TRY, (name,))
    row = await cur.fetchone()
    return bool(row and row[0])


@contextlib.asynccontextmanager
async def locked(pool: AsyncConnectionPool, name: str) -> AsyncIterator[None]:
    async with pool.connection() as conn:
        step = 0.005
        # try-and-sleep rather than a blocking pg_advisory_lock: a cancelled wait then
        # leaves no query running on the server
        while not await _try(conn, name):
            await asyncio.sleep(step)
            step = min(step * 2, MAX_WAIT_STEP)
        try:
            yield
        finally:
            unlocked = False
            with contextlib.suppress(psycopg.Error, asyncio.CancelledError):
                cur = await conn.execute(_UNLOCK, (name,))
                row = await cur.fetchone()
                unlocked = bool(row and row[0])
            if not unlocked:
                # never hand back a connection that may still hold the lock: closed, the
                # pool drops it and PostgreSQL releases what it held
                log.warning("could not unlock %s; closing its connection", name)
                await conn.close()


class HeldLock:
    """A lock held on a connection of its own until ``release()`` or the process dies."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], name: str) -> None:
        self._conn = conn
        self.name = name

    async def alive(self) -> bool:
        """Still held: the connection holding it still answers (if it dropped,
        PostgreSQL released the lock and another replica may hold it now)."""
        if self._conn.closed:
            return False
        try:
            await asyncio.wait_for(self._conn.execute("SELECT 1"), 5)
        except (psycopg.Error, TimeoutError):
            await self.release()
            return False
        return True

    async def release(self) -> None:
        with contextlib.suppress(psycopg.Error):
            await self._conn.close()  # the session ends: PostgreSQL releases its locks


async def hold(conninfo: str, name: str, **connect: Any) -> HeldLock | None:
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, **connect)
    try:
        if await _try(conn, name):
            return HeldLock(conn, name)
    except BaseException:
        await conn.close()
        raise
    await conn.close()
    return None
