"""The promotions dashboard over real HTTP, `prbot serve` as a process against the forge,
signed in behind a proxy (PRBOT_UI_AUTH=proxy: the user header, from 127.0.0.1). A
promotion waits at prod's approval gate: the listed approver sees the Approve button and
approving through it opens the prod PR; a reader sees the promotion and no button; a user
without access sees nothing; a post without the CSRF token changes nothing; what people
typed is shown as text. (The same pages in a real browser: issue 12's browser tests.)"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.forge import ForgeRepo
from tests.support.promotions import GATED, PromotionsApi, bring_to_gate, repo_files, serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "dashboard-forge-token-5678"
SECRET = "dashboard-webhook-secret-1234"
API_TOKEN = "dashboard-internal-api-token"
SLOW = {"timeout": 30.0, "every": 0.1}
TAG = '4.0.0"><script>alert(1)</script>'


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files(gated=GATED)


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


async def next_version(lines: AsyncIterator[str]) -> int:
    async for line in lines:
        if line.startswith("data: "):
            return int(json.loads(line.removeprefix("data: "))["version"])
    raise AssertionError("the event stream ended")


def proxied_env(forge_repo: ForgeRepo, tmp_path: Path, port: int) -> dict[str, str]:
    """`prbot serve` signed in to behind a proxy (the user header, from 127.0.0.1)."""
    return serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API_TOKEN,
        PRBOT_UI_AUTH="proxy",
    )  # fmt: skip


def as_user(user: str) -> dict[str, str]:
    return {"X-Forwarded-User": user}


async def test_the_dashboard_shows_each_user_what_they_may_do(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    forge.set_permission(REPO, "bob", "write")
    forge.set_permission(REPO, "rita", "read")
    port = free_port()
    env = proxied_env(forge_repo, tmp_path, port)
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as api_http,
    ):
        api = PromotionsApi(api_http, API_TOKEN, REPO)
        pid = (await api.start(TAG, pipeline="gated"))["id"]
        await bring_to_gate(api, forge, pid, **SLOW)

        async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as bob:
            listing = await bob.get("/promotions", headers=as_user("bob"))
            assert listing.status_code == 200 and f'href="/promotions/{pid}"' in listing.text
            page = await bob.get(f"/promotions/{pid}", headers=as_user("bob"))
            assert page.status_code == 200, page.text
            policy = page.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            # what was typed is text, never markup
            assert "<script>alert(1)</script>" not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
            assert f'action="/promotions/{pid}/approve"' in page.text
            assert "/cancel" in page.text  # bob has write: cancel is his too
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None

            # without the token: refused, nothing changes
            forged = await bob.post(
                f"/promotions/{pid}/approve", headers=as_user("bob"), data={"stage": "prod"}
            )
            assert forged.status_code == 403
            assert (await api.get(pid))["stages"][1]["gates"][0]["approved_by"] == []

            # the page follows the promotion: a new version is sent when it changes
            async with bob.stream(
                "GET", f"/promotions/{pid}/events", headers=as_user("bob")
            ) as events:
                assert events.headers["Content-Type"].startswith("text/event-stream")
                lines = events.aiter_lines()
                first = await next_version(lines)
                done = await bob.post(
                    f"/promotions/{pid}/approve",
                    headers=as_user("bob"),
                    data={"stage": "prod", "csrf_token": token.group(1)},
                    follow_redirects=False,
                )
                assert done.status_code == 302
                assert done.headers["Location"] == f"/promotions/{pid}"
                assert await asyncio.wait_for(next_version(lines), 15) > first
            after = await bob.get(f"/promotions/{pid}", headers=as_user("bob"))
            assert "approve: done, as bob" in after.text

        async def prod_pr():
            return (await api.get(pid))["stages"][1]["pr"]

        await wait_for(prod_pr, **SLOW, what="the prod PR, after the approval")

        async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as rita:
            page = await rita.get(f"/promotions/{pid}", headers=as_user("rita"))
            assert page.status_code == 200
            assert '<form method="post" action="/promotions' not in page.text  # no buttons
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None  # the sign-out form's
            refused = await rita.post(
                f"/promotions/{pid}/cancel",
                headers=as_user("rita"),
                data={"csrf_token": token.group(1)},
                follow_redirects=False,
            )
            assert refused.status_code == 302
            again = await rita.get(f"/promotions/{pid}", headers=as_user("rita"))
            assert "cancel: not permitted; it needs write" in again.text
            assert (await api.get(pid))["status"] != "cancelled"

        async with httpx.AsyncClient(base_url=served.base_url, timeout=10) as mallory:
            page = await mallory.get(f"/promotions/{pid}", headers=as_user("mallory"))
            assert page.status_code == 404
            listing = await mallory.get("/promotions", headers=as_user("mallory"))
            assert f'href="/promotions/{pid}"' not in listing.text
            # no header: not signed in, sent to sign in
            anonymous = await mallory.get(f"/promotions/{pid}", follow_redirects=False)
            assert anonymous.status_code == 302
            assert anonymous.headers["Location"] == f"/signin?next=/promotions/{pid}"
    assert TOKEN not in served.output()


async def test_a_runs_page_follows_it_to_its_pr(tmp_path, forge_repo: ForgeRepo) -> None:
    forge_repo.forge.set_permission(REPO, "bob", "write")
    port = free_port()
    env = proxied_env(forge_repo, tmp_path, port)
    async with (
        serve_process(tmp_path, env, port=port) as served,
        httpx.AsyncClient(base_url=served.base_url, timeout=10) as http,
    ):
        body = {
            "automation": "bump",
            "repo": REPO,
            "platform": "github",
            "inputs": {"env": "dev", "tag": "<b>5.0.0</b>"},
            "requested_by": "bob",
        }
        asked = await http.post(
            "/api/runs", json=body, headers={"Authorization": f"Bearer {API_TOKEN}"}
        )
        assert asked.status_code == 201, asked.text
        run_id = asked.json()["run"]["id"]

        async def opened() -> httpx.Response | None:
            page = await http.get(f"/runs/{run_id}", headers=as_user("bob"))
            return page if "The pull request is open" in page.text else None

        page = await wait_for(opened, **SLOW, what="the run's PR on its page")
        [pr] = forge_repo.forge.pull_requests(REPO, state="open")
        run = (
            await http.get(f"/api/runs/{run_id}", headers={"Authorization": f"Bearer {API_TOKEN}"})
        ).json()["run"]
        assert run["pr_number"] == pr.number
        assert f'<a href="{run["pr_url"]}">#{pr.number}</a>' in page.text
        assert "Refresh" not in page.headers  # finished: nothing more to look for
        assert "&lt;b&gt;5.0.0&lt;/b&gt;" in page.text and "<b>5.0.0</b>" not in page.text
        # run again: back to the form with the values it had
        assert 'href="/catalog/bump?repo=acme%2Fgitops&amp;env=dev&amp;tag=%3Cb%3E5.0.0' in (
            page.text
        )
        stranger = await http.get(f"/runs/{run_id}", headers=as_user("mallory"))
        assert stranger.status_code == 404
