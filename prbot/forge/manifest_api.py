"""The REST side of an App made from a manifest: the code's conversion and what the App
may read about itself with its JWT.

``POST /api/v3/app-manifests/{code}/conversions`` (no authentication, as on GitHub: the
code is the secret; a second use answers 404), and, authenticated as the App (JWT):
``GET /api/v3/app``, ``/app/hook/config`` (the secret shown as
asterisks, as GitHub does) and ``/app/hook/deliveries`` (newest first: what the forge's
attempts to reach the App's webhook answered). ``setup_routes`` also mounts the pages of
``manifest_page``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from prbot.forge import manifest_page
from prbot.forge.errors import ForgeError
from prbot.forge.ghhttp import (
    ApiError,
    error_response,
    forge_of,
    json_response,
    paginate,
    principal,
)
from prbot.forge.ghshapes import GitHubShapes
from prbot.forge.manifest import ManifestFlow
from prbot.forge.models import App, Hook
from prbot.forge.state import Forge

API = "/api/v3"
CONVERSION = f"{API}/app-manifests/{{code}}/conversions"


def _the_app(request: web.Request) -> App:
    who = principal(request)
    if not isinstance(who, App):
        raise ApiError(401, "A JSON web token is required for this endpoint")
    return who


def _app_hook(forge: Forge, app: App) -> Hook | None:
    return next((h for h in forge.hooks() if h.app_id == app.id), None)


async def conversion(request: web.Request) -> web.Response:
    forge = forge_of(request)
    try:
        app, found = manifest_page.flow_of(request).convert(request.match_info["code"])
    except ForgeError as exc:  # anonymous: the middleware leaves errors to this handler
        return error_response(exc.status, exc.message)
    body: dict[str, Any] = {
        **(GitHubShapes(forge).app(app) or {}),
        "client_id": app.client_id,
        "client_secret": found.client_secret,
        "webhook_secret": found.webhook_secret,
        "pem": found.pem,
    }
    return json_response(body, status=201)


async def get_app(request: web.Request) -> web.Response:
    forge = forge_of(request)
    app = _the_app(request)
    body = GitHubShapes(forge).app(app) or {}
    body["installations_count"] = sum(i.app_id == app.id for i in forge.installations())
    return json_response(body)


async def hook_config(request: web.Request) -> web.Response:
    hook = _app_hook(forge_of(request), _the_app(request))
    url, secret = (hook.url, "********" if hook.secret else None) if hook else ("", None)
    return json_response(
        {"content_type": "json", "insecure_ssl": "0", "url": url, "secret": secret}
    )


def _delivery(d: Any) -> dict[str, Any]:
    if d.error:
        status = d.error
    elif d.status_code is not None and d.status_code < 300:
        status = "OK"
    else:
        status = f"Invalid HTTP Response: {d.status_code}"
    when = datetime.fromtimestamp(d.delivered_at or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": d.id,
        "guid": d.guid,
        "delivered_at": when,
        "redelivery": d.redelivery,
        "duration": round((d.duration_ms or 0) / 1000, 3),
        "status": status,
        "status_code": d.status_code or 0,
        "event": d.event,
        "action": d.action,
        "installation_id": None,
        "repository_id": None,
    }


async def hook_deliveries(request: web.Request) -> web.Response:
    forge = forge_of(request)
    hook = _app_hook(forge, _the_app(request))
    if hook is None:
        raise ApiError(404, "Not Found")
    done = [d for d in forge.webhooks.deliveries(hook.id) if d.delivered_at is not None]
    done.sort(key=lambda d: d.id, reverse=True)
    chunk, headers = paginate(request, done)
    return json_response([_delivery(d) for d in chunk], headers=headers)


def setup_routes(app: web.Application, forge: Forge) -> None:
    app[manifest_page.FLOW_KEY] = ManifestFlow(forge)
    app.router.add_routes(manifest_page.routes())
    app.router.add_post(CONVERSION, conversion)
    app.router.add_get(f"{API}/app", get_app)
    app.router.add_get(f"{API}/app/hook/config", hook_config)
    app.router.add_get(f"{API}/app/hook/deliveries", hook_deliveries)
