"""Webhooks: real deliveries to a receiver on 127.0.0.1, signed like GitHub's, shaped like
the platforms' (GitHub payloads validated against octokit's schemas; GitLab bodies
checked against the captured deliveries in tests/fixtures/webhooks/gitlab)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass

import pytest
from aiohttp import web

from prbot.forge.git import Change
from tests.fixtures import WEBHOOKS

from .conftest import has_webhook_schema, rsa_key, webhook_errors

APP_ID = 77


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it gets."""

    def __init__(self, status: int = 200):
        self.status = status
        self.got: list[Received] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append(Received(dict(request.headers), await request.read()))
        return web.Response(status=self.status, text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def events(self, header: str) -> list[str]:
        return [r.headers[header] for r in self.got]


async def drive(world) -> dict:
    """Walk a PR through its life: every event both platforms announce fires once."""
    f = world.forge
    repo = "octo/app"
    await f.commit_changes(
        repo, "feature", "Add feature", {"feature.txt": Change(content=b"v1\n")},
        actor="dev", start_branch="main",
    )  # fmt: skip
    pr = await f.open_pull_request(repo, head="feature", title="Feature", author="dev")
    await f.add_labels(repo, pr.number, ["gitops"], actor="octo")
    head = await f.commit_changes(
        repo, "feature", "More", {"feature.txt": Change(content=b"v2\n")}, actor="dev"
    )
    comment = await f.add_comment(repo, pr.number, "/prbot promote", author="dev")
    await f.post_status(repo, head, "pending", context="ci/test", creator="ci")
    await f.post_status(repo, head, "success", context="ci/test", creator="ci")
    await f.post_check_run(repo, head, "build", conclusion="success", app_id=APP_ID)
    dep = await f.create_deployment(repo, head, creator="ci", environment="dev")
    await f.post_deployment_status(repo, dep.id, "success", creator="ci")
    await f.merge_pull_request(repo, pr.number, actor="octo")
    await f.commit_changes(
        repo, "other", "Other", {"other.txt": Change(content=b"x\n")},
        actor="dev", start_branch="main",
    )  # fmt: skip
    other = await f.open_pull_request(repo, head="other", title="Other", author="dev")
    await f.update_pull_request(repo, other.number, actor="dev", state="closed")
    await f.webhooks.drain()
    return {"pr": pr, "comment": comment}


async def test_github_deliveries_are_signed_and_match_the_schemas(world):
    f = world.forge
    async with Receiver() as rx:
        await f.register_app(APP_ID, rsa_key()[1], slug="prbot")
        f.add_hook("github", rx.url, secret="s3cret", app_id=APP_ID)
        await f.install_app(APP_ID, "octo")
        await drive(world)

    names = rx.events("X-GitHub-Event")
    for expected in (
        "installation", "push", "pull_request", "issue_comment", "status", "check_run",
        "check_suite", "deployment", "deployment_status",
    ):  # fmt: skip
        assert expected in names, (expected, names)
    actions = [(r.headers["X-GitHub-Event"], r.json.get("action")) for r in rx.got]
    for expected in [
        ("pull_request", "opened"),
        ("pull_request", "labeled"),
        ("pull_request", "synchronize"),
        ("pull_request", "closed"),
        ("issue_comment", "created"),
        ("check_run", "completed"),
        ("check_suite", "completed"),
        ("deployment_status", "created"),
        ("installation", "created"),
    ]:
        assert expected in actions, expected
    closed = [r.json for r in rx.got if r.json.get("action") == "closed"]
    assert [c["pull_request"]["merged"] for c in closed] == [True, False]

    validated = 0
    for r in rx.got:
        h = r.headers
        sig = "sha256=" + hmac.new(b"s3cret", r.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(h["X-Hub-Signature-256"], sig)
        assert uuid.UUID(h["X-GitHub-Delivery"])
        assert h["X-GitHub-Hook-ID"].isdigit()
        assert h["User-Agent"].startswith("GitHub-Hookshot/")
        assert h["Content-Type"] == "application/json"
        payload = r.json
        event = h["X-GitHub-Event"]
        if event != "installation":
            assert payload["installation"]["id"] == f.installation_for_repo("octo/app").id
        if has_webhook_schema(event, payload.get("action")):
            errors = webhook_errors(event, payload)
            assert not errors, (event, payload.get("action"), errors[:5])
            validated += 1
    assert validated >= 12


async def test_push_payload_lists_files_and_the_merge_commit(world):
    f = world.forge
    async with Receiver() as rx:
        f.add_hook("github", rx.url, secret="k", events=["push"], repo="octo/app")
        await drive(world)
    pushes = [r.json for r in rx.got]
    assert {r.headers["X-GitHub-Event"] for r in rx.got} == {"push"}
    first = pushes[0]
    assert first["created"] is True and first["ref"] == "refs/heads/feature"
    assert first["head_commit"]["added"] == ["feature.txt"]
    merge = next(p for p in pushes if p["ref"] == "refs/heads/main")
    assert merge["head_commit"]["message"].startswith("Merge pull request #1")


GITLAB_FIXTURES = WEBHOOKS / "gitlab"


def _fixture_keys(name: str) -> set[str]:
    return set(json.loads((GITLAB_FIXTURES / name).read_text(encoding="utf-8")))


async def test_gitlab_deliveries_carry_token_idempotency_key_and_documented_fields(world):
    f = world.forge
    async with Receiver() as rx:
        f.add_hook("gitlab", rx.url, secret="gl-token", repo="octo/app")
        await drive(world)

    kinds = rx.events("X-Gitlab-Event")
    for expected in (
        "Push Hook", "Merge Request Hook", "Note Hook", "Pipeline Hook", "Deployment Hook",
    ):  # fmt: skip
        assert expected in kinds, (expected, kinds)
    keys = set()
    for r in rx.got:
        assert r.headers["X-Gitlab-Token"] == "gl-token"
        assert uuid.UUID(r.headers["Idempotency-Key"])
        assert uuid.UUID(r.headers["X-Gitlab-Event-UUID"])
        keys.add(r.headers["Idempotency-Key"])
    assert len(keys) == len(rx.got)

    by_kind: dict[str, list[dict]] = {}
    for r in rx.got:
        by_kind.setdefault(r.headers["X-Gitlab-Event"], []).append(r.json)
    fixtures = {
        "Push Hook": "push.json",
        "Merge Request Hook": "merge_request.open.json",
        "Note Hook": "note.merge_request.json",
        "Deployment Hook": "deployment.json",
    }
    for kind, fixture in fixtures.items():
        body = by_kind[kind][0]
        missing = _fixture_keys(fixture) - set(body)
        assert not missing, (kind, missing)
    mr_actions = [b["object_attributes"]["action"] for b in by_kind["Merge Request Hook"]]
    assert mr_actions[:1] == ["open"] and "update" in mr_actions and "merge" in mr_actions
    assert "close" in mr_actions
    update = next(b for b in by_kind["Merge Request Hook"] if "oldrev" in b["object_attributes"])
    assert update["object_attributes"]["source_branch"] == "feature"
    pipelines = [b["object_attributes"]["status"] for b in by_kind["Pipeline Hook"]]
    assert pipelines == ["running", "success"]
    mr_attr_keys = set(json.loads((GITLAB_FIXTURES / "merge_request.open.json").read_text())
                       ["object_attributes"])  # fmt: skip
    assert not mr_attr_keys - set(by_kind["Merge Request Hook"][0]["object_attributes"])
    note = by_kind["Note Hook"][0]
    assert note["object_attributes"]["noteable_type"] == "MergeRequest"
    assert note["merge_request"]["iid"] == 1


async def test_redelivery_keeps_the_delivery_id_and_failures_are_recorded(world):
    f = world.forge
    async with Receiver(status=500) as rx:
        gh = f.add_hook("github", rx.url, secret="s", repo="octo/app", events=["pull_request"])
        gl = f.add_hook(
            "gitlab", rx.url, secret="t", repo="octo/app", events=["merge_requests_events"]
        )
        f.add_hook("github", "http://127.0.0.1:9/unreachable", repo="octo/app", events=["push"])
        await f.commit_changes(
            "octo/app", "x", "x", {"x": Change(content=b"x")}, actor="dev", start_branch="main"
        )
        await f.open_pull_request("octo/app", head="x", title="X", author="dev")
        await f.webhooks.drain()
        deliveries = f.webhooks.deliveries()
        failed = [d for d in deliveries if d.hook_id in (gh.id, gl.id)]
        assert failed and all(d.status_code == 500 and d.error == "HTTP 500" for d in failed)
        unreachable = [d for d in deliveries if d.url.endswith("/unreachable")]
        assert unreachable and unreachable[0].status_code is None and unreachable[0].error

        first_gh = next(d for d in failed if d.hook_id == gh.id)
        first_gl = next(d for d in failed if d.hook_id == gl.id)
        rx.status = 200
        again = await f.webhooks.redeliver(first_gh.id)
        again_gl = await f.webhooks.redeliver(first_gl.id)
    assert again.status_code == 200 and again.redelivery
    gh_got = [r for r in rx.got if "X-GitHub-Delivery" in r.headers]
    assert gh_got[-1].headers["X-GitHub-Delivery"] == gh_got[0].headers["X-GitHub-Delivery"]
    assert gh_got[-1].body == gh_got[0].body
    gl_got = [r for r in rx.got if "X-Gitlab-Event" in r.headers]
    assert again_gl.status_code == 200
    assert gl_got[-1].headers["Idempotency-Key"] == gl_got[0].headers["Idempotency-Key"]
    assert gl_got[-1].headers["X-Gitlab-Event-UUID"] != gl_got[0].headers["X-Gitlab-Event-UUID"]


@pytest.mark.parametrize("events", [["issue_comment"], ["*"]])
async def test_hooks_receive_only_the_events_they_subscribed_to(world, events):
    f = world.forge
    async with Receiver() as rx:
        f.add_hook("github", rx.url, events=events, repo="octo/app")
        await drive(world)
    got = set(rx.events("X-GitHub-Event"))
    assert got == {"issue_comment"} if events == ["issue_comment"] else len(got) > 5


async def test_an_apps_hook_hears_only_about_its_installations(world):
    f = world.forge
    await f.create_repo("elsewhere/repo")
    async with Receiver() as rx:
        await f.register_app(APP_ID, rsa_key()[1], slug="prbot")
        f.add_hook("github", rx.url, app_id=APP_ID)
        await f.install_app(APP_ID, "octo", repos=["octo/app"])
        for repo in ("octo/app", "elsewhere/repo"):
            await f.commit_changes(
                repo, "b", "c", {"c": Change(content=b"c")}, actor="octo", start_branch="main"
            )
        await f.webhooks.drain()
    repos = {r.json.get("repository", {}).get("full_name") for r in rx.got}
    assert repos == {None, "octo/app"}  # installation (no repository) and octo/app only
