"""Shared pieces of the web edge tests: the real webhook deliveries, signing, settings,
a real SQLite store, and an aiohttp test client on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from prbot.automation.loader import DefinitionSet
from prbot.settings import Secret, Settings
from prbot.store import open_store
from prbot.store.base import Store
from prbot.web.app import create_app
from tests.fixtures import WEBHOOKS, fixture_files

GH_SECRET = "gh-test-secret-0123456789"
GH_OLD_SECRET = "gh-old-secret-9876543210"
GL_SECRET = "gl-test-token-0123456789"
API_TOKEN = "api-token-0123456789abcdef"

# object_kind -> X-Gitlab-Event, as GitLab sends it for project hooks
GITLAB_EVENTS = {
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "pipeline": "Pipeline Hook",
    "deployment": "Deployment Hook",
    "push": "Push Hook",
}


@dataclass(frozen=True)
class Fixture:
    platform: str
    name: str  # file name without .json
    event: str  # X-GitHub-Event / X-Gitlab-Event
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # real captured headers, if any

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


def _captured_headers(path: Path) -> dict[str, str]:
    """``name<TAB>value`` lines of a ``*.headers.txt`` capture."""
    headers: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("\t")
        if name.strip():
            headers[name.strip()] = value.strip()
    return headers


def github_fixtures() -> list[Fixture]:
    found = []
    for path in fixture_files(WEBHOOKS / "github", "*.json"):
        name = path.name.removesuffix(".json")
        captured = path.with_name(f"{name}.headers.txt")
        headers = _captured_headers(captured) if captured.exists() else {}
        event = headers.get("x-github-event") or name.split(".")[0]
        found.append(Fixture("github", name, event, path.read_bytes(), headers))
    return found


def gitlab_fixtures() -> list[Fixture]:
    found = []
    for path in fixture_files(WEBHOOKS / "gitlab", "*.json"):
        body = path.read_bytes()
        event = GITLAB_EVENTS[json.loads(body)["object_kind"]]
        found.append(Fixture("gitlab", path.name.removesuffix(".json"), event, body))
    return found


def fixture_named(name: str) -> Fixture:
    platform, _, rest = name.partition("/")
    for f in github_fixtures() if platform == "github" else gitlab_fixtures():
        if f.name == rest:
            return f
    raise KeyError(name)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(
    event: str, body: bytes, delivery_id: str, *, secret: str = GH_SECRET
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(secret, body),
        "User-Agent": "GitHub-Hookshot/test",
    }


def gitlab_headers(event: str, idempotency_key: str, *, token: str = GL_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token,
        "Idempotency-Key": idempotency_key,
    }


def make_settings(**changes: Any) -> Settings:
    base: dict[str, Any] = {
        "webhook_secrets": (Secret(GH_SECRET), Secret(GH_OLD_SECRET)),
        "gitlab_webhook_secrets": (Secret(GL_SECRET),),
        "github_token": Secret("ghp_" + "t" * 36),
        "gitlab_token": Secret("glpat-" + "t" * 20),
        "api_token": Secret(API_TOKEN),
        "max_body_bytes": 1024 * 1024,
    }
    base.update(changes)
    return Settings(**base)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = open_store(f"sqlite:{tmp_path / 'prbot.db'}")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


class Ready:
    """A switchable ``ready()`` for /readyz (the worker pool's ``running``)."""

    def __init__(self, value: bool = True) -> None:
        self.value = value

    def __call__(self) -> bool:
        return self.value


MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def make_client(aiohttp_client: Any, store: Store) -> MakeClient:
    """``await make_client(settings=..., ready=..., definitions=...)``: a client of a real
    app on 127.0.0.1 over the real store."""

    async def make(
        *,
        settings: Settings | None = None,
        ready: Callable[[], bool] | None = None,
        definitions: Callable[[], Any] | None = None,
        app_store: Store | None = None,
        repo_lookup: Any = None,
    ) -> TestClient:
        app = create_app(
            settings or make_settings(),
            app_store or store,
            ready=ready or Ready(True),
            definitions=definitions or DefinitionSet,
            repo_lookup=repo_lookup,
        )
        return await aiohttp_client(app)

    return make
