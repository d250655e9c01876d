"""GitHub behaviours clients rely on: auth, permissions, pagination, app tokens, and a
real GitHub client library (gidgethub) talking to the forge."""

from __future__ import annotations

import time

import httpx
import pytest
from gidgethub import BadRequest
from gidgethub.httpx import GitHubAPI

from prbot.forge.git import Change

from .conftest import app_jwt, auth, rsa_key


async def get(world, path: str, token: str | None, **kw) -> httpx.Response:
    headers = auth(token) if token else {}
    async with httpx.AsyncClient() as c:
        return await c.get(f"{world.github_api_url}{path}", headers=headers, **kw)


async def test_authentication_is_required(world):
    assert (await get(world, "/repos/octo/app", None)).status_code == 401
    bad = await get(world, "/repos/octo/app", "ghp_wrong")
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    async with httpx.AsyncClient() as c:
        ok = await c.get(
            f"{world.github_api_url}/repos/octo/app",
            headers={"Authorization": f"token {world.tokens['ro']}"},
        )
    assert ok.status_code == 200


async def test_private_repos_are_hidden_and_writes_need_write(world):
    world.forge.create_user("stranger")
    stranger = world.forge.create_token("stranger")
    assert (await get(world, "/repos/octo/app", stranger)).status_code == 404
    head = await world.forge.resolve("octo/app", "main")
    async with httpx.AsyncClient(headers=auth(world.tokens["ro"])) as c:
        resp = await c.post(
            f"{world.github_api_url}/repos/octo/app/statuses/{head}", json={"state": "success"}
        )
    assert resp.status_code == 403
    repo = (await get(world, "/repos/octo/app", world.tokens["ro"])).json()
    assert repo["permissions"] == {
        "admin": False, "maintain": False, "push": False, "triage": False, "pull": True,
    }  # fmt: skip


async def test_collaborator_permission_maps_roles(world):
    world.forge.set_permission("octo/app", "dev", "maintain")
    body = (
        await get(world, "/repos/octo/app/collaborators/dev/permission", world.tokens["ro"])
    ).json()
    assert (body["permission"], body["role_name"]) == ("write", "maintain")
    body = (
        await get(world, "/repos/octo/app/collaborators/octo/permission", world.tokens["ro"])
    ).json()
    assert body["permission"] == "admin"
    assert world.forge.access_level("octo/app", "dev") == 40


async def test_pagination_links(world):
    f = world.forge
    for i in range(5):
        await f.commit_changes(
            "octo/app", f"b{i}", "c", {f"f{i}": Change(content=b"x")}, actor="dev",
            start_branch="main",
        )  # fmt: skip
        await f.open_pull_request("octo/app", head=f"b{i}", title=f"PR {i}", author="dev")
    page1 = await get(world, "/repos/octo/app/pulls", world.tokens["dev"], params={"per_page": 2})
    assert [p["number"] for p in page1.json()] == [5, 4]
    link = page1.headers["Link"]
    assert 'rel="next"' in link and 'rel="last"' in link and "page=3" in link
    next_url = link.split(";")[0].strip("<>")
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        page2 = await c.get(next_url)
    assert [p["number"] for p in page2.json()] == [3, 2]
    assert 'rel="prev"' in page2.headers["Link"]


async def test_gidgethub_client_works_against_the_forge(world):
    f = world.forge
    async with httpx.AsyncClient() as http:
        gh = GitHubAPI(
            http, "prbot-tests", oauth_token=world.tokens["dev"], base_url=world.github_api_url
        )
        repo = await gh.getitem("/repos/{owner}/{repo}", {"owner": "octo", "repo": "app"})
        assert repo["default_branch"] == "main"
        ref = await gh.getitem("/repos/octo/app/git/ref/heads/main")
        await gh.post(
            "/repos/octo/app/git/refs", data={"ref": "refs/heads/g", "sha": ref["object"]["sha"]}
        )
        with pytest.raises(BadRequest) as info:  # 422 already exists
            await gh.post(
                "/repos/octo/app/git/refs",
                data={"ref": "refs/heads/g", "sha": ref["object"]["sha"]},
            )
        assert "Reference already exists" in str(info.value)
        for i in range(3):
            await f.commit_changes(
                "octo/app", f"p{i}", "c", {f"p{i}": Change(content=b"x")}, actor="dev",
                start_branch="main",
            )  # fmt: skip
            await f.open_pull_request("octo/app", head=f"p{i}", title=f"P{i}", author="dev")
        numbers = [p["number"] async for p in gh.getiter("/repos/octo/app/pulls?per_page=1")]
        assert numbers == [3, 2, 1]
        assert gh.rate_limit is not None and gh.rate_limit.remaining < 5000


async def test_app_jwt_and_installation_tokens(world):
    f = world.forge
    key, pem = rsa_key()
    await f.register_app(55, pem, slug="prbot")
    inst = await f.install_app(55, "octo", repos=["octo/app"])
    await f.create_repo("octo/other")
    async with httpx.AsyncClient() as c:
        url = f"{world.github_api_url}/app/installations/{inst.id}/access_tokens"
        # expired, or issued for too long, or signed by another key: refused
        now = int(time.time())
        import jwt as pyjwt

        expired = pyjwt.encode({"iat": now - 900, "exp": now - 300, "iss": "55"}, key, "RS256")
        assert (await c.post(url, headers=auth(expired))).status_code == 401
        too_long = app_jwt(55, lifetime=3600)
        assert (await c.post(url, headers=auth(too_long))).status_code == 401
        # a user token is not a JWT
        assert (await c.post(url, headers=auth(world.tokens["octo"]))).status_code == 401
        resp = await c.post(url, headers=auth(app_jwt(55)))
        assert resp.status_code == 201
        token = resp.json()["token"]
        assert token.startswith("ghs_")
        # JWTs only work on app endpoints
        assert (await get(world, "/repos/octo/app", app_jwt(55))).status_code == 401
    # the installation sees its repositories only, and acts as the bot user
    assert (await get(world, "/repos/octo/app", token)).status_code == 200
    assert (await get(world, "/repos/octo/other", token)).status_code == 404
    pr_author = "prbot[bot]"
    assert f.actor_login(f.authenticate(token)) == pr_author
    assert f.permission("octo/app", pr_author) == "write"
    # tokens expire
    f.now = lambda: time.time() + 4000
    assert f.authenticate(token) is None


async def test_pull_request_list_filters_and_duplicates(world):
    f = world.forge
    await f.commit_changes(
        "octo/app", "feat", "c", {"x": Change(content=b"x")}, actor="dev", start_branch="main"
    )
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        api = f"{world.github_api_url}/repos/octo/app/pulls"
        created = await c.post(api, json={"title": "T", "head": "octo:feat", "base": "main"})
        assert created.status_code == 201
        dup = await c.post(api, json={"title": "T", "head": "feat", "base": "main"})
        assert dup.status_code == 422
        assert "already exists" in dup.json()["errors"][0]["message"]
        same = await c.post(api, json={"title": "T", "head": "main", "base": "main"})
        assert same.status_code == 422
        assert (await c.get(api, params={"head": "octo:feat"})).json()[0]["number"] == 1
        assert (await c.get(api, params={"head": "other:feat"})).json() == []
        assert (await c.get(api, params={"state": "closed"})).json() == []
        closed = await c.patch(f"{api}/1", json={"state": "closed"})
        assert closed.json()["state"] == "closed" and closed.json()["merged"] is False
        assert (await c.get(api, params={"state": "closed"})).json()[0]["number"] == 1


async def test_bad_json_and_missing_fields(world):
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        api = f"{world.github_api_url}/repos/octo/app"
        bad = await c.post(f"{api}/git/blobs", content=b"{not json")
        assert bad.status_code == 400 and bad.json()["message"] == "Problems parsing JSON"
        missing = await c.post(f"{api}/git/refs", json={"sha": "0" * 40})
        assert missing.status_code == 422
        big = await c.post(f"{api}/git/blobs", content=b"x" * (26 * 1024 * 1024))
        assert big.status_code == 413


async def test_refused_requests_carry_the_anonymous_budget(world):
    resp = await get(world, "/repos/octo/app", None)
    assert resp.status_code == 401
    assert resp.headers["x-ratelimit-limit"] == "60"
    assert resp.headers["x-ratelimit-used"] == "1"
    again = await get(world, "/repos/octo/app", "nope")
    assert again.headers["x-ratelimit-remaining"] == "58"


async def test_graphql_spends_its_own_budget(world):
    token = world.tokens["dev"]
    await get(world, "/repos/octo/app", token)
    async with httpx.AsyncClient(headers=auth(token)) as c:
        gql = await c.post(world.graphql_url, json={"query": "{ rateLimit { used } }"})
    assert gql.headers["x-ratelimit-resource"] == "graphql"
    assert gql.headers["x-ratelimit-used"] == "1"
    meter = (await get(world, "/rate_limit", token)).json()["resources"]
    assert meter["core"]["used"] == 1 and meter["graphql"]["used"] == 1


# GitHub's documented "commit-comparison" and "commit" (not in the OpenAPI subset): the
# fields its schema requires
COMPARISON_FIELDS = {
    "url", "html_url", "permalink_url", "diff_url", "patch_url", "base_commit",
    "merge_base_commit", "status", "ahead_by", "behind_by", "total_commits", "commits",
}  # fmt: skip
COMMIT_FIELDS = {
    "url", "sha", "node_id", "html_url", "comments_url", "commit", "author", "committer",
    "parents",
}  # fmt: skip


async def test_compare_two_commits(world):
    f = world.forge
    base = await f.resolve("octo/app", "main")
    edits = [{"x": Change(content=f"{i}".encode())} for i in range(3)]
    feat = [
        await f.commit_changes("octo/app", "feat", f"c{i}", e, actor="dev", start_branch="main")
        for i, e in enumerate(edits)
    ]
    token = world.tokens["ro"]

    async def compare(spec: str, **params: str) -> httpx.Response:
        return await get(world, f"/repos/octo/app/compare/{spec}", token, params=params)

    ahead = (await compare(f"{base}...{feat[-1]}")).json()
    assert set(ahead) >= COMPARISON_FIELDS
    assert (ahead["status"], ahead["ahead_by"], ahead["behind_by"]) == ("ahead", 3, 0)
    assert ahead["total_commits"] == 3
    assert [c["sha"] for c in ahead["commits"]] == feat  # oldest first
    assert ahead["merge_base_commit"]["sha"] == ahead["base_commit"]["sha"] == base
    for c in (*ahead["commits"], ahead["base_commit"]):
        assert set(c) >= COMMIT_FIELDS and c["commit"]["message"]
    assert ahead["commits"][0]["parents"][0]["sha"] == base
    behind = (await compare(f"{feat[-1]}...{base}")).json()
    assert (behind["status"], behind["ahead_by"], behind["behind_by"]) == ("behind", 0, 3)
    same = (await compare("feat...feat")).json()  # branch names work too
    assert (same["status"], same["commits"]) == ("identical", [])
    moved = await f.commit_changes(
        "octo/app", "main", "m", {"y": Change(content=b"y")}, actor="dev"
    )
    diverged = (await compare(f"{moved}...feat")).json()
    assert (diverged["status"], diverged["ahead_by"], diverged["behind_by"]) == ("diverged", 3, 1)
    assert diverged["merge_base_commit"]["sha"] == base
    # the commits paginate
    page = await compare(f"{base}...{feat[-1]}", per_page="1", page="2")
    assert [c["sha"] for c in page.json()["commits"]] == [feat[1]]
    assert page.json()["total_commits"] == 3 and 'rel="next"' in page.headers["link"]
    # unknown commits, and unrelated histories, are 404s
    missing = await compare(f"{base}...{'0' * 40}")
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    tree = (await f.commit_info("octo/app", base)).tree
    orphan = await f.create_commit("octo/app", tree, [], "orphan", author="dev")
    unrelated = await compare(f"{orphan}...{base}")
    assert unrelated.status_code == 404
    assert unrelated.json()["message"] == f"No common ancestor between {orphan} and {base}."
    assert (await compare(f"{base}..{feat[-1]}")).status_code == 404  # three dots only
