"""Time the tests control: a clock moved by hand, a sleep that records its waits, and the
clock file that moves a ``prbot serve`` process's time (PRBOT_CLOCK_FILE)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from prbot.clock import write_offset


class ManualClock:
    """A clock (``clock()`` -> seconds) that only moves when the test moves it."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class RecordedSleep:
    """An async ``sleep(seconds)`` that records the wait and returns at once (backoff and
    rate-limit waits are asserted, never slept)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class ClockFile:
    """PRBOT_CLOCK_FILE of a ``prbot serve`` under test: ``set(at)`` makes the server's
    clock read ``at`` (epoch seconds) now, and run on from there in real time. Each write
    is a new file renamed over the old one, so the server never reads half of one."""

    def __init__(self, path: Path, at: float | None = None) -> None:
        self.path = path
        self.offset = 0.0
        if at is None:
            self.write(0.0)
        else:
            self.set(at)

    def set(self, at: float) -> None:
        self.write(at - time.time())

    def now(self) -> float:
        """What the server's clock reads now."""
        return time.time() + self.offset

    def write(self, offset: float | str) -> None:
        """Write ``offset`` as it is (a string may be anything, to test a malformed file)."""
        if isinstance(offset, str):
            new = self.path.with_name(self.path.name + ".new")
            new.write_text(f"{offset}\n")
            os.replace(new, self.path)
        else:
            write_offset(self.path, offset)
            self.offset = offset
