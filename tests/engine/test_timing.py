"""A job's account of SCM time: calls in parallel count once, calls outside an open
account count nowhere. Time is a fake clock the SCM moves, so nothing here is timed."""

from __future__ import annotations

import asyncio

import pytest

from prbot.engine import timing
from prbot.engine.timing import measured, timed_scm


class FakeTime:
    now = 0.0

    def monotonic(self) -> float:
        return self.now


class SlowScm:
    """Each call takes one second of the fake clock; calls in flight together share it."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.go = asyncio.Event()

    async def default_branch(self, repo: str) -> str:
        await self.go.wait()
        return "main"

    def describe(self) -> str:  # not a coroutine: passed through untimed
        return "slow"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(timing, "time", fake)
    return fake


async def test_parallel_calls_count_once_and_sequential_ones_add_up(clock: FakeTime) -> None:
    slow = SlowScm(clock)
    scm = timed_scm(slow)  # type: ignore[arg-type]
    with measured() as account:
        calls = asyncio.gather(*(scm.default_branch("a/b") for _ in range(4)))
        await asyncio.sleep(0)  # all four under way
        clock.now += 1.0
        slow.go.set()
        await calls
        clock.now += 5.0  # time with no call under way is not the SCM's
        slow.go = asyncio.Event()
        later = asyncio.ensure_future(scm.default_branch("a/b"))
        await asyncio.sleep(0)
        clock.now += 1.0
        slow.go.set()
        await later
    assert account.scm_calls == 5
    assert account.scm_seconds == 2.0  # two spans of one second, not five
    assert scm.describe() == "slow"


async def test_calls_outside_an_account_are_not_counted(clock: FakeTime) -> None:
    slow = SlowScm(clock)
    slow.go.set()
    scm = timed_scm(slow)  # type: ignore[arg-type]
    assert await scm.default_branch("a/b") == "main"
    with measured() as account:
        pass
    assert account.scm_calls == 0 and account.scm_seconds == 0.0
