"""The catalog in a real browser (headless Chromium): `prbot serve` as a process with the
shipped automations, the forge seeded with examples/gitops and playing GitHub's sign-in.
With JavaScript: sign in through the forge's authorize page, fill cluster-create; a wrong
name says so beside the field as one types; the Azure-only field shows only for azure;
the checklist blocks the submit until ticked; the preview shows the diff; the submit lands
on the run's page, which shows the PR's link; the PR has the cluster's files and names
who asked. Without JavaScript: the form still posts, and a refused one shows its errors.
"""

from __future__ import annotations

import re

import pytest

from tests.support.browser import chromium, context
from tests.support.examples import AUTOMATIONS, example_files
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import serve_env
from tests.support.serve import free_port, serve_process
from tests.support.signin import sign_in_client
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "browser-forge-token-5678"
SECRET = "browser-webhook-secret-1234"
SLOW = {"timeout": 30.0, "every": 0.1}


@pytest.fixture
def forge_files() -> Files:
    return example_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"alice": "write"}}


async def test_a_cluster_through_the_catalog_in_a_browser(tmp_path, forge_repo: ForgeRepo) -> None:
    forge = forge_repo.forge
    forge.create_user("alice", name="Alice")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = await sign_in_client(forge_repo, "github", f"{base}/auth/github/callback")
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token="browser-api-token",
        PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS), PRBOT_UI_PUBLIC_URL=base,
        **client,
    )  # fmt: skip
    async with (
        serve_process(tmp_path, env, port=port),
        chromium() as browser,
        context(browser) as ctx,
    ):
        page = await ctx.new_page()
        await page.goto(f"{base}/catalog")
        assert page.url.startswith(f"{base}/signin")
        await page.get_by_role("link", name="Sign in with GitHub").click()
        # the forge's own authorize page: pick alice
        await page.wait_for_url(re.compile(r".*/login/oauth/authorize.*"))
        await page.locator('input[name="login"]').fill("alice")
        await page.locator('button[type="submit"][value="authorize"]').click()
        await page.wait_for_url(f"{base}/catalog")
        assert "alice (github)" in await page.locator("header .who").inner_text()

        await page.get_by_role("link", name=re.compile("cluster-create")).click()
        await page.wait_for_url(f"{base}/catalog/cluster-create")
        # the repositories alice can write to, to choose from
        chooser = page.locator('select[name="repo"]')
        assert await chooser.locator("option").all_inner_texts() == ["choose a repository", REPO]
        await chooser.select_option(REPO)
        # the Azure-only field shows only for azure
        group = page.locator('[data-field="resourceGroup"]')
        await page.locator('select[name="cloud"]').select_option("aws")
        assert not await group.is_visible()
        await page.locator('select[name="cloud"]').select_option("azure")
        assert await group.is_visible()
        await page.locator('select[name="cloud"]').select_option("aws")
        assert not await group.is_visible()
        # a wrong name says so as one types
        await page.locator('input[name="name"]').fill("Not_A_Name")
        assert await page.locator("#e-name").is_visible()
        await page.locator('input[name="name"]').fill("dev-eu-3")
        assert not await page.locator("#e-name").is_visible()
        await page.locator('input[name="region"]').fill("eu-west-1")
        # the checklist blocks the submit until ticked
        await page.get_by_role("button", name="Open the pull request").click()
        assert page.url == f"{base}/catalog/cluster-create"
        assert forge.pull_requests(REPO, state="all") == []
        # the preview shows the diff
        await page.get_by_role("button", name="Preview").click()
        await page.wait_for_selector("#preview")
        diff = await page.locator("#preview").inner_text()
        assert "services/clusters/aws/clusters/dev-eu-3.yaml" in diff
        # the preview page keeps the values; tick the checklist, open the PR
        for box in await page.locator('input[name="confirm"]').all():
            await box.check()
        await page.get_by_role("button", name="Open the pull request").click()
        await page.wait_for_url(re.compile(rf"{base}/runs/\d+"))
        link = page.locator("#run a", has_text=re.compile(r"#\d+"))
        await link.wait_for()

        def opened():
            return forge.pull_requests(REPO, state="open")

        [pr] = await wait_for(opened, **SLOW, what="the PR")
        assert await link.inner_text() == f"#{pr.number}"
        assert "Requested by @alice" in pr.body
        assert "services/clusters/aws/clusters/dev-eu-3.yaml" in forge_repo.ls_tree(pr.head)


async def test_the_form_works_without_javascript(tmp_path, forge_repo: ForgeRepo) -> None:
    port = free_port()
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token="browser-api-token",
        PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS), PRBOT_UI_AUTH="proxy",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    async with serve_process(tmp_path, env, port=port), chromium() as browser:
        headers = {"X-Forwarded-User": "alice"}
        async with context(browser, javascript=False, headers=headers) as ctx:
            page = await ctx.new_page()
            await page.goto(f"{base}/catalog/cluster-create?repo={REPO}")
            await page.locator('input[name="name"]').fill("dev-eu-4")
            await page.locator('input[name="region"]').fill("eu west")  # not a region
            for box in await page.locator('input[name="confirm"]').all():
                await box.check()
            # without JavaScript the browser still checks what it can: the region's
            # pattern stops the post; send it anyway through Preview (no checks)
            await page.get_by_role("button", name="Preview").click()
            await page.wait_for_load_state()
            error = page.locator("#e-region")
            assert "must match the pattern" in await error.inner_text()
            assert await page.locator('input[name="name"]').input_value() == "dev-eu-4"
            await page.locator('input[name="region"]').fill("eu-west-1")
            for box in await page.locator('input[name="confirm"]').all():
                await box.check()
            await page.get_by_role("button", name="Open the pull request").click()
            await page.wait_for_url(re.compile(rf"{base}/runs/\d+"))

            def opened():
                return forge_repo.forge.pull_requests(REPO, state="open")

            await wait_for(opened, **SLOW, what="the PR, from a page with no JavaScript")
