"""The catalog API over real HTTP: GET /api/catalog (the deployment's automations and a
forge repository's own, with the JSON Schema of their inputs), POST /api/preview (a real
render and diff against a repository on the local forge, which sees only reads), 401
and 422 as /api/runs gives them, and every answer checked against /api/openapi.json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from prbot.automation.changeset import DirRepoView
from prbot.automation.loader import DefinitionSet, load_view
from prbot.engine.definitions import DefinitionsCache
from prbot.store.base import Store
from prbot.web.app import create_app
from tests.support.forge import FILES, ForgeRepo
from tests.support.openapi_check import OpenApiCheck

from .conftest import API_TOKEN, Ready, make_settings
from .test_api import WITH_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
STAGING = "bootstrap/services/myapp-staging.yaml"

OWN = """\
apiVersion: prbot.dev/v1alpha1
kind: Catalog
metadata: {name: team}
spec: {description: The team's own changes, category: team}
---
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: readme-drop}
spec:
  catalog: team
  title: "Drop the README ({{ context.why }})"
  configuration:
    - {name: why, type: string, displayName: Why}
  deletes:
    files: [README.md]
"""


@pytest.fixture
def forge_files() -> dict[str, Any]:
    example = ROOT / "examples" / "gitops" / STAGING
    return {**FILES, STAGING: example.read_text(), ".prbot/own.yaml": OWN}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> DefinitionSet:
    found = load_view(DirRepoView(ROOT / "automations"), display_root="automations")
    extra = tmp_path_factory.mktemp("defs")
    (extra / "db.yaml").write_text("password: {{ context.password }}\n")
    (extra / "db-credentials.yaml").write_text(WITH_PASSWORD)
    found.merge(load_view(DirRepoView(extra), files=["db-credentials.yaml"], display_root="x"))
    assert not found.problems, found.problems
    return found


@pytest.fixture
async def client(
    aiohttp_client: Any, store: Store, forge_repo: ForgeRepo, deployment: DefinitionSet
) -> AsyncIterator[TestClient]:
    scm = forge_repo.github_scm()
    cache = DefinitionsCache(None, lambda _platform: scm)
    app = create_app(
        make_settings(gitlab_token=None),
        store,
        ready=Ready(True),
        definitions=lambda: deployment,
        repo_lookup=cache.lookup,
        repo_definitions=cache.repo_set,
        scm_for=lambda _platform: scm,
    )
    yield await aiohttp_client(app)


@pytest.fixture
async def oa(client: TestClient) -> OpenApiCheck:
    resp = await client.get("/api/openapi.json", headers=AUTH)
    document = await resp.json()
    validate_openapi(document)
    check = OpenApiCheck(document)
    check.check("GET", "/api/openapi.json", resp.status, document)
    return check


def preview_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "automation": "image-bump",
        "repo": "acme/gitops",
        "platform": "github",
        "inputs": {"service": "myapp", "env": "staging", "tag": "6.7.1"},
    }
    body.update(changes)
    return body


def refs(forge_repo: ForgeRepo) -> str:
    return forge_repo.git("for-each-ref", "--format=%(refname) %(objectname)")


# ---------------------------------------------------------------- the document


async def test_openapi_describes_every_api_route(client: TestClient, oa: OpenApiCheck) -> None:
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.server.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    described = {(m, p) for p, ops in oa.document["paths"].items() for m in ops}
    assert served <= described
    assert {p for _m, p in served} >= {"/api/catalog", "/api/preview", "/api/openapi.json"}


async def test_every_new_route_needs_the_token(client: TestClient, oa: OpenApiCheck) -> None:
    for method, path in (
        ("GET", "/api/catalog"),
        ("POST", "/api/preview"),
        ("GET", "/api/openapi.json"),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            resp = await client.request(method, path, json=preview_body(), headers=headers)
            assert resp.status == 401
            assert (await oa.answer(resp))["status"] == "unauthorized"


# ---------------------------------------------------------------- GET /api/catalog


async def test_catalog_of_the_deployment(
    client: TestClient, oa: OpenApiCheck, forge_repo: ForgeRepo
) -> None:
    forge_repo.server.requests.reset()
    resp = await client.get("/api/catalog", headers=AUTH)
    answer = await oa.answer(resp)
    assert resp.status == 200
    assert [c["name"] for c in answer["catalogs"]] == ["platform"]
    automations = {a["name"]: a for a in answer["automations"]}
    assert {"image-bump", "cluster-create", "service-create", "db-credentials"} <= set(automations)
    for a in automations.values():
        assert a["source"] == "deployment"
        Draft202012Validator.check_schema(a["inputs"])
    cluster = automations["cluster-create"]
    assert cluster["catalog"] == "platform" and cluster["category"] == "infrastructure"
    assert cluster["confirm"]["checklist"][0] == "The cost centre for this cluster is agreed."
    group = cluster["inputs"]["properties"]["resourceGroup"]
    assert group["x-prbot-when"] == {"field": "cloud", "operation": "eq", "value": "azure"}
    assert cluster["inputs"]["allOf"][0]["then"]["required"] == ["resourceGroup"]
    password = automations["db-credentials"]["inputs"]["properties"]["password"]
    assert password["format"] == "password" and "default" not in password
    assert forge_repo.server.requests.total == 0  # the deployment's: no SCM call


async def test_catalog_with_a_repository_adds_its_own(client: TestClient, oa: OpenApiCheck) -> None:
    resp = await client.get("/api/catalog?platform=github&repo=acme/gitops", headers=AUTH)
    answer = await oa.answer(resp)
    assert resp.status == 200, answer
    catalogs = {c["name"]: c["source"] for c in answer["catalogs"]}
    assert catalogs == {"platform": "deployment", "team": "repository"}
    own = next(a for a in answer["automations"] if a["name"] == "readme-drop")
    assert (own["source"], own["catalog"]) == ("repository", "team")
    assert own["inputs"]["required"] == ["why"]
    # pinned to acme/gitops: listed for it
    assert "pinned" in {a["name"] for a in answer["automations"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("platform=bitbucket", "platform"),
        ("repo=acme/gitops", "platform"),
        ("platform=github&repo=not%20a%20repo", "repo"),
        ("platform=gitlab&repo=g/r", "platform"),  # GitLab is not configured here
    ],
)
async def test_catalog_422(client: TestClient, oa: OpenApiCheck, query: str, field: str) -> None:
    resp = await client.get(f"/api/catalog?{query}", headers=AUTH)
    assert resp.status == 422
    assert field in (await oa.answer(resp))["errors"]


async def test_catalog_of_a_missing_repository_is_404(client: TestClient, oa: OpenApiCheck) -> None:
    resp = await client.get("/api/catalog?platform=github&repo=acme/nothere", headers=AUTH)
    assert resp.status == 404
    assert (await oa.answer(resp))["status"] == "not_found"


# ---------------------------------------------------------------- POST /api/preview


async def test_preview_is_the_real_diff_and_writes_nothing(
    client: TestClient, oa: OpenApiCheck, forge_repo: ForgeRepo, store: Store
) -> None:
    before = refs(forge_repo)
    forge_repo.server.requests.reset()
    resp = await client.post("/api/preview", json=preview_body(), headers=AUTH)
    answer = await oa.answer(resp)
    assert resp.status == 200, answer
    assert answer["title"] == "Bump myapp in staging to 6.7.1"
    assert answer["branch"] == "prbot/image-bump/myapp-staging"
    assert answer["base"] == "main"
    [file] = answer["files"]
    assert (file["path"], file["change"]) == (STAGING, "update")
    assert file["diff"].startswith(f"diff --git a/{STAGING} b/{STAGING}\n")
    assert '-        tag: "6.5.0" # promoted by prbot: dev -> staging -> prod\n' in file["diff"]
    assert '+        tag: "6.7.1" # promoted by prbot: dev -> staging -> prod\n' in file["diff"]
    # only reads reached the forge (GraphQL carries the batched file reads)
    log = forge_repo.server.requests.entries
    assert log and all(e.method == "GET" or e.path.endswith("/graphql") for e in log), log
    assert refs(forge_repo) == before and forge_repo.open_prs(answer["branch"]) == []
    assert await store.runs() == [] and await store.jobs() == []


async def test_preview_of_a_creation_and_a_deletion(client: TestClient, oa: OpenApiCheck) -> None:
    created = await client.post(
        "/api/preview",
        json=preview_body(
            automation="service-create",
            inputs={
                "name": "checkout",
                "url": "https://github.com/example/checkout.git",
                "image": "ghcr.io/example/checkout",
            },
        ),
        headers=AUTH,
    )
    answer = await oa.answer(created)
    assert created.status == 200, answer
    assert {f["change"] for f in answer["files"]} == {"create"}
    assert "bootstrap/repositories/checkout.yaml" in {f["path"] for f in answer["files"]}
    assert all("new file mode 100644\n--- /dev/null\n" in f["diff"] for f in answer["files"])
    # the repository's own automation, found in its .prbot/
    dropped = await client.post(
        "/api/preview",
        json=preview_body(automation="readme-drop", inputs={"why": "moved"}),
        headers=AUTH,
    )
    answer = await oa.answer(dropped)
    assert dropped.status == 200, answer
    assert answer["title"] == "Drop the README (moved)"
    [file] = answer["files"]
    assert (file["path"], file["change"]) == ("README.md", "delete")
    assert "-# gitops\n" in file["diff"] and "+++ /dev/null" in file["diff"]


async def test_preview_refuses_what_runs_refuse_with_the_same_words(
    client: TestClient, oa: OpenApiCheck
) -> None:
    bad = preview_body(
        platform="bitbucket", inputs={"service": "Bad Name", "env": "qa", "colour": "red"}
    )
    preview = await client.post("/api/preview", json=bad, headers=AUTH)
    run = await client.post("/api/runs", json={**bad, "requested_by": "alice"}, headers=AUTH)
    assert preview.status == run.status == 422
    errors = (await oa.answer(preview))["errors"]
    assert errors == (await oa.answer(run))["errors"]
    assert set(errors) == {
        "platform",
        "inputs.service",
        "inputs.env",
        "inputs.tag",
        "inputs.colour",
    }

    # a password renders as given, and the preview shows it masked, never back
    secret = preview_body(automation="db-credentials", inputs={"name": "db", "password": "s3cr3t"})
    shown = await client.post("/api/preview", json=secret, headers=AUTH)
    assert shown.status == 200
    [file] = (await oa.answer(shown))["files"]
    assert "+password: ***" in file["diff"]
    assert "s3cr3t" not in await shown.text()
    # missing, it is required as any input is
    unsaid = preview_body(automation="db-credentials", inputs={"name": "db"})
    refused = await client.post("/api/preview", json=unsaid, headers=AUTH)
    assert (await oa.answer(refused))["errors"] == {"inputs.password": "is required"}


async def test_preview_of_a_missing_repository_and_bad_bodies(
    client: TestClient, oa: OpenApiCheck
) -> None:
    missing = await client.post(
        "/api/preview", json=preview_body(repo="acme/nothere"), headers=AUTH
    )
    assert missing.status == 404
    await oa.answer(missing)
    for body in (b"[]", b"{nope", b"\xff"):
        resp = await client.post("/api/preview", data=body, headers=AUTH)
        assert resp.status == 400
        assert (await oa.answer(resp))["status"] == "bad_request"


async def test_preview_without_the_platform_is_503(
    aiohttp_client: Any, store: Store, deployment: DefinitionSet
) -> None:
    app = create_app(make_settings(), store, ready=Ready(True), definitions=lambda: deployment)
    client = await aiohttp_client(app)
    resp = await client.post("/api/preview", json=preview_body(), headers=AUTH)
    assert resp.status == 503
    assert (await resp.json())["status"] == "unavailable"
