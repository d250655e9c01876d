"""GitHub-specific subclasses of the port's errors, carrying the HTTP status.

The provider needs a little more than the port's classes say (which 422 it was, whether
a failed request may have reached the server), so these add attributes without changing
what callers of the port catch. Messages name the method and route template; they never
hold a header value, a token or a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prbot.scm.port import Conflict, NotFound, RateLimited, ScmError, ScmUnavailable


class GitHubStatusError(ScmError):
    """GitHub answered with an error status that is not retried."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        detail: str = "",
        errors: Sequence[Any] = (),
        permanent: bool | None = None,
    ):
        super().__init__(message, permanent=permanent)
        self.status = status
        self.detail = detail  # GitHub's own "message" field
        self.errors = tuple(errors)  # GitHub's 422 "errors" list

    def mentions(self, text: str) -> bool:
        """Whether GitHub's message or error list says ``text`` (case-insensitive)."""
        needle = text.lower()
        hay = [self.detail, *(_error_text(e) for e in self.errors)]
        return any(needle in h.lower() for h in hay)


class GitHubNotFound(GitHubStatusError, NotFound):
    pass


class GitHubConflict(GitHubStatusError, Conflict):
    pass


class GitHubUnavailable(ScmUnavailable):
    """Retries ran out on 5xx answers or transport errors.

    ``sent`` is False only when the request certainly never reached GitHub (the
    connection could not be made), so a non-idempotent call may be repeated blindly.
    """

    def __init__(self, message: str, *, sent: bool, status: int | None = None):
        super().__init__(message)
        self.sent = sent
        self.status = status


class GitHubRateLimited(RateLimited):
    pass


def _error_text(e: Any) -> str:
    if isinstance(e, str):
        return e
    if isinstance(e, dict):
        return " ".join(str(v) for v in e.values() if isinstance(v, str))
    return ""
