"""The OAuth client's requests, by shape (respx): where the browser is sent, the code
exchanged for a token, the token used once to read the login; errors that name the
platform and never echo the code, the token or the secret. The whole flow against the
forge's sign-in pages is an end-to-end test."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from prbot.web.ui.oauth import OAuthError, finish, github_oauth, gitlab_oauth, start

SECRET = "client-secret-never-shown-0123"
GITHUB = github_oauth("https://github.example", "https://api.github.example", "Iv1.abc", SECRET)
GITLAB = gitlab_oauth("https://gitlab.example", "gl-app", SECRET)
CALLBACK = "https://prbot.example/auth/callback/github"


def test_github_sign_in_starts_at_the_apps_authorize_page() -> None:
    started = start(GITHUB, CALLBACK)
    url = urlsplit(started.url)
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("github.example", "/login/oauth/authorize")
    assert query == {"client_id": ["Iv1.abc"], "redirect_uri": [CALLBACK], "state": [started.state]}
    assert started.verifier == "" and len(started.state) >= 32
    assert start(GITHUB, CALLBACK).state != started.state


def test_gitlab_sign_in_asks_for_the_user_only_with_pkce() -> None:
    started = start(GITLAB, CALLBACK)
    query = parse_qs(urlsplit(started.url).query)
    assert query["response_type"] == ["code"] and query["scope"] == ["read_user"]
    digest = hashlib.sha256(started.verifier.encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    assert query["code_challenge_method"] == ["S256"]


@respx.mock
async def test_github_code_becomes_the_login() -> None:
    token = respx.post("https://github.example/login/oauth/access_token").respond(
        json={"access_token": "ghu_usertoken", "token_type": "bearer"}
    )
    user = respx.get("https://api.github.example/user").respond(json={"login": "alice"})
    async with httpx.AsyncClient() as http:
        assert await finish(http, GITHUB, code="c0de", redirect_uri=CALLBACK) == "alice"
    sent = parse_qs(token.calls.last.request.content.decode())
    assert sent == {
        "client_id": ["Iv1.abc"],
        "client_secret": [SECRET],
        "code": ["c0de"],
        "redirect_uri": [CALLBACK],
    }
    assert token.calls.last.request.headers["Accept"] == "application/json"
    assert user.calls.last.request.headers["Authorization"] == "Bearer ghu_usertoken"


@respx.mock
async def test_gitlab_code_becomes_the_username() -> None:
    token = respx.post("https://gitlab.example/oauth/token").respond(
        json={"access_token": "gl-token", "token_type": "Bearer"}
    )
    respx.get("https://gitlab.example/api/v4/user").respond(json={"username": "bob"})
    async with httpx.AsyncClient() as http:
        login = await finish(http, GITLAB, code="c", redirect_uri=CALLBACK, verifier="v" * 50)
    assert login == "bob"
    sent = parse_qs(token.calls.last.request.content.decode())
    assert sent["grant_type"] == ["authorization_code"] and sent["code_verifier"] == ["v" * 50]


@respx.mock
async def test_a_refused_code_says_why_without_the_code_or_secret() -> None:
    respx.post("https://github.example/login/oauth/access_token").respond(
        json={"error": "bad_verification_code", "error_description": "The code is incorrect."}
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(OAuthError) as caught:
            await finish(http, GITHUB, code="secret-code-123", redirect_uri=CALLBACK)
    message = str(caught.value)
    assert message == "github refused the sign-in: The code is incorrect."
    assert "secret-code-123" not in message and SECRET not in message


@respx.mock
async def test_an_unreachable_or_failing_platform_is_a_clear_error() -> None:
    respx.post("https://gitlab.example/oauth/token").mock(side_effect=httpx.ConnectError("x"))
    async with httpx.AsyncClient() as http:
        with pytest.raises(OAuthError, match=r"could not reach gitlab\.example: ConnectError"):
            await finish(http, GITLAB, code="c", redirect_uri=CALLBACK)
    respx.post("https://gitlab.example/oauth/token").respond(json={"access_token": "t"})
    respx.get("https://gitlab.example/api/v4/user").respond(401, json={"message": "401"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(OAuthError, match=r"gitlab\.example answered 401"):
            await finish(http, GITLAB, code="c", redirect_uri=CALLBACK)


def test_the_secret_is_not_in_the_apps_repr() -> None:
    assert SECRET not in repr(GITHUB)
