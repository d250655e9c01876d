"""Admin HTTP API for OAuth clients, under ``/_forge/oauth/apps`` (errors as in admin.py).

A client is named by its client id on either platform: a GitHub App's ``Iv1.…`` (the
App itself is registered with ``POST /_forge/apps``) or a GitLab application's uid.
Secrets are shown once, in the answer that makes them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from prbot.forge.admin import PREFIX, BadRequest, _forge, _json, _need, _ok
from prbot.forge.errors import NotFound
from prbot.forge.models import App, OAuthApplication
from prbot.forge.state import Forge


def _github(app: App) -> dict[str, Any]:
    return {"platform": "github", "client_id": app.client_id, "app_id": app.id,
            "name": app.name, "callback_url": app.callback_url}  # fmt: skip


def _gitlab(a: OAuthApplication) -> dict[str, Any]:
    return {"platform": "gitlab", "client_id": a.uid, "id": a.id, "name": a.name,
            "redirect_uris": a.redirect_uris, "scopes": a.scopes}  # fmt: skip


def _uris(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()  # GitLab's form takes one per line
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise BadRequest("redirect_uri must be a string or a list of strings")


def _scopes(value: Any) -> list[str] | None:
    if value is None:
        return None
    return _uris(value)


def _find(forge: Forge, client_id: str) -> App | OAuthApplication:
    for app in forge.apps():
        if app.client_id == client_id:
            return app
    try:
        return forge.oauth_application(client_id)
    except NotFound:
        raise NotFound(f"no OAuth client {client_id!r}") from None


async def list_clients(request: web.Request) -> web.Response:
    forge = _forge(request)
    return _ok([_github(a) for a in forge.apps()]
               + [_gitlab(a) for a in forge.oauth_applications()])  # fmt: skip


async def create_client(request: web.Request) -> web.Response:
    """GitLab: {platform, name, redirect_uri (one per line, or a list), scopes?,
    client_id?, client_secret?}. GitHub: {platform, app_id, callback_url, client_secret?}
    turns on an App's user authorization and makes it a new secret."""
    forge = _forge(request)
    data = await _json(request)
    platform = _need(data, "platform")
    if platform == "github":
        app = forge.set_app_callback(int(_need(data, "app_id")), _need(data, "callback_url"))
        secret = forge.new_app_client_secret(app.id, data.get("client_secret") or None)
        return _ok({**_github(app), "client_secret": secret}, status=201)
    if platform != "gitlab":
        raise BadRequest("platform must be github or gitlab")
    application, secret = forge.create_oauth_application(
        _need(data, "name"),
        _uris(_need(data, "redirect_uri")),
        scopes=_scopes(data.get("scopes")),
        uid=data.get("client_id") or None,
        secret=data.get("client_secret") or None,
    )
    return _ok({**_gitlab(application), "client_secret": secret}, status=201)


async def update_client(request: web.Request) -> web.Response:
    """GitHub: {callback_url}. GitLab: {name?, redirect_uri?, scopes?}."""
    forge = _forge(request)
    data = await _json(request)
    found = _find(forge, request.match_info["client_id"])
    if isinstance(found, App):
        return _ok(_github(forge.set_app_callback(found.id, _need(data, "callback_url"))))
    uris = data.get("redirect_uri")
    application = forge.update_oauth_application(
        found.uid,
        name=data.get("name"),
        redirect_uris=_uris(uris) if uris is not None else None,
        scopes=_scopes(data.get("scopes")),
    )
    return _ok(_gitlab(application))


async def new_secret(request: web.Request) -> web.Response:
    """{client_secret?}: a new secret (GitHub keeps the old ones, GitLab replaces it)."""
    forge = _forge(request)
    data = await _json(request)
    found = _find(forge, request.match_info["client_id"])
    given = data.get("client_secret") or None
    if isinstance(found, App):
        secret = forge.new_app_client_secret(found.id, given)
    else:
        secret = forge.new_oauth_application_secret(found.uid, given)
    return _ok({"client_id": request.match_info["client_id"], "client_secret": secret},
               status=201)  # fmt: skip


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", f"{PREFIX}/oauth/apps", list_clients),
    ("POST", f"{PREFIX}/oauth/apps", create_client),
    ("PATCH", f"{PREFIX}/oauth/apps/{{client_id}}", update_client),
    ("POST", f"{PREFIX}/oauth/apps/{{client_id}}/secrets", new_secret),
]


def setup_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
