"""Personal access tokens' scopes: ``GET /personal_access_tokens/self``, and the forge's
admin ``POST /_forge/gitlab/tokens`` that makes a token with chosen scopes.

The forge's tokens had no scopes until now, and every one of them acts with the whole
API: a token with none recorded is ``api``. Scopes are kept by token hash in
``gitlab-token-scopes.json`` beside the forge's state (the token itself never).
``require_scope`` is what a route that needs more than reading calls, answering 403
``insufficient_scope`` as GitLab does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from prbot.forge.gitlab.context import ApiError, Ctx, Routes, not_found, request_token
from prbot.forge.gitlab.shapes import GitLabShapes
from prbot.forge.models import User, hash_token
from prbot.forge.state import Forge

FILE = "gitlab-token-scopes.json"
DEFAULT_SCOPES = ("api",)
KNOWN_SCOPES = frozenset(
    {
        "api",
        "read_api",
        "read_user",
        "read_repository",
        "write_repository",
        "read_registry",
        "write_registry",
        "sudo",
        "admin_mode",
        "create_runner",
        "manage_runner",
        "ai_features",
        "k8s_proxy",
        "read_service_ping",
    }
)


class TokenScopes:
    """token hash -> {scopes, name, created_at}, persisted as JSON."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge
        self.path = Path(forge.data_dir) / FILE
        self._by_hash: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._by_hash = json.loads(self.path.read_text(encoding="utf-8"))

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._by_hash, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def create(self, login: str, scopes: list[str], name: str = "forge") -> str:
        unknown = sorted(set(scopes) - KNOWN_SCOPES)
        if not scopes or unknown:
            raise ApiError(
                400,
                f"scopes: {', '.join(unknown) or 'none'} given; pick from "
                f"{', '.join(sorted(KNOWN_SCOPES))}",
            )
        token = self.forge.create_token(login)
        self._by_hash[hash_token(token)] = {
            "scopes": list(scopes),
            "name": name,
            "created_at": self.forge.timestamp(),
        }
        self._save()
        return token

    def of(self, token: str) -> list[str]:
        record = self._by_hash.get(hash_token(token))
        return list(record["scopes"]) if record else list(DEFAULT_SCOPES)

    def record(self, token: str) -> dict[str, Any]:
        return self._by_hash.get(hash_token(token)) or {}


SCOPES_KEY = web.AppKey("forge.gitlab_token_scopes", TokenScopes)


def scopes_of(ctx: Ctx) -> list[str]:
    return ctx.request.app[SCOPES_KEY].of(request_token(ctx.request))


def require_scope(ctx: Ctx, scope: str = "api") -> None:
    if scope not in scopes_of(ctx) and not (scope == "read_api" and "api" in scopes_of(ctx)):
        raise ApiError(
            403,
            "insufficient_scope",
            error="insufficient_scope",
            error_description="The request requires higher privileges than provided by the "
            "access token.",
            scope=scope,
        )


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge
    registry = TokenScopes(forge)
    routes.app[SCOPES_KEY] = registry

    async def self_token(ctx: Ctx) -> web.Response:
        if not isinstance(ctx.principal, User):
            raise not_found()  # an OAuth or installation token is no personal token
        token = request_token(ctx.request)
        record = registry.record(token)
        return web.json_response(
            {
                "id": int(hash_token(token)[:8], 16),
                "name": record.get("name", "forge"),
                "revoked": False,
                "created_at": record.get("created_at", ctx.principal.created_at),
                "description": None,
                "scopes": registry.of(token),
                "user_id": ctx.principal.id,
                "last_used_at": forge.timestamp(),
                "active": True,
                "expires_at": None,
            }
        )

    async def create(request: web.Request) -> web.Response:
        data = await request.json()
        login, scopes = data.get("login"), data.get("scopes")
        if not isinstance(login, str) or not isinstance(scopes, list):
            return web.json_response({"error": "login and scopes are required"}, status=400)
        try:
            forge.user(login)
            token = registry.create(login, [str(s) for s in scopes], str(data.get("name", "")))
        except ApiError as exc:
            return web.json_response({"error": str(exc.message)}, status=exc.status)
        return web.json_response({"token": token, "scopes": scopes}, status=201)

    routes.add("GET", "/personal_access_tokens/self", self_token)
    routes.app.router.add_post("/_forge/gitlab/tokens", create)
