"""The authorization step both platforms share: check the request, show the chooser, and on
the person's answer send the browser back to the client with a code (or an error).

Each platform supplies a ``check`` that turns the query into a ``Checked`` (go on), a
``Refused`` page (the client or its redirect URI is not trusted: never redirect there)
or a ``Bounce`` (the redirect URI is trusted, so the error goes back to it, as RFC 6749
4.1.2.1 has it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from prbot.forge.errors import ForgeError
from prbot.forge.ghhttp import forge_of
from prbot.forge.models import Platform
from prbot.forge.oauth import page
from prbot.forge.state import Forge
from prbot.forge.state_oauth import OAuthClient

# what the form carries back: every parameter the code's issue depends on
PARAMS = (
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "response_type",
    "code_challenge",
    "code_challenge_method",
)


@dataclass(frozen=True)
class Checked:
    client: OAuthClient
    redirect_uri: str
    scopes: list[str]


@dataclass(frozen=True)
class Refused:
    status: int
    message: str


@dataclass(frozen=True)
class Bounce:
    redirect_uri: str
    error: str
    description: str


Check = Callable[[Forge, Mapping[str, str]], Checked | Refused | Bounce]


@dataclass(frozen=True)
class Flow:
    platform: Platform
    path: str
    check: Check
    error_extra: Mapping[str, str]  # added to error redirects (GitHub's error_uri)


def _params(source: Mapping[str, str]) -> dict[str, str]:
    return {name: str(source.get(name, "")) for name in PARAMS}


def _people(forge: Forge) -> list[str]:
    return sorted(u.login for u in forge.users() if u.type == "User")


def _back(uri: str, **query: str) -> web.HTTPFound:
    # the client's own query is kept; an empty state is not echoed (none was sent)
    target = URL(uri).update_query({k: v for k, v in query.items() if v})
    return web.HTTPFound(str(target), headers={"Cache-Control": "no-store"})


def _bounce(flow: Flow, b: Bounce, state: str) -> web.HTTPFound:
    return _back(
        b.redirect_uri, error=b.error, error_description=b.description, state=state,
        **flow.error_extra,
    )  # fmt: skip


def handlers(flow: Flow) -> tuple[web.RouteDef, web.RouteDef]:
    async def show(request: web.Request) -> web.StreamResponse:
        forge = forge_of(request)
        params = _params(request.query)
        outcome = flow.check(forge, params)
        if isinstance(outcome, Refused):
            return page.error_page("Authorization failed", outcome.message, outcome.status)
        if isinstance(outcome, Bounce):
            raise _bounce(flow, outcome, params["state"])
        params["redirect_uri"] = outcome.redirect_uri
        return page.authorize_page(
            request,
            app_name=outcome.client.name,
            action=flow.path,
            params=params,
            users=_people(forge),
            login=request.query.get("login", ""),
            scopes=outcome.scopes,
        )

    async def answer(request: web.Request) -> web.StreamResponse:
        forge = forge_of(request)
        form = {k: str(v) for k, v in (await request.post()).items()}
        params = _params(form)
        if not page.form_is_genuine(request, form, PARAMS):
            message = "This form expired or did not come from this page. Go back and retry."
            return page.error_page("Authorization failed", message, 403)
        outcome = flow.check(forge, params)  # the client may have changed meanwhile
        if isinstance(outcome, Refused):
            return page.error_page("Authorization failed", outcome.message, outcome.status)
        if isinstance(outcome, Bounce):
            raise _bounce(flow, outcome, params["state"])
        if form.get("decision") != "authorize":
            denied = Bounce(outcome.redirect_uri, "access_denied", DENIED[flow.platform])
            raise _bounce(flow, denied, params["state"])
        login = form.get("login", "").strip()
        try:
            code = forge.issue_oauth_code(
                flow.platform,
                outcome.client.client_id,
                login,
                outcome.redirect_uri,
                scope=" ".join(outcome.scopes),
                code_challenge=params["code_challenge"],
                code_challenge_method=params["code_challenge_method"],
            )
        except ForgeError as exc:
            message = f"No forge user {login!r}." if exc.status == 404 else exc.message
            return page.authorize_page(
                request,
                app_name=outcome.client.name,
                action=flow.path,
                params=params,
                users=_people(forge),
                login=login,
                scopes=outcome.scopes,
                error=message,
                status=422,
            )
        raise _back(outcome.redirect_uri, code=code, state=params["state"])

    return web.get(flow.path, show), web.post(flow.path, answer)


DENIED = {
    "github": "The user has denied your application access.",
    "gitlab": "The resource owner or authorization server denied the request.",
}


async def token_params(request: web.Request) -> dict[str, str]:
    """A token request's parameters: the query string, then the body (form or JSON),
    as both platforms accept any of them."""
    params = {k: str(v) for k, v in request.query.items()}
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict):
            params.update({k: str(v) for k, v in body.items() if v is not None})
    else:
        params.update({k: str(v) for k, v in (await request.post()).items()})
    return params
