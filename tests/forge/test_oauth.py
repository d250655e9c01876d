"""Signing in with the forge, over real HTTP: GitHub's web application flow for an App's
user authorization and GitLab's authorization code flow (PKCE, refresh), their refusals,
the authorize page's escaping and form token, the admin API and CLI, persistence."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from prbot.cli import main
from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge
from tests.forge.conftest import auth, rsa_key

APP_ID = 4242
GH_CALLBACK = "http://127.0.0.1:9/signin/github"
GL_REDIRECT = "http://127.0.0.1:9/signin/gitlab"


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def srv(tmp_path):
    clock = Clock()
    forge = Forge(tmp_path / "forge", now=clock)
    async with ForgeServer(forge=forge) as server:
        server.clock = clock
        await forge.create_repo("acme/gitops")
        forge.create_user("alice", name="Alice A.")
        forge.set_permission("acme/gitops", "alice", "write")
        forge.create_user("bob")
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as admin:
            gh = await admin.post("/_forge/apps", json={
                "app_id": APP_ID, "public_key_pem": rsa_key()[1], "slug": "prbot",
                "name": "prbot", "callback_url": GH_CALLBACK,
            })  # fmt: skip
            gl = await admin.post("/_forge/oauth/apps", json={
                "platform": "gitlab", "name": "prbot", "redirect_uri": GL_REDIRECT,
                "scopes": ["read_user", "read_api"],
            })  # fmt: skip
        assert gh.status_code == gl.status_code == 201, (gh.text, gl.text)
        server.gh, server.gl = gh.json(), gl.json()
        await forge.install_app(APP_ID, "acme")
        yield server


@pytest.fixture
async def browser(srv):
    async with httpx.AsyncClient(base_url=srv.url, timeout=10) as client:
        yield client


def hidden_fields(html: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', html)
    return {unescape(k): unescape(v) for k, v in pairs}


async def sign_in(browser, path: str, params: dict[str, str], login: str = "alice", **extra):
    page = await browser.get(path, params=params)
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "login": login, "decision": "authorize", **extra}
    return await browser.post(path, data=form)


def redirected(resp: httpx.Response) -> tuple[str, dict[str, str]]:
    assert resp.status_code == 302, resp.text
    url = urlsplit(resp.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    return f"{url.scheme}://{url.netloc}{url.path}", query


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


# --- GitHub ---------------------------------------------------------------------------------


async def test_github_flow_end_to_end(srv, browser):
    cid, secret = srv.gh["client_id"], srv.gh["client_secret"]
    assert cid.startswith("Iv1.") and srv.gh["callback_url"] == GH_CALLBACK
    page = await browser.get(
        "/login/oauth/authorize",
        params={"client_id": cid, "redirect_uri": GH_CALLBACK + "/done", "state": "st-1",
                "login": "alice"},
    )  # fmt: skip
    assert page.status_code == 200 and "<h1>Authorize prbot</h1>" in page.text
    assert '<option value="alice">' in page.text and 'value="prbot[bot]"' not in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    form = {**hidden_fields(page.text), "login": "alice", "decision": "authorize"}
    where, query = redirected(await browser.post("/login/oauth/authorize", data=form))
    assert where == GH_CALLBACK + "/done" and query["state"] == "st-1"

    token_form = {"client_id": cid, "client_secret": secret, "code": query["code"],
                  "redirect_uri": GH_CALLBACK + "/done"}  # fmt: skip
    answer = await browser.post(
        "/login/oauth/access_token", data=token_form, headers={"Accept": "application/json"}
    )
    body = answer.json()
    assert answer.status_code == 200 and body["token_type"] == "bearer"
    assert body["access_token"].startswith("ghu_") and body["refresh_token"].startswith("ghr_")
    assert (body["expires_in"], body["refresh_token_expires_in"], body["scope"]) == (
        28800, 15811200, "")  # fmt: skip
    token = body["access_token"]

    me = await browser.get("/api/v3/user", headers=auth(token))
    assert me.status_code == 200
    assert (me.json()["login"], me.json()["name"]) == ("alice", "Alice A.")
    assert me.json()["id"] == srv.forge.user("alice").id and me.json()["avatar_url"]
    perm = await browser.get(
        "/api/v3/repos/acme/gitops/collaborators/bob/permission", headers=auth(token)
    )
    assert perm.status_code == 200 and perm.json()["permission"] == "none"
    insts = (await browser.get("/api/v3/user/installations", headers=auth(token))).json()
    assert insts["total_count"] == 1 and insts["installations"][0]["client_id"] == cid
    iid = insts["installations"][0]["id"]
    repos = await browser.get(f"/api/v3/user/installations/{iid}/repositories", headers=auth(token))
    assert [r["full_name"] for r in repos.json()["repositories"]] == ["acme/gitops"]
    # a personal token has no App behind it; a GitHub token is no GitLab token
    pat = srv.forge.create_token("alice")
    refused = await browser.get("/api/v3/user/installations", headers=auth(pat))
    assert refused.status_code == 403
    assert (await browser.get("/api/v4/user", headers=auth(token))).status_code == 401

    # the code is spent: presenting it again is refused and revokes what it gave
    again = await browser.post(
        "/login/oauth/access_token", json=token_form, headers={"Accept": "application/json"}
    )
    assert again.status_code == 200 and again.json()["error"] == "bad_verification_code"
    assert (await browser.get("/api/v3/user", headers=auth(token))).status_code == 401


async def test_github_token_answer_is_urlencoded_unless_json_is_accepted(srv, browser):
    cid, secret = srv.gh["client_id"], srv.gh["client_secret"]
    _, query = redirected(
        await sign_in(browser, "/login/oauth/authorize", {"client_id": cid, "state": "s"})
    )
    answer = await browser.post(
        "/login/oauth/access_token",
        data={"client_id": cid, "client_secret": secret, "code": query["code"]},
    )
    assert answer.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    body = parse_qs(answer.text, keep_blank_values=True)
    assert body["token_type"] == ["bearer"] and body["scope"] == [""]
    assert body["access_token"][0].startswith("ghu_")
    # a refresh token (GitHub rotates it) gives a new user token; errors are urlencoded too
    refresh = {"client_id": cid, "client_secret": secret, "grant_type": "refresh_token",
               "refresh_token": body["refresh_token"][0]}  # fmt: skip
    renewed = parse_qs((await browser.post("/login/oauth/access_token", data=refresh)).text)
    me = await browser.get("/api/v3/user", headers=auth(renewed["access_token"][0]))
    assert me.json()["login"] == "alice"
    spent = parse_qs((await browser.post("/login/oauth/access_token", data=refresh)).text)
    assert spent["error"] == ["bad_refresh_token"]


async def test_github_refusals(srv, browser):
    cid, secret = srv.gh["client_id"], srv.gh["client_secret"]
    unknown = await browser.get("/login/oauth/authorize", params={"client_id": "Iv1.nope"})
    assert unknown.status_code == 404 and "Location" not in unknown.headers
    for bad in (
        "http://127.0.0.1:10/signin/github",  # another port
        "http://evil.example/signin/github",
        "http://127.0.0.1:9/signin/githubx",  # a sibling, not below the callback
        "http://127.0.0.1:9/signin/github/../../admin",
        "http://127.0.0.1:9/signin/github/%2e%2e/%2E%2E/admin",
    ):
        page = await browser.get(
            "/login/oauth/authorize", params={"client_id": cid, "redirect_uri": bad}
        )
        assert page.status_code == 400 and "Location" not in page.headers, bad

    def exchange(**changes):
        return browser.post(
            "/login/oauth/access_token",
            data={"client_id": cid, "client_secret": secret, **changes},
            headers={"Accept": "application/json"},
        )

    _, q = redirected(await sign_in(browser, "/login/oauth/authorize", {"client_id": cid}))
    assert (await exchange(code=q["code"], client_secret="wrong")).json()["error"] == (
        "incorrect_client_credentials")  # fmt: skip
    assert (await exchange(code=q["code"], client_id="Iv1.nope")).json()["error"] == (
        "incorrect_client_credentials")  # fmt: skip
    mismatch = await exchange(code=q["code"], redirect_uri="http://127.0.0.1:9/elsewhere")
    assert mismatch.status_code == 200 and mismatch.json()["error"] == "redirect_uri_mismatch"
    assert (await exchange(code="not-a-code")).json()["error"] == "bad_verification_code"
    srv.clock.t += 601  # codes live ten minutes
    expired = await exchange(code=q["code"])
    assert expired.json()["error"] == "bad_verification_code"
    assert "access_token" not in expired.json()


# --- GitLab ---------------------------------------------------------------------------------


async def test_gitlab_flow_with_pkce_and_refresh(srv, browser):
    cid, secret = srv.gl["client_id"], srv.gl["client_secret"]
    verifier = "v" * 43 + "-pkce"
    # scope as a browser sends it: read_user+read_api
    url = (
        f"/oauth/authorize?client_id={cid}&redirect_uri={GL_REDIRECT}&response_type=code"
        f"&state=st-2&scope=read_user+read_api&code_challenge={s256(verifier)}"
        "&code_challenge_method=S256"
    )
    page = await browser.get(url)
    assert page.status_code == 200 and "<li>read_user</li><li>read_api</li>" in page.text
    form = {**hidden_fields(page.text), "login": "alice", "decision": "authorize"}
    where, query = redirected(await browser.post("/oauth/authorize", data=form))
    assert where == GL_REDIRECT and query["state"] == "st-2"

    grant = {"grant_type": "authorization_code", "client_id": cid, "client_secret": secret,
             "code": query["code"], "redirect_uri": GL_REDIRECT}  # fmt: skip
    for wrong in ({}, {"code_verifier": "x" * 43}):  # missing or wrong verifier
        refused = await browser.post("/oauth/token", data={**grant, **wrong})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    answer = await browser.post("/oauth/token", data={**grant, "code_verifier": verifier})
    body = answer.json()
    assert answer.status_code == 200, body
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer", 7200, "read_user read_api")  # fmt: skip
    assert body["created_at"] == int(srv.clock.t)

    me = await browser.get("/api/v4/user", headers=auth(body["access_token"]))
    assert me.status_code == 200 and me.json()["username"] == "alice"
    project = srv.forge.repo("acme/gitops").id
    alice = srv.forge.user("alice").id
    member = await browser.get(
        f"/api/v4/projects/{project}/members/all/{alice}", headers=auth(body["access_token"])
    )
    assert member.status_code == 200 and member.json()["access_level"] == 30
    assert (
        await browser.get("/api/v3/user", headers=auth(body["access_token"]))
    ).status_code == 401

    # refresh: new tokens; the refresh token is spent; the client authenticates with Basic
    basic = {"Authorization": "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()}
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    renewed = await browser.post("/oauth/token", data=refresh, headers=basic)
    assert renewed.status_code == 200 and renewed.json()["scope"] == "read_user read_api"
    assert renewed.json()["refresh_token"] != body["refresh_token"]
    me = await browser.get("/api/v4/user", headers=auth(renewed.json()["access_token"]))
    assert me.json()["username"] == "alice"
    spent = await browser.post("/oauth/token", data=refresh, headers=basic)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    reused = await browser.post("/oauth/token", data={**grant, "code_verifier": verifier})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # presenting the code again revoked the token it gave
    assert (
        await browser.get("/api/v4/user", headers=auth(body["access_token"]))
    ).status_code == 401
    srv.clock.t += 7201  # the access token lives two hours
    expired = await browser.get("/api/v4/user", headers=auth(renewed.json()["access_token"]))
    assert expired.status_code == 401


async def test_gitlab_refusals(srv, browser):
    cid, secret = srv.gl["client_id"], srv.gl["client_secret"]
    base = {"client_id": cid, "redirect_uri": GL_REDIRECT, "response_type": "code", "state": "s"}
    unknown = await browser.get("/oauth/authorize", params={**base, "client_id": "nope"})
    assert unknown.status_code == 401 and "Location" not in unknown.headers
    for bad in (GL_REDIRECT + "/below", "http://evil.example/signin/gitlab", ""):
        page = await browser.get("/oauth/authorize", params={**base, "redirect_uri": bad})
        assert page.status_code == 400 and "Location" not in page.headers, bad
    # once the redirect URI is trusted, errors go back to it with the state
    _, q = redirected(
        await browser.get("/oauth/authorize", params={**base, "response_type": "token"})
    )
    assert (q["error"], q["state"]) == ("unsupported_response_type", "s")
    _, q = redirected(await browser.get("/oauth/authorize", params={**base, "scope": "api"}))
    assert q["error"] == "invalid_scope"

    _, q = redirected(await sign_in(browser, "/oauth/authorize", base))
    grant = {"grant_type": "authorization_code", "client_id": cid, "client_secret": secret,
             "code": q["code"], "redirect_uri": GL_REDIRECT}  # fmt: skip
    wrong = await browser.post("/oauth/token", data={**grant, "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    other = await browser.post("/oauth/token", data={**grant, "redirect_uri": GL_REDIRECT + "x"})
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    missing = await browser.post("/oauth/token", data={**grant, "redirect_uri": ""})
    assert missing.json()["error"] == "invalid_request"
    odd = await browser.post("/oauth/token", data={**grant, "grant_type": "password"})
    assert odd.json()["error"] == "unsupported_grant_type"
    srv.clock.t += 601
    expired = await browser.post("/oauth/token", json=grant)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


# --- the page ---------------------------------------------------------------------------------


async def test_page_escapes_what_it_shows(srv, browser):
    evil = "<script>alert(1)</script>"
    application, _ = srv.forge.create_oauth_application(evil, [GL_REDIRECT])
    params = {"client_id": application.uid, "redirect_uri": GL_REDIRECT,
              "response_type": "code", "state": '"><script>x()</script>', "login": evil}  # fmt: skip
    page = await browser.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&quot;&gt;&lt;script&gt;x()" in page.text
    assert hidden_fields(page.text)["state"] == params["state"]  # carried intact
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # an unknown user is said so, escaped, on the page again (no redirect)
    form = {**hidden_fields(page.text), "login": "<b>nobody", "decision": "authorize"}
    retry = await browser.post("/oauth/authorize", data=form)
    assert retry.status_code == 422 and "No forge user" in retry.text and "<b>" not in retry.text
    # the App's name on GitHub is escaped too
    await srv.forge.register_app(77, rsa_key()[1], slug="x", name=evil)
    srv.forge.set_app_callback(77, GH_CALLBACK)
    gh = await browser.get("/login/oauth/authorize", params={"client_id": "Iv1." + f"{77:016x}"})
    assert gh.status_code == 200 and evil not in gh.text


async def test_form_token_is_bound_to_the_page_and_browser(srv, browser):
    cid = srv.gh["client_id"]
    page = await browser.get("/login/oauth/authorize", params={"client_id": cid, "state": "s"})
    form = {**hidden_fields(page.text), "login": "alice", "decision": "authorize"}
    path = "/login/oauth/authorize"
    # another site's form: no cookie of this browser
    async with httpx.AsyncClient(base_url=srv.url) as stranger:
        assert (await stranger.post(path, data=form)).status_code == 403
    # edited parameters (the redirect, the state), or a made-up token
    for change in ({"redirect_uri": GH_CALLBACK + "/x"}, {"state": "other"},
                   {"authenticity_token": "0" * 64}):  # fmt: skip
        tampered = await browser.post(path, data={**form, **change})
        assert tampered.status_code == 403 and "Location" not in tampered.headers
    # the person says no: the client hears access_denied, with its state
    _, q = redirected(await browser.post(path, data={**form, "decision": "deny"}))
    assert (q["error"], q["state"], "code" in q) == ("access_denied", "s", False)
    # an App's bot user cannot sign in
    bot = await browser.post(path, data={**form, "login": "prbot[bot]"})
    assert bot.status_code == 422 and "not a person" in bot.text
    srv.clock.t += 601  # a page left open too long
    assert (await browser.post(path, data=form)).status_code == 403


# --- admin, CLI, persistence ------------------------------------------------------------------


async def test_admin_api_cli_and_persistence(srv, browser, tmp_path, capsys):
    listed = (await browser.get("/_forge/oauth/apps")).json()
    assert {c["platform"] for c in listed} == {"github", "gitlab"}
    assert all("client_secret" not in c for c in listed)

    def cli(*argv: str) -> str:
        assert main(["forge", *argv, "--url", srv.url]) == 0
        return capsys.readouterr().out

    out = await asyncio.to_thread(
        cli, "oauth", "gitlab", "demo", "--redirect-uri", "http://127.0.0.1:8000/cb",
        "--scopes", "read_user read_api", "--client-id", "demo-client", "--secret", "s3cret",
    )  # fmt: skip
    assert "gitlab demo-client (demo)" in out and "client secret: s3cret" in out
    out = await asyncio.to_thread(
        cli, "oauth", "set", "demo-client", "--redirect-uri", "http://127.0.0.1:8001/cb"
    )
    assert "http://127.0.0.1:8001/cb" in out
    out = await asyncio.to_thread(cli, "oauth", "secret", "demo-client")
    new_secret = out.split("client secret: ")[1].strip()
    out = await asyncio.to_thread(
        cli, "oauth", "github", str(APP_ID), "--callback-url", "http://127.0.0.1:8000/gh"
    )
    assert "github Iv1." in out and "http://127.0.0.1:8000/gh" in out
    out = await asyncio.to_thread(cli, "oauth", "list")
    assert "demo-client" in out and "http://127.0.0.1:8000/gh" in out
    bad = await browser.post("/_forge/oauth/apps", json={"platform": "gitlab", "name": "x",
                                                         "redirect_uri": "ftp://x"})  # fmt: skip
    assert bad.status_code == 422

    params = {"client_id": "demo-client", "redirect_uri": "http://127.0.0.1:8001/cb",
              "response_type": "code"}  # fmt: skip
    _, q = redirected(await sign_in(browser, "/oauth/authorize", params, login="bob"))
    answer = await browser.post("/oauth/token", data={
        "grant_type": "authorization_code", "client_id": "demo-client",
        "client_secret": new_secret, "code": q["code"], "redirect_uri": params["redirect_uri"],
    })  # fmt: skip
    token = answer.json()["access_token"]
    # a new process over the same data: clients and tokens are still there
    again = Forge(srv.forge.data_dir, now=srv.clock)
    assert again.oauth_application("demo-client").redirect_uris == [params["redirect_uri"]]
    assert again.authenticate(token, "gitlab").login == "bob"
    assert again.authenticate(token, "github") is None
    assert again.app(APP_ID).callback_url == "http://127.0.0.1:8000/gh"
    assert (
        token not in again.state_path.read_text() and new_secret not in again.state_path.read_text()
    )
