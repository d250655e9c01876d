"""The wall clock ``prbot serve`` schedules and decides by (windows, soaks, deadlines, a
job's run_at, leases, retention): ``time.time``, or, for tests and the demo only, that
plus an offset read from a file (PRBOT_CLOCK_FILE), so a test moves a running server's
time to a window's opening or a soak's end instead of sleeping for hours.

The file holds a number of seconds (may be negative or fractional). It is re-read when
it changes; whether it changed (its inode, size and modification time; its text too for
``RACY_SECONDS`` after a write) is looked at no more than every ``CHECK_SECONDS``, so a
call usually costs one monotonic read. Write it by renaming a new file over it: a write
caught half done reads as malformed. A malformed file is an error at start-up; a
malformed rewrite later keeps the last good offset and is logged once.

Move it forward, while idle: a step back makes jobs queued for "now" wait it out, and a
step forward longer than a lease lets the leases of running jobs lapse (they may run
again; handlers are idempotent, but it is work done twice).

Only stdlib and ``prbot.errors``: ``prbot.settings`` checks the file with ``read_offset``
and sits above this module.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

from prbot.errors import PrbotError

Clock = Callable[[], float]
SETTING = "PRBOT_CLOCK_FILE"
CHECK_SECONDS = 0.05
# datetime (the pipeline's windows) overflows a few thousand years out; a century either
# way is more than any test or demo needs
MAX_OFFSET_SECONDS = 100 * 366 * 86400.0

log = logging.getLogger("prbot.clock")

# what tells a rewrite apart: a rename over the file changes the inode, a rewrite in
# place the size or the modification time
Stamp = tuple[int, int, int]
# but a rewrite within the file system's timestamp granularity (a few ms, or a second on
# some) can leave all three as they were: a rename may get the inode just freed, and an
# offset's text is often as long as the last. While the file's time is that recent, its
# text is read again at each check (git's "racy" index entries, the same problem)
RACY_SECONDS = 2.0


class ClockFileError(PrbotError):
    """The clock file cannot be read or does not hold a number; ``reason`` says which,
    naming the file, and the text names the setting too."""

    permanent = True

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{SETTING}: {reason}")


def read_offset(path: Path) -> float:
    """The seconds ``path`` holds; ClockFileError if it cannot be read or is no number
    within a century either way."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise ClockFileError(f"cannot read {path}: {reason}") from None
    try:
        offset = float(text)
    except ValueError:
        offset = math.nan
    if not math.isfinite(offset) or abs(offset) > MAX_OFFSET_SECONDS:
        raise ClockFileError(
            f"{path} must hold a number of seconds to add to the clock (e.g. 3600 or "
            f"-86400, at most {MAX_OFFSET_SECONDS:.0f} either way), got {text[:40]!r}"
        )
    return offset


def write_offset(path: Path, offset: float) -> None:
    """Make a server reading ``path`` run ``offset`` seconds ahead of real time: a new
    file renamed over the old one, so the reader never sees half a write."""
    new = path.with_name(path.name + ".new")
    new.write_text(f"{offset}\n", encoding="utf-8")
    os.replace(new, path)


def _stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _racy(stamp: Stamp | None) -> bool:
    # the file system's clock is the real one, whatever offset the file holds
    return stamp is not None and time.time() - stamp[2] / 1e9 < RACY_SECONDS


class OffsetClock:
    """``time.time()`` plus the offset held by a file, re-read when the file changes.
    ``real`` and ``monotonic`` are for this module's own tests."""

    def __init__(
        self,
        path: Path,
        *,
        real: Clock = time.time,
        monotonic: Clock = time.monotonic,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.path = path
        self._real = real
        self._monotonic = monotonic
        self.check_seconds = check_seconds
        # stamped before reading: a rewrite in between is then read again at the next check
        self._seen = _stamp(path)
        self.offset = read_offset(path)
        self._checked_at = monotonic()
        self._warned = False

    def __call__(self) -> float:
        if self._monotonic() - self._checked_at >= self.check_seconds:
            self._check()
        return self._real() + self.offset

    def _check(self) -> None:
        self._checked_at = self._monotonic()
        stamp = _stamp(self.path)
        if stamp == self._seen and not _racy(stamp):
            return
        self._seen = stamp
        try:
            offset = read_offset(self.path)
        except ClockFileError as exc:
            if not self._warned:  # once per bad spell, not at every check
                self._warned = True
                log.warning("%s; keeping the clock offset %+.3f s", exc, self.offset)
            return
        self._warned = False
        if offset != self.offset:
            log.info("clock offset %+.3f s (%s)", offset, self.path)
            self.offset = offset


def clock_from(path: Path | None) -> Clock:
    """The clock for PRBOT_CLOCK_FILE: plain ``time.time`` (no cost at all) when unset."""
    return time.time if path is None else OffsetClock(path)
