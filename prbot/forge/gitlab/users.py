"""Users, the current user, and project members (with their access levels)."""

from __future__ import annotations

from aiohttp import web

from prbot.forge.errors import ForgeError
from prbot.forge.gitlab.context import Ctx, Routes, not_found, paginate
from prbot.forge.gitlab.shapes import GitLabShapes
from prbot.forge.models import ACCESS_LEVELS, User


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge

    async def current_user(ctx: Ctx) -> web.Response:
        return web.json_response(shapes.full_user(forge.user(ctx.actor)))

    async def list_users(ctx: Ctx) -> web.Response:
        users = forge.users()
        username = ctx.str_param("username")
        if username is not None:
            # GitLab matches the username case-insensitively and exactly
            users = [u for u in users if u.login.lower() == username.lower()]
        search = ctx.str_param("search")
        if search:
            users = [u for u in users if search.lower() in (u.login + u.name).lower()]
        return paginate(ctx, users, lambda u: shapes.user(u.login))

    async def get_user(ctx: Ctx) -> web.Response:
        try:
            user = forge.user_by_id(int(ctx.arg("user_id")))
        except (ForgeError, ValueError):
            raise not_found("User") from None
        return web.json_response(shapes.full_user(user))

    def members_of(repo_name: str) -> list[User]:
        return [u for u, perm in forge.collaborators(repo_name) if ACCESS_LEVELS[perm] > 0]

    async def list_members(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        return paginate(ctx, members_of(repo.full_name), lambda u: shapes.member(repo, u))

    async def get_member(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        try:
            user = forge.user_by_id(int(ctx.arg("user_id")))
        except (ForgeError, ValueError):
            raise not_found() from None
        if forge.access_level(repo.full_name, user.login) == 0:
            raise not_found()
        return web.json_response(shapes.member(repo, user))

    routes.add("GET", "/user", current_user)
    routes.add("GET", "/users", list_users)
    routes.add("GET", "/users/{user_id}", get_user)
    routes.add("GET", "/projects/{id}/members/all", list_members)
    routes.add("GET", "/projects/{id}/members/all/{user_id}", get_member)
