"""GitHub HTTP conventions shared by the REST routes and GraphQL.

Authentication (``Authorization: Bearer|token <token>``; 401 otherwise), the per-principal
request budget and its ``x-ratelimit-*`` headers on every answer, GitHub's error bodies
(``{"message", "documentation_url"}``; 422 with ``errors``), JSON body parsing, the
repository access check (404 when the caller cannot see the repo, 403 when it can but may
not do this), and ``Link`` pagination.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from prbot.forge.errors import ForgeError
from prbot.forge.models import PERMISSIONS, App, Installation, Repo, User
from prbot.forge.state import Forge, Principal

log = logging.getLogger(__name__)
GITHUB_PREFIXES = ("/api/v3/", "/api/graphql")
DOCS = "https://docs.github.com/rest"
FORGE_KEY = web.AppKey("forge", Forge)
PRINCIPAL = web.RequestKey("forge.principal", object)
# endpoints an app authenticates to with its JWT rather than an installation token
JWT_ROUTES = (
    "/api/v3/app/installations",
    "/api/v3/app/installations/{installation_id}/access_tokens",
    "/api/v3/repos/{owner}/{repo}/installation",
    "/api/v3/app",
    "/api/v3/app/hook/config",
    "/api/v3/app/hook/deliveries",
)
# endpoints that take no credentials (the manifest flow's code is its own secret); their
# handlers answer their own errors
ANONYMOUS_ROUTES = ("/api/v3/app-manifests/{code}/conversions",)
UNMETERED = ("/api/v3/rate_limit",)


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def error_response(status: int, message: str, errors: list[dict] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return json_response(body, status=status)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None):
    return web.Response(
        text=json.dumps(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def forge_of(request: web.Request) -> Forge:
    return request.app[FORGE_KEY]


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def actor(request: web.Request) -> str:
    return forge_of(request).actor_login(principal(request))


def budget_key(p: Principal) -> str:
    if isinstance(p, User):
        return f"user:{p.login}"
    if isinstance(p, Installation):
        return f"installation:{p.id}"
    return f"app:{p.id}"


def bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return None


def _route(request: web.Request) -> str:
    resource = getattr(getattr(request.match_info, "route", None), "resource", None)
    return resource.canonical if resource is not None else request.path


def _rate_headers(forge: Forge, key: str, resource: str) -> dict[str, str]:
    b = forge.rate_limits.peek(key)
    return {
        "x-ratelimit-limit": str(b.limit),
        "x-ratelimit-remaining": str(b.remaining),
        "x-ratelimit-reset": str(b.reset),
        "x-ratelimit-used": str(b.used),
        "x-ratelimit-resource": resource,
    }


ANONYMOUS_LIMIT = 60  # GitHub's hourly budget for unauthenticated requests


@web.middleware
async def github_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith(GITHUB_PREFIXES):
        return await handler(request)
    forge = forge_of(request)
    resource = "graphql" if request.path == "/api/graphql" else "core"
    route = _route(request)
    token = bearer(request)
    who = forge.authenticate(token, "github") if token else None
    if who is None and token is None and route in ANONYMOUS_ROUTES:
        key = f"anonymous:{request.remote}:{resource}"
        forge.rate_limits.spend(key, limit=ANONYMOUS_LIMIT)
        return _finish(forge, await handler(request), key, resource)
    if who is None:
        # refused requests still spend (and report) the caller's anonymous budget
        key = f"anonymous:{request.remote}:{resource}"
        forge.rate_limits.spend(key, limit=ANONYMOUS_LIMIT)
        message = "Requires authentication" if token is None else "Bad credentials"
        return _finish(forge, error_response(401, message), key, resource)
    # GraphQL has its own budget, as on GitHub
    key = budget_key(who) + (":graphql" if resource == "graphql" else "")
    if isinstance(who, App) and route not in JWT_ROUTES:
        message = "A JSON web token could not be used for this endpoint; use an installation token"
        return _finish(forge, error_response(401, message), key, resource)
    request[PRINCIPAL] = who
    if route not in UNMETERED:
        if forge.rate_limits.peek(key).remaining <= 0:
            message = f"API rate limit exceeded for {budget_key(who).replace(':', ' ')}."
            return _finish(forge, error_response(403, message), key, resource)
        forge.rate_limits.spend(key)
    try:
        resp = await handler(request)
    except ApiError as exc:
        resp = error_response(exc.status, exc.message, exc.errors)
    except ForgeError as exc:
        resp = error_response(exc.status, exc.message, exc.errors or None)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        resp = error_response(exc.status, exc.reason or "Error")
    except Exception:
        log.exception("%s %s failed", request.method, route)
        resp = error_response(500, "Server Error")
    return _finish(forge, resp, key, resource)


def _finish(forge: Forge, resp: web.Response, key: str, resource: str) -> web.Response:
    resp.headers.update(
        {
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(),
        }
    )
    resp.headers.update(_rate_headers(forge, key, resource))
    return resp


async def body_json(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The JSON object body; 400 "Problems parsing JSON" like GitHub."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "Problems parsing JSON")
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None
    return data


def need_str(data: dict[str, Any], key: str, resource: str = "Request") -> str:
    value = data.get(key)
    if not isinstance(value, str) or value == "":
        raise ApiError(
            422,
            "Invalid request.\n\n"
            + (f'"{key}" wasn\'t supplied.' if value is None else f"{key} is not a string."),
            [{"resource": resource, "field": key, "code": "missing_field"}],
        )
    return value


def repo_access(request: web.Request, need: str = "read") -> Repo:
    """The repo in the path, if the caller may ``need`` on it (404 if it may not see it)."""
    forge = forge_of(request)
    full = f"{request.match_info['owner']}/{request.match_info['repo']}"
    repo = forge.repo(full)
    level = forge.principal_permission(full, principal(request))
    if level == "none":
        raise ApiError(404, "Not Found")
    if PERMISSIONS.index(level) < PERMISSIONS.index(need):
        if isinstance(principal(request), Installation):
            raise ApiError(403, "Resource not accessible by integration")
        raise ApiError(403, f"Must have {need} access to repository.")
    return repo


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return max(lo, min(hi, int(raw)))
    except ValueError:
        return default


def paginate(request: web.Request, items: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """The requested page (``per_page`` ≤ 100, default 30; ``page`` from 1) and its
    ``Link`` header (next/last/first/prev, as GitHub sends them)."""
    per_page = int_param(request, "per_page", 30, 1, 100)
    page = int_param(request, "page", 1, 1, 1_000_000)
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    forge = forge_of(request)

    def url(p: int) -> str:
        query = dict(request.query)
        query["page"] = str(p)
        query["per_page"] = str(per_page)
        return f"{forge.base_url}{request.path}?{urlencode(query)}"

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"', f'<{url(min(page - 1, last))}>; rel="prev"']
    return chunk, ({"Link": ", ".join(links)} if links else {})
