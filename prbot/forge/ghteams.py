"""GitHub's team membership route, answered from the forge's teams.

``GET /orgs/{org}/teams/{team_slug}/memberships/{username}`` is not in the OpenAPI
subset of tests/fixtures/api; its answer follows GitHub's documentation ("Get team
membership for a user"): ``{"url", "role": member|maintainer, "state": active|pending}``,
404 when the team or the membership does not exist. An installation sees the teams of
the account it is installed on, and only with the organisation permission
``members: read`` (else 403, as GitHub answers a token without that permission).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from prbot.forge.ghhttp import ApiError, forge_of, json_response, principal
from prbot.forge.ghshapes import GitHubShapes
from prbot.forge.models import Installation

API = "/api/v3"
NO_ACCESS = "Resource not accessible by integration"


async def team_membership(request: web.Request) -> web.Response:
    forge = forge_of(request)
    org = request.match_info["org"]
    who = principal(request)
    if isinstance(who, Installation):
        if who.account.lower() != org.lower():
            raise ApiError(404, "Not Found")
        if who.permissions.get("members") not in ("read", "write"):
            raise ApiError(403, NO_ACCESS)
    team = forge.find_team(f"{org}/{request.match_info['team_slug']}")
    if team is None:
        raise ApiError(404, "Not Found")
    member = forge.team_member(team.path, request.match_info["username"])
    if member is None:
        raise ApiError(404, "Not Found")
    body: dict[str, Any] = {
        # GitHub links the membership by the team's id (its legacy route)
        "url": f"{GitHubShapes(forge).api}/teams/{team.id}/memberships/{member.login}",
        "role": member.role,
        "state": member.state,
    }
    return json_response(body)


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", f"{API}/orgs/{{org}}/teams/{{team_slug}}/memberships/{{username}}", team_membership),
]


def setup_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
