"""The definitions lookup survives a forge that keeps failing: an outage that outlasts the
provider's own retries is tried again (a person waits on POST /api/runs), while an answer
that no retry changes (a repository that does not exist) is not.

Real forge over HTTP, real GitHub provider with its retries off, so every injected 5xx
reaches the lookup; the fault sequence is seeded, so the run is the same every time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.engine.definitions import DefinitionsCache
from prbot.forge.server import ForgeServer
from prbot.retry import Backoff
from prbot.scm.github import GitHubScm, RetryPolicy
from prbot.scm.port import NotFound, Scm, ScmUnavailable

REPO = "acme/retry"
TOKEN = "definitions-retry-token-0123"
AUTOMATION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: bump}
spec:
  title: bump
  updates:
    yamlEdits:
      - {file: values.yaml, path: tag, value: "2"}
"""
LOOKUPS = 20


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ForgeServer]:
    async with ForgeServer(tmp_path / "forge") as server:
        server.forge.create_user("bot")
        server.forge.create_token("bot", TOKEN)
        await server.forge.create_repo(
            REPO, files={".prbot/bump.yaml": AUTOMATION, "values.yaml": "tag: '1'\n"}
        )
        server.forge.set_permission(REPO, "bot", "admin")
        yield server


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def scm(server: ForgeServer) -> AsyncIterator[Scm]:
    provider = GitHubScm.with_token(
        TOKEN,
        api_url=server.github_api_url,
        graphql_url=server.graphql_url,
        policy=RetryPolicy(max_attempts=1),  # no retries of its own: each 5xx surfaces
        sleep=no_sleep,
    )
    yield provider
    await provider.aclose()


def cache(scm: Scm, *, attempts: int) -> DefinitionsCache:
    return DefinitionsCache(
        None,
        lambda platform: scm,
        attempts=attempts,
        backoff=Backoff(base=0.0, cap=0.0),
        sleep=no_sleep,
    )


async def lookups(definitions: DefinitionsCache) -> list[str]:
    outcomes = []
    for _ in range(LOOKUPS):
        definitions.invalidate(REPO)
        try:
            found = await definitions.lookup("github", REPO, "bump")
            outcomes.append(found.name)
        except ScmUnavailable:
            outcomes.append("unavailable")
    return outcomes


def server_errors(server: ForgeServer) -> int:
    return sum(
        n
        for statuses in server.requests.by_status().values()
        for code, n in statuses.items()
        if code.startswith("5")
    )


async def test_a_transient_outage_is_retried(server: ForgeServer, scm: Scm) -> None:
    server.faults.configure(error_rate=0.25, seed=11, match=r"^GET ")
    outcomes = await lookups(cache(scm, attempts=4))
    assert server_errors(server) > 0, "no 5xx was injected: the test proved nothing"
    assert outcomes == ["bump"] * LOOKUPS


async def test_without_the_retry_the_same_faults_fail_lookups(
    server: ForgeServer, scm: Scm
) -> None:
    # the same seeded faults with one attempt: what the retry above is there for
    server.faults.configure(error_rate=0.25, seed=11, match=r"^GET ")
    outcomes = await lookups(cache(scm, attempts=1))
    assert "unavailable" in outcomes


async def test_a_missing_repository_is_not_retried(server: ForgeServer, scm: Scm) -> None:
    definitions = cache(scm, attempts=4)
    server.requests.reset()
    with pytest.raises(NotFound):
        await definitions.lookup("github", "acme/nowhere", "bump")
    assert server.requests.total == 1  # one GET of the repository, not four
