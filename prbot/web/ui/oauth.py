"""Signing in with the platform: the OAuth 2 authorization-code flow, as GitHub Apps
("user authorization": the App's client id and secret) and GitLab OAuth applications do
it. prbot asks only who the user is: the token is used once, to read the login, and
kept nowhere.

A sign-in is bound to the browser that started it: a random ``state`` (and, on GitLab, a
PKCE verifier) waits in that browser's session and must come back with the code. The
platform is told where to return (``redirect_uri``), which must be the callback
registered with it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from prbot.errors import PrbotError

Platform = Literal["github", "gitlab"]
TIMEOUT = httpx.Timeout(10.0)


class OAuthError(PrbotError):
    """The sign-in did not work; the message says why (never a code, token or secret)."""


@dataclass(frozen=True)
class OAuthApp:
    platform: Platform
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    user_url: str
    scope: str = ""
    pkce: bool = False


def github_oauth(web_url: str, api_url: str, client_id: str, client_secret: str) -> OAuthApp:
    """A GitHub App's user authorization (``web_url``: https://github.com, or the GHE
    host; the App's permissions decide what the token may do, so no scope)."""
    web = web_url.rstrip("/")
    return OAuthApp(
        "github",
        client_id,
        client_secret,
        authorize_url=f"{web}/login/oauth/authorize",
        token_url=f"{web}/login/oauth/access_token",
        user_url=f"{api_url.rstrip('/')}/user",
    )


def gitlab_oauth(base_url: str, client_id: str, client_secret: str) -> OAuthApp:
    base = base_url.rstrip("/")
    return OAuthApp(
        "gitlab",
        client_id,
        client_secret,
        authorize_url=f"{base}/oauth/authorize",
        token_url=f"{base}/oauth/token",
        user_url=f"{base}/api/v4/user",
        scope="read_user",
        pkce=True,
    )


@dataclass(frozen=True)
class Started:
    url: str  # where to send the browser
    state: str  # to keep in the session, and compare on return
    verifier: str  # PKCE; "" when the platform is not asked for it


def start(app: OAuthApp, redirect_uri: str) -> Started:
    state = secrets.token_urlsafe(24)
    query = {"client_id": app.client_id, "redirect_uri": redirect_uri, "state": state}
    verifier = ""
    if app.platform == "gitlab":
        query["response_type"] = "code"
    if app.scope:
        query["scope"] = app.scope
    if app.pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        query["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        query["code_challenge_method"] = "S256"
    return Started(f"{app.authorize_url}?{urlencode(query)}", state, verifier)


async def finish(
    http: httpx.AsyncClient,
    app: OAuthApp,
    *,
    code: str,
    redirect_uri: str,
    verifier: str = "",
) -> str:
    """The signed-in user's login, from the code the platform returned."""
    form = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "code": code,
        "redirect_uri": redirect_uri,
    }
    if app.platform == "gitlab":
        form["grant_type"] = "authorization_code"
    if verifier:
        form["code_verifier"] = verifier
    answer = await _call(http, "POST", app.token_url, data=form)
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        reason = answer.get("error_description") or answer.get("error") or "no token"
        raise OAuthError(f"{app.platform} refused the sign-in: {_short(reason)}")
    user = await _call(http, "GET", app.user_url, headers={"Authorization": f"Bearer {token}"})
    login = user.get("login") if app.platform == "github" else user.get("username")
    if not isinstance(login, str) or not login:
        raise OAuthError(f"{app.platform} did not say who signed in")
    return login


async def _call(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    try:
        response = await http.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise OAuthError(f"could not reach {httpx.URL(url).host}: {type(exc).__name__}") from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400 or not isinstance(data, dict):
        reason = (
            data.get("error_description") or data.get("error") if isinstance(data, dict) else ""
        )
        raise OAuthError(
            f"{httpx.URL(url).host} answered {response.status_code}"
            + (f": {_short(reason)}" if reason else "")
        )
    return data


def _short(reason: Any) -> str:
    text = str(reason)
    return text if len(text) <= 200 else text[:197] + "..."
