"""What ``prbot check`` asks GitHub: as the App (its JWT) ``GET /app``,
``/app/installations``, ``/app/hook/config`` and ``/app/hook/deliveries``; with a token,
``GET /user`` (and the classic token's ``X-OAuth-Scopes``). Nothing is changed."""

from __future__ import annotations

from typing import Any

import httpx

from prbot.scm.github.auth import AppAuth
from prbot.scm.port import ScmError
from prbot.settings import Settings
from prbot.setup.github_checks import GitHubObserved

ACCEPT = "application/vnd.github+json"


def web_url(settings: Settings) -> str:
    if settings.ghe_host:
        return f"{settings.ghe_protocol}://{settings.ghe_host}"
    return "https://github.com"


async def observe(settings: Settings, http: httpx.AsyncClient) -> GitHubObserved:
    app_mode = settings.app_id is not None and settings.private_key is not None
    seen = GitHubObserved(
        mode="app" if app_mode else "token",
        github_url=web_url(settings),
        webhook_secret_set=bool(settings.webhook_secrets),
    )
    api = settings.github_api_url
    try:
        if app_mode:
            await _as_app(seen, settings, api, http)
        elif settings.github_token is not None:
            auth = {"Authorization": f"token {settings.github_token.reveal()}", "Accept": ACCEPT}
            resp = await http.get(f"{api}/user", headers=auth)
            seen.token_status = resp.status_code
            if resp.status_code == 200:
                seen.login = str(resp.json().get("login", ""))
                scopes = resp.headers.get("X-OAuth-Scopes")
                if scopes is not None:
                    seen.token_scopes = tuple(s.strip() for s in scopes.split(",") if s.strip())
    except httpx.HTTPError as exc:
        seen.unreachable = f"{api}: {type(exc).__name__}"
    return seen


async def _as_app(seen: GitHubObserved, settings: Settings, api: str, http: httpx.AsyncClient):
    assert settings.app_id is not None and settings.private_key is not None
    try:
        jwt = AppAuth(settings.app_id, settings.private_key.reveal()).jwt()
    except (ScmError, ValueError):
        seen.app_status = 0  # the key cannot sign: reported as a refused key
        return
    headers = {"Authorization": f"Bearer {jwt}", "Accept": ACCEPT}

    async def get(path: str, **params: Any) -> httpx.Response:
        return await http.get(f"{api}{path}", headers=headers, params=params)

    resp = await get("/app")
    seen.app_status = resp.status_code
    if resp.status_code != 200:
        return
    seen.app = resp.json()
    found: list[dict[str, Any]] = []
    page = 1
    while True:  # an App is rarely installed more than a few times; pages of 100
        listed = await get("/app/installations", per_page=100, page=page)
        if listed.status_code != 200:
            break
        found += listed.json()
        if 'rel="next"' not in listed.headers.get("Link", ""):
            break
        page += 1
    seen.installations = found
    config = await get("/app/hook/config")
    seen.hook_config = config.json() if config.status_code == 200 else {}
    deliveries = await get("/app/hook/deliveries", per_page=5)
    seen.deliveries = deliveries.json() if deliveries.status_code == 200 else []
