"""GitHub REST: the authenticated user, and the installations a user token can reach.

``GET /user`` answers for any user token (PAT or a GitHub App's user token).
``GET /user/installations`` and ``/user/installations/{id}/repositories`` need a user
token issued through a GitHub App's user authorization, as on GitHub: they list that
App's installations on which the user has explicit access to a repository (owner, or a
role on it), and those repositories.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from prbot.forge.ghhttp import (
    ApiError,
    bearer,
    forge_of,
    json_response,
    paginate,
    principal,
)
from prbot.forge.ghshapes import GitHubShapes
from prbot.forge.models import Installation, Repo, User

API = "/api/v3"


def _user(request: web.Request) -> User:
    who = principal(request)
    if not isinstance(who, User):
        raise ApiError(403, "Resource not accessible by integration")
    return who


async def current_user(request: web.Request) -> web.Response:
    forge = forge_of(request)
    user = _user(request)
    shape = GitHubShapes(forge).user(user.login) or {}
    owned = [r for r in forge.repos() if r.owner == user.login]
    shape.update({
        "name": user.name, "company": None, "blog": "", "location": None,
        "email": user.email, "hireable": None, "bio": None, "twitter_username": None,
        "public_repos": sum(1 for r in owned if not r.private), "public_gists": 0,
        "followers": 0, "following": 0, "created_at": user.created_at,
        "updated_at": user.created_at, "private_gists": 0,
        "total_private_repos": sum(1 for r in owned if r.private),
        "owned_private_repos": sum(1 for r in owned if r.private), "disk_usage": 0,
        "collaborators": 0, "two_factor_authentication": False,
        "plan": {"name": "free", "space": 976562499, "private_repos": 10000,
                 "collaborators": 0},
    })  # fmt: skip
    return json_response(shape)


def _app_of_token(request: web.Request) -> int:
    """The App whose user authorization issued the caller's token."""
    forge = forge_of(request)
    _user(request)
    record = forge.oauth_token(bearer(request) or "", "github")
    app = next((a for a in forge.apps() if record and a.client_id == record.client_id), None)
    if app is None:
        message = (
            "You must authenticate with an access token authorized to a GitHub App "
            "in order to list installations"
        )
        raise ApiError(403, message)
    return app.id


def _reachable(request: web.Request, inst: Installation) -> list[Repo]:
    forge = forge_of(request)
    login = _user(request).login
    return [
        r
        for r in forge.installation_repos(inst)
        if r.owner == login or login in r.permissions  # explicit access, not public reads
    ]


def _installations(request: web.Request) -> list[Installation]:
    app_id = _app_of_token(request)
    return [
        i
        for i in forge_of(request).installations()
        if i.app_id == app_id and _reachable(request, i)
    ]


async def user_installations(request: web.Request) -> web.Response:
    items = _installations(request)
    page, headers = paginate(request, items)
    shapes = GitHubShapes(forge_of(request))
    body = {"total_count": len(items), "installations": [shapes.installation(i) for i in page]}
    return json_response(body, headers=headers)


async def installation_repos(request: web.Request) -> web.Response:
    wanted = request.match_info["installation_id"]
    inst = next((i for i in _installations(request) if str(i.id) == wanted), None)
    if inst is None:
        raise ApiError(404, "Not Found")
    repos = _reachable(request, inst)
    page, headers = paginate(request, repos)
    shapes = GitHubShapes(forge_of(request))
    login = _user(request).login
    body: dict[str, Any] = {
        "total_count": len(repos),
        "repository_selection": "all" if inst.repos is None else "selected",
        "repositories": [shapes.repo(r, viewer=login) for r in page],
    }
    return json_response(body, headers=headers)


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", f"{API}/user", current_user),
    ("GET", f"{API}/user/installations", user_installations),
    ("GET", f"{API}/user/installations/{{installation_id}}/repositories", installation_repos),
]


def setup_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
