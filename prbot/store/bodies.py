"""Webhook bodies in append-only files beside the database, not in it.

A delivery's body (30 KB for a typical pull_request event, up to 25 MB) is most of what
intake writes, and it is written once and read almost never (debugging, a replay). In
SQLite it costs a B-tree overflow chain, a WAL frame per page, and a second copy when
the WAL is checkpointed, all inside the write transaction that every web process waits
its turn for. Here it is one ``write()`` per batch into a file, and the delivery row
keeps (file, offset, length): bench/webhooks.py, two web processes, about 28% more
deliveries per second and half the p99 (see the README).

The folder is ``<database>-bodies/``. Each store (so each process) appends to a file of
its own, named by creation time and pid, and starts a new one past ``max_file_bytes``.
Files only grow; retention (``Store.prune``) deletes a file once it is older than the
cut and no delivery row names it.

Transactions: the writer thread reserves a place for a body when it inserts the row
(``reserve`` then ``stage``), writes everything staged just before COMMIT (``flush``),
and forgets it if the transaction rolls back (``discard``). So a row never names bytes
that were not written, and a rolled-back batch leaves nothing behind (an op that fails
alone, in a batch replayed op by op, may leave its bytes unnamed: garbage inside a file
that goes when the file does). Durability follows
the database's: with ``synchronous=FULL`` the file is fdatasync'ed before the COMMIT,
and the folder is fsync'ed when a file is created in it (and its parent when the folder
is), so a committed row never names a file whose directory entry a power loss lost;
with NORMAL neither is synced at commit, and a power loss (not a crash of prbot) may
lose the bodies of the last deliveries while their rows, events and jobs survive: a
read then reports the body missing.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

SUFFIX = ".body"
MAX_FILE_BYTES = 256 << 20


class BodyMissingError(LookupError):
    """A delivery's body is not (or no longer all) in its file."""


class BodyFiles:
    def __init__(
        self, folder: Path, *, fsync: bool = False, max_file_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.folder = folder
        self.fsync = fsync
        self.max_file_bytes = max_file_bytes
        self._fd: int | None = None
        self._name = ""
        self._end = 0  # where the next body goes: written bytes plus staged ones
        self._written = 0
        self._staged: list[bytes] = []
        self._count = 0

    # -- the writer thread's side

    def prepare(self) -> None:
        created = not self.folder.is_dir()
        # owner-only, like the database: bodies carry private repository content
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if created and self.fsync:
            _sync_dir(self.folder.parent)  # the folder's own entry

    def reserve(self) -> tuple[str, int]:
        """Where the next staged body will go: (file name, offset)."""
        if self._fd is None or (self._written >= self.max_file_bytes and not self._staged):
            self._open_new()
        return self._name, self._end

    def stage(self, body: bytes) -> None:
        """Keep ``body`` for the next ``flush``, at the place ``reserve`` gave."""
        self._staged.append(body)
        self._end += len(body)

    def flush(self) -> None:
        """Write what is staged (before COMMIT). Raises OSError (e.g. the disk is full):
        the transaction must then roll back."""
        if not self._staged:
            return
        data = b"".join(self._staged) if len(self._staged) > 1 else self._staged[0]
        assert self._fd is not None
        try:
            written = 0
            while written < len(data):
                written += os.pwrite(self._fd, memoryview(data)[written:], self._written + written)
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError:
            self.discard()
            raise
        self._written = self._end
        self._staged.clear()

    def discard(self) -> None:
        """The transaction rolled back: what was staged is not written."""
        self._staged.clear()
        self._end = self._written

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open_new(self) -> None:
        self.close()
        # sorts in creation order (time, then this store's count); the random part keeps
        # two stores of one process apart
        self._count += 1
        stamp = f"{int(time.time() * 1000):013d}-{os.getpid()}-{self._count:06d}"
        self._name = f"{stamp}-{secrets.token_hex(3)}{SUFFIX}"
        self._fd = os.open(
            self.folder / self._name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        self._end = self._written = 0
        if self.fsync:
            # the new name is durable before any COMMIT names it (fdatasync in ``flush``
            # covers the file's bytes and size, not its directory entry)
            _sync_dir(self.folder)

    # -- any thread

    def read(self, name: str, offset: int, length: int) -> bytes:
        if os.sep in name or name.startswith(".") or not name.endswith(SUFFIX):
            raise BodyMissingError(f"not a body file name: {name!r}")
        try:
            fd = os.open(self.folder / name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BodyMissingError(f"body file {name} is gone") from None
        try:
            data = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        if len(data) != length:
            raise BodyMissingError(
                f"body file {name} holds {len(data)} of {length} bytes at {offset}"
            )
        return data

    def files_older_than(self, before: float) -> list[str]:
        """Body files last written before ``before`` (UNIX seconds), but never this
        store's current one."""
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.endswith(SUFFIX) and entry.name != self._name:
                try:
                    if entry.stat().st_mtime < before:
                        found.append(entry.name)
                except FileNotFoundError:
                    continue
        return sorted(found)

    def remove(self, name: str) -> None:
        (self.folder / name).unlink(missing_ok=True)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
