"""Rate-limit bookkeeping and the retry policy of the request layer.

Plain objects with no I/O, so metrics endpoints, tests and benchmarks can read them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from prbot.retry import Backoff, parse_retry_after


@dataclass(frozen=True)
class RateLimitSnapshot:
    """What GitHub last said about one credential's budget."""

    limit: int | None
    remaining: int | None
    reset: float | None  # epoch seconds
    resource: str | None
    observed_at: float

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now: float) -> RateLimitSnapshot | None:
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return None
        return cls(
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=remaining,
            reset=_float(headers.get("x-ratelimit-reset")),
            resource=headers.get("x-ratelimit-resource"),
            observed_at=now,
        )


class RateLimitBook:
    """The latest rate-limit answer per credential bucket (``installation:42``, ``token``…).

    GitHub counts per installation / token, and per resource (``core``, ``graphql``), so
    the key is bucket plus resource.
    """

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], RateLimitSnapshot] = {}

    def observe(
        self, bucket: str, headers: Mapping[str, str], now: float
    ) -> RateLimitSnapshot | None:
        snap = RateLimitSnapshot.from_headers(headers, now)
        if snap is not None:
            self._latest[(bucket, snap.resource or "core")] = snap
        return snap

    def get(self, bucket: str, resource: str = "core") -> RateLimitSnapshot | None:
        return self._latest.get((bucket, resource))

    def all(self) -> dict[tuple[str, str], RateLimitSnapshot]:
        return dict(self._latest)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # per call, for 5xx and transport errors
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_rate_wait: float = 60.0  # longest single wait for a rate limit before RateLimited
    max_rate_waits: int = 3  # rate-limit waits per call before giving up
    secondary_wait: float = 60.0  # GitHub: wait "at least one minute" without retry-after

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The shared full-jitter backoff (attempt is 1-based)."""
        return Backoff(self.base_delay, self.max_delay).delay(attempt, rng)


def rate_limit_wait(
    status: int,
    headers: Mapping[str, str],
    detail: str,
    *,
    now: float,
    waits_so_far: int,
    policy: RetryPolicy,
) -> float | None:
    """Seconds to wait before repeating, if this answer is a rate limit; else None.

    ``retry-after`` wins; else an exhausted primary budget waits for its reset (plus a
    second for clock skew); else a secondary limit without headers waits a minute, then
    longer, as GitHub's documentation asks. A 403 that says none of this is a permission
    problem, not a limit.
    """
    if status not in (403, 429):
        return None
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if retry_after is not None:
        return retry_after
    reset = _float(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        return max(0.0, reset - now) + 1.0
    if status == 429 or "rate limit" in detail.lower():
        return policy.secondary_wait * (2**waits_so_far)
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
