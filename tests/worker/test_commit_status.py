"""The port's ``set_commit_status`` on both providers, against the forge's real routes."""

from __future__ import annotations

import pytest

from prbot.scm.github import GitHubScm
from prbot.scm.gitlab import GitLabScm
from prbot.scm.port import Scm

from .conftest import REPO, TOKEN


def provider(platform: str, server) -> Scm:
    if platform == "github":
        return GitHubScm.with_token(
            TOKEN, api_url=server.github_api_url, graphql_url=server.graphql_url
        )
    return GitLabScm(server.gitlab_url, TOKEN)


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_set_commit_status(platform: str, forge) -> None:
    scm = provider(platform, forge)
    sha = await forge.forge.resolve(REPO, "main")
    try:
        await scm.set_commit_status(
            REPO,
            sha,
            state="failure",
            context="prbot/definitions",
            description="1 problem(s): " + "x" * 300,
            target_url="https://prbot.example/defs",
        )
        # the same state again: GitLab refuses the "transition", the port shrugs
        await scm.set_commit_status(REPO, sha, state="failure", context="prbot/definitions")
        health = await scm.commit_health(REPO, sha)
    finally:
        await scm.aclose()
    [status, *_] = forge.forge.statuses(REPO, sha)
    assert status.context == "prbot/definitions"
    assert status.state == "failure"
    assert health.state_of("prbot/definitions") == "failure"
    first = forge.forge.statuses(REPO, sha)[-1]
    assert first.description is not None and len(first.description) == 140
    assert first.description.endswith("…")
