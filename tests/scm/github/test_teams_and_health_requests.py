"""What ``teams_of`` and a ``HealthWanted`` cost on GitHub, request by request (respx).

Team membership: one GET per distinct team, all at once, answers kept a minute, a 403
told as the missing App permission. Selective health: statuses first, check runs only
when a wanted check is not a status, deployments only of the wanted environment, and
nothing wanted twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from prbot.errors import is_permanent
from prbot.scm.github import GitHubScm, TokenAuth
from prbot.scm.port import HealthWanted, ScmError
from tests.support.clock import ManualClock, RecordedSleep

API = "https://ghe.example.com/api/v3"
REPO = f"{API}/repos/acme/gitops"
ORGS = f"{API}/orgs"
SHA = "c" * 40
MEMBERSHIP = "GET /orgs/{org}/teams/{team_slug}/memberships/{username}"
STATUS = "GET /repos/{owner}/{repo}/commits/{ref}/status"
CHECKS = "GET /repos/{owner}/{repo}/commits/{ref}/check-runs"
DEPLOYMENTS = "GET /repos/{owner}/{repo}/deployments"
DEPLOYMENT_STATUSES = "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def gh() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def scm(clock: ManualClock) -> AsyncIterator[GitHubScm]:
    s = GitHubScm(
        TokenAuth("ghp_teams_token_0123456789"),
        api_url=API,
        sleep=RecordedSleep(),
        clock=clock,
        rng=random.Random(1),
    )
    yield s
    await s.aclose()


def ok(data: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=data)


def membership(state: str, role: str = "member") -> httpx.Response:
    # GitHub's documented answer ("Get team membership for a user")
    return ok({"url": f"{API}/teams/1/memberships/alice", "role": role, "state": state})


NOT_FOUND = ok({"message": "Not Found"}, 404)


# -- teams ---------------------------------------------------------------------------


async def test_one_request_per_distinct_team_all_at_once(gh, scm):
    arrived: list[str] = []
    all_three = asyncio.Event()

    def answering(response: httpx.Response):
        async def side_effect(request: httpx.Request) -> httpx.Response:
            arrived.append(request.url.path)
            if len(arrived) == 3:
                all_three.set()
            # a request sent only after the others' answers would wait here forever
            await asyncio.wait_for(all_three.wait(), 5)
            return response

        return side_effect

    platform = gh.get(f"{ORGS}/acme/teams/platform/memberships/alice").mock(
        side_effect=answering(membership("active"))
    )
    sre = gh.get(f"{ORGS}/acme/teams/sre/memberships/alice").mock(
        side_effect=answering(membership("pending"))
    )
    other = gh.get(f"{ORGS}/other/teams/x/memberships/alice").mock(side_effect=answering(NOT_FOUND))
    named = ["platform", "Platform", "@acme/platform", "sre", "other/X", "a/b/c", ""]
    assert await scm.teams_of("acme/gitops", "Alice", named) == (
        "platform",
        "Platform",
        "@acme/platform",
    )
    assert platform.call_count == sre.call_count == other.call_count == 1
    assert scm.counter.counts == {MEMBERSHIP: 3}  # "a/b/c" and "" cannot be teams: no request


async def test_answers_are_kept_a_minute(gh, scm, clock):
    route = gh.get(f"{ORGS}/acme/teams/platform/memberships/alice").mock(
        return_value=membership("active")
    )
    missing = gh.get(f"{ORGS}/acme/teams/nope/memberships/alice").mock(return_value=NOT_FOUND)
    assert await scm.teams_of("acme/gitops", "alice", ["platform", "nope"]) == ("platform",)
    clock.now += 59
    assert await scm.teams_of("acme/gitops", "ALICE", ["nope", "Platform"]) == ("Platform",)
    assert route.call_count == missing.call_count == 1  # "no" is remembered as well as "yes"
    clock.now += 2
    route.mock(return_value=NOT_FOUND)  # removed from the team meanwhile
    assert await scm.teams_of("acme/gitops", "alice", ["platform"]) == ()
    assert route.call_count == 2


async def test_answers_are_kept_per_asking_organisation(gh, scm):
    route = gh.get(f"{ORGS}/acme/teams/platform/memberships/alice").mock(
        return_value=membership("active")
    )
    assert await scm.teams_of("acme/gitops", "alice", ["acme/platform"]) == ("acme/platform",)
    assert await scm.teams_of("other/app", "alice", ["acme/platform"]) == ("acme/platform",)
    # an App installed on "other" would ask with another token, which may see otherwise
    assert route.call_count == 2


async def test_a_maintainer_is_a_member_and_no_team_is_no_request(gh, scm):
    gh.get(f"{ORGS}/acme/teams/platform/memberships/bob").mock(
        return_value=membership("active", role="maintainer")
    )
    assert await scm.teams_of("acme/gitops", "bob", ["platform"]) == ("platform",)
    assert await scm.teams_of("acme/gitops", "bob", []) == ()
    assert scm.counter.counts == {MEMBERSHIP: 1}


async def test_a_403_names_the_permission_the_app_lacks(gh, scm):
    gh.get(f"{ORGS}/acme/teams/platform/memberships/alice").mock(
        return_value=ok({"message": "Resource not accessible by integration"}, 403)
    )
    with pytest.raises(ScmError) as e:
        await scm.teams_of("acme/gitops", "alice", ["platform"])
    assert '"members: read"' in str(e.value) and "acme/platform" in str(e.value)
    assert is_permanent(e.value)  # no retry grants a permission


# -- selective health ----------------------------------------------------------------------


def statuses(*contexts: tuple[str, str]) -> httpx.Response:
    return ok({"state": "pending", "statuses": [{"context": c, "state": s} for c, s in contexts]})


async def test_checks_found_among_statuses_cost_one_request(gh, scm):
    gh.get(f"{REPO}/commits/{SHA}/status").mock(
        return_value=statuses(("ci/build", "success"), ("ci/lint", "failure"))
    )
    want = HealthWanted(checks=("ci/build", "ci/lint"))
    health = await scm.commit_health("acme/gitops", SHA, want)
    assert (health.state_of("ci/build"), health.state_of("ci/lint")) == ("success", "failure")
    assert scm.counter.counts == {STATUS: 1}


async def test_a_check_not_among_statuses_is_looked_for_among_check_runs(gh, scm):
    gh.get(f"{REPO}/commits/{SHA}/status").mock(return_value=statuses(("ci/build", "success")))
    gh.get(f"{REPO}/commits/{SHA}/check-runs").mock(
        return_value=ok(
            {
                "total_count": 1,
                "check_runs": [
                    {"id": 3, "name": "ci/lint", "status": "completed", "conclusion": "failure"}
                ],
            }
        )
    )
    health = await scm.commit_health(
        "acme/gitops", SHA, HealthWanted(checks=("ci/build", "ci/lint"))
    )
    assert (health.state_of("ci/build"), health.state_of("ci/lint")) == ("success", "failure")
    assert scm.counter.counts == {STATUS: 1, CHECKS: 1}


async def test_a_wanted_deployment_is_filtered_by_environment(gh, scm):
    listed = gh.get(
        f"{REPO}/deployments", params={"sha": SHA, "environment": "prod", "per_page": "100"}
    ).mock(return_value=ok([{"id": 9, "environment": "prod"}, {"id": 8, "environment": "prod"}]))
    latest = gh.get(f"{REPO}/deployments/9/statuses", params={"per_page": "1"}).mock(
        return_value=ok([{"state": "success", "environment_url": "https://prod"}])
    )
    health = await scm.commit_health("acme/gitops", SHA, HealthWanted(deployment="prod"))
    assert [(s.kind, s.name, s.state, s.url) for s in health.signals] == [
        ("deployment", "prod", "success", "https://prod")
    ]
    assert listed.call_count == latest.call_count == 1
    assert scm.counter.counts == {DEPLOYMENTS: 1, DEPLOYMENT_STATUSES: 1}


async def test_no_deployment_of_the_environment_is_one_request(gh, scm):
    gh.get(f"{REPO}/deployments").mock(return_value=ok([]))
    gh.get(f"{REPO}/commits/{SHA}/status").mock(return_value=statuses(("ci", "success")))
    health = await scm.commit_health(
        "acme/gitops", SHA, HealthWanted(checks=("ci",), deployment="prod")
    )
    assert health.state_of("ci") == "success" and health.state_of("prod") is None
    assert scm.counter.counts == {STATUS: 1, DEPLOYMENTS: 1}


async def test_nothing_wanted_costs_nothing_and_none_reads_everything(gh, scm):
    assert (await scm.commit_health("acme/gitops", SHA, HealthWanted())).signals == ()
    assert scm.counter.counts == {}
    gh.get(f"{REPO}/commits/{SHA}/status").mock(return_value=statuses())
    gh.get(f"{REPO}/commits/{SHA}/check-runs").mock(
        return_value=ok({"total_count": 0, "check_runs": []})
    )
    everything = gh.get(f"{REPO}/deployments").mock(return_value=ok([]))
    await scm.commit_health("acme/gitops", SHA)
    assert scm.counter.counts == {STATUS: 1, CHECKS: 1, DEPLOYMENTS: 1}
    assert "environment" not in everything.calls.last.request.url.params  # every environment
