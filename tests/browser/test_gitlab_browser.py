"""Signing in with GitLab in a real browser (headless Chromium): `prbot serve` with a
GitLab OAuth application registered on the forge, which plays GitLab's authorize page.
Alice signs in there, the catalog's form is on GitLab for her, she picks the repository
from those she can write to, and the merge request it opens names her."""

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
TOKEN = "browser-gitlab-token-5678"
SECRET = "browser-gitlab-secret-1234"
SLOW = {"timeout": 30.0, "every": 0.1}


@pytest.fixture
def forge_files() -> Files:
    return example_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"alice": "write"}}


async def test_signing_in_with_gitlab_and_opening_a_merge_request(
    tmp_path, forge_repo: ForgeRepo
) -> None:
    forge = forge_repo.forge
    forge.create_user("alice", name="Alice")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = await sign_in_client(forge_repo, "gitlab", f"{base}/auth/gitlab/callback")
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token="browser-api-token",
        platform="gitlab", PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS), PRBOT_UI_PUBLIC_URL=base,
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
        await page.get_by_role("link", name="Sign in with GitLab").click()
        # the forge's own authorize page, as GitLab's: pick alice
        await page.wait_for_url(re.compile(r".*/oauth/authorize.*"))
        assert "code_challenge=" in page.url  # PKCE, as prbot asks GitLab for it
        await page.locator('input[name="login"]').fill("alice")
        await page.locator('button[type="submit"][value="authorize"]').click()
        await page.wait_for_url(f"{base}/catalog")
        assert "alice (gitlab)" in await page.locator("header .who").inner_text()

        await page.get_by_role("link", name=re.compile("cluster-create")).click()
        await page.wait_for_url(f"{base}/catalog/cluster-create")
        # the form is on the platform she signed in with
        assert await page.locator('select[name="platform"]').input_value() == "gitlab"
        chooser = page.locator('select[name="repo"]')
        assert await chooser.locator("option").all_inner_texts() == ["choose a repository", REPO]
        await chooser.select_option(REPO)
        await page.locator('select[name="cloud"]').select_option("aws")
        await page.locator('input[name="name"]').fill("dev-eu-7")
        await page.locator('input[name="region"]').fill("eu-west-1")
        for box in await page.locator('input[name="confirm"]').all():
            await box.check()
        await page.get_by_role("button", name="Open the pull request").click()
        await page.wait_for_url(re.compile(rf"{base}/runs/\d+"))
        link = page.locator("#run a", has_text=re.compile(r"#\d+"))
        await link.wait_for()

        def opened():
            return forge.pull_requests(REPO, state="open")

        [mr] = await wait_for(opened, **SLOW, what="the merge request")
        assert await link.inner_text() == f"#{mr.number}"
        assert "Requested by @alice" in mr.body
        assert "services/clusters/aws/clusters/dev-eu-7.yaml" in forge_repo.ls_tree(mr.head)
