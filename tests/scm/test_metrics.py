"""Both providers feed the operators' SCM metrics: requests by platform, route template
and status, and the rate-limit budget left per installation (or token), read back from
the ``/metrics`` exposition as Prometheus would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from prbot import metrics
from prbot.forge.server import ForgeServer
from prbot.scm.github import GitHubScm
from prbot.scm.gitlab import GitLabScm
from prbot.scm.port import NotFound, Scm

REPO = "acme/metrics"
TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ForgeServer]:
    async with ForgeServer(tmp_path / "forge") as server:
        server.forge.create_user("bot")
        server.forge.create_token("bot", TOKEN)
        await server.forge.create_repo(REPO, files={"a.txt": "a\n"})
        server.forge.set_permission(REPO, "bot", "admin")
        yield server


def make_scm(platform: str, server: ForgeServer) -> Scm:
    if platform == "github":
        return GitHubScm.with_token(
            TOKEN, api_url=server.github_api_url, graphql_url=server.graphql_url
        )
    return GitLabScm(server.gitlab_url, TOKEN, timeout=10)


def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    body, _ = metrics.exposition()
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name:
                found[tuple(sorted(s.labels.items()))] = s.value
    return found


def requests_of(platform: str) -> dict[tuple[str, str], float]:
    return {
        (labels["route"], labels["status"]): value
        for key, value in samples("prbot_scm_requests_total").items()
        if (labels := dict(key))["platform"] == platform
    }


@pytest.mark.parametrize(
    ("platform", "route", "missing_route"),
    [
        ("github", "GET /repos/{owner}/{repo}", "GET /repos/{owner}/{repo}"),
        ("gitlab", "GET /projects/:id", "GET /projects/:id"),
    ],
)
async def test_requests_are_counted_by_route_and_status(
    platform: str, route: str, missing_route: str, server: ForgeServer
) -> None:
    before = requests_of(platform)
    scm = make_scm(platform, server)
    try:
        assert await scm.default_branch(REPO) == "main"
        with pytest.raises(NotFound):
            await scm.default_branch("acme/nowhere")
    finally:
        await scm.aclose()
    after = requests_of(platform)
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert grown.get((route, "200"), 0) >= 1, grown
    assert grown.get((missing_route, "404"), 0) >= 1, grown
    # labels are route templates, never a repository's name
    assert not any("acme" in r for r, _ in after)


async def test_github_rate_limit_remaining_per_installation(server: ForgeServer) -> None:
    scm = make_scm("github", server)
    try:
        await scm.default_branch(REPO)
        await scm.default_branch(REPO)
    finally:
        await scm.aclose()
    left = {
        dict(k)["installation"]: v
        for k, v in samples("prbot_scm_rate_limit_remaining").items()
        if dict(k)["platform"] == "github"
    }
    # what the forge last answered: its budget of 5,000 less the requests it counted
    assert left["token"] == server.forge.rate_limits.peek("user:bot").remaining
    assert left["token"] < 5000
