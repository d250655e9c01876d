"""The SCM port on GitHub: gidgethub over httpx, GitHub App or token auth, GHES-ready."""

from prbot.scm.counter import RequestCounter
from prbot.scm.github.auth import AppAuth, TokenAuth
from prbot.scm.github.client import GitHubClient
from prbot.scm.github.limits import RateLimitBook, RetryPolicy
from prbot.scm.github.provider import GitHubScm

__all__ = [
    "AppAuth",
    "GitHubClient",
    "GitHubScm",
    "RateLimitBook",
    "RequestCounter",
    "RetryPolicy",
    "TokenAuth",
]
