"""Stop the server and start another on the same data dir: everything is still there."""

from __future__ import annotations

import httpx

from prbot.forge.git import Change
from prbot.forge.server import ForgeServer

from .conftest import FILES, auth, rsa_key


async def test_state_and_repositories_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    async with ForgeServer(data) as srv:
        f = srv.forge
        await f.create_repo("octo/app", files=FILES, visibility="public")
        f.set_permission("octo/app", "dev", "write")
        token = f.create_token("dev")
        await f.register_app(9, rsa_key()[1], slug="bot")
        inst = await f.install_app(9, "octo")
        _, _ = f.create_installation_token(inst.id)
        head = await f.commit_changes(
            "octo/app", "feat", "Feat", {"f.txt": Change(content=b"f")}, actor="dev",
            start_branch="main",
        )  # fmt: skip
        pr = await f.open_pull_request("octo/app", head="feat", title="Feat", author="dev")
        await f.add_labels("octo/app", pr.number, ["x"], actor="dev")
        c = await f.add_comment("octo/app", pr.number, "hello", author="dev")
        await f.add_reaction("octo/app", c.id, "+1", user="octo")
        await f.post_status("octo/app", head, "success", context="ci", creator="ci")
        await f.post_check_run("octo/app", head, "build", conclusion="success")
        dep = await f.create_deployment("octo/app", head, creator="ci", environment="dev")
        await f.post_deployment_status("octo/app", dep.id, "success", creator="ci")
        f.add_hook("github", "http://127.0.0.1:9/x", secret="s")
        first_port = srv.port

    async with ForgeServer(data) as srv:
        f = srv.forge
        assert f.repo("octo/app").visibility == "public"
        assert f.permission("octo/app", "dev") == "write"
        assert await f.resolve("octo/app", "feat") == head
        pr2 = f.pull_request("octo/app", pr.number)
        assert (pr2.title, pr2.labels, pr2.head_sha) == ("Feat", ["x"], head)
        assert f.comments("octo/app", pr.number)[0].reactions[0].content == "+1"
        assert f.combined_status("octo/app", head)[0] == "success"
        assert f.check_runs("octo/app", head)[0].conclusion == "success"
        assert f.deployment_statuses("octo/app", dep.id)[0].state == "success"
        assert f.installation_for_repo("octo/app").id == inst.id
        assert len(f.hooks()) == 1
        # ids keep counting from where they were, and the old token still works
        pr3_head = await f.commit_changes(
            "octo/app", "more", "More", {"m": Change(content=b"m")}, actor="dev",
            start_branch="main",
        )  # fmt: skip
        assert pr3_head
        new = await f.open_pull_request("octo/app", head="more", title="More", author="dev")
        assert new.number == pr.number + 1 and new.id > pr.id
        async with httpx.AsyncClient(headers=auth(token)) as client:
            resp = await client.get(f"{srv.github_api_url}/repos/octo/app/pulls/{pr.number}")
            assert resp.status_code == 200 and resp.json()["head"]["sha"] == head
        assert srv.port != 0 and first_port != 0
