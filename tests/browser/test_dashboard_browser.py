"""The promotions dashboard in a real browser (headless Chromium), signed in behind a
proxy: a promotion waits at prod's approval gate; the listed approver sees the Approve
button and clicking it opens the prod PR; someone who may not approve sees no button."""

from __future__ import annotations

import httpx
import pytest

from tests.support.browser import chromium, context
from tests.support.forge import ForgeRepo
from tests.support.promotions import GATED, PromotionsApi, bring_to_gate, repo_files, serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "dash-browser-forge-token-5678"
SECRET = "dash-browser-webhook-secret-1234"
API_TOKEN = "dash-browser-api-token"
SLOW = {"timeout": 30.0, "every": 0.1}


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files(gated=GATED)


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"bob": "write", "rita": "write"}}


async def test_approving_from_the_dashboard(tmp_path, forge_repo: ForgeRepo) -> None:
    forge = forge_repo.forge
    port = free_port()
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API_TOKEN,
        PRBOT_UI_AUTH="proxy",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    async with (
        serve_process(tmp_path, env, port=port),
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        chromium() as browser,
    ):
        api = PromotionsApi(http, API_TOKEN, REPO)
        pid = (await api.start("7.0.0", pipeline="gated"))["id"]
        await bring_to_gate(api, forge, pid, **SLOW)

        # rita may write, but the gate lists only bob: no Approve button for her
        async with context(browser, headers={"X-Forwarded-User": "rita"}) as ctx:
            page = await ctx.new_page()
            await page.goto(f"{base}/promotions/{pid}")
            assert await page.locator(".stage").count() == 2
            assert await page.get_by_role("button", name="Approve prod").count() == 0
            assert await page.get_by_role("button", name="Cancel").count() == 1

        async with context(browser, headers={"X-Forwarded-User": "bob"}) as ctx:
            page = await ctx.new_page()
            await page.goto(f"{base}/promotions/{pid}")
            await page.get_by_role("button", name="Approve prod").click()
            await page.wait_for_url(f"{base}/promotions/{pid}")
            assert "approve: done, as bob" in await page.locator(".said").inner_text()

            async def prod_pr():
                return (await api.get(pid))["stages"][1]["pr"]

            opened = await wait_for(prod_pr, **SLOW, what="the prod PR after the approval")
            # the page follows the promotion: it shows the prod PR without a reload by hand
            link = page.locator('[data-stage="prod"] a', has_text=f"#{opened['number']}")
            await link.wait_for(timeout=15_000)
