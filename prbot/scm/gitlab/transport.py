"""The HTTP session under python-gitlab: request counting and bounded, jittered retries.

python-gitlab's own retry sleeps without jitter, trusts any ``Retry-After`` however long,
and retries a POST after a dropped connection, which could open a second merge request.
So the client is built with its retries off and this session retries instead, knowing
the method: idempotent requests (GET, PUT, DELETE, HEAD) after 5xx answers or transport
errors; any request after a 429, which GitLab sends before doing anything. A POST that
failed ambiguously is left to the provider, which looks before it writes again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from prbot.retry import Backoff, parse_retry_after
from prbot.scm.counter import RequestCounter
from prbot.scm.gitlab.counter import record
from prbot.scm.port import RateLimited

log = logging.getLogger("prbot.scm.gitlab")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
TRANSIENT = frozenset({500, 502, 503, 504, *range(520, 531)})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 0.2  # seconds; doubled each attempt, full jitter
    max_delay: float = 5.0
    max_wait: float = 30.0  # the longest Retry-After we sleep on; beyond it: RateLimited

    def backoff(self, attempt: int) -> float:
        """The shared full-jitter backoff; ``attempt`` counts retries made (0-based)."""
        return Backoff(self.base_delay, self.max_delay).delay(attempt + 1)


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` seconds or date, or GitLab's
    ``RateLimit-Reset`` epoch), or None."""
    now = time.time() if now is None else now
    wait = parse_retry_after(headers.get("Retry-After"), now)
    if wait is not None:
        return wait
    reset = headers.get("RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


class CountingSession(requests.Session):
    """A ``requests.Session`` that counts every attempt and retries what is safe to."""

    def __init__(
        self,
        counter: RequestCounter,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.counter = counter
        self.policy = policy or RetryPolicy()
        self._sleep = sleep  # runs in a worker thread, never on the event loop

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        method = (request.method or "GET").upper()
        attempt = 0
        while True:
            route = record(self.counter, method, request.url or "")
            started = time.monotonic()
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.counter.answered(route, "error")
                log.debug("%s failed: %s", route, type(exc).__name__)
                if method not in IDEMPOTENT or attempt >= self.policy.max_retries:
                    raise
                delay = self.policy.backoff(attempt)
            else:
                status = response.status_code
                self.counter.answered(route, status)
                remaining = response.headers.get("RateLimit-Remaining", "")
                if remaining.isdigit():  # GitLab's budget is per user: the token's
                    self.counter.rate_limit("token", int(remaining))
                log.debug("%s -> %d (%.0f ms)", route, status, (time.monotonic() - started) * 1000)
                delay = self._retry_delay(method, route, status, response.headers, attempt)
                if delay is None:
                    return response
                response.close()
            attempt += 1
            self._sleep(delay)

    def _retry_delay(
        self, method: str, route: str, status: int, headers: Mapping[str, str], attempt: int
    ) -> float | None:
        """How long to wait before trying again, or None to hand the answer back."""
        if status == 429:
            wait = retry_after(headers)
            if attempt >= self.policy.max_retries or (wait or 0) > self.policy.max_wait:
                # python-gitlab would sleep on a 429 itself; raising stops it doing so
                raise RateLimited(f"GitLab rate limit on {route}", reset_in=wait)
            return max(wait or 0.0, self.policy.backoff(attempt))
        if status in TRANSIENT and method in IDEMPOTENT and attempt < self.policy.max_retries:
            wait = retry_after(headers)
            if wait is not None and wait > self.policy.max_wait:
                return None
            return max(wait or 0.0, self.policy.backoff(attempt))
        return None
