"""The internal API over real HTTP into the real store: bearer auth, validation (422 per
field), password inputs refused, run created and job enqueued, run and job listings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from prbot.automation.changeset import DirRepoView
from prbot.automation.loader import DefinitionSet, load_view
from prbot.engine.definitions import UnknownAutomation
from prbot.scm.port import ScmUnavailable
from prbot.store.base import Store

from .conftest import API_TOKEN, MakeClient, make_settings

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

WITH_PASSWORD = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata:
  name: db-credentials
spec:
  title: "Credentials for {{ context.name }}"
  message: "Adds credentials"
  configuration:
    - name: name
      type: string
    - name: password
      type: password
  creates:
    templates:
      - source: db.yaml
        destination: "db/{{ context.name }}.yaml"
---
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata:
  name: pinned
spec:
  repository: acme/gitops
  title: "Pinned"
  message: "Pinned"
"""


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> DefinitionSet:
    found = load_view(DirRepoView(ROOT / "automations"), display_root="automations")
    extra = tmp_path_factory.mktemp("defs")
    (extra / "db.yaml").write_text("password: {{ context.password }}\n")
    (extra / "db-credentials.yaml").write_text(WITH_PASSWORD)
    found.merge(load_view(DirRepoView(extra), files=["db-credentials.yaml"], display_root="x"))
    assert not found.problems, found.problems
    return found


@pytest.fixture
async def client(make_client: MakeClient, definitions: DefinitionSet) -> TestClient:
    return await make_client(definitions=lambda: definitions)


def request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "automation": "image-bump",
        "repo": "acme/gitops",
        "platform": "github",
        "inputs": {"service": "podinfo", "env": "staging", "tag": "6.7.1"},
        "requested_by": "alice",
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {API_TOKEN}"},
        {"Authorization": API_TOKEN},
        {"Authorization": f"Bearer {API_TOKEN}x"},
    ],
)
async def test_auth_required(headers: dict[str, str], client: TestClient, store: Store) -> None:
    for method, path in (("POST", "/api/runs"), ("GET", "/api/runs/1"), ("GET", "/api/jobs")):
        resp = await client.request(method, path, json=request(), headers=headers)
        assert resp.status == 401, (method, path)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert await store.runs() == [] and await store.jobs() == []


async def test_no_token_no_api(make_client: MakeClient) -> None:
    client = await make_client(settings=make_settings(api_token=None))
    resp = await client.post("/api/runs", json=request(), headers=AUTH)
    assert resp.status == 404


async def test_run_created_and_job_enqueued(client: TestClient, store: Store) -> None:
    resp = await client.post("/api/runs", json=request(), headers=AUTH)
    assert resp.status == 201, await resp.text()
    answer = await resp.json()
    run = answer["run"]
    assert resp.headers["Location"] == f"/api/runs/{run['id']}"
    assert (
        run["automation"],
        run["repo"],
        run["platform"],
        run["status"],
        run["requested_by"],
    ) == (
        "image-bump",
        "acme/gitops",
        "github",
        "queued",
        "alice",
    )
    assert run["inputs"] == {"service": "podinfo", "env": "staging", "tag": "6.7.1"}
    [job] = await store.jobs()
    assert job.id == answer["job_id"]
    assert (job.kind, job.state, job.dedupe_key) == (
        "automation.run",
        "queued",
        f"automation.run:{run['id']}",
    )
    assert job.payload == {"run_id": run["id"], "inputs": request()["inputs"]}
    [entry] = await store.audit_log()
    assert (entry.actor, entry.action, entry.repo) == ("alice", "run_requested", "acme/gitops")

    got = await client.get(f"/api/runs/{run['id']}", headers=AUTH)
    assert (await got.json())["run"] == run
    jobs = await client.get("/api/jobs?state=queued", headers=AUTH)
    assert [j["id"] for j in (await jobs.json())["jobs"]] == [job.id]
    done = await client.get("/api/jobs?state=done", headers=AUTH)
    assert (await done.json())["jobs"] == []


async def test_422_names_each_field(client: TestClient, store: Store) -> None:
    resp = await client.post(
        "/api/runs",
        json=request(
            platform="bitbucket",
            requested_by="",
            inputs={"service": "Bad Name", "env": "qa", "colour": "red"},
        ),
        headers=AUTH,
    )
    assert resp.status == 422
    errors = (await resp.json())["errors"]
    assert set(errors) == {
        "platform",
        "requested_by",
        "inputs.service",
        "inputs.env",
        "inputs.tag",
        "inputs.colour",
    }
    assert "must be one of dev, staging, prod" in errors["inputs.env"]
    assert errors["inputs.tag"] == "is required"
    assert "not an input" in errors["inputs.colour"]
    assert await store.runs() == [] and await store.jobs() == []


async def test_unknown_automation_and_bad_repo(client: TestClient) -> None:
    resp = await client.post(
        "/api/runs", json=request(automation="image-bmp", repo="not a repo"), headers=AUTH
    )
    errors = (await resp.json())["errors"]
    assert resp.status == 422
    assert "did you mean 'image-bump'" in errors["automation"]
    pinned = await client.post(
        "/api/runs", json=request(automation="pinned", repo="acme/other", inputs={}), headers=AUTH
    )
    assert "targets 'acme/gitops'" in (await pinned.json())["errors"]["repo"]
    default_repo = await client.post(
        "/api/runs", json=request(automation="pinned", repo=None, inputs={}), headers=AUTH
    )
    assert default_repo.status == 201
    assert (await default_repo.json())["run"]["repo"] == "acme/gitops"


async def test_platform_needs_credentials(
    make_client: MakeClient, definitions: DefinitionSet
) -> None:
    client = await make_client(
        settings=make_settings(gitlab_token=None), definitions=lambda: definitions
    )
    resp = await client.post(
        "/api/runs", json=request(platform="gitlab", repo="group/sub/gitops"), headers=AUTH
    )
    assert resp.status == 422
    assert "GITLAB_TOKEN" in (await resp.json())["errors"]["platform"]


async def test_password_inputs_are_refused(client: TestClient, store: Store) -> None:
    """Where this process cannot carry a run out itself (no SCM, no definitions lookup:
    the API alone), password inputs are refused (tests/web/test_passwords_e2e.py: taken)."""
    given = await client.post(
        "/api/runs",
        json=request(automation="db-credentials", inputs={"name": "orders", "password": "hunter2"}),
        headers=AUTH,
    )
    assert given.status == 422
    errors = (await given.json())["errors"]
    assert "cannot be passed this way" in errors["inputs.password"]
    assert "hunter2" not in await given.text()
    missing = await client.post(
        "/api/runs",
        json=request(automation="db-credentials", inputs={"name": "orders"}),
        headers=AUTH,
    )
    errors = (await missing.json())["errors"]
    assert errors["inputs.password"].startswith("is required, but password inputs cannot")
    assert await store.runs() == [] and await store.jobs() == []


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b"null"])
async def test_body_must_be_a_json_object(body: bytes, client: TestClient) -> None:
    resp = await client.post(
        "/api/runs", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status == 400


async def test_lookups(client: TestClient) -> None:
    assert (await client.get("/api/runs/999", headers=AUTH)).status == 404
    assert (await client.get("/api/runs/abc", headers=AUTH)).status == 404
    bad_state = await client.get("/api/jobs?state=sleeping", headers=AUTH)
    assert bad_state.status == 422 and "state" in (await bad_state.json())["errors"]
    assert (await client.get("/api/jobs?limit=x", headers=AUTH)).status == 422


async def test_store_down_is_503(
    make_client: MakeClient, definitions: DefinitionSet, tmp_path: Path
) -> None:
    from prbot.store import open_store

    down = open_store(f"sqlite:{tmp_path / 'down.db'}")  # never opened
    client = await make_client(app_store=down, definitions=lambda: definitions)
    resp = await client.post("/api/runs", json=request(), headers=AUTH)
    assert (resp.status, await resp.json()) == (503, {"status": "unavailable"})
    assert (await client.get("/api/jobs", headers=AUTH)).status == 503


async def test_a_repository_automation_is_looked_up_through_the_scm(
    make_client: MakeClient, definitions: DefinitionSet, store: Store
) -> None:
    # the worker's lookup (DefinitionsCache.lookup, tested with the forge in
    # tests/test_e2e_serve.py); here its answers: found, not found, platform down
    asked: list[tuple[str, str, str]] = []
    state = {"answer": definitions.automations["image-bump"]}

    async def lookup(platform: str, repo: str, name: str) -> Any:
        asked.append((platform, repo, name))
        answer = state["answer"]
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = await make_client(definitions=lambda: definitions, repo_lookup=lookup)
    body = request(automation="repo-bump")
    ok = await client.post("/api/runs", json=body, headers=AUTH)
    assert ok.status == 201, await ok.text()
    assert asked == [("github", "acme/gitops", "repo-bump")]
    # a deployment automation never costs an SCM read
    await client.post("/api/runs", json=request(), headers=AUTH)
    assert len(asked) == 1

    state["answer"] = UnknownAutomation("no automation named 'repo-bump' in a or b/.prbot/")
    missing = await client.post("/api/runs", json=body, headers=AUTH)
    assert missing.status == 422
    assert (await missing.json())["errors"]["automation"].endswith("b/.prbot/")

    state["answer"] = ScmUnavailable("github answered 502")
    down = await client.post("/api/runs", json=body, headers=AUTH)
    assert down.status == 503
    assert (await down.json()) == {
        "status": "unavailable",
        "reason": "cannot read acme/gitops/.prbot/",
    }
    assert len(await store.runs()) == 2  # nothing stored for the refused ones
