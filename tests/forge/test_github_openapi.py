"""Every GitHub operation the forge serves, called over HTTP, answer validated against
GitHub's own OpenAPI description (tests/fixtures/api/github-openapi-subset.json).

One scenario drives the 34 operations the way the bot would (plus their documented error
answers) and records each exchange; one test per operation validates what was recorded,
and a guard test fails when an operation of the subset was never exercised.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from prbot.forge.server import ForgeServer

from .conftest import (
    FILES,
    app_jwt,
    assert_github_shape,
    rsa_key,
    spec_operations,
)

APP_ID = 4242


@dataclass
class Exchange:
    method: str
    template: str  # spec path, e.g. /repos/{owner}/{repo}/git/ref/{ref}
    params: dict[str, str]
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def operation(self) -> str:
        return f"{self.method} {self.template}"


class Recorder:
    def __init__(self, srv: ForgeServer):
        self.srv = srv
        self.exchanges: list[Exchange] = []
        self.client = httpx.AsyncClient(timeout=10)

    async def call(
        self,
        method: str,
        template: str,
        params: dict[str, str] | None = None,
        *,
        token: str,
        expect: int,
        json: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        params = {"owner": "octo", "repo": "app", **(params or {})}
        path = template
        for key, value in params.items():
            path = path.replace("{" + key + "}", str(value))
        resp = await self.client.request(
            method,
            f"{self.srv.github_api_url}{path}",
            json=json,
            params=query,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        )
        body = resp.json()
        assert resp.status_code == expect, (method, path, resp.status_code, body)
        used = {k: v for k, v in params.items() if "{" + k + "}" in template}
        self.exchanges.append(
            Exchange(method, template, used, resp.status_code, body, dict(resp.headers))
        )
        return body


R = "/repos/{owner}/{repo}"


async def scenario(tmp_path) -> list[Exchange]:
    async with ForgeServer(tmp_path / "forge") as srv:
        f = srv.forge
        await f.create_repo("octo/app", files=FILES, visibility="private")
        f.create_user("dev")
        f.set_permission("octo/app", "dev", "write")
        owner = f.create_token("octo")
        dev = f.create_token("dev")
        await f.register_app(APP_ID, rsa_key()[1], slug="prbot")
        inst = await f.install_app(APP_ID, "octo")
        rec = Recorder(srv)
        call = rec.call
        jwt_token = app_jwt(APP_ID)

        # the app's token, then act as the installation like the bot does
        tok = await call(
            "POST",
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": str(inst.id)},
            token=jwt_token,
            expect=201,
        )
        bot = tok["token"]
        await call(
            "POST",
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": "999"},
            token=jwt_token,
            expect=404,
        )
        await call("GET", f"{R}/installation", token=jwt_token, expect=200)
        await call("GET", "/rate_limit", token=bot, expect=200)
        await call("GET", R, token=bot, expect=200)
        await call("GET", R, {"repo": "nope"}, token=bot, expect=404)
        await call(
            "GET",
            f"{R}/collaborators/{{username}}/permission",
            {"username": "dev"},
            token=bot,
            expect=200,
        )
        await call(
            "GET",
            f"{R}/collaborators/{{username}}/permission",
            {"username": "ghost-user"},
            token=bot,
            expect=404,
        )

        # contents: a file, a folder, a symlink, a missing path
        contents = f"{R}/contents/{{path}}"
        readme = await call("GET", contents, {"path": "README.md"}, token=bot, expect=200)
        assert base64.b64decode(readme["content"]) == b"# app\n"
        await call(
            "GET", contents, {"path": "deploy"}, token=bot, expect=200, query={"ref": "main"}
        )
        await call("GET", contents, {"path": "current"}, token=bot, expect=200)
        await call("GET", contents, {"path": "missing.txt"}, token=bot, expect=404)

        # a multi-file commit through the git database, as the bot writes one
        main = await call(
            "GET", f"{R}/git/ref/{{ref}}", {"ref": "heads/main"}, token=bot, expect=200
        )
        base = main["object"]["sha"]
        await call("GET", f"{R}/git/ref/{{ref}}", {"ref": "heads/none"}, token=bot, expect=404)
        blob = await call(
            "POST",
            f"{R}/git/blobs",
            token=bot,
            expect=201,
            json={"content": base64.b64encode(b"\x00\x01bin").decode(), "encoding": "base64"},
        )
        base_commit = await call(
            "GET", f"{R}/git/commits/{{commit_sha}}", {"commit_sha": base}, token=bot, expect=200
        )
        await call(
            "GET",
            f"{R}/git/commits/{{commit_sha}}",
            {"commit_sha": "0" * 40},
            token=bot,
            expect=404,
        )
        tree = await call(
            "POST",
            f"{R}/git/trees",
            token=bot,
            expect=201,
            json={
                "base_tree": base_commit["tree"]["sha"],
                "tree": [
                    {"path": "deploy/dev/values.yaml", "mode": "100644", "type": "blob",
                     "content": "image:\n  tag: 1.1.0\n"},
                    {"path": "data.bin", "mode": "100644", "type": "blob", "sha": blob["sha"]},
                    {"path": "deploy/prod/values.yaml", "mode": "100644", "type": "blob",
                     "sha": None},
                ],
            },
        )  # fmt: skip
        await call(
            "POST",
            f"{R}/git/trees",
            token=bot,
            expect=422,
            json={"tree": [{"path": "../evil", "mode": "100644", "type": "blob", "content": "x"}]},
        )
        await call(
            "GET",
            f"{R}/git/trees/{{tree_sha}}",
            {"tree_sha": tree["sha"]},
            token=bot,
            expect=200,
            query={"recursive": "1"},
        )
        commit = await call(
            "POST",
            f"{R}/git/commits",
            token=bot,
            expect=201,
            json={"message": "Bump dev to 1.1.0", "tree": tree["sha"], "parents": [base]},
        )
        await call(
            "POST",
            f"{R}/git/commits",
            token=bot,
            expect=422,
            json={"message": "x", "tree": "f" * 40, "parents": [base]},
        )
        await call(
            "POST",
            f"{R}/git/refs",
            token=bot,
            expect=201,
            json={"ref": "refs/heads/prbot/bump", "sha": base},
        )
        await call(
            "POST",
            f"{R}/git/refs",
            token=bot,
            expect=422,
            json={"ref": "refs/heads/prbot/bump", "sha": base},
        )
        refs = f"{R}/git/refs/{{ref}}"
        await call(
            "PATCH",
            refs,
            {"ref": "heads/prbot/bump"},
            token=bot,
            expect=200,
            json={"sha": commit["sha"], "force": False},
        )
        await call(
            "PATCH",
            refs,
            {"ref": "heads/prbot/bump"},
            token=bot,
            expect=422,
            json={"sha": base, "force": False},
        )
        await call(
            "GET", f"{R}/git/matching-refs/{{ref}}", {"ref": "heads/prbot"}, token=bot, expect=200
        )

        # the pull request, its labels, reviewers, comments and reactions
        pulls = f"{R}/pulls"
        pr = await call(
            "POST",
            pulls,
            token=bot,
            expect=201,
            json={"title": "Bump dev", "head": "prbot/bump", "base": "main", "body": "Auto"},
        )
        await call(
            "POST",
            pulls,
            token=bot,
            expect=422,
            json={"title": "Again", "head": "prbot/bump", "base": "main"},
        )
        listed = await call(
            "GET", pulls, token=bot, expect=200, query={"head": "octo:prbot/bump", "state": "open"}
        )
        assert [p["number"] for p in listed] == [pr["number"]]
        number = str(pr["number"])
        one = f"{R}/pulls/{{pull_number}}"
        await call("GET", one, {"pull_number": number}, token=bot, expect=200)
        await call("GET", one, {"pull_number": "999"}, token=bot, expect=404)
        await call(
            "PATCH", one, {"pull_number": number}, token=bot, expect=200, json={"body": "Updated"}
        )
        await call(
            "POST",
            f"{R}/pulls/{{pull_number}}/requested_reviewers",
            {"pull_number": number},
            token=bot,
            expect=201,
            json={"reviewers": ["dev"]},
        )
        await call(
            "POST",
            f"{R}/pulls/{{pull_number}}/requested_reviewers",
            {"pull_number": number},
            token=bot,
            expect=422,
            json={"reviewers": ["nobody-here"]},
        )
        await call(
            "POST",
            f"{R}/issues/{{issue_number}}/labels",
            {"issue_number": number},
            token=bot,
            expect=200,
            json={"labels": ["gitops", "env:dev"]},
        )
        issue_comments = f"{R}/issues/{{issue_number}}/comments"
        comment = await call(
            "POST",
            issue_comments,
            {"issue_number": number},
            token=dev,
            expect=201,
            json={"body": "/prbot promote"},
        )
        await call(
            "POST",
            issue_comments,
            {"issue_number": "999"},
            token=dev,
            expect=404,
            json={"body": "x"},
        )
        await call("GET", issue_comments, {"issue_number": number}, token=bot, expect=200)
        cid = str(comment["id"])
        await call(
            "PATCH",
            f"{R}/issues/comments/{{comment_id}}",
            {"comment_id": cid},
            token=dev,
            expect=200,
            json={"body": "/prbot promote staging"},
        )
        reactions = f"{R}/issues/comments/{{comment_id}}/reactions"
        await call(
            "POST", reactions, {"comment_id": cid}, token=bot, expect=201, json={"content": "eyes"}
        )
        await call(
            "POST", reactions, {"comment_id": cid}, token=bot, expect=200, json={"content": "eyes"}
        )
        await call(
            "POST", reactions, {"comment_id": cid}, token=bot, expect=422, json={"content": "nope"}
        )

        # health on the head commit: a status, a check run (posted by CI), the combined view
        head = commit["sha"]
        await call(
            "POST",
            f"{R}/statuses/{{sha}}",
            {"sha": head},
            token=bot,
            expect=201,
            json={"state": "success", "context": "ci/test", "target_url": "https://ci.example/1"},
        )
        await f.post_check_run("octo/app", head, "build", conclusion="success", app_id=APP_ID)
        await call("GET", f"{R}/commits/{{ref}}/status", {"ref": head}, token=bot, expect=200)
        await call(
            "GET", f"{R}/commits/{{ref}}/status", {"ref": "no-such-branch"}, token=bot, expect=404
        )
        await call(
            "GET", f"{R}/commits/{{ref}}/check-runs", {"ref": "prbot/bump"}, token=bot, expect=200
        )

        # deployments
        dep = await call(
            "POST",
            f"{R}/deployments",
            token=bot,
            expect=201,
            json={"ref": head, "environment": "dev", "payload": {"service": "app"}},
        )
        await call(
            "POST",
            f"{R}/deployments",
            token=bot,
            expect=422,
            json={"environment": "dev"},
        )
        await call("GET", f"{R}/deployments", token=bot, expect=200, query={"environment": "dev"})
        statuses = f"{R}/deployments/{{deployment_id}}/statuses"
        ds = await call(
            "POST",
            statuses,
            {"deployment_id": str(dep["id"])},
            token=bot,
            expect=201,
            json={"state": "success", "environment_url": "https://dev.example"},
        )
        await call(
            "POST",
            statuses,
            {"deployment_id": str(dep["id"])},
            token=bot,
            expect=422,
            json={"state": "exploded"},
        )
        await call("GET", statuses, {"deployment_id": str(dep["id"])}, token=bot, expect=200)
        await call(
            "GET",
            f"{R}/deployments/{{deployment_id}}/statuses/{{status_id}}",
            {"deployment_id": str(dep["id"]), "status_id": str(ds["id"])},
            token=bot,
            expect=200,
        )
        await call(
            "GET",
            f"{R}/deployments/{{deployment_id}}/statuses/{{status_id}}",
            {"deployment_id": str(dep["id"]), "status_id": "1"},
            token=bot,
            expect=404,
        )

        # merging: a clean merge, then a PR that conflicts with it (405), a stale sha (409)
        merge = f"{R}/pulls/{{pull_number}}/merge"
        await call(
            "PUT",
            merge,
            {"pull_number": number},
            token=bot,
            expect=409,
            json={"sha": base},
        )
        await call("PUT", merge, {"pull_number": number}, token=bot, expect=200, json={})
        await call("PUT", merge, {"pull_number": number}, token=bot, expect=405, json={})
        await f.create_ref("octo/app", "refs/heads/conflict", base, actor="octo")
        await f.commit_changes(
            "octo/app",
            "conflict",
            "conflicting edit",
            {"deploy/dev/values.yaml": _change("image:\n  tag: 9.9.9\n")},
            actor="octo",
        )
        other = await call(
            "POST",
            pulls,
            token=owner,
            expect=201,
            json={"title": "C", "head": "conflict", "base": "main"},
        )
        await call(
            "PUT", merge, {"pull_number": str(other["number"])}, token=owner, expect=405, json={}
        )
        await call(
            "PATCH",
            one,
            {"pull_number": str(other["number"])},
            token=owner,
            expect=200,
            json={"state": "closed"},
        )
        await call("GET", pulls, token=bot, expect=200, query={"state": "all", "per_page": "1"})
        await rec.client.aclose()
        return rec.exchanges


def _change(text: str):
    from prbot.forge.git import Change

    return Change(content=text.encode())


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory) -> list[Exchange]:
    return asyncio.run(scenario(tmp_path_factory.mktemp("openapi")))


@pytest.mark.parametrize("operation", spec_operations())
def test_operation_answers_match_github_openapi(operation: str, exchanges: list[Exchange]):
    mine = [e for e in exchanges if e.operation == operation]
    assert mine, f"{operation} was never called by the scenario"
    for e in mine:
        assert_github_shape(e.method, e.template, e.params, e.status, e.body)
        assert int(e.headers["x-ratelimit-limit"]) > 0
        assert e.headers["x-ratelimit-resource"] == "core"


def test_every_described_operation_is_served(exchanges: list[Exchange]):
    from prbot.forge.github import ROUTES

    served = {f"{m} {re.sub(r':[^}]+', '', p).removeprefix('/api/v3')}" for m, p, _ in ROUTES}
    described = set(spec_operations())
    assert len(described) == 34
    assert described <= served, described - served
    assert described <= {e.operation for e in exchanges}


def test_rate_limit_headers_count_down_per_principal(exchanges: list[Exchange]):
    remaining = [
        int(e.headers["x-ratelimit-remaining"])
        for e in exchanges
        if e.headers.get("x-ratelimit-resource") == "core" and e.template != "/rate_limit"
    ]
    assert remaining and min(remaining) < 5000
