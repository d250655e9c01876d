"""Named locks across the processes on one SQLite file: ``flock`` on files in
``<database>-locks/``. The kernel releases a process's locks when it dies, so a held
lock (the reconciler's leadership) passes to another process at its next try.

flock belongs to the open file, not the process: two opens in one process exclude each
other too, so the same code serialises coroutines of one process and processes alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

MAX_WAIT_STEP = 0.2


def _path(folder: Path, name: str) -> Path:
    # hashed: a name may hold any character; the folder keeps the file names short
    return folder / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.lock"


def _open(folder: Path, name: str) -> int:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(_path(folder, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def locked(folder: Path, name: str) -> AsyncIterator[None]:
    path = _path(folder, name)
    while True:
        fd = _open(folder, name)
        step = 0.005
        while not _try(fd):  # never a blocking flock: it would block the event loop
            await asyncio.sleep(step)
            step = min(step * 2, MAX_WAIT_STEP)
        if _still_named(fd, path):
            break
        os.close(fd)  # its holder removed it meanwhile: lock the file now there
    try:
        yield
    finally:
        # removed while still held, so one file per lock in use, not per name ever used
        # (a run or promotion each); a waiter on the removed file sees it and starts over
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # closing releases the lock


def _still_named(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


class HeldFile:
    def __init__(self, fd: int, name: str) -> None:
        self._fd: int | None = fd
        self.name = name

    async def alive(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def hold(folder: Path, name: str) -> HeldFile | None:
    fd = _open(folder, name)
    if _try(fd):
        return HeldFile(fd, name)
    os.close(fd)
    return None
