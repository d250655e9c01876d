"""schemathesis against /api/openapi.json: every described route, with bodies and
parameters generated from the document (valid and invalid ones), on a real app on
127.0.0.1 over the real store and a repository on the local forge. No answer may be a
server error, and each must be one the document describes. Bounded: a few examples per
route and mode, loopback only."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from prbot.automation.changeset import DirRepoView
from prbot.automation.loader import load_view
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.promotions import PromotionEngine
from prbot.store.base import Store
from prbot.web.app import create_app
from prbot.web.openapi import document
from tests.support.forge import ForgeRepo
from tests.support.openapi_check import OpenApiCheck

from .conftest import API_TOKEN, Ready, make_settings

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EXAMPLES = 12  # per route and mode: ~10 routes x 2 modes, a few seconds in all


async def test_no_server_errors(aiohttp_server: Any, store: Store, forge_repo: ForgeRepo) -> None:
    scm = forge_repo.github_scm()
    cache = DefinitionsCache(ROOT / "automations", lambda _platform: scm)
    deployment = load_view(DirRepoView(ROOT / "automations"), display_root="automations")
    app = create_app(
        make_settings(gitlab_token=None),
        store,
        ready=Ready(True),
        definitions=lambda: deployment,
        repo_lookup=cache.lookup,
        promotions=PromotionEngine(store, cache, lambda _platform: scm),
        pipeline_lookup=cache.pipeline,
        repo_definitions=cache.repo_set,
        scm_for=lambda _platform: scm,
    )
    server = await aiohttp_server(app, host="127.0.0.1")
    base_url = str(server.make_url("/")).rstrip("/")
    schema = schemathesis.openapi.from_dict(document())
    check = OpenApiCheck(document())
    failures: list[str] = []
    seen: Counter[tuple[str, int]] = Counter()  # (operation, status): what was tried

    def call_all() -> None:
        # in a thread: the app and the forge answer on this test's event loop meanwhile
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    response = case.call(base_url=base_url, headers=AUTH, timeout=30)
                    where = f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
                    seen[(f"{case.method} {case.operation.path}", response.status_code)] += 1
                    if response.status_code >= 500:
                        failures.append(f"{where}: {response.status_code} {response.text[:300]}")
                    elif response.headers.get("Content-Type", "").startswith("application/json"):
                        try:
                            check.check(
                                case.method, case.formatted_path, response.status_code,
                                response.json(),
                            )  # fmt: skip
                        except Exception as exc:  # collected: every route is tried
                            failures.append(f"{where}: {str(exc)[:300]}")

                run()

    await asyncio.wait_for(asyncio.to_thread(call_all), timeout=120)
    assert not failures, "\n".join(failures[:20])
    tried = {operation for operation, _status in seen}
    assert len(tried) == sum(len(ops) for ops in document()["paths"].values()), seen
    # answers of each kind, not only refusals of the token
    assert {status for _op, status in seen} >= {200, 401, 404, 422}, seen


@pytest.mark.parametrize("path", sorted(document()["paths"]))
def test_every_route_has_its_error_answers(path: str) -> None:
    for operation in document()["paths"][path].values():
        assert "401" in operation["responses"]
        for status, answer in operation["responses"].items():
            assert "application/json" in answer["content"], (path, status)
