"""WAL checkpoints off the write path.

By default SQLite checkpoints (copies the WAL back into the database file and, even with
synchronous=NORMAL, fsyncs it) inside whichever commit crosses 1000 pages: an fsync and
megabytes of copying inside a random webhook's acknowledgement, and a third of the intake
rate (bench/store.py). Here a thread with its own connection runs PASSIVE checkpoints,
which block neither the writer nor readers, at most every ``interval`` seconds while
commits happen.

Under constant writes a background checkpoint never quite catches up (new frames arrive
while it copies), and SQLite restarts the WAL from its beginning only after one has. So
the writer keeps an autocheckpoint, set higher than SQLite's default: when the WAL
reaches it, the writer's own checkpoint has only the last few frames left to copy, it
catches up, and the WAL restarts. The WAL stays bounded; the bulk of the copying and
syncing happens here.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, interval: float = 0.05, name: str = ""
    ) -> None:
        self._connect = connect
        self._interval = interval
        self._name = name
        self._poke = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._main, name=f"store-checkpoint:{self._name}", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        """A commit happened (called on the writer thread after each batch: cheap)."""
        self._poke.set()

    def stop(self) -> None:
        self._stopping.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _main(self) -> None:
        conn = self._connect()
        try:
            while not self._stopping.is_set():
                self._poke.wait()
                # clear before the checkpoint, so a commit during it pokes again; the
                # stop flag is read after the wait, so a stop is never cleared away
                self._poke.clear()
                if self._stopping.is_set():
                    return
                self._checkpoint(conn)
                # let commits accumulate: at most one checkpoint (one fsync) per interval
                self._stopping.wait(self._interval)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:
            # not fatal: the writer's autocheckpoint still bounds the WAL
            log.warning("WAL checkpoint of %s failed: %s", self._name, exc)
