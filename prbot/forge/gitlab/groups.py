"""Groups and their members: the forge's teams as GitLab shows them.

A group is named by its numeric id or URL-encoded full path. ``members/all`` counts
the members of the groups above it too (one answer per user, the best membership), as
GitLab does; a missing group is ``404 Group Not Found``, a missing member ``404 Not
found``, which is how a client tells "no such group" from "not a member". Groups are
visible to every authenticated caller (the forge has no private groups).
"""

from __future__ import annotations

from aiohttp import web

from prbot.forge.errors import ForgeError
from prbot.forge.gitlab.context import Ctx, Routes, not_found
from prbot.forge.gitlab.shapes import GitLabShapes
from prbot.forge.models import Team, TeamMember


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge

    def group(ctx: Ctx) -> Team:
        ident = ctx.arg("id")
        try:
            return forge.team_by_id(int(ident)) if ident.isdigit() else forge.team(ident)
        except ForgeError:
            raise not_found("Group") from None

    def member_of(ctx: Ctx, team: Team, *, inherited: bool) -> TeamMember:
        try:
            user = forge.user_by_id(int(ctx.arg("user_id")))
        except (ForgeError, ValueError):
            raise not_found() from None
        if inherited:
            member = forge.group_member(team.path, user.login)
        else:
            member = forge.team_member(team.path, user.login)
        if member is None:
            raise not_found()
        return member

    async def get_group(ctx: Ctx) -> web.Response:
        return web.json_response(shapes.group(group(ctx)))

    async def get_member(ctx: Ctx) -> web.Response:
        team = group(ctx)
        return web.json_response(shapes.group_member(team, member_of(ctx, team, inherited=False)))

    async def get_member_all(ctx: Ctx) -> web.Response:
        team = group(ctx)
        return web.json_response(shapes.group_member(team, member_of(ctx, team, inherited=True)))

    routes.add("GET", "/groups/{id}", get_group)
    routes.add("GET", "/groups/{id}/members/{user_id}", get_member)
    routes.add("GET", "/groups/{id}/members/all/{user_id}", get_member_all)
