"""prbot's base error, and how errors are put into words safely.

Whether a failure is worth a retry is decided where it is raised, by one attribute:
``PrbotError.permanent`` (a class default, or given per instance). A bad definition, an
invalid input or a platform without credentials is permanent; a 5xx that outlasted the
retries is not. Callers read ``is_permanent(exc)`` and never guess from the type.
``retry_after`` says how long at least a retry should wait (a rate limit's reset).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


class PrbotError(Exception):
    """An error whose text is safe to show to the person who caused it."""

    permanent: bool = False
    retry_after: float | None = None

    def __init__(
        self, *args: object, permanent: bool | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(*args)
        if permanent is not None:
            self.permanent = permanent  # per instance, over the class default
        if retry_after is not None:
            self.retry_after = retry_after


class PermanentError(PrbotError):
    """A failure that no retry can fix (a run that does not exist, a payload that is not
    a job's): the job goes straight to the dead letters with this message."""

    permanent = True


class DescribedError(PrbotError):
    """A failure a handler has already put into words (``Type: message``, secrets of the
    job's own inputs removed); it carries the original's ``permanent`` and
    ``retry_after``, so the pool stores the text as it is and decides as the raiser did."""


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying ``exc`` cannot help; only prbot's errors can say so."""
    return isinstance(exc, PrbotError) and exc.permanent


def retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, PrbotError) else None


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


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a secret value in ``text`` by ``***``.

    Longest first, so a secret that contains another is hidden whole. A secret shorter
    than ``SHORT_SECRET`` characters is replaced only where it stands as a word of its own:
    hidden inside every word, a one-letter password would turn "has" into "ha***" in every
    message, while its letter inside another word tells nothing.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) < SHORT_SECRET:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", text)
        else:
            text = text.replace(secret, "***")
    return text


SHORT_SECRET = 4


# the userinfo sits between "scheme://" and the first "@" of the authority
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@?#]*@")
# libpq takes a password as a query parameter too (``?password=...``, ``sslpassword``)
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db?password=x`` ->
    ``postgresql://***@host/db?password=***``."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO.sub(r"\1***@", url))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f" (did you mean {close[0]!r}?)" if close else ""
