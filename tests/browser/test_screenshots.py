"""The README's screenshots, taken by a real browser from a running `prbot serve`: the
catalog, a form with an error, a preview, and the promotions dashboard. Every run takes
them again (so the pages they show still render); ``PRBOT_UPDATE_SCREENSHOTS=1`` also
writes them to docs/screenshots/, which is how the committed ones are made."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from tests.support.browser import chromium, context
from tests.support.examples import AUTOMATIONS, example_files
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import PromotionsApi, serve_env
from tests.support.serve import ROOT, free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "shots-forge-token-5678"
SECRET = "shots-webhook-secret-1234"
API_TOKEN = "shots-api-token"
DOCS = ROOT / "docs" / "screenshots"
SHOTS = ("catalog.png", "form-error.png", "preview.png", "dashboard.png")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def forge_files() -> Files:
    return example_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"alice": "write"}}


async def test_the_screenshots(tmp_path: Path, forge_repo: ForgeRepo) -> None:
    update = os.environ.get("PRBOT_UPDATE_SCREENSHOTS") == "1"
    out = DOCS if update else tmp_path / "shots"
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token=API_TOKEN,
        PRBOT_UI_AUTH="proxy", PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    async with (
        serve_process(tmp_path, env, port=port),
        httpx.AsyncClient(base_url=base, timeout=10) as http,
        chromium() as browser,
        context(browser, headers={"X-Forwarded-User": "alice"}) as ctx,
    ):
        page = await ctx.new_page()
        await page.set_viewport_size({"width": 1200, "height": 800})
        await page.goto(f"{base}/catalog")
        await page.screenshot(path=out / "catalog.png", full_page=True)

        await page.goto(f"{base}/catalog/cluster-create?repo={REPO}")
        await page.locator('input[name="name"]').fill("Not_A_Name")
        await page.locator('input[name="region"]').fill("eu-west-1")
        assert await page.locator("#e-name").is_visible()
        await page.screenshot(path=out / "form-error.png", full_page=True)

        await page.locator('input[name="name"]').fill("dev-eu-1")
        await page.get_by_role("button", name="Preview").click()
        await page.wait_for_selector("#preview")
        await page.locator("#preview").scroll_into_view_if_needed()
        await page.screenshot(path=out / "preview.png", full_page=True)

        api = PromotionsApi(http, API_TOKEN, REPO)
        pid = (await api.start("6.7.1", pipeline="myapp"))["id"]

        async def dev_pr():
            return (await api.get(pid))["stages"][0]["pr"]

        await wait_for(dev_pr, timeout=30, what="the dev PR")
        await page.goto(f"{base}/promotions/{pid}")
        assert await page.locator(".stage").count() == 3
        await page.screenshot(path=out / "dashboard.png", full_page=True)

    for name in SHOTS:
        assert (out / name).read_bytes().startswith(PNG), name
        committed = DOCS / name
        assert committed.is_file(), f"{committed} is missing: PRBOT_UPDATE_SCREENSHOTS=1"
        assert re.search(rf"docs/screenshots/{re.escape(name)}", (ROOT / "README.md").read_text())
