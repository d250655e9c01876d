"""Errors that tell the worker pool how a failed job should be treated."""

from __future__ import annotations

from prbot.automation.errors import PrbotError


class PermanentError(PrbotError):
    """A failure that no retry can fix (a bad definition, invalid inputs, an SCM that is
    not configured): the job goes straight to the dead letters with this message."""


class DescribedError(PrbotError):
    """A failure a handler has already put into words (``Type: message``, secrets of the
    job's own inputs removed), so the pool stores the text as it is."""

    def __init__(self, text: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(text)
        self.permanent = permanent
        self.retry_after = retry_after  # at least this long before a retry helps


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PermanentError) or bool(getattr(exc, "permanent", False))


def describe(exc: BaseException) -> str:
    """``Type: message`` for a job's last error. A ``PermanentError`` raised ``from`` the
    original error names the original's type, which is what a person can act on."""
    if isinstance(exc, DescribedError):
        return str(exc)
    shown: BaseException = exc
    if isinstance(exc, PermanentError) and exc.__cause__ is not None:
        shown = exc.__cause__
    message = str(exc).strip()
    name = type(shown).__name__
    return f"{name}: {message}" if message else name
