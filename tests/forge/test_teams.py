"""Teams (GitHub) and groups (GitLab): made through the state, the admin API and the
CLI, kept across restarts, and shown the way each platform shows them."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from prbot.cli import main
from prbot.forge.errors import NotFound, Unprocessable
from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge

from .conftest import app_jwt, auth, rsa_key

APP_ID = 5151
MEMBERSHIP = "/orgs/{org}/teams/{slug}/memberships/{user}"


def check_membership_shape(body: dict[str, Any]) -> None:
    """GitHub's documented team-membership object: url, role, state (all required)."""
    assert set(body) == {"url", "role", "state"}
    assert body["role"] in ("member", "maintainer") and body["state"] in ("active", "pending")
    assert body["url"].startswith(("http://", "https://"))


# -- the state -------------------------------------------------------------------------------


def test_teams_members_and_parents(tmp_path):
    f = Forge(tmp_path / "d")
    team = f.create_team("acme/platform", name="Platform team")
    assert f.create_team("ACME/Platform") is team  # idempotent, without case
    assert (team.path, team.slug, team.parent, team.name) == (
        "acme/platform",
        "platform",
        "acme",
        "Platform team",
    )
    f.create_team("acme")
    f.set_team_member("acme/platform", "alice")
    f.set_team_member("acme/platform", "bob", role="maintainer", state="pending")
    f.set_team_member("acme", "bob", role="member")
    f.set_team_member("acme", "carol")
    assert f.user("alice").login == "alice"  # members are users
    assert f.team_member("Acme/Platform", "ALICE").state == "active"
    assert f.team_member("acme/platform", "carol") is None  # GitHub: no nesting by name
    assert f.group_member("acme/platform", "carol").login == "carol"  # GitLab: inherited
    bob = f.group_member("acme/platform", "bob")
    assert (bob.role, bob.state) == ("member", "active")  # the active membership wins
    assert f.group_member("acme/platform/deeper", "carol") is not None
    f.remove_team_member("acme/platform", "alice")
    assert f.team_member("acme/platform", "alice") is None
    assert [t.path for t in f.teams()] == ["acme", "acme/platform"]
    assert f.team_by_id(team.id) is team


@pytest.mark.parametrize("path", ["", "/", "a//b", ".hidden", "-x", "a b", "a/" * 21 + "a"])
def test_invalid_team_paths_are_refused(tmp_path, path):
    with pytest.raises(Unprocessable):
        Forge(tmp_path / "d").create_team(path)


def test_unknown_team_role_or_state(tmp_path):
    f = Forge(tmp_path / "d")
    with pytest.raises(NotFound):
        f.set_team_member("acme/none", "alice")
    f.create_team("acme/platform")
    with pytest.raises(Unprocessable):
        f.set_team_member("acme/platform", "alice", role="owner")
    with pytest.raises(Unprocessable):
        f.set_team_member("acme/platform", "alice", state="left")


def test_teams_survive_a_restart(tmp_path):
    f = Forge(tmp_path / "d")
    team = f.create_team("acme/platform")
    f.set_team_member("acme/platform", "alice", role="maintainer", state="pending")
    again = Forge(tmp_path / "d")
    assert again.team("acme/platform").id == team.id
    member = again.team_member("acme/platform", "alice")
    assert (member.role, member.state) == ("maintainer", "pending")
    assert again.create_team("acme/sre").id == team.id + 1  # ids go on where they were


# -- the admin API and the CLI ---------------------------------------------------------------


async def test_admin_api_makes_teams_and_members(server):
    async with httpx.AsyncClient(base_url=server.admin_url) as c:
        made = await c.post("/teams", json={"path": "acme/platform", "name": "Platform"})
        assert made.status_code == 201
        assert made.json() == {"id": made.json()["id"], "path": "acme/platform",
                               "name": "Platform", "members": []}  # fmt: skip
        await c.post("/teams", json={"path": "acme/sub/deep"})
        put = await c.put("/teams/acme/platform/members/alice", json={"role": "maintainer"})
        assert put.json() == {"path": "acme/platform", "login": "alice", "role": "maintainer",
                              "state": "active"}  # fmt: skip
        pending = await c.put("/teams/acme/sub/deep/members/bob", json={"state": "pending"})
        assert pending.json()["state"] == "pending"
        listed = (await c.get("/teams")).json()
        assert [(t["path"], t["members"]) for t in listed] == [
            ("acme/platform", [{"login": "alice", "role": "maintainer", "state": "active"}]),
            ("acme/sub/deep", [{"login": "bob", "role": "member", "state": "pending"}]),
        ]
        assert (await c.delete("/teams/acme/platform/members/alice")).status_code == 204
        assert server.forge.team_member("acme/platform", "alice") is None
        # errors: a team that does not exist, a bad path, a bad role, no path
        assert (await c.put("/teams/acme/none/members/x", json={})).status_code == 404
        assert (await c.post("/teams", json={"path": "a b"})).status_code == 422
        bad = await c.put("/teams/acme/platform/members/x", json={"role": "owner"})
        assert bad.status_code == 422
        assert (await c.post("/teams", json={})).status_code == 400


async def test_cli_makes_teams_and_members(server, capsys):
    url = ["--url", server.url]

    async def cli(*args: str) -> int:
        # the CLI's client is synchronous: in a thread, so the server keeps serving
        return await asyncio.to_thread(main, ["forge", "team", *args, *url])

    assert await cli("create", "acme/platform", "--name", "Platform") == 0
    assert await cli("add", "acme/platform", "alice", "--role", "maintainer") == 0
    assert await cli("add", "acme/platform", "bob", "--pending") == 0
    assert await cli("list") == 0
    assert await cli("remove", "acme/platform", "bob") == 0
    out = capsys.readouterr().out
    assert "team acme/platform (id " in out
    assert "alice: maintainer of acme/platform (active)" in out
    assert "bob: member of acme/platform (pending)" in out
    assert "acme/platform: alice, bob (pending)" in out
    assert "bob: removed from acme/platform" in out
    assert await cli("add", "acme/none", "carol") == 2
    assert "404" in capsys.readouterr().err


# -- GitHub: GET /orgs/{org}/teams/{team_slug}/memberships/{username} --------------------------


async def _installation_token(srv: ForgeServer, account: str, **install: Any) -> str:
    f = srv.forge
    await f.register_app(APP_ID, rsa_key()[1], slug="prbot")
    inst = await f.install_app(APP_ID, account, **install)
    async with httpx.AsyncClient() as c:
        answer = await c.post(
            f"{srv.github_api_url}/app/installations/{inst.id}/access_tokens",
            headers=auth(app_jwt(APP_ID)),
        )
    return answer.json()["token"]


async def test_github_team_membership(world):
    f = world.forge
    f.create_team("octo/platform")
    f.set_team_member("octo/platform", "alice", role="maintainer")
    f.set_team_member("octo/platform", "bob", state="pending")
    token = await _installation_token(world, "octo")
    async with httpx.AsyncClient(headers=auth(token)) as c:

        async def ask(org: str, slug: str, user: str) -> httpx.Response:
            path = MEMBERSHIP.format(org=org, slug=slug, user=user)
            return await c.get(world.github_api_url + path)

        alice = await ask("octo", "platform", "alice")
        assert alice.status_code == 200
        check_membership_shape(alice.json())
        assert alice.json()["role"] == "maintainer" and alice.json()["state"] == "active"
        assert alice.json()["url"].endswith(
            f"/teams/{f.team('octo/platform').id}/memberships/alice"
        )
        assert (await ask("OCTO", "Platform", "ALICE")).status_code == 200  # without case
        assert (await ask("octo", "platform", "bob")).json()["state"] == "pending"
        for org, slug, user in (("octo", "platform", "ro"), ("octo", "nope", "alice")):
            missing = await ask(org, slug, user)
            assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
        # a user's token sees the team too (the forge does not model org membership)
        as_user = await c.get(
            world.github_api_url + MEMBERSHIP.format(org="octo", slug="platform", user="alice"),
            headers=auth(world.tokens["dev"]),
        )
        assert as_user.status_code == 200


async def test_an_installation_sees_teams_of_its_account_with_members_read(server):
    f = server.forge
    await f.create_repo("octo/app")
    f.create_team("octo/platform")
    f.create_team("other/platform")
    f.set_team_member("octo/platform", "alice")
    f.set_team_member("other/platform", "alice")
    without = await _installation_token(server, "octo", permissions={"contents": "read"})
    url = server.github_api_url + MEMBERSHIP.format(org="octo", slug="platform", user="alice")
    async with httpx.AsyncClient() as c:
        refused = await c.get(url, headers=auth(without))
        assert refused.status_code == 403
        assert refused.json()["message"] == "Resource not accessible by integration"
    with_members = await _installation_token(server, "octo")  # the default: members: read
    other = url.replace("/orgs/octo/", "/orgs/other/")
    async with httpx.AsyncClient(headers=auth(with_members)) as c:
        assert (await c.get(url)).status_code == 200
        assert (await c.get(other)).status_code == 404  # not installed on "other"


# -- GitLab: groups and members/all ----------------------------------------------------------


async def test_gitlab_groups_and_their_members(world):
    f = world.forge
    parent = f.create_team("octo")
    team = f.create_team("octo/platform", name="Platform")
    f.set_team_member("octo", "carol", role="maintainer")
    f.set_team_member("octo/platform", "alice")
    f.set_team_member("octo/platform", "bob", state="pending")
    api = f"{world.gitlab_url}/api/v4"
    ids = {u.login: u.id for u in f.users()}
    async with httpx.AsyncClient(headers={"PRIVATE-TOKEN": world.tokens["dev"]}) as c:

        async def get(path: str) -> httpx.Response:
            return await c.get(api + path)

        by_path = await get(f"/groups/{quote('octo/platform', safe='')}")
        assert by_path.status_code == 200
        group = by_path.json()
        assert (group["id"], group["full_path"], group["path"], group["name"]) == (
            team.id,
            "octo/platform",
            "platform",
            "Platform",
        )
        assert group["parent_id"] == parent.id and group["full_name"] == "octo / platform"
        assert (await get(f"/groups/{team.id}")).json()["full_path"] == "octo/platform"

        alice = (await get(f"/groups/{team.id}/members/all/{ids['alice']}")).json()
        assert (alice["username"], alice["access_level"], alice["membership_state"]) == (
            "alice",
            30,
            "active",
        )
        bob = (await get(f"/groups/{team.id}/members/all/{ids['bob']}")).json()
        assert bob["membership_state"] == "awaiting"
        # carol is in the parent group: a member of the subgroup with "all", not without
        carol = await get(f"/groups/{team.id}/members/all/{ids['carol']}")
        assert carol.status_code == 200 and carol.json()["access_level"] == 40
        assert (await get(f"/groups/{team.id}/members/{ids['carol']}")).status_code == 404
        assert (await get(f"/groups/{team.id}/members/{ids['alice']}")).status_code == 200

        # how a client tells "no such group" from "not a member"
        none = await get(f"/groups/{quote('octo/none', safe='')}/members/all/{ids['alice']}")
        assert none.status_code == 404 and none.json() == {"message": "404 Group Not Found"}
        stranger = await get(f"/groups/{team.id}/members/all/{ids['ro']}")
        assert stranger.status_code == 404 and stranger.json() == {"message": "404 Not found"}
        assert (await get("/groups/999999")).json() == {"message": "404 Group Not Found"}
