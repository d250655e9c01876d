"""The admin API under /_forge/: what tests and the demo use to play the world."""

from __future__ import annotations

import base64

import httpx

from .conftest import rsa_key
from .test_webhooks import Receiver


async def test_admin_drives_apps_hooks_ci_and_deliveries(server, tmp_path):
    admin = server.admin_url
    async with httpx.AsyncClient(base_url=admin) as c, Receiver() as rx:
        png = base64.b64encode(b"\x89PNG\x00").decode()
        made = await c.post(
            "/repos",
            json={"full_name": "acme/ops", "files": {"a.txt": "a\n"}, "visibility": "public"},
        )
        assert made.status_code == 201 and len(made.json()["head"]) == 40
        b64 = await c.post(
            "/repos", json={"full_name": "acme/bin", "files": {"x.png": png}, "encoding": "base64"}
        )
        assert b64.status_code == 201
        assert (await c.post("/repos", json={"full_name": "acme/ops"})).status_code == 422
        assert (await c.post("/repos", json={"full_name": "../x"})).status_code == 422
        bad = await c.post(
            "/repos", json={"full_name": "acme/nodir", "folder": str(tmp_path / "no")}
        )
        assert bad.status_code == 400
        assert [r["full_name"] for r in (await c.get("/repos")).json()] == ["acme/ops", "acme/bin"]

        user = (await c.post("/users", json={"login": "alice", "token": "t-alice"})).json()
        assert user["token"] == "t-alice"
        perm = await c.put("/repos/acme/ops/permissions/alice", json={"permission": "write"})
        assert perm.json() == {"login": "alice", "permission": "write"}

        app = await c.post(
            "/apps", json={"app_id": 321, "public_key_pem": rsa_key()[1], "slug": "prbot"}
        )
        assert app.json()["bot_login"] == "prbot[bot]"
        hook = await c.post(
            "/hooks", json={"platform": "github", "url": rx.url, "secret": "s", "app_id": 321}
        )
        assert hook.status_code == 201 and "secret" not in hook.json()
        inst = await c.post("/apps/321/installations", json={"account": "acme"})
        assert inst.status_code == 201
        assert len((await c.get("/hooks")).json()) == 1

        commit = await c.post(
            "/repos/acme/ops/commits",
            json={"branch": "feat", "start_branch": "main", "author": "alice",
                  "message": "Change", "files": {"b.txt": "b\n", "a.txt": None}},
        )  # fmt: skip
        assert commit.status_code == 201
        sha = commit.json()["sha"]
        pr = await c.post(
            "/repos/acme/ops/pulls", json={"head": "feat", "title": "Feat", "author": "alice"}
        )
        assert pr.json()["number"] == 1
        assert (await c.get("/repos/acme/ops/pulls/1")).json()["mergeable"] is True
        assert (await c.post("/repos/acme/ops/pulls/1/comments",
                             json={"author": "bob", "body": "hi"})).status_code == 201  # fmt: skip
        st = await c.post(
            "/repos/acme/ops/statuses/" + sha, json={"state": "success", "context": "ci"}
        )
        assert st.status_code == 201
        run = await c.post(
            "/repos/acme/ops/check-runs",
            json={"sha": sha, "name": "build", "conclusion": "success"},
        )
        assert run.json()["status"] == "completed"
        dep = await c.post(
            "/repos/acme/ops/deployments", json={"ref": "feat", "environment": "dev"}
        )
        ds = await c.post(
            f"/repos/acme/ops/deployments/{dep.json()['id']}/statuses", json={"state": "success"}
        )
        assert ds.status_code == 201
        pipe = await c.post("/repos/acme/ops/pipelines", json={"sha": sha, "ref": "feat"})
        done = await c.put(
            f"/repos/acme/ops/pipelines/{pipe.json()['id']}", json={"status": "success"}
        )
        assert done.json()["status"] == "success"
        merged = await c.post("/repos/acme/ops/pulls/1/merge", json={"actor": "alice"})
        assert merged.json()["merged"] is True
        assert (await c.post("/repos/acme/ops/pulls/1/merge", json={})).status_code == 405

        assert (await c.post("/deliveries/drain")).status_code == 200
        deliveries = (await c.get("/deliveries")).json()
        events = {d["event"] for d in deliveries}
        assert {"installation", "push", "pull_request", "issue_comment", "status"} <= events
        assert all(d["status_code"] == 200 for d in deliveries)
        one = (await c.get(f"/deliveries/{deliveries[0]['id']}")).json()
        assert one["payload"]["action"] == "created"
        again = await c.post(f"/deliveries/{deliveries[0]['id']}/redeliver")
        assert again.status_code == 201 and again.json()["guid"] == deliveries[0]["guid"]
        assert (await c.get("/deliveries/999999")).status_code == 404
        assert (await c.delete(f"/hooks/{hook.json()['id']}")).status_code == 204

        limit = await c.put("/rate-limit", json={"limit": 10, "reset": True})
        assert limit.json() == {"limit": 10}
