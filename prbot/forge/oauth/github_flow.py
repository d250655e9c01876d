"""GitHub's web application flow for a GitHub App's user authorization.

``GET|POST /login/oauth/authorize`` (the chooser, then a code back to the callback) and
``POST /login/oauth/access_token``: a code (or, with ``grant_type=refresh_token``, a
refresh token) for a ``ghu_`` user token good for 8 hours and a ``ghr_`` refresh token.
The token step answers 200 even when it refuses, with ``error``, as GitHub does; JSON
when the client accepts it, form-encoded otherwise. The redirect URI must be the App's
callback URL or a path below it, as GitHub allows for OAuth apps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from prbot.forge.errors import NotFound
from prbot.forge.ghhttp import forge_of
from prbot.forge.oauth.authorize import (
    Bounce,
    Checked,
    Flow,
    Refused,
    handlers,
    token_params,
)
from prbot.forge.state import Forge
from prbot.forge.state_oauth import (
    GITHUB_ACCESS_TTL,
    GITHUB_REFRESH_TTL,
    IssuedTokens,
    OAuthRefused,
)

AUTHORIZE = "/login/oauth/authorize"
ACCESS_TOKEN = "/login/oauth/access_token"
TROUBLESHOOTING = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors/"
)
# OAuthRefused.kind -> GitHub's error code and wording
ERRORS = {
    "client": ("incorrect_client_credentials",
               "The client_id and/or client_secret passed are incorrect."),
    "redirect_uri": ("redirect_uri_mismatch",
                     "The redirect_uri MUST match the registered callback URL for this "
                     "application."),
    "code": ("bad_verification_code", "The code passed is incorrect or expired."),
    "refresh": ("bad_refresh_token", "The refresh token passed is incorrect or expired."),
    "grant_type": ("unsupported_grant_type", "The grant type is not supported."),
}  # fmt: skip


def check(forge: Forge, params: Mapping[str, str]) -> Checked | Refused | Bounce:
    try:
        client = forge.oauth_client("github", params["client_id"])
    except NotFound:
        return Refused(404, "There is no GitHub App with this client_id on the forge.")
    if not client.redirect_uris:
        return Refused(400, f"{client.name} has no callback URL set.")
    redirect_uri = params["redirect_uri"] or client.redirect_uris[0]
    if not client.redirect_ok(redirect_uri):
        return Refused(400, ERRORS["redirect_uri"][1])
    method = params["code_challenge_method"]
    if params["code_challenge"] and method not in ("", "S256", "plain"):
        return Bounce(redirect_uri, "invalid_request", "Unsupported code_challenge_method.")
    # a GitHub App's token has the App's permissions: scopes play no part
    return Checked(client, redirect_uri, [])


FLOW = Flow("github", AUTHORIZE, check, {"error_uri": TROUBLESHOOTING})


def _answer(request: web.Request, body: dict[str, Any]) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if "json" in request.headers.get("Accept", ""):
        return web.json_response(body, headers=headers)
    return web.Response(
        text=urlencode(body),
        content_type="application/x-www-form-urlencoded",
        charset="utf-8",
        headers=headers,
    )


def _tokens(issued: IssuedTokens) -> dict[str, Any]:
    return {
        "access_token": issued.access_token,
        "expires_in": GITHUB_ACCESS_TTL,
        "refresh_token": issued.refresh_token,
        "refresh_token_expires_in": GITHUB_REFRESH_TTL,
        "scope": "",
        "token_type": "bearer",
    }


async def access_token(request: web.Request) -> web.Response:
    forge = forge_of(request)
    p = await token_params(request)
    client_id, secret = p.get("client_id", ""), p.get("client_secret", "")
    grant_type = p.get("grant_type", "authorization_code")
    try:
        if grant_type == "refresh_token":
            issued = forge.refresh_oauth_token(
                "github", client_id, secret, p.get("refresh_token", "")
            )
        elif grant_type == "authorization_code":
            issued = forge.exchange_oauth_code(
                "github",
                client_id,
                secret,
                p.get("code", ""),
                redirect_uri=p.get("redirect_uri") or None,
                code_verifier=p.get("code_verifier", ""),
            )
        else:
            raise OAuthRefused("grant_type", grant_type)
    except OAuthRefused as exc:
        error, description = ERRORS.get(exc.kind, ERRORS["code"])
        body = {"error": error, "error_description": description,
                "error_uri": TROUBLESHOOTING + "#" + error.replace("_", "-")}  # fmt: skip
        return _answer(request, body)
    return _answer(request, _tokens(issued))


def routes() -> list[web.RouteDef]:
    return [*handlers(FLOW), web.post(ACCESS_TOKEN, access_token)]
