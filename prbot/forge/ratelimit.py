"""Per-principal request budgets, as GitHub counts them (5,000 an hour by default).

Kept by the forge, spent by the API façades: each authenticated request costs one unit of
its principal's budget (an installation, a user). The reset time is a wall-clock hour
window starting at the first request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_LIMIT = 5000
WINDOW_SECONDS = 3600


@dataclass
class Budget:
    limit: int
    used: int
    reset: int  # unix seconds

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class RateLimits:
    def __init__(self, limit: int = DEFAULT_LIMIT, now: Callable[[], float] = time.time):
        self.limit = limit
        self._now = now
        self._budgets: dict[str, Budget] = {}

    def _current(self, key: str, limit: int | None = None) -> Budget:
        now = int(self._now())
        b = self._budgets.get(key)
        if b is None or now >= b.reset:
            b = Budget(limit or self.limit, 0, now + WINDOW_SECONDS)
            self._budgets[key] = b
        return b

    def peek(self, key: str, limit: int | None = None) -> Budget:
        """The budget of ``key`` (``limit``: its size if it is new, else the default)."""
        return self._current(key, limit)

    def spend(self, key: str, limit: int | None = None) -> Budget:
        """Count one request; the budget afterwards (``remaining`` may reach 0)."""
        b = self._current(key, limit)
        b.used += 1
        return b

    def set_limit(self, limit: int) -> None:
        """Resize every budget but the fixed-size ones (anonymous callers')."""
        self.limit = limit
        for key, b in self._budgets.items():
            if not key.startswith("anonymous:"):
                b.limit = limit

    def reset_all(self) -> None:
        self._budgets.clear()
