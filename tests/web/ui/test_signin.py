"""Signing in to the pages over real HTTP on 127.0.0.1: prbot's routes, and a small
stand-in platform serving the two OAuth endpoints (the forge's own sign-in pages are
exercised end to end elsewhere). The state must come back to the browser that started;
where to go next is one of our paths; sign-out needs the CSRF token; proxy mode believes
the header only from trusted addresses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from prbot.settings import load_settings
from prbot.web.ui.pages import Pages
from prbot.web.ui.session import Sessions
from prbot.web.ui.signin import SignIn, safe_next

SECRET = "w" * 32


class FakePlatform:
    """GitHub's two OAuth endpoints and /user, as far as the client needs them."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}  # code -> login
        self.tokens: dict[str, str] = {}
        self.app = web.Application()
        self.app.router.add_post("/login/oauth/access_token", self.token)
        self.app.router.add_get("/api/v3/user", self.user)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        login = self.codes.pop(str(form.get("code")), None)
        if login is None or form.get("client_secret") != "gh-client-secret":
            return web.json_response({"error": "bad_verification_code"})
        self.tokens["ghu_" + login] = login
        return web.json_response({"access_token": "ghu_" + login, "token_type": "bearer"})

    async def user(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response({"login": self.tokens[token]})


@pytest.fixture
async def platform() -> AsyncIterator[tuple[FakePlatform, str]]:
    fake = FakePlatform()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    yield fake, f"127.0.0.1:{server.port}"
    await server.close()


async def client_for(env: dict[str, str]) -> TestClient:
    settings = load_settings({"WEBHOOK_SECRET": "h" * 32, "PRBOT_UI_SECRET": SECRET, **env})
    app = web.Application()
    SignIn(settings, Sessions(SECRET.encode()), Pages()).add_routes(app)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_signing_in_with_github(platform) -> None:
    fake, host = platform
    client = await client_for(
        {
            "GHE_HOST": host,
            "GHE_PROTOCOL": "http",
            "GITHUB_CLIENT_ID": "Iv1.test",
            "GITHUB_CLIENT_SECRET": "gh-client-secret",
            "PRBOT_UI_PUBLIC_URL": "http://prbot.test",
        }
    )
    try:
        page = await client.get("/signin?next=/catalog/cluster-create")
        assert page.status == 200
        html = await page.text()
        assert 'href="/auth/github/login?next=/catalog/cluster-create"' in html
        assert "Content-Security-Policy" in page.headers

        away = await client.get(
            "/auth/github/login?next=/catalog/cluster-create", allow_redirects=False
        )
        assert away.status == 302
        target = urlsplit(away.headers["Location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == (
            f"http://{host}/login/oauth/authorize"
        )
        query = parse_qs(target.query)
        assert query["redirect_uri"] == ["http://prbot.test/auth/github/callback"]
        state = query["state"][0]

        # the platform signs alice in and sends the browser back with a code
        fake.codes["c0de"] = "alice"
        back = await client.get(
            f"/auth/github/callback?code=c0de&state={state}", allow_redirects=False
        )
        assert back.status == 302 and back.headers["Location"] == "/catalog/cluster-create"
        page = await client.get("/signin")
        assert "alice (github)" in await page.text()

        # the same state again (a replayed return) is not trusted
        fake.codes["again"] = "mallory"
        replay = await client.get(f"/auth/github/callback?code=again&state={state}")
        assert replay.status == 400
        assert "did not start here" in await replay.text()
    finally:
        await client.close()


async def test_a_return_to_another_browser_is_refused(platform) -> None:
    fake, host = platform
    env = {
        "GHE_HOST": host,
        "GHE_PROTOCOL": "http",
        "GITHUB_CLIENT_ID": "Iv1.test",
        "GITHUB_CLIENT_SECRET": "gh-client-secret",
    }
    victim, attacker = await client_for(env), await client_for(env)
    try:
        away = await attacker.get("/auth/github/login", allow_redirects=False)
        state = parse_qs(urlsplit(away.headers["Location"]).query)["state"][0]
        fake.codes["attackers-code"] = "mallory"
        # the attacker's return link, opened in the victim's browser (login CSRF)
        answer = await victim.get(f"/auth/github/callback?code=attackers-code&state={state}")
        assert answer.status == 400
        assert "mallory" not in await (await victim.get("/signin")).text()
    finally:
        await victim.close()
        await attacker.close()


async def test_a_refused_code_is_shown_in_words(platform) -> None:
    _fake, host = platform
    client = await client_for(
        {
            "GHE_HOST": host,
            "GHE_PROTOCOL": "http",
            "GITHUB_CLIENT_ID": "Iv1.test",
            "GITHUB_CLIENT_SECRET": "gh-client-secret",
        }
    )
    try:
        away = await client.get("/auth/github/login", allow_redirects=False)
        state = parse_qs(urlsplit(away.headers["Location"]).query)["state"][0]
        answer = await client.get(f"/auth/github/callback?code=unknown&state={state}")
        assert answer.status == 502
        assert "github refused the sign-in: bad_verification_code" in await answer.text()
    finally:
        await client.close()


async def test_signing_out_needs_the_csrf_token() -> None:
    client = await client_for({"PRBOT_UI_AUTH": "proxy"})
    try:
        page = await client.get("/signin", headers={"X-Forwarded-User": "carol"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert token is not None and "carol" in await page.text()
        refused = await client.post("/signout", data={"csrf_token": "forged"})
        assert refused.status == 403
        done = await client.post(
            "/signout", data={"csrf_token": token.group(1)}, allow_redirects=False
        )
        assert done.status == 302 and done.headers["Location"] == "/signin"
    finally:
        await client.close()


async def test_the_proxy_header_counts_only_from_trusted_addresses() -> None:
    trusted = await client_for({"PRBOT_UI_AUTH": "proxy"})  # 127.0.0.1 is trusted
    untrusted = await client_for(
        {"PRBOT_UI_AUTH": "proxy", "PRBOT_UI_TRUSTED_PROXIES": "10.0.0.0/8"}
    )
    try:
        page = await trusted.get("/signin", headers={"X-Forwarded-User": "dave"})
        assert "dave (github)" in await page.text()
        page = await untrusted.get("/signin", headers={"X-Forwarded-User": "dave"})
        text = await page.text()
        assert "dave" not in text and "did not name you" in text
    finally:
        await trusted.close()
        await untrusted.close()


async def test_no_oauth_route_in_proxy_mode_or_for_an_unset_platform() -> None:
    client = await client_for({"PRBOT_UI_AUTH": "proxy"})
    try:
        assert (await client.get("/auth/github/login", allow_redirects=False)).status == 404
        assert (await client.get("/auth/gitlab/callback")).status == 404
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/catalog/x", "/catalog/x"),
        ("//evil.example/", "/catalog"),
        ("/\\evil.example", "/catalog"),
        ("https://evil.example/", "/catalog"),
        ("javascript:alert(1)", "/catalog"),
        ("", "/catalog"),
        (None, "/catalog"),
    ],
)
def test_next_is_always_one_of_our_paths(asked, went) -> None:
    assert safe_next(asked) == went
