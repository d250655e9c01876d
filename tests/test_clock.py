"""The clock of ``prbot serve`` (``prbot.clock``): unset it is time.time itself; with
PRBOT_CLOCK_FILE the file's seconds are added, a rewrite is seen within CHECK_SECONDS (and
the file is not looked at more often), a malformed file is an error at start and a
warning, once, later (the last good offset stays)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from prbot.clock import CHECK_SECONDS, ClockFileError, OffsetClock, clock_from, read_offset
from tests.support.clock import ClockFile, ManualClock

REAL = 1_700_000_000.0
NEXT_CHECK = CHECK_SECONDS * 1.01  # exactly CHECK_SECONDS may fall short in floating point


def offset_clock(path: Path) -> tuple[OffsetClock, ManualClock]:
    """An OffsetClock on ``path`` over a fixed real time; the second clock is its
    monotonic one, moved by the test."""
    monotonic = ManualClock(100.0)
    return OffsetClock(path, real=lambda: REAL, monotonic=monotonic), monotonic


def test_unset_is_the_real_clock_itself() -> None:
    assert clock_from(None) is time.time


def test_the_offset_is_added(tmp_path: Path) -> None:
    ClockFile(tmp_path / "clock").write(3600)
    clock, _ = offset_clock(tmp_path / "clock")
    assert clock() == REAL + 3600
    ClockFile(tmp_path / "negative").write(" -86400.5\n")
    assert offset_clock(tmp_path / "negative")[0]() == REAL - 86400.5
    # the real one, from the setting's path
    served = clock_from(tmp_path / "clock")
    assert abs(served() - (time.time() + 3600)) < 5


def test_a_rewrite_is_read_at_the_next_check(tmp_path: Path) -> None:
    file = ClockFile(tmp_path / "clock")
    file.write(10)
    clock, monotonic = offset_clock(file.path)
    file.write(20)  # renamed over, as long as the last, maybe on the inode just freed
    assert clock() == REAL + 10  # not looked at again yet
    monotonic.advance(NEXT_CHECK)
    assert clock() == REAL + 20
    file.write(30)
    monotonic.advance(NEXT_CHECK)
    assert clock() == REAL + 30


def test_a_settled_file_costs_a_stat_per_check_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clock"
    path.write_text("1\n")
    os.utime(path, (REAL, REAL))  # written long ago: its stamp is trusted
    clock, monotonic = offset_clock(path)
    stats, reads = count_calls(monkeypatch, os, "stat"), count_calls(monkeypatch, Path, "read_text")
    for _ in range(1000):
        clock()
    assert (stats, reads) == ([], [])
    for _ in range(3):
        monotonic.advance(NEXT_CHECK)
        assert clock() == REAL + 1
    assert (len(stats), reads) == (3, [])
    path.write_text("2\n")  # in place, same inode and size: the time tells
    os.utime(path, (REAL + 1, REAL + 1))
    monotonic.advance(NEXT_CHECK)
    assert clock() == REAL + 2
    assert len(reads) == 1


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[object]:
    calls: list[object] = []
    real = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.parametrize("text", ["", "soon", "1h", "nan", "inf", "1e300"])
def test_a_malformed_file_is_refused_at_start_naming_setting_and_file(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "clock"
    path.write_text(text)
    with pytest.raises(ClockFileError) as caught:
        OffsetClock(path)
    assert str(caught.value).startswith("PRBOT_CLOCK_FILE: ")
    assert str(path) in str(caught.value) and "number of seconds" in str(caught.value)


def test_a_missing_file_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ClockFileError, match=r"^PRBOT_CLOCK_FILE: cannot read .*missing"):
        clock_from(tmp_path / "missing")
    with pytest.raises(ClockFileError, match="cannot read"):
        read_offset(tmp_path)  # a folder


def test_a_malformed_rewrite_keeps_the_last_offset_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = ClockFile(tmp_path / "clock")
    file.write(60)
    clock, monotonic = offset_clock(file.path)
    caplog.set_level(logging.INFO, logger="prbot.clock")

    def tick() -> float:
        monotonic.advance(NEXT_CHECK)
        return clock()

    file.write("sixty")
    assert [tick(), tick()] == [REAL + 60, REAL + 60]
    file.write("still not a number")
    assert tick() == REAL + 60
    file.path.unlink()
    assert tick() == REAL + 60
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "PRBOT_CLOCK_FILE" in warnings[0].message and str(file.path) in warnings[0].message
    assert "keeping the clock offset +60.000 s" in warnings[0].message

    file.write(120)  # good again; a later bad spell warns again
    assert tick() == REAL + 120
    file.write("")
    assert tick() == REAL + 120
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
