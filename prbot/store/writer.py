"""One writer thread per store, with group commit.

SQLite allows one writer at a time, and a commit is the expensive part of a write (the
WAL append, and an fsync with ``synchronous=FULL``). So every write goes through one
thread owning the write connection: callers queue a small function over the connection
and await a future; the thread takes everything queued (up to ``max_batch``), runs it in
ONE transaction, commits once, then resolves all the futures. Under load, many webhooks
share one commit; with one caller at a time it degrades to a commit per write, never
worse. An op that raises fails alone: the rest of the batch still commits. Savepoints
do that, but cost two statements per op, and ops almost never raise; so a batch first
runs without them, and only if an op raises is it rolled back and replayed with a
SAVEPOINT per op. An op may therefore run twice: it must touch nothing but the
connection (every op in ``ops.py`` is a plain function of its arguments and the data).

Several processes may write the same file (web processes, ``prbot jobs``). SQLite's own
lock makes a second writer poll with sleeps of up to 100 ms (busy_timeout), which wastes
most of the time two busy writers have; so with ``lock_path`` each transaction first takes
an exclusive ``flock`` on a file beside the database: a waiting writer blocks in the
kernel and runs the moment the other commits, and its batch has grown meanwhile.

A future resolves only after COMMIT returned: an acknowledged write survives a crash of
the process (and, with ``synchronous=FULL``, of the machine).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from prbot.store.base import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[sqlite3.Connection], T]


class StoreClosedError(StoreError):
    """The store is not open (not opened yet, or closed)."""


class _Item(NamedTuple):
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    size: int  # bytes it writes, roughly: bounds a batch's transaction


_STOP = object()


class GroupCommitWriter:
    """The write side of a store: ``start()``, ``await submit(fn)``..., ``stop()``.

    ``connect`` opens the write connection (in autocommit mode) and ``setup`` prepares it
    (pragmas, migrations); both run on the writer thread, as sqlite3 connections belong
    to the thread that made them. ``max_batch`` bounds a transaction: 256 small ops take
    a few milliseconds, so a batch never holds the write lock (or delays the first
    caller's answer) for long. ``max_batch_bytes`` bounds it too: webhook bodies go up to
    25 MB, and a transaction's pages all sit in the WAL until it commits.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        setup: Callable[[sqlite3.Connection], None],
        *,
        max_batch: int = 256,
        max_batch_bytes: int = 16 << 20,
        name: str = "prbot-store-writer",
        on_commit: Callable[[sqlite3.Connection], None] | None = None,
        lock_path: str | os.PathLike[str] | None = None,
        before_commit: Callable[[], None] | None = None,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._setup = setup
        self._max_batch = max_batch
        self._max_batch_bytes = max_batch_bytes
        self._name = name
        self._on_commit = on_commit
        self._lock_path = lock_path
        # what ops staged beside the connection (bodies.py): written just before COMMIT,
        # forgotten on ROLLBACK
        self._before_commit = before_commit
        self._on_rollback = on_rollback
        self._lock_fd: int | None = None
        # holds _Item lists (one per hand-over), single _Items and, last, _STOP
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        self._carry: collections.deque[_Item] = collections.deque()  # a list's rest
        # guards "is it open?" together with the put, so nothing is queued behind _STOP
        self._lock = threading.Lock()
        self._open = False
        self._thread: threading.Thread | None = None
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.commits = 0  # transactions committed: for /metrics and the group-commit test
        self.ops = 0  # ops in committed transactions (including ones that failed alone)
        self.replays = 0  # batches rolled back and replayed op by op because one op failed

    # -- lifecycle

    def start(self) -> concurrent.futures.Future[None]:
        """Start the thread; the returned future resolves once the connection is set up
        (or fails with the setup error, e.g. a database newer than the code)."""
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._open = True
        # daemon: a process that exits without close() must not hang on this thread;
        # whatever was acknowledged is committed already
        self._thread = threading.Thread(target=self._main, args=(ready,), name=self._name)
        self._thread.daemon = True
        self._thread.start()
        return ready

    def stop(self) -> concurrent.futures.Future[None]:
        """Refuse new writes, finish the queued ones, close the connection. The returned
        future resolves when the thread has exited."""
        with self._lock:
            if self._open:
                self._open = False
                for loop in list(self._pending):  # submitted, not yet handed over
                    items = self._pending.pop(loop, None)
                    if items:
                        self._queue.put(items)
                self._queue.put(_STOP)
        if self._thread is None and not self._done.done():  # never started
            self._done.set_result(None)
        return self._done

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def alive(self) -> bool:
        return self._open and self._thread is not None and self._thread.is_alive()

    # -- submitting

    def submit(self, fn: Callable[[sqlite3.Connection], T], *, size: int = 0) -> asyncio.Future[T]:
        """Queue ``fn`` to run in the next transaction; await the returned future for its
        result (or its exception). ``size``: about how many bytes it writes. Must be
        called from a running event loop."""
        if not self._open:
            raise StoreClosedError("the store is closed (or was never opened)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # handed to the thread once per turn of the loop, with everything else submitted in
        # that turn: one wake-up of the writer thread for all of them, not one each (each
        # is a system call made holding the GIL; about a tenth of the intake's time)
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(_Item(fn, loop, future, size))
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._pending.pop(loop, None)
        if not items:
            return
        with self._lock:
            if self._open:
                self._queue.put(items)
                return
        for item in items:  # closed in between (stop() hands over what it finds, though)
            if not item.future.done():
                item.future.set_exception(StoreClosedError("the store writer stopped"))

    # -- the thread

    def _main(self, ready: concurrent.futures.Future[None]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            if self._lock_path is not None:
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            conn = self._connect()
            with self._locked():
                self._setup(conn)
        except BaseException as exc:
            self._close_lock()
            with self._lock:
                self._open = False
            if conn is not None:
                conn.close()
            ready.set_exception(exc)
            self._done.set_result(None)
            return
        ready.set_result(None)
        try:
            self._loop(conn)
        finally:
            # normally after _STOP; if the loop died of a bug, fail what is queued
            # rather than leave callers waiting forever
            with self._lock:
                self._open = False
            self._fail_queued()
            conn.close()
            self._close_lock()
            self._done.set_result(None)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The cross-process write lock, for one transaction (a no-op without lock_path)."""
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # the GIL is released while waiting
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _close_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _fail_queued(self) -> None:
        leftovers = []
        while True:
            try:
                item = self._next(block=False)
            except queue.Empty:
                break
            if item is not _STOP:
                leftovers.append((item, None, StoreClosedError("the store writer stopped")))
        self._settle(leftovers)

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._next(block=True)
            if first is _STOP:
                return  # _STOP is the last thing ever queued (see stop())
            # the cross-process lock first, then the batch: what queued up while another
            # process held the lock (or while the last transaction committed) goes into
            # this transaction (group commit), at no extra wait
            with self._locked():
                batch = self._take(first)
                items = [item for item in batch if item is not _STOP]
                self._run_batch(conn, items)
            if len(items) != len(batch):
                return

    def _next(self, *, block: bool) -> Any:
        """The next _Item (or _STOP), unpacking hand-overs; queue.Empty if none waits."""
        if self._carry:
            return self._carry.popleft()
        got = self._queue.get() if block else self._queue.get_nowait()
        if isinstance(got, list):
            self._carry.extend(got[1:])
            return got[0]
        return got

    def _take(self, first: Any) -> list[Any]:
        """``first`` and whatever else is queued, up to the batch's bounds."""
        batch = [first]
        size = getattr(first, "size", 0)
        while len(batch) < self._max_batch and size < self._max_batch_bytes:
            if batch[-1] is _STOP:  # nothing is ever queued after it
                break
            try:
                item = self._next(block=False)
            except queue.Empty:
                break
            batch.append(item)
            size += getattr(item, "size", 0)
        return batch

    def _run_batch(self, conn: sqlite3.Connection, items: list[_Item]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._settle([(item, None, exc) for item in items])
            return
        try:
            outcomes = self._run_plain(conn, items)
            if outcomes is None:
                # an op raised, and what it wrote before raising cannot be undone alone:
                # roll the batch back and replay it with a savepoint per op
                self.replays += 1
                self._rollback(conn)
                conn.execute("BEGIN IMMEDIATE")
                outcomes = [self._run_op(conn, item) for item in items]
            if self._before_commit is not None:
                self._before_commit()
            conn.execute("COMMIT")
        except Exception as exc:
            # the transaction as a whole failed (commit error, or an op error that made
            # SQLite roll everything back): nothing of this batch is stored, so nobody
            # may be told it is
            self._rollback(conn)
            error = StoreError(f"write transaction failed: {exc}")
            error.__cause__ = exc
            self._settle([(item, None, error) for item in items])
            return
        self.commits += 1
        self.ops += len(items)
        self._settle(outcomes)
        if self._on_commit is not None:
            # still under the cross-process lock: no other writer runs meanwhile
            try:
                self._on_commit(conn)
            except Exception:
                log.exception("after-commit hook failed")

    @staticmethod
    def _run_plain(
        conn: sqlite3.Connection, items: list[_Item]
    ) -> list[tuple[_Item, Any, BaseException | None]] | None:
        """The happy path: every op straight into the transaction, no savepoints (two
        statements per op saved). None if one raised: the batch must be replayed."""
        outcomes = []
        for item in items:
            try:
                outcomes.append((item, item.fn(conn), None))
            except Exception:
                return None
        return outcomes

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if self._on_rollback is not None:
            self._on_rollback()
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is unusable; the next BEGIN will report it

    @staticmethod
    def _run_op(conn: sqlite3.Connection, item: _Item) -> tuple[_Item, Any, BaseException | None]:
        conn.execute("SAVEPOINT op")
        try:
            value = item.fn(conn)
        except Exception as exc:
            if not conn.in_transaction:
                # e.g. SQLITE_FULL rolls back the whole transaction: the ops before this
                # one are gone too, so the batch must fail (caught in _run_batch)
                raise
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return item, None, exc
        conn.execute("RELEASE op")
        return item, value, None

    @staticmethod
    def _settle(outcomes: list[tuple[_Item, Any, BaseException | None]]) -> None:
        # one wake-up per event loop per batch, not one per future
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
        for item, value, exc in outcomes:
            by_loop.setdefault(item.loop, []).append((item.future, value, exc))
        for loop, results in by_loop.items():
            # RuntimeError: that loop is closed, nobody is waiting for these answers
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, results)


def _resolve(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, exc in results:
        if future.done():  # the caller was cancelled; the write happened regardless
            continue
        if exc is None:
            future.set_result(value)
        else:
            future.set_exception(exc)
