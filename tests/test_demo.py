"""``prbot demo`` as a newcomer runs it: a real process playing the whole story against the
local forge and a real ``prbot serve``, on both platforms; and in this process, what it
says when a step does not happen as told."""

from __future__ import annotations

import html
import json
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from prbot.demo.cli import BERLIN, next_tuesday_morning
from prbot.demo.stack import PEOPLE, TEAM, running_stack
from prbot.demo.story import DemoFailure, Story, play
from prbot.demo.summary import summary_data
from tests.support.serve import ROOT

STEPS = [
    "Create cluster dev-eu-1 from the catalog",
    "Create cluster staging-eu-1 from the catalog",
    "Create cluster prod-eu-1 from the catalog",
    "Create service myapp from the catalog",
    "Comment `/prbot promote myapp tag=6.7.1`",
    "dev: prbot opens the PR; merge, deploy, soak",
    "staging: prbot opens the PR; merge, deploy, soak",
    "`/approve` by someone the gate does not list",
    "`/approve` by a member of team platform",
    "prod: prbot opens the PR; merge, deploy, soak",
    "Comment `/prbot promote myapp tag=6.8.0`",
    "dev: prbot opens the PR; merge, deploy, soak",
    "staging: e2e/smoke fails; prbot opens the revert PR",
]
TUESDAY = next_tuesday_morning(datetime.now(BERLIN))
PR_PATH = {"github": r"/acme/gitops/pull/(\d+)", "gitlab": r"/acme/gitops/-/merge_requests/(\d+)"}


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prbot.cli", "demo", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_the_demo_tells_the_story_on_github_with_a_table() -> None:
    done = demo()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Every step happened as told." in out
    assert out.count("  ✓ ") == len(STEPS)
    table = [line for line in out.splitlines() if line.startswith("| ") and "http" in line]
    assert [line.split(" | ")[1].strip() for line in table] == [
        s for s in STEPS if "Comment" not in s and "/approve" not in s
    ]
    numbers = [int(re.search(PR_PATH["github"], line).group(1)) for line in table]
    # one PR per catalog request and stage; the revert follows the failed staging PR
    assert numbers == [1, 2, 3, 4, 5, 6, 7, 8, 10]
    assert "refused: approve: not permitted" in out and "@mallory has write" in out


def test_the_demo_tells_the_story_on_gitlab_as_json() -> None:
    done = demo("--platform", "gitlab", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout)  # only the JSON on stdout; the narration on stderr
    assert summary["ok"] is True and summary["error"] == ""
    assert summary["platform"] == "gitlab"
    assert [s["step"] for s in summary["steps"]] == STEPS
    assert "Every step" not in done.stderr and done.stderr.count("  ✓ ") == len(STEPS)
    urls = [s["pr_url"] for s in summary["steps"] if s["pr_url"]]
    assert len(urls) == summary["total"]["prs"] == 9
    assert all(re.search(PR_PATH["gitlab"] + "$", url) for url in urls), urls
    assert all(s["scm_requests"] > 0 for s in summary["steps"][:4]), summary["steps"]
    assert summary["total"]["scm_requests"] == sum(s["scm_requests"] for s in summary["steps"])
    assert summary["steps"][7]["outcome"].startswith("refused: approve: not permitted")


async def test_every_link_the_demo_shows_is_a_page_and_a_wrong_step_stops_it(
    tmp_path: Path,
) -> None:
    async with (
        running_stack("github", tmp_path / "good", start_at=TUESDAY) as stack,
        httpx.AsyncClient(base_url=stack.serve_url, timeout=15) as http,
    ):
        story = Story(stack, http, narrate=lambda _text: None)
        await play(story)
        async with httpx.AsyncClient(timeout=10) as browser:
            for row in story.results:
                if row.pr_url:
                    page = await browser.get(row.pr_url)
                    assert page.status_code == 200, row.pr_url
                    assert page.headers["Content-Type"].startswith("text/html")
                    number = int(re.search(PR_PATH["github"], row.pr_url).group(1))
                    title = stack.forge.pull_request(stack.repo, number).title
                    assert title.split(" ")[0] in page.text

    # the approver left team platform: her /approve is refused, and the story stops there
    async with (
        running_stack("github", tmp_path / "bad", start_at=TUESDAY) as stack,
        httpx.AsyncClient(base_url=stack.serve_url, timeout=15) as http,
    ):
        stack.forge.remove_team_member(TEAM, PEOPLE.approver)
        story = Story(stack, http, narrate=lambda _text: None)
        with pytest.raises(DemoFailure, match=r"(?s)the approval was not taken: .*not permitted"):
            await play(story)
        summary = summary_data("github", story.results, ok=False, error="x")
        assert [s["step"] for s in summary["steps"]] == STEPS[:8]


@pytest.mark.parametrize(
    ("now", "tuesday"),
    [
        ("2026-12-06T15:00:00+01:00", "2026-12-08T10:00:00+01:00"),  # a Sunday
        ("2026-12-08T09:00:00+01:00", "2026-12-15T10:00:00+01:00"),  # a Tuesday: the next
        ("2026-03-24T12:00:00+01:00", "2026-03-31T10:00:00+02:00"),  # over the DST change
    ],
)
def test_the_story_starts_on_a_tuesday_morning_in_berlin(now: str, tuesday: str) -> None:
    at = next_tuesday_morning(datetime.fromisoformat(now))
    assert at == datetime.fromisoformat(tuesday).timestamp()


async def test_keep_running_leaves_everything_up_with_links_that_answer() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "prbot.cli", "demo", "--keep-running"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:  # the story first; the links once it is over
            lines.append(line)
            if line.startswith("  the repository"):
                break
        assert "Every step happened as told.\n" in lines, "".join(lines[-40:])
        links = dict(
            re.findall(r"^  the (\w+) +(http://127\.0\.0\.1:\d+/\S+)$", "".join(lines), re.M)
        )
        assert set(links) == {"catalog", "promotions", "repository"}
        async with httpx.AsyncClient(timeout=10) as browser:
            for name, url in links.items():
                page = await browser.get(url)
                # the pages want a signed-in person: they send the browser to sign in
                assert page.status_code in (200, 302, 303), (name, page.status_code)
                if page.status_code != 200:
                    assert "/signin" in page.headers["Location"]
            repository = await browser.get(links["repository"])
            assert "acme/gitops" in repository.text and "myapp" in repository.text
        await signed_in_catalog(links["catalog"])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def signed_in_catalog(catalog: str) -> None:
    """A person signs in with GitHub through the forge's page, as alice, and lands on the
    catalog with the demo's automations."""
    base = catalog.removesuffix("/catalog")
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as prbot,
        httpx.AsyncClient(timeout=10) as forge,
    ):
        away = await prbot.get("/auth/github/login?next=/catalog")
        assert away.status_code == 302, away.text
        authorize = away.headers["Location"]
        page = await forge.get(authorize)
        assert page.status_code == 200 and "alice" in page.text
        hidden = dict(
            re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)
        )
        form = {k: html.unescape(v) for k, v in hidden.items()} | {
            "login": "alice",
            "decision": "authorize",
        }
        back = await forge.post(authorize.split("?")[0], data=form)
        assert back.status_code == 302, back.text
        done = await prbot.get(back.headers["Location"])
        assert done.status_code == 302 and done.headers["Location"] == "/catalog"
        shown = await prbot.get("/catalog")
        assert shown.status_code == 200
        assert "cluster-create" in shown.text and "alice (github)" in shown.text
