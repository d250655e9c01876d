"""Shared helpers for the forge's tests: a running server, keys, shape validators."""

from __future__ import annotations

import functools
import json
import time
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures import GITHUB_OPENAPI, GITHUB_WEBHOOK_SCHEMAS, fixture_files
from tests.support.forge import running_forge, seed_repo


@functools.cache
def rsa_key() -> tuple[Any, str]:
    """One RSA key per test run (generating one costs ~50 ms)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def app_jwt(app_id: int, key: Any = None, *, lifetime: int = 540) -> str:
    key = key or rsa_key()[0]
    now = int(time.time())
    return jwt.encode({"iat": now - 30, "exp": now + lifetime, "iss": str(app_id)}, key, "RS256")


@functools.cache
def openapi() -> Any:
    from openapi_core import Config, OpenAPI

    # the subset has 3 upstream default/format quirks the spec validator rejects
    return OpenAPI.from_file_path(str(GITHUB_OPENAPI), config=Config(spec_validator_cls=None))


@functools.cache
def spec_operations() -> list[str]:
    spec = json.loads(GITHUB_OPENAPI.read_text(encoding="utf-8"))
    return list(spec["info"]["x-subset"]["operations"])


def fill(template: str, params: dict[str, str]) -> str:
    """A concrete path for openapi-core: every parameter URL-encoded (slashes too)."""
    out = template
    for key, value in params.items():
        out = out.replace("{" + key + "}", quote(str(value), safe=""))
    return out


def assert_github_shape(
    method: str, template: str, params: dict[str, str], status: int, body: Any, headers=None
) -> None:
    from openapi_core.testing import MockRequest, MockResponse

    if template.endswith("/contents/{path}") and isinstance(body, list):
        # the spec's oneOf discriminates on "type", which an array (a folder listing)
        # lacks, so openapi-core cannot pick content-directory: check it directly
        from openapi_schema_validator import OAS30Validator

        schema = json.loads(GITHUB_OPENAPI.read_text(encoding="utf-8"))
        OAS30Validator(schema["components"]["schemas"]["content-directory"]).validate(body)
        return
    path = fill(template, params)
    req = MockRequest("https://api.github.com", method.lower(), path)
    resp = MockResponse(
        json.dumps(body).encode(),
        status_code=status,
        content_type="application/json",
        headers=headers or {},
    )
    openapi().validate_response(req, resp)


@functools.cache
def _webhook_registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = []
    for path in fixture_files(GITHUB_WEBHOOK_SCHEMAS, "**/*.schema.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append(
            (contents["$id"], Resource.from_contents(contents, default_specification=DRAFT7))
        )
    return Registry().with_resources(resources)


def webhook_errors(event: str, payload: dict) -> list[str]:
    """Schema violations of a GitHub webhook payload (empty: valid)."""
    import jsonschema

    action = payload.get("action")
    name = f"{event}/{action}.schema.json"
    if not (GITHUB_WEBHOOK_SCHEMAS / name).exists():
        name = f"{event}/event.schema.json"
    schema = json.loads((GITHUB_WEBHOOK_SCHEMAS / name).read_text(encoding="utf-8"))
    v = jsonschema.Draft7Validator(
        schema,
        registry=_webhook_registry(),
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}"
        for e in v.iter_errors(payload)
    ]


def has_webhook_schema(event: str, action: str | None) -> bool:
    return (GITHUB_WEBHOOK_SCHEMAS / event / f"{action}.schema.json").exists() or (
        GITHUB_WEBHOOK_SCHEMAS / event / "event.schema.json"
    ).exists()


FILES = {
    "README.md": "# app\n",
    "deploy/dev/values.yaml": "image:\n  tag: 1.0.0\n",
    "deploy/prod/values.yaml": "image:\n  tag: 0.9.0\n",
    "bin/run.sh": ("#!/bin/sh\necho run\n", "100755"),
    "docs/logo.png": (b"\x89PNG\r\n\x1a\n\x00\x00binary", "100644"),
    "current": ("deploy/dev", "120000"),
}


@pytest.fixture
async def server(tmp_path):
    async with running_forge(tmp_path / "forge") as srv:
        yield srv


@pytest.fixture
async def world(server):
    """A server with octo/app (owner octo), a writer dev, a reader ro and tokens."""
    on = await seed_repo(
        server,
        "octo/app",
        FILES,
        bot="dev",
        token="ghp_forge-test-dev-0123456789",
        bot_permission="write",
        permissions={"ro": "read"},
    )
    f = server.forge
    server.tokens = {"octo": f.create_token("octo"), "dev": on.token, "ro": f.create_token("ro")}
    return server


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
