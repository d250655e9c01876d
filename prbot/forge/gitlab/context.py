"""Request plumbing of the GitLab façade: auth, rate limits, errors, params, pagination.

Every route is registered through ``Routes``, which wraps the handler so it gets a
``Ctx`` (the caller, the forge, parsed parameters) and so failures answer the way
GitLab does: ``{"message": ...}`` with GitLab's status codes and wording.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from prbot.forge.errors import ForgeError
from prbot.forge.ghhttp import budget_key
from prbot.forge.models import PERMISSIONS, Repo

if TYPE_CHECKING:
    from prbot.forge.state import Forge, Principal

log = logging.getLogger("prbot.forge.gitlab")

API_PREFIX = "/api/v4"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


class ApiError(Exception):
    """An answer GitLab would give: ``status`` and a ``message`` (str, list or dict)."""

    def __init__(self, status: int, message: Any, **extra: Any):
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.extra = extra

    def response(self) -> web.Response:
        return web.json_response({"message": self.message, **self.extra}, status=self.status)


def not_found(what: str = "") -> ApiError:
    # GitLab's not_found!(resource) wording: "404 Project Not Found", "404 Not found"
    return ApiError(404, f"404 {what} Not Found" if what else "404 Not found")


def bad_request(message: Any) -> ApiError:
    return ApiError(400, message)


FORBIDDEN = ApiError(403, "403 Forbidden")


@dataclass
class Ctx:
    request: web.Request
    forge: Forge
    principal: Principal
    actor: str  # the login acting: a user, or an app's bot user
    params: dict[str, Any]  # query string merged under the JSON / form body

    @property
    def web(self) -> str:
        return self.forge.base_url

    def arg(self, name: str) -> str:
        return self.request.match_info[name]

    def project(self, need: str = "read") -> Repo:
        """The project named by ``{id}`` (numeric id or URL-encoded full path), if the
        caller may ``need`` it. Without any access it does not exist (as on GitLab)."""
        ident = self.arg("id")
        try:
            repo = self.forge.repo_by_id(int(ident)) if ident.isdigit() else self.forge.repo(ident)
        except ForgeError:
            raise not_found("Project") from None
        level = self.forge.principal_permission(repo.full_name, self.principal)
        if level == "none":
            raise not_found("Project")
        if PERMISSIONS.index(level) < PERMISSIONS.index(need):
            raise FORBIDDEN
        return repo

    # --- parameters ------------------------------------------------------------------

    def str_param(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        if value is None or isinstance(value, (dict, list)):
            return default
        return str(value)

    def required(self, name: str) -> str:
        value = self.str_param(name)
        if value is None or value == "":
            raise bad_request(f"{name} is missing")
        return value

    def bool_param(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes", "on")

    def int_param(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"{name} is invalid") from None

    def list_param(self, name: str) -> list[str] | None:
        """A list given as JSON array, ``name[]=a&name[]=b`` or comma separated."""
        value = self.params.get(name, self.params.get(f"{name}[]"))
        if value is None:
            return None
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [v.strip() for v in str(value).split(",") if v.strip()]


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        params[key] = values if key.endswith("[]") or len(values) > 1 else values[0]
    if request.method in ("POST", "PUT", "PATCH") and request.can_read_body:
        raw = await request.read()
        ctype = request.content_type
        if raw and ctype == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                raise bad_request("400 Bad request - invalid JSON") from None
            if isinstance(body, dict):
                params.update(body)
        elif raw and ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key in form:
                values = form.getall(key)
                params[key] = values if key.endswith("[]") or len(values) > 1 else values[0]
    return params


def request_token(request: web.Request) -> str:
    """The token a GitLab API request carries (PRIVATE-TOKEN, or a Bearer one)."""
    token = request.headers.get("PRIVATE-TOKEN", "")
    if not token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    return token


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


class Routes:
    """Registers GitLab routes under ``/api/v4`` with auth, rate limiting and errors."""

    def __init__(self, app: web.Application, forge: Forge):
        self.app = app
        self.forge = forge

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.app.router.add_route(method, API_PREFIX + path, self._wrap(handler))

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        forge = self.forge

        async def run(request: web.Request) -> web.StreamResponse:
            principal = forge.authenticate(request_token(request), "gitlab")
            if principal is None:
                return ApiError(401, "401 Unauthorized").response()
            actor = forge.actor_login(principal)
            key = budget_key(principal)  # one budget per principal, as on the GitHub side
            budget = forge.rate_limits.peek(key)
            exhausted = budget.remaining <= 0
            if not exhausted:
                budget = forge.rate_limits.spend(key)
            limit_headers = {
                "RateLimit-Limit": str(budget.limit),
                "RateLimit-Observed": str(budget.used),
                "RateLimit-Remaining": str(budget.remaining),
                "RateLimit-Reset": str(budget.reset),
            }
            if exhausted:
                resp = web.Response(text="Retry later\n", status=429, headers=limit_headers)
                resp.headers["Retry-After"] = str(max(0, budget.reset - int(forge.now())))
                return resp
            try:
                ctx = Ctx(request, forge, principal, actor, await read_params(request))
                resp = await handler(ctx)
            except ApiError as exc:
                resp = exc.response()
            except ForgeError as exc:
                # a forge refusal not translated by the handler: GitLab's generic shape
                resp = ApiError(exc.status, exc.message).response()
            except web.HTTPException:
                raise  # aiohttp's own answers (body too large...) stand as they are
            except Exception:
                # a bug or a broken repository: answer as GitLab does, keep the traceback
                log.exception("GitLab API %s %s failed", request.method, request.path)
                resp = ApiError(500, "500 Internal Server Error").response()
            resp.headers.update(limit_headers)
            return resp

        return run


def paginate(ctx: Ctx, items: Sequence[Any], render: Callable[[Any], Any]) -> web.Response:
    """One page of ``items`` with GitLab's offset-pagination headers and Link."""
    per_page = min(MAX_PER_PAGE, max(1, ctx.int_param("per_page", DEFAULT_PER_PAGE) or 1))
    page = max(1, ctx.int_param("page", 1) or 1)
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    links = []
    if page > 1:
        links.append(_link(ctx, page - 1, per_page, "prev"))
    if page < pages:
        links.append(_link(ctx, page + 1, per_page, "next"))
    links.append(_link(ctx, 1, per_page, "first"))
    links.append(_link(ctx, pages, per_page, "last"))
    headers["Link"] = ", ".join(links)
    return web.json_response([render(x) for x in chunk], headers=headers)


def _link(ctx: Ctx, page: int, per_page: int, rel: str) -> str:
    # built on the forge's base URL so clients see the host they were configured with
    url = ctx.request.rel_url.update_query({"page": str(page), "per_page": str(per_page)})
    return f'<{ctx.web.rstrip("/")}{url}>; rel="{rel}"'
