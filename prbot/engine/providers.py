"""The SCM provider for a platform, built from ``Settings`` once per process.

prbot accepts webhook deliveries without any SCM credentials (they are stored and
answered); only the jobs that need the forge fail, at once and for good, with
``ScmNotConfigured`` naming what to set. One provider per platform is kept, because a
provider holds the HTTP connections, installation tokens and object caches that keep the
API cost down.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from prbot.errors import PermanentError
from prbot.scm.port import Platform, Scm
from prbot.settings import Settings

log = logging.getLogger("prbot.scm")

GITHUB_MISSING = "GitHub is not configured: set APP_ID and PRIVATE_KEY(_PATH), or GITHUB_TOKEN"
GITLAB_MISSING = "GitLab is not configured: set GITLAB_TOKEN (and GITLAB_URL if not gitlab.com)"


class ScmNotConfigured(PermanentError):
    """The platform has no credentials in the settings: retrying cannot help."""


def _fingerprint(settings: Settings, platform: str) -> str:
    """What identifies a provider: its endpoint and credentials (hashed, so the cache key
    never holds a secret in the clear) and the event loop its HTTP clients belong to."""
    try:
        loop = id(asyncio.get_running_loop())
    except RuntimeError:
        loop = 0
    if platform == "github":
        parts: tuple[Any, ...] = (
            settings.github_api_url,
            settings.app_id,
            settings.private_key.reveal() if settings.private_key else "",
            settings.github_token.reveal() if settings.github_token else "",
        )
    else:
        parts = (
            settings.gitlab_url,
            settings.gitlab_token.reveal() if settings.gitlab_token else "",
        )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return f"{platform}:{loop}:{digest}"


def build_scm(settings: Settings, platform: str) -> Scm:
    """A new provider for ``platform`` (no caching); ``ScmNotConfigured`` if it can't be."""
    if platform == "github":
        from prbot.scm.github import GitHubScm

        urls = {"api_url": settings.github_api_url}
        if settings.app_id is not None and settings.private_key is not None:
            # Probot's order: an App when configured, a token otherwise
            return GitHubScm.as_app(settings.app_id, settings.private_key.reveal(), **urls)
        if settings.github_token is not None:
            return GitHubScm.with_token(settings.github_token.reveal(), **urls)
        raise ScmNotConfigured(GITHUB_MISSING)
    if platform == "gitlab":
        from prbot.scm.gitlab import GitLabScm

        if settings.gitlab_token is None:
            raise ScmNotConfigured(GITLAB_MISSING)
        return GitLabScm(settings.gitlab_url, settings.gitlab_token.reveal())
    raise ScmNotConfigured(f"unknown platform {platform!r} (github or gitlab)")


_providers: dict[str, Scm] = {}


def scm_for(settings: Settings, platform: Platform | str) -> Scm:
    """The process's provider for ``platform`` under these settings (built on first use)."""
    key = _fingerprint(settings, platform)
    scm = _providers.get(key)
    if scm is None:
        scm = build_scm(settings, platform)
        _providers[key] = scm
        log.info("SCM provider for %s: %r", platform, scm)
    return scm


async def close_providers() -> None:
    """Close every cached provider (their HTTP clients); call once at shutdown."""
    providers = list(_providers.values())
    _providers.clear()
    for scm in providers:
        try:
            await scm.aclose()
        except Exception:
            log.warning("closing %r failed", scm, exc_info=True)
