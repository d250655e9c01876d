"""What ``prbot check`` asks GitLab: ``GET /user``, ``/personal_access_tokens/self`` and
the hooks of the projects and groups named. Nothing is changed."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from prbot.settings import Settings
from prbot.setup.credentials import SetupError
from prbot.setup.gitlab_checks import GitLabHooks, GitLabObserved
from prbot.setup.gitlab_hooks import GitLabApi


async def observe(
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    projects: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> GitLabObserved:
    seen = GitLabObserved(settings.gitlab_url, bool(settings.gitlab_webhook_secrets))
    if settings.gitlab_token is None:
        seen.token_status = 0
        return seen
    api = GitLabApi(settings.gitlab_url, settings.gitlab_token.reveal(), http)
    try:
        me = await api.call("GET", "/user")
        seen.token_status = me.status_code
        if me.status_code != 200:
            return seen
        seen.login = str(me.json().get("username", ""))
        _, seen.scopes = await api.scopes()
        for project, group in [*((p, None) for p in projects), *((None, g) for g in groups)]:
            path, target = api.hooks_path(project, group)
            try:
                seen.targets.append(GitLabHooks(target, await api.hooks(path, target)))
            except SetupError as exc:
                seen.targets.append(GitLabHooks(target, None, str(exc).partition(": ")[2]))
    except SetupError as exc:
        seen.unreachable = str(exc)
    return seen
