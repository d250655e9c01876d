"""What a definition or a person writes is shown as text, in a real browser (headless
Chromium, JavaScript on): a repository's own automation whose description and help hold
markup and script, and input values that do. No dialog ever opens, no element is made
from them, and the text reads as it was written (on the catalog, the form, a refused
form, the preview and the run's page)."""

from __future__ import annotations

import re

import pytest

from prbot.forge.git import Change
from tests.support.browser import chromium, context
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import serve_env
from tests.support.serve import free_port, serve_process
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "browser-escape-token-5678"
SECRET = "browser-escape-secret-1234"
SLOW = {"timeout": 30.0, "every": 0.1}
DESCRIPTION = "<script>alert('catalog')</script> leaves a note"
HELP = "<img src=x onerror=alert('help')>"
EVIL = f"""\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {{name: evil-note}}
spec:
  description: "{DESCRIPTION}"
  title: "Note"
  configuration:
    - {{name: what, type: string, documentation: "{HELP}"}}
    - {{name: size, type: int}}
  creates:
    templates:
      - {{source: note.md, destination: "notes/{{{{ context.what }}}}.md"}}
"""
VALUE = "<img src=x onerror=alert('value')>"
NOT_A_NUMBER = "<script>alert('size')</script>"


@pytest.fixture
def forge_files() -> Files:
    return {"README.md": "# gitops\n"}


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {"alice": "write"}}


async def test_script_written_anywhere_is_shown_as_text(tmp_path, forge_repo: ForgeRepo) -> None:
    forge = forge_repo.forge
    await forge.commit_changes(
        REPO, "main", "an automation of the repository's own",
        {".prbot/evil.yaml": Change(content=EVIL.encode()),
         ".prbot/note.md": Change(content=b"{{ context.what }}\n")},
        actor="alice",
    )  # fmt: skip
    port = free_port()
    env = serve_env(
        forge_repo, tmp_path, port, webhook_secret=SECRET, api_token="browser-api-token",
        PRBOT_UI_AUTH="proxy",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    where = f"repo={REPO}&platform=github"
    async with (
        serve_process(tmp_path, env, port=port),
        chromium() as browser,
        context(browser, headers={"X-Forwarded-User": "alice"}) as ctx,
    ):
        page = await ctx.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        await page.goto(f"{base}/catalog?{where}")
        card = page.locator("main")
        assert DESCRIPTION in await card.inner_text()
        # the page's own scripts only
        assert await page.locator('script:not([src^="/static/"])').count() == 0

        await page.goto(f"{base}/catalog/evil-note?{where}")
        main = page.locator("main")
        text = await main.inner_text()
        assert DESCRIPTION in text and HELP in text
        assert await page.locator('img[src="x"]').count() == 0

        # values with markup: typed, refused by the server (size), kept as typed
        await page.locator('input[name="what"]').fill(VALUE)
        await page.locator('input[name="size"]').evaluate(
            "(e, v) => { e.type = 'text'; e.value = v }", NOT_A_NUMBER
        )
        await page.get_by_role("button", name="Open the pull request").click()
        await page.wait_for_load_state()
        assert await page.locator('input[name="what"]').input_value() == VALUE
        assert await page.locator("#e-size").is_visible()
        assert await page.locator('img[src="x"]').count() == 0

        # the preview: the value in the file's path and content, as text
        await page.locator('input[name="size"]').evaluate(
            "e => { e.type = 'number'; e.value = '3' }"
        )
        await page.get_by_role("button", name="Preview").click()
        await page.wait_for_selector("#preview")
        preview = await page.locator("#preview").inner_text()
        assert f"notes/{VALUE}.md" in preview and f"+{VALUE}" in preview

        # the run, and its page listing the values
        await page.get_by_role("button", name="Open the pull request").click()
        await page.wait_for_url(re.compile(rf"{base}/runs/\d+"))
        await page.locator("#run a", has_text=re.compile(r"#\d+")).wait_for()
        assert VALUE in await page.locator("#run .inputs").inner_text()
        assert await page.locator('img[src="x"]').count() == 0

        assert dialogs == []

    def opened():
        return forge.pull_requests(REPO, state="open")

    [pr] = await wait_for(opened, **SLOW, what="the PR")
    assert forge_repo.show(pr.head, f"notes/{VALUE}.md") == f"{VALUE}\n"
