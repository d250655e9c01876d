"""Counting the HTTP requests a provider makes, by method and route template.

Tests and benchmarks read these counts to hold the provider to its API budget ("a
constant number of calls whatever the number of files"), so every attempt on the wire
counts, retries included. Route templates replace ids, shas and branch names with
placeholders so counts from different runs compare.
"""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import urlsplit

# the segment after one of these names is an identifier, named by the placeholder
_PLACEHOLDERS = {
    "projects": ":id",
    "commits": ":sha",
    "statuses": ":sha",
    "branches": ":branch",
    "merge_requests": ":iid",
    "notes": ":note_id",
    "award_emoji": ":award_id",
    "all": ":user_id",  # members/all/:user_id
    "users": ":user_id",
    "pipelines": ":pipeline_id",
    "deployments": ":deployment_id",
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_template(url: str) -> str:
    """``/api/v4/projects/acme%2Fgitops/repository/commits/ab12`` ->
    ``/projects/:id/repository/commits/:sha``."""
    path = urlsplit(url).path
    marker = "/api/v4"
    if marker in path:
        path = path.split(marker, 1)[1]
    parts = [p for p in path.split("/") if p]
    out: list[str] = []
    for i, part in enumerate(parts):
        prev = parts[i - 1] if i else ""
        # "all" is only an id-bearing collection under members/
        if prev == "all" and (i < 2 or parts[i - 2] != "members"):
            out.append(part)
        elif prev in _PLACEHOLDERS and not out[-1].startswith(":"):
            out.append(_PLACEHOLDERS[prev])
        else:
            out.append(part)
    return "/" + "/".join(out)


class RequestCounter:
    """Thread-safe tally of requests (``"GET /projects/:id"`` -> n); the provider's
    calls run in worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, method: str, url: str) -> str:
        key = f"{method.upper()} {route_template(url)}"
        with self._lock:
            self._counts[key] += 1
        return key

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    @property
    def reads(self) -> int:
        return sum(n for k, n in self.counts.items() if k.split(" ", 1)[0] in READ_METHODS)

    @property
    def writes(self) -> int:
        return self.total - self.reads

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
