"""``prbot check``'s I/O: which platforms the settings configure, their observations
gathered at once, and the rows ``check`` makes of them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from prbot.settings import Settings
from prbot.setup import check, github_checks, gitlab_checks, observe_github, observe_gitlab
from prbot.setup.gitlab_hooks import hook_flags
from prbot.setup.manifest import handled_events, needed_permissions

TIMEOUT_SECONDS = 20.0


def platforms(settings: Settings) -> list[str]:
    found = []
    if (
        settings.app_id is not None
        or settings.github_token is not None
        or (settings.webhook_secrets)
    ):
        found.append("github")
    if settings.gitlab_token is not None or settings.gitlab_webhook_secrets:
        found.append("gitlab")
    return found


async def run_checks(
    settings: Settings,
    *,
    github_webhook_url: str = "",
    gitlab_webhook_url: str = "",
    gitlab_projects: Sequence[str] = (),
    gitlab_groups: Sequence[str] = (),
    http: httpx.AsyncClient | None = None,
) -> list[check.Row]:
    wanted = platforms(settings)
    if not wanted:
        return [
            check.Row(
                "settings",
                "platforms",
                "FAIL",
                "neither GitHub nor GitLab is configured",
                "run `prbot setup github` or `prbot setup gitlab`",
            )
        ]
    own = http is None
    http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
    try:
        rows: list[check.Row] = []
        github, gitlab = await asyncio.gather(
            observe_github.observe(settings, http) if "github" in wanted else _none(),
            observe_gitlab.observe(settings, http, projects=gitlab_projects, groups=gitlab_groups)
            if "gitlab" in wanted
            else _none(),
        )
        if github is not None:
            rows += github_checks.github_rows(
                github, needed_permissions(), handled_events(), github_webhook_url
            )
        if gitlab is not None:
            rows += gitlab_checks.gitlab_rows(gitlab, list(hook_flags()), gitlab_webhook_url)
        return rows
    finally:
        if own:
            await http.aclose()


async def _none() -> None:
    return None
