"""Signing in to prbot's pages with the platform, end to end over real HTTP: `prbot
serve` as a process, the forge playing GitHub (an App's user authorization) and GitLab
(an OAuth application). A browser (an httpx client keeping cookies, one per site) asks
prbot to sign in, is sent to the forge's authorize page, picks a user there, comes back
with a code, and is then signed in as that user on prbot's pages. A return link made for
another browser signs nobody in."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.forge import ForgeRepo
from tests.support.promotions import repo_files, serve_env
from tests.support.serve import free_port, serve_process
from tests.support.signin import sign_in_client

REPO = "acme/gitops"
TOKEN = "signin-forge-token-5678"
SECRET = "signin-webhook-secret-1234"


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


def hidden_fields(html: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', html)
    return {unescape(k): unescape(v) for k, v in pairs}


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_signing_in_through_the_platforms_own_page(
    tmp_path, forge_repo: ForgeRepo, platform: str
) -> None:
    forge = forge_repo.forge
    forge.create_user("alice", name="Alice <b>A.</b>")
    forge.set_permission(REPO, "alice", "write")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = await sign_in_client(forge_repo, platform, f"{base}/auth/{platform}/callback")
    name = platform.upper()
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token="signin-api-token",
        platform=platform, PRBOT_UI_PUBLIC_URL=base,
        **client,
    )  # fmt: skip
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as prbot,
        httpx.AsyncClient(timeout=10) as on_forge,
    ):
        page = await prbot.get("/signin?next=/promotions")
        label = {"github": "GitHub", "gitlab": "GitLab"}[platform]
        assert f"Sign in with {label}" in page.text

        away = await prbot.get(f"/auth/{platform}/login?next=/promotions")
        assert away.status_code == 302
        authorize = away.headers["Location"]
        assert authorize.startswith(f"{forge_repo.server.url}/")

        # on the forge's page: pick alice and authorize
        page = await on_forge.get(authorize)
        assert page.status_code == 200, page.text
        form = {**hidden_fields(page.text), "login": "alice", "decision": "authorize"}
        back = await on_forge.post(authorize.split("?")[0], data=form)
        assert back.status_code == 302, back.text
        returned = back.headers["Location"]
        assert returned.startswith(f"{base}/auth/{platform}/callback?")
        assert "code" in parse_qs(urlsplit(returned).query)

        # another browser following the same link is signed in as nobody
        async with httpx.AsyncClient(timeout=10) as stranger:
            refused = await stranger.get(returned)
            assert refused.status_code == 400
            assert "did not start here" in refused.text

        done = await prbot.get(returned)
        assert done.status_code == 302 and done.headers["Location"] == "/promotions"
        signed = await prbot.get("/promotions")
        assert signed.status_code == 200
        assert f"alice ({platform})" in signed.text
    output = served.output()
    assert client[f"{name}_CLIENT_SECRET"] not in output and TOKEN not in output
