"""Request recording and fault injection, observed as a client sees them."""

from __future__ import annotations

import time

import httpx
import pytest

from prbot.forge.faults import Faults

from .conftest import auth

REPO_ROUTE = "GET /api/v3/repos/{owner}/{repo}"


async def test_counts_by_route_template_and_status(world):
    world.requests.reset()
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        for _ in range(3):
            assert (await c.get(f"{world.github_api_url}/repos/octo/app")).status_code == 200
        assert (await c.get(f"{world.github_api_url}/repos/octo/none")).status_code == 404
        await c.get(f"{world.github_api_url}/repos/octo/app/git/ref/heads/main")
        await c.get(f"{world.admin_url}/health")  # admin: never counted
    assert world.requests.count(REPO_ROUTE) == 4
    assert world.requests.by_status()[REPO_ROUTE] == {"200": 3, "404": 1}
    assert world.requests.count("GET /api/v3/repos/{owner}/{repo}/git/ref/{ref}") == 1
    assert world.requests.total == 5
    async with httpx.AsyncClient() as c:
        snap = (await c.get(f"{world.admin_url}/requests")).json()
        assert snap["counts"][REPO_ROUTE] == 4
        assert (await c.delete(f"{world.admin_url}/requests")).status_code == 204
    assert world.requests.total == 0


async def statuses(world, n: int) -> list[int]:
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        return [
            (await c.get(f"{world.github_api_url}/repos/octo/app")).status_code for _ in range(n)
        ]


async def test_error_share_is_seeded_and_roughly_honoured(world):
    world.faults.configure(error_rate=0.3, seed=42)
    first = await statuses(world, 200)
    world.faults.configure(seed=42)
    second = await statuses(world, 200)
    assert first == second  # same seed, same order: same failures
    share = sum(s >= 500 for s in first) / len(first)
    assert 0.2 < share < 0.4
    assert {s for s in first if s >= 500} <= {500, 502, 503}
    world.faults.clear()
    assert set(await statuses(world, 5)) == {200}


async def test_faults_can_target_routes_and_add_latency(world):
    world.faults.configure(error_rate=1.0, match=r"^POST .*/statuses/", latency_ms=50)
    head = await world.forge.resolve("octo/app", "main")
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        started = time.monotonic()
        ok = await c.get(f"{world.github_api_url}/repos/octo/app")
        assert ok.status_code == 200 and time.monotonic() - started < 0.05
        started = time.monotonic()
        bad = await c.post(
            f"{world.github_api_url}/repos/octo/app/statuses/{head}", json={"state": "success"}
        )
        assert bad.status_code >= 500 and time.monotonic() - started >= 0.05
        # the admin API is never faulted
        assert (await c.get(f"{world.admin_url}/health")).status_code == 200


async def test_github_rate_limit_answers(world):
    world.faults.configure(rate_limit_next=1, rate_limit_reset_in=30)
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        limited = await c.get(f"{world.github_api_url}/repos/octo/app")
        assert limited.status_code == 403
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) >= int(time.time()) + 29
        assert "rate limit" in limited.json()["message"]
        ok = await c.get(f"{world.github_api_url}/repos/octo/app")
        assert ok.status_code == 200
        remaining = int(ok.headers["x-ratelimit-remaining"])
        assert ok.headers["x-ratelimit-limit"] == "5000" and remaining < 5000
        assert ok.headers["x-ratelimit-used"] == str(5000 - remaining)
        assert ok.headers["x-ratelimit-resource"] == "core"

        world.faults.configure(rate_limit_next=1, rate_limit_kind="secondary")
        secondary = await c.get(f"{world.github_api_url}/repos/octo/app")
        assert secondary.status_code == 403 and secondary.headers["retry-after"] == "30"
        assert "secondary rate limit" in secondary.json()["message"]

        world.faults.configure(rate_limit_next=1, rate_limit_kind="primary")
        gql = await c.post(world.graphql_url, json={"query": "{ viewer { login } }"})
        assert gql.status_code == 200 and gql.json()["errors"][0]["type"] == "RATE_LIMITED"

        world.faults.configure(rate_limit_next=1)
        gitlab = await c.get(f"{world.url}/api/v4/projects/1")
        assert gitlab.status_code == 429
        assert gitlab.headers["Retry-After"] == "30"
        assert gitlab.headers["RateLimit-Remaining"] == "0"
        assert "RateLimit-Reset" in gitlab.headers and "RateLimit-Limit" in gitlab.headers


async def test_budget_is_spent_per_principal(world):
    world.forge.rate_limits.set_limit(3)
    async with httpx.AsyncClient() as c:
        url = f"{world.github_api_url}/repos/octo/app"
        got = [(await c.get(url, headers=auth(world.tokens["dev"]))).status_code for _ in range(4)]
        assert got == [200, 200, 200, 403]
        other = await c.get(url, headers=auth(world.tokens["octo"]))
        assert other.status_code == 200 and other.headers["x-ratelimit-remaining"] == "2"
        meter = await c.get(f"{world.github_api_url}/rate_limit", headers=auth(world.tokens["dev"]))
        assert meter.status_code == 200 and meter.json()["resources"]["core"]["remaining"] == 0


@pytest.mark.parametrize("mode", ["before", "after"])
async def test_dropped_connections_surface_as_transport_errors(world, mode):
    world.faults.configure(drop_next=1, drop_mode=mode, match="POST")
    head = await world.forge.resolve("octo/app", "main")
    async with httpx.AsyncClient(headers=auth(world.tokens["dev"])) as c:
        url = f"{world.github_api_url}/repos/octo/app/statuses/{head}"
        with pytest.raises(httpx.TransportError):
            await c.post(url, json={"state": "success", "context": "ci"})
        # only the next N: the retry goes through
        assert (await c.post(url, json={"state": "success", "context": "ci"})).status_code == 201
    # "after": the first request did its work before the answer was lost
    assert len(world.forge.statuses("octo/app", head)) == (1 if mode == "before" else 2)
    assert world.requests.by_status()["POST /api/v3/repos/{owner}/{repo}/statuses/{sha}"] == {
        "0": 1,
        "201": 1,
    }


async def test_admin_sets_and_clears_faults(world):
    async with httpx.AsyncClient() as c:
        put = await c.put(f"{world.admin_url}/faults", json={"error_rate": 0.5, "seed": 1})
        assert put.status_code == 200 and put.json()["error_rate"] == 0.5
        bad = await c.put(f"{world.admin_url}/faults", json={"error_rate": 2})
        assert bad.status_code == 400
        bad = await c.put(f"{world.admin_url}/faults", json={"nonsense": 1})
        assert bad.status_code == 400
        assert (await c.delete(f"{world.admin_url}/faults")).status_code == 204
    assert world.faults.config.error_rate == 0


def test_fault_settings_are_validated():
    faults = Faults()
    with pytest.raises(ValueError):
        faults.configure(error_statuses=[404])
    with pytest.raises(ValueError):
        faults.configure(rate_limit_kind="tertiary")
