"""python-gitlab and requests exceptions as the port's errors, with secrets scrubbed.

A token must never reach a log line or an exception text, so messages are rebuilt from
the status code and GitLab's own message (scrubbed of every known secret) and the
original exception is not chained: its context can hold request details.
"""

from __future__ import annotations

from collections.abc import Iterable

import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from prbot.errors import redact
from prbot.scm.port import Conflict, NotFound, RateLimited, ScmError, ScmUnavailable


def status_of(exc: BaseException) -> int | None:
    return getattr(exc, "response_code", None) if isinstance(exc, GitlabError) else None


def message_of(exc: BaseException) -> str:
    if isinstance(exc, GitlabError):
        return str(exc.error_message)
    return ""


def translate(exc: BaseException, what: str, secrets: Iterable[str]) -> ScmError:
    """The port's error for a failed call ``what`` (e.g. "create merge request")."""
    secrets = tuple(secrets)
    if isinstance(exc, ScmError):
        return exc  # raised by our own code, already free of secrets
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return ScmUnavailable(f"GitLab {what}: {type(exc).__name__}")
    if isinstance(exc, requests.RequestException):
        return ScmUnavailable(f"GitLab {what}: {type(exc).__name__}")
    if isinstance(exc, GitlabError):
        code = status_of(exc)
        text = redact(f"GitLab {what}: {code} {message_of(exc)}".strip(), secrets)
        err: ScmError
        if isinstance(exc, GitlabAuthenticationError) or code in (401, 403):
            err = ScmError(text, permanent=True)  # the token lacks the right: no retry helps
        elif code == 404:
            err = NotFound(text)
        elif code == 409:
            err = Conflict(text)
        elif code == 429:
            err = RateLimited(text)
        elif code is not None and code >= 500:
            err = ScmUnavailable(text)
        else:
            err = ScmError(text)
        err.status = code  # type: ignore[attr-defined]  # read back by http_status()
        return err
    return ScmError(redact(f"GitLab {what}: {type(exc).__name__}: {exc}", secrets))


def http_status(err: BaseException) -> int | None:
    """The HTTP status a translated error came from, if it came from an answer."""
    return getattr(err, "status", None)
