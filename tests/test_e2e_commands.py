"""Slash-commands end to end, on both platforms: `prbot serve` as a process running the
shipped automations/ against examples/gitops on the forge, people commenting on PRs and
MRs, the forge's signed webhooks. ``/prbot help`` answers; ``/prbot run image-bump ...``
opens the PR and the reply links it, its body naming who asked in which comment; ``/prbot
promote myapp ...`` starts the shipped pipeline for the commenter; ``/approve`` by someone
the prod gate does not list is refused, by a member of its team opens the prod PR;
``/rollback`` on the merged staging PR opens its revert PR. Each comment gets 👀, then 🚀
or 😕. A redelivered or replayed comment webhook does nothing twice; a bot's comment is
ignored. The clock (PRBOT_CLOCK_FILE) starts on a Monday inside prod's window and jumps
over the soaks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from prbot.forge.git import Change
from prbot.forge.webhooks import github_signature
from prbot.pipeline.codec import from_data
from prbot.store.base import Store
from tests.support.clock import ClockFile
from tests.support.examples import AUTOMATIONS, example_files
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import served_at
from tests.support.serve import ServeProcess
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "commands-forge-token-5678"
SECRET = "commands-webhook-secret-1234"
API_TOKEN = "commands-internal-api-token"
SLOW = {"timeout": 15.0, "every": 0.05}
# Monday 10:00 in Berlin: prod's window (mon-thu 09:00-16:00) is open all along
START = datetime.fromisoformat("2026-06-15T10:00:00").replace(tzinfo=ZoneInfo("Europe/Berlin"))
DEVELOPER, OUTSIDER, APPROVER, MAINTAINER = "alice", "mallory", "erin", "mike"
TEAM = "acme/platform"  # what the shipped prod gate lists (a GitHub team, a GitLab group)
# what automations/myapp-pipeline.yaml asks of dev and staging, and their soaks
HEALTH = {"dev": (("flux/myapp-dev",), 300), "staging": (("flux/myapp-staging", "e2e/smoke"), 1800)}
BOTS = {"github": "ci-helper[bot]", "gitlab": "project_1_bot_5e1f0a"}


@pytest.fixture
def forge_files() -> Files:
    return example_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    people = {DEVELOPER: "write", OUTSIDER: "write", APPROVER: "read", MAINTAINER: "maintain"}
    return {"repo": REPO, "token": TOKEN, "permissions": people}


@dataclass
class Served:
    forge_repo: ForgeRepo
    process: ServeProcess
    http: httpx.AsyncClient
    clock: ClockFile
    store: Store  # the server's own database, read beside it
    platform: str

    async def comment(self, number: int, body: str, author: str) -> int:
        comment = await self.forge_repo.forge.add_comment(REPO, number, body, author=author)
        return comment.id

    def reactions(self, comment_id: int) -> list[str]:
        return [r.content for r in self.forge_repo.forge.comment(REPO, comment_id).reactions]

    def replies(self, number: int, comment_id: int) -> list[str]:
        mark = f"prbot:command:{comment_id}"
        return [c.body for c in self.forge_repo.forge.comments(REPO, number) if mark in c.body]

    async def answered(self, number: int, comment_id: int, *words: str) -> str:
        """The reply, once it holds ``words`` and the final reaction is there."""

        def done() -> str | None:
            replies = self.replies(number, comment_id)
            final = {"rocket", "confused"} & set(self.reactions(comment_id))
            if len(replies) == 1 and final and all(w in replies[0] for w in words):
                return replies[0]
            return None

        return await wait_for(done, **SLOW, what=f"the reply to comment {comment_id}")

    async def promotion(self, pid: int) -> Any:
        row = await self.store.promotion(pid)
        assert row is not None
        return from_data(row.data)


@asynccontextmanager
async def served(
    forge_repo: ForgeRepo, tmp_path: Path, platform: str, database_url: str
) -> AsyncIterator[Served]:
    async with served_at(
        forge_repo, tmp_path, START.timestamp(), platform=platform, database_url=database_url,
        webhook_secret=SECRET, api_token=API_TOKEN, PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS),
    ) as s:  # fmt: skip
        yield Served(forge_repo, s.process, s.http, s.clock, s.store, platform)
    assert s.process.exit_code == 0, s.process.output()[-3000:]
    assert TOKEN not in s.process.output() and SECRET not in s.process.output()


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_slash_commands(
    tmp_path: Path, forge_repo: ForgeRepo, platform: str, database_url: str
) -> None:
    forge = forge_repo.forge
    forge.create_user(BOTS[platform], type="Bot")
    forge.create_team(TEAM)
    forge.set_team_member(TEAM, APPROVER)
    await forge.commit_changes(
        REPO, "docs", "Docs", {"README.md": Change(content=b"# gitops\n")},
        actor=DEVELOPER, start_branch="main",
    )  # fmt: skip
    pr = (await forge.open_pull_request(REPO, head="docs", title="Docs", author=DEVELOPER)).number
    async with served(forge_repo, tmp_path, platform, database_url) as s:
        # a bot's command is never carried out (looked at once the others are answered)
        by_bot = await s.comment(pr, "/prbot help", BOTS[platform])

        asked = await s.comment(pr, "/prbot help", DEVELOPER)
        reply = await s.answered(pr, asked, "| `/prbot promote <pipeline> [key=value]...` |")
        assert reply.startswith(f"**prbot** · commands of @{DEVELOPER}")
        assert s.reactions(asked) == ["eyes", "rocket"]

        await run_opens_the_pr(s, pr)
        pid = await promote_myapp(s, pr)
        staging = await through_dev_and_staging(s, pid)
        await approvals(s, pid, staging)
        await rollback(s, pid, staging)

        assert s.reactions(by_bot) == [] and s.replies(pr, by_bot) == []
        assert await s.store.job_by_key(f"command:{platform}:{REPO}:{by_bot}") is None


async def run_opens_the_pr(s: Served, pr: int) -> None:
    forge = s.forge_repo.forge
    asked = await s.comment(pr, "/prbot run image-bump service=myapp env=dev tag=1.2.3", DEVELOPER)
    reply = await s.answered(pr, asked, "opened [#")
    [opened] = forge.pull_requests(REPO, state="open", head="prbot/image-bump/myapp-dev")
    [run] = await s.store.runs()
    assert (run.requested_by, run.pr_number) == (DEVELOPER, opened.number)
    assert f"run {run.id} of `image-bump` opened [#{opened.number}]({run.pr_url})" in reply
    fragment = f"#issuecomment-{asked}" if s.platform == "github" else f"#note_{asked}"
    assert run.requested_in.endswith(fragment)
    assert opened.body.endswith(
        f"Requested by @{DEVELOPER} in [a comment]({run.requested_in}) (run {run.id})."
    )
    assert s.reactions(asked) == ["eyes", "rocket"]
    await delivered_again(s, asked)
    assert len(await s.store.runs()) == 1
    assert len(forge.pull_requests(REPO, state="all", head="prbot/image-bump/myapp-dev")) == 1
    assert len(s.replies(pr, asked)) == 1 and s.reactions(asked) == ["eyes", "rocket"]


async def delivered_again(s: Served, comment_id: int) -> None:
    """The comment's webhook redelivered by the forge (same delivery id), then replayed
    with a new one, as a copy of it would be: both are taken and change nothing."""
    hooks = s.forge_repo.forge.webhooks
    [delivery] = [
        d
        for d in hooks.deliveries()
        if d.event in ("issue_comment", "Note Hook")
        and d.payload()["object_attributes" if s.platform == "gitlab" else "comment"]["id"]
        == comment_id
    ]
    again = await hooks.redeliver(delivery.id)
    assert again.status_code == 200  # the same delivery: a duplicate
    if s.platform == "github":
        headers = {"X-GitHub-Event": delivery.event, "X-GitHub-Delivery": str(uuid.uuid4())}
        headers["X-Hub-Signature-256"] = github_signature(SECRET, delivery.body)
    else:
        headers = {"X-Gitlab-Event": delivery.event, "Idempotency-Key": str(uuid.uuid4())}
        headers["X-Gitlab-Token"] = SECRET
    headers["Content-Type"] = "application/json"
    replayed = await s.http.post(f"/webhooks/{s.platform}", content=delivery.body, headers=headers)
    assert replayed.status_code == 202, replayed.text  # a new delivery: its events are taken
    key = f"command:{s.platform}:{REPO}:{comment_id}"

    async def handled() -> bool:  # the replay's event job ran: it found the comment's job
        jobs = await s.store.jobs(limit=500)
        return all(j.state == "done" for j in jobs if j.kind == "event")

    await wait_for(handled, **SLOW, what="the replayed event")
    found = await s.store.job_by_key(key)
    assert found is not None and found.state == "done"
    assert [j.dedupe_key for j in await s.store.jobs(limit=500)].count(key) == 1


async def promote_myapp(s: Served, pr: int) -> int:
    asked = await s.comment(pr, "/prbot promote myapp tag=1.2.3", DEVELOPER)
    reply = await s.answered(pr, asked, "started promotion")
    [row] = await s.store.promotions(pipeline="myapp")
    assert (row.requested_by, row.request_key) == (
        DEVELOPER,
        f"command:{s.platform}:{REPO}:{asked}:0",
    )
    assert f"started promotion {row.id} of `myapp`" in reply
    assert f"`GET /api/promotions/{row.id}`" in reply
    promotion = (await s.http.get(f"/api/promotions/{row.id}", headers=auth())).json()
    assert promotion["promotion"]["requested_by"] == DEVELOPER
    await s.answered(pr, asked, "PRs: dev [#")  # the reply follows it to its first PR
    return row.id


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


async def through_dev_and_staging(s: Served, pid: int) -> int:
    """Merge and report each of dev and staging healthy, past its soak; the staging PR."""
    forge = s.forge_repo.forge
    number = 0
    for index, stage in enumerate(("dev", "staging")):

        async def opened(index: int = index) -> int | None:
            pr = (await s.promotion(pid)).stages[index].pr
            return pr.number if pr else None

        number = await wait_for(opened, **SLOW, what=f"the {stage} PR")
        merged = await forge.merge_pull_request(REPO, number, actor=DEVELOPER)
        sha = merged.merge_commit_sha
        checks, soak = HEALTH[stage]
        for check in checks:
            await forge.post_status(REPO, sha, "success", creator="flux", context=check)
        deployment = await forge.create_deployment(
            REPO, sha, creator="flux", environment=stage, production_environment=False
        )
        await forge.post_deployment_status(REPO, deployment.id, "success", creator="flux")

        async def soaking(index: int = index) -> bool:
            return (await s.promotion(pid)).stages[index].status == "soaking"

        await wait_for(soaking, **SLOW, what=f"{stage} soaking")
        s.clock.set(s.clock.now() + soak + 1)
    return number


async def approvals(s: Served, pid: int, staging: int) -> None:
    """On the (merged) staging PR: an approval by someone prod's gate does not list is
    refused; one by a read-only member of its team opens the prod PR."""

    async def waiting() -> bool:
        return (await s.promotion(pid)).status == "waiting"

    await wait_for(waiting, **SLOW, what="prod's gate")
    refused = await s.comment(staging, "/approve", OUTSIDER)
    reply = await s.answered(staging, refused, "not permitted")
    role = "maintain" if s.platform == "github" else "Maintainer (maintain)"
    assert f"it needs to be listed by the gate (or {role})" in reply
    assert s.reactions(refused) == ["eyes", "confused"]

    approved = await s.comment(staging, "/approve", APPROVER)
    reply = await s.answered(staging, approved, f"promotion {pid} of `myapp` is approved")
    assert s.reactions(approved) == ["eyes", "rocket"]

    async def prod_pr() -> int | None:
        pr = (await s.promotion(pid)).stages[2].pr
        return pr.number if pr else None

    prod = await wait_for(prod_pr, **SLOW, what="the prod PR")
    [opened] = s.forge_repo.forge.pull_requests(
        REPO, state="open", head=f"prbot/promote/myapp/{pid}/prod"
    )
    assert opened.number == prod


async def rollback(s: Served, pid: int, staging: int) -> None:
    """``/rollback`` on the merged staging PR reverts it (prod's PR is closed)."""
    asked = await s.comment(staging, "/rollback", MAINTAINER)
    reply = await s.answered(staging, asked, "will be rolled back")
    assert f"promotion {pid} of `myapp` will be rolled back" in reply
    head = f"prbot/revert/myapp/{pid}/staging"

    def revert() -> Any:
        return s.forge_repo.forge.pull_requests(REPO, state="open", head=head)

    [pr] = await wait_for(revert, **SLOW, what="the revert PR")
    assert pr.title == f"Revert myapp staging (promotion {pid})"
    promotion = await s.promotion(pid)
    assert promotion.status == "failed" and promotion.stages[2].status == "cancelled"
