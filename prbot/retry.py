"""One backoff policy and one Retry-After parser, for every retry prbot makes.

Full jitter (attempt n waits uniform(0, min(cap, base * 2**(n-1)))): many callers that
failed together (a forge outage) spread their retries out instead of coming back in one
wave. Used by both SCM providers, the definitions lookup and the worker pool.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential backoff with full jitter; ``attempt`` is 1-based."""

    base: float = 0.5  # seconds, the ceiling of the first wait
    cap: float = 20.0  # the ceiling never grows past this

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** max(0, attempt - 1))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0, self.ceiling(attempt))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP date (RFC 9110
    10.2.3); None when absent or unreadable. Never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" and "nan" read as floats too: neither is a wait
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    backoff: Backoff,
    transient: Callable[[BaseException], bool],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """``call()``, again after a jittered wait while it raises what ``transient`` accepts,
    at most ``attempts`` times in all; the last error is raised as it is."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if attempt >= attempts or not transient(exc):
                raise
            await sleep(backoff.delay(attempt, rng))
    raise AssertionError("unreachable")
