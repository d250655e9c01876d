"""Counting the HTTP requests a provider makes, by method and route template, and feeding
the operators' metrics (``prbot_scm_requests``, ``prbot_scm_rate_limit_remaining``).

Tests and benchmarks read the counts to hold a provider to its API budget ("a constant
number of calls whatever the number of files"), so every attempt on the wire counts,
retries included. Route templates (``/repos/{owner}/{repo}/pulls``,
``/projects/:id/merge_requests``) keep the counts, and the metrics' labels, bounded and
comparable across runs. Thread-safe: GitLab's calls run in worker threads.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

from prbot import metrics

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestCounter:
    """Requests sent (``"METHOD /route/template"`` -> n) by one provider."""

    def __init__(self, platform: str = "github") -> None:
        self.platform = platform
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, method: str, route: str) -> str:
        """One attempt of ``method`` on ``route`` is about to go out; returns its key."""
        key = f"{method.upper()} {route}"
        with self._lock:
            self._counts[key] += 1
        return key

    def answered(self, key: str, status: int | str) -> None:
        """The attempt ``key`` got ``status`` (or "error": no answer at all)."""
        metrics.scm_request(self.platform, key, status)

    def rate_limit(self, bucket: str, remaining: int | None) -> None:
        """What the platform last said is left of ``bucket``'s budget (an installation,
        a token)."""
        if remaining is not None:
            metrics.rate_limit_remaining(self.platform, bucket, remaining)

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def snapshot(self) -> dict[str, int]:
        return self.counts

    def since(self, before: Mapping[str, int]) -> dict[str, int]:
        """Requests made after ``before = counter.snapshot()`` was taken."""
        now = self.counts
        return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def reads(self) -> int:
        return sum(n for k, n in self.counts.items() if k.split(" ", 1)[0] in READ_METHODS)

    @property
    def writes(self) -> int:
        return self.total - self.reads

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
