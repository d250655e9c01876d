"""Errors raised by ``Forge`` methods; API façades map ``status`` onto HTTP answers.

Messages are safe to show to a client (GitHub-like wording, never a token).
"""

from __future__ import annotations


class ForgeError(Exception):
    """Base class. ``status`` is the HTTP status a façade should answer with."""

    status = 400

    def __init__(self, message: str, *, errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        # GitHub's 422 bodies carry a list of {resource, field, code, message}
        self.errors = errors or []


class Unauthorized(ForgeError):
    status = 401


class Forbidden(ForgeError):
    status = 403


class NotFound(ForgeError):
    status = 404


class NotMergeable(ForgeError):
    """The pull request cannot be merged (conflicts, closed, already merged)."""

    status = 405


class Conflict(ForgeError):
    """State moved under the caller: the expected head or old ref value no longer holds."""

    status = 409


class Unprocessable(ForgeError):
    """Validation failed, or the thing already exists (GitHub answers 422 for both)."""

    status = 422


# GitHub's 422 ``errors`` items
def invalid_field(field: str, resource: str = "PullRequest") -> dict:
    return {"resource": resource, "field": field, "code": "invalid"}


def missing_field(field: str, resource: str = "PullRequest") -> dict:
    return {"resource": resource, "field": field, "code": "missing_field"}


def custom_error(message: str, resource: str = "PullRequest") -> dict:
    return {"resource": resource, "code": "custom", "message": message}
