"""Time the tests control: a clock moved by hand, and a sleep that records its waits."""

from __future__ import annotations


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
