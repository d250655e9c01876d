"""GitLab's OAuth 2 authorization code flow (with optional PKCE), as its Doorkeeper
provider answers it.

``GET|POST /oauth/authorize`` (``response_type=code``; the chooser, then a code back to
one of the application's redirect URIs, matched exactly) and ``POST /oauth/token``
(``grant_type`` ``authorization_code`` or ``refresh_token``; the client authenticates
in the body or with HTTP Basic). Tokens live 2 hours; refresh tokens are spent on use.
Refusals are ``{"error", "error_description"}``: 401 for the client, 400 otherwise.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

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
from prbot.forge.state_oauth import GITLAB_ACCESS_TTL, OAuthRefused

AUTHORIZE = "/oauth/authorize"
TOKEN = "/oauth/token"
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication "
    "included, or unsupported authentication method."
)
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
INVALID_REQUEST = (
    "The request is missing a required parameter, includes an unsupported parameter "
    "value, or is otherwise malformed."
)


def check(forge: Forge, params: Mapping[str, str]) -> Checked | Refused | Bounce:
    try:
        client = forge.oauth_client("gitlab", params["client_id"])
    except NotFound:
        return Refused(401, INVALID_CLIENT)
    redirect_uri = params["redirect_uri"]
    if not client.redirect_ok(redirect_uri):
        return Refused(400, "The redirect URI included is not valid.")
    if params["response_type"] != "code":
        return Bounce(
            redirect_uri,
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        )
    # "read_user+read_api" in the URL is "read_user read_api" once decoded
    scopes = params["scope"].split() or list(client.scopes)
    if any(s not in client.scopes for s in scopes):
        return Bounce(
            redirect_uri, "invalid_scope", "The requested scope is invalid, unknown, or malformed."
        )
    method = params["code_challenge_method"]
    if params["code_challenge"] and method not in ("", "S256", "plain"):
        message = "Code challenge method must be plain or S256."
        return Bounce(redirect_uri, "invalid_request", message)
    return Checked(client, redirect_uri, scopes)


FLOW = Flow("gitlab", AUTHORIZE, check, {})


async def _params(request: web.Request) -> dict[str, str]:
    params = await token_params(request)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        # client_secret_basic (RFC 6749 2.3.1)
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        params.setdefault("client_id", client_id)
        params.setdefault("client_secret", secret)
    return params


def _refusal(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def token(request: web.Request) -> web.Response:
    forge = forge_of(request)
    p = await _params(request)
    client_id, secret = p.get("client_id", ""), p.get("client_secret", "")
    grant_type = p.get("grant_type", "")
    try:
        if grant_type == "authorization_code":
            if not p.get("code") or not p.get("redirect_uri"):
                return _refusal("invalid_request", INVALID_REQUEST)
            issued = forge.exchange_oauth_code(
                "gitlab",
                client_id,
                secret,
                p["code"],
                redirect_uri=p["redirect_uri"],
                code_verifier=p.get("code_verifier", ""),
            )
        elif grant_type == "refresh_token":
            if not p.get("refresh_token"):
                return _refusal("invalid_request", INVALID_REQUEST)
            issued = forge.refresh_oauth_token("gitlab", client_id, secret, p["refresh_token"])
        else:
            return _refusal(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
    except OAuthRefused as exc:
        if exc.kind == "client":
            return _refusal("invalid_client", INVALID_CLIENT, 401)
        return _refusal("invalid_grant", INVALID_GRANT)
    record = issued.record
    return web.json_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": GITLAB_ACCESS_TTL,
            "refresh_token": issued.refresh_token,
            "scope": record.scope,
            "created_at": int(record.created_at),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def routes() -> list[web.RouteDef]:
    return [*handlers(FLOW), web.post(TOKEN, token)]
