"""The shipped ``myapp`` pipeline (automations/myapp-pipeline.yaml, on the shipped
``image-bump`` automation) run end to end against the example repository
(examples/gitops): `prbot serve` as a process whose automations folder is the real
automations/, the forge seeded with every file of examples/gitops, its signed webhooks,
and time moved through PRBOT_CLOCK_FILE, never slept. The test plays the people and the
CD tool: it merges each stage PR, reports the stage's checks and its deployment on the
merge commit, and moves the clock past each soak. Prod waits at its gates: an approval by
someone outside team ``platform`` is refused, one by a member of it (a GitHub team, a
GitLab group made on the forge) is accepted, and the PR still waits for the window to
open on Monday morning."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.examples import AUTOMATIONS, EXAMPLE, example_files
from tests.support.forge import Files, ForgeRepo
from tests.support.promotions import ClockedServe, PromotionsApi, served_at
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "myapp-forge-token-5678"
SECRET = "myapp-webhook-secret-1234"
API_TOKEN = "myapp-internal-api-token"
SLOW = {"timeout": 15.0, "every": 0.05}
# how long "no PR yet" is watched: the pool polls every 0.5 s and the server looks at the
# clock file every 0.05 s, so a wake-up that was due would have run by then
QUIET_SECONDS = 1.0
BERLIN = ZoneInfo("Europe/Berlin")

OLD_TAG, NEW_TAG = "6.5.0", "6.7.1"
TAG_LINE = '        tag: "{}" # promoted by prbot: dev -> staging -> prod'
DEVELOPER, MERGER, OUTSIDER, APPROVER = "alice", "bob", "mallory", "erin"
TEAM = "acme/platform"  # team `platform` of the repository's owner; on GitLab, its group


@dataclass(frozen=True)
class Stage:
    name: str
    checks: tuple[str, ...]
    soak: int  # seconds

    @property
    def overlay(self) -> str:
        return f"bootstrap/services/myapp-{self.name}.yaml"


# what automations/myapp-pipeline.yaml says
STAGES = (
    Stage("dev", ("flux/myapp-dev",), 5 * 60),
    Stage("staging", ("flux/myapp-staging", "e2e/smoke"), 30 * 60),
    Stage("prod", ("flux/myapp-prod",), 60 * 60),
)


def berlin(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


# Thursday 15:30: dev and staging soak (5 min + 30 min) past 16:00, when prod's window
# (mon-thu 09:00-16:00 Europe/Berlin) closes; it opens next on Monday at 09:00
START = berlin("2026-06-11T15:30:00")
MONDAY_OPENING = berlin("2026-06-15T09:00:00")


@pytest.fixture
def forge_files() -> Files:
    return example_files()


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN, "permissions": {DEVELOPER: "write", MERGER: "write"}}


@asynccontextmanager
async def served(
    forge_repo: ForgeRepo, tmp_path: Path, platform: str, database_url: str
) -> AsyncIterator[ClockedServe]:
    """``prbot serve`` running the shipped automations, its clock reading ``START``."""
    async with served_at(
        forge_repo, tmp_path, START, platform=platform, database_url=database_url,
        webhook_secret=SECRET, api_token=API_TOKEN, PRBOT_AUTOMATIONS_DIR=str(AUTOMATIONS),
    ) as s:  # fmt: skip
        yield s
    assert s.process.exit_code == 0, s.process.output()[-3000:]
    assert TOKEN not in s.process.output() and SECRET not in s.process.output()


def test_the_pipeline_is_what_the_test_plays() -> None:
    shipped = (AUTOMATIONS / "myapp-pipeline.yaml").read_text()
    for stage in STAGES:
        assert f"checks: [{', '.join(stage.checks)}]" in shipped
        assert f"deployment: {stage.name}" in shipped
        assert TAG_LINE.format(OLD_TAG) in (EXAMPLE / stage.overlay).read_text()
    local = [
        datetime.fromtimestamp(t, BERLIN).strftime("%a %H:%M %Z") for t in (START, MONDAY_OPENING)
    ]
    assert local == ["Thu 15:30 CEST", "Mon 09:00 CEST"]


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_the_shipped_myapp_pipeline_promotes_through_dev_staging_and_prod(
    tmp_path: Path, forge_repo: ForgeRepo, platform: str, database_url: str
) -> None:
    forge = forge_repo.forge
    # the repository is the example's, file for file
    assert set(forge_repo.ls_tree("main")) == set(example_files())
    async with served(forge_repo, tmp_path, platform, database_url) as s:
        api = s.api
        started = await api.start(NEW_TAG, pipeline="myapp")
        pid = started["id"]
        assert started["requested_by"] == DEVELOPER
        assert [st["name"] for st in started["stages"]] == [st.name for st in STAGES]
        heads = [f"prbot/promote/myapp/{pid}/{st.name}" for st in STAGES]

        for index, stage in enumerate(STAGES):
            if stage.name == "prod":
                await pass_prods_gates(forge_repo, s, pid, heads[index])
            pr = await wait_for(
                lambda i=index: stage_pr(api, pid, i), **SLOW, what=f"the {stage.name} PR"
            )
            [opened] = forge_repo.open_prs(heads[index])
            assert opened.number == pr["number"]
            sha = await merge_and_check_the_diff(forge_repo, pr["number"], stage)
            await wait_for(lambda i=index: stage_is(api, pid, i, "merged"), **SLOW, what="merged")
            await report_healthy(forge_repo, s, pid, index, stage, sha)
            await wait_for(lambda i=index: stage_is(api, pid, i, "soaking"), **SLOW, what="soaking")
            # soaking: no next PR until the soak is over, and not a moment early
            nxt = heads[index + 1] if index + 1 < len(heads) else None
            s.clock.set(s.clock.now() + stage.soak - 10)
            await still_soaking(forge_repo, api, pid, index, nxt)
            s.clock.set(s.clock.now() + 10 + 1)
            await wait_for(
                lambda i=index: stage_is(api, pid, i, "succeeded"), **SLOW, what="soaked"
            )

        done = await wait_for(lambda: status_is(api, pid, "succeeded"), **SLOW, what="success")
        assert [st["status"] for st in done["stages"]] == ["succeeded"] * 3

        # one PR per stage, merged; each environment's overlay on main has the new tag
        for head, stage, shown in zip(heads, STAGES, done["stages"], strict=True):
            [pr] = forge.pull_requests(REPO, state="all", head=head)
            assert (pr.state, pr.number) == ("merged", shown["pr"]["number"])
            assert TAG_LINE.format(NEW_TAG) in forge_repo.show("main", stage.overlay)
        promoted = [p for p in forge.pull_requests(REPO, state="all") if "myapp" in p.head]
        assert len(promoted) == 3, [p.head for p in promoted]

        # the approval is shown with the gates, and audited
        approval, window = done["stages"][2]["gates"]
        assert approval["type"] == "approval" and approval["teams"] == ["platform"]
        assert (approval["approved_by"], approval["counted"]) == ([APPROVER], 1)
        assert window["type"] == "window" and window["opens_at"] is None
        entries = [e for e in await s.store.audit_log(repo=REPO) if e.action == "approved"]
        assert [(e.actor, e.detail["stage"]) for e in entries] == [(APPROVER, "prod")]
        assert "platform" in entries[0].detail["detail"]
        audit = await s.store.audit_log(repo=REPO)
        assert [e.action for e in audit].count("pr opened") == 3
        [passed] = [e for e in audit if e.action == "gates passed"]
        local = datetime.fromtimestamp(passed.at, BERLIN).strftime("%a %H:%M %Z")
        assert local == "Mon 09:00 CEST"  # the approval and then the window, at its opening


async def pass_prods_gates(forge_repo: ForgeRepo, s: ClockedServe, pid: int, head: str) -> None:
    """Prod waits at its gates with no PR: an outsider's approval is refused, a member of
    team platform's accepted; the PR waits for the window to open on Monday still."""
    api, forge = s.api, forge_repo.forge
    waiting = await wait_for(lambda: status_is(api, pid, "waiting"), **SLOW, what="prod's gates")
    prod = waiting["stages"][2]
    assert (prod["status"], prod["pr"]) == ("gates", None)
    approval, window = prod["gates"]
    assert (approval["approved_by"], approval["counted"]) == ([], 0)
    assert (window["days"], window["hours"]) == (["mon", "tue", "wed", "thu"], "09:00-16:00")
    assert window["opens_at"] == MONDAY_OPENING  # Thursday after 16:00: closed till Monday
    assert datetime.fromtimestamp(s.clock.now(), BERLIN).strftime("%a %H") == "Thu 16"

    forge.create_user(OUTSIDER)
    refused = await api.command(pid, "approve", by=OUTSIDER)
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == f"{OUTSIDER} is not an approver of stage prod"

    forge.create_team(TEAM)
    forge.set_team_member(TEAM, APPROVER)
    accepted = await api.command(pid, "approve", by=APPROVER)
    assert accepted.status_code == 202, accepted.text

    async def approved() -> dict[str, Any] | None:
        gate = (await api.get(pid))["stages"][2]["gates"][0]
        return gate if gate["approved_by"] == [APPROVER] else None

    assert (await wait_for(approved, **SLOW, what="the approval"))["counted"] == 1
    # approved, but the window is closed: no PR until Monday 09:00
    await no_pr_for_a_while(forge_repo, head)
    assert (await api.get(pid))["stages"][2]["status"] == "gates"
    s.clock.set(MONDAY_OPENING + 1)


async def merge_and_check_the_diff(forge_repo: ForgeRepo, number: int, stage: Stage) -> str:
    """Merge the stage PR as a person; its change is the tag of the stage's overlay, one
    line, nothing else. The merge commit's sha."""
    before = forge_repo.show("main", stage.overlay)
    merged = await forge_repo.forge.merge_pull_request(REPO, number, actor=MERGER)
    sha = merged.merge_commit_sha
    assert sha and forge_repo.rev("main") == sha
    changed = forge_repo.git("diff", "--name-only", f"{sha}^1", sha).split()
    assert changed == [stage.overlay]
    after = forge_repo.show("main", stage.overlay)
    lines = list(zip(before.splitlines(), after.splitlines(), strict=True))
    assert [pair for pair in lines if pair[0] != pair[1]] == [
        (TAG_LINE.format(OLD_TAG), TAG_LINE.format(NEW_TAG))
    ]
    assert before.endswith("\n") and after.endswith("\n")
    return sha


async def report_healthy(
    forge_repo: ForgeRepo, s: ClockedServe, pid: int, index: int, stage: Stage, sha: str
) -> None:
    """The CD tool's reports on the merge commit: each check succeeds (the stage still
    verifies: the deployment is required too), then the deployment to the environment."""
    forge = forge_repo.forge
    for check in stage.checks:
        await forge.post_status(REPO, sha, "success", creator="flux", context=check)

    async def checks_read() -> bool:
        shown = (await s.api.get(pid))["stages"][index]
        states = {h["name"]: h["state"] for h in shown["health"] if h["kind"] != "deployment"}
        return all(states.get(check) == "success" for check in stage.checks)

    await wait_for(checks_read, **SLOW, what=f"{stage.name}'s checks read")
    assert await stage_is(s.api, pid, index, "verifying")
    deployment = await forge.create_deployment(
        REPO, sha, creator="flux", environment=stage.name, production_environment=False
    )
    await forge.post_deployment_status(REPO, deployment.id, "success", creator="flux")


async def still_soaking(
    forge_repo: ForgeRepo, api: PromotionsApi, pid: int, index: int, head: str | None
) -> None:
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        if head is not None:
            assert forge_repo.forge.pull_requests(REPO, state="all", head=head) == [], head
        await asyncio.sleep(0.1)
    promotion = await api.get(pid)
    assert promotion["stages"][index]["status"] == "soaking"
    assert all(st["pr"] is None for st in promotion["stages"][index + 1 :])


# -- reading the server's work -----------------------------------------------------------


async def status_is(api: PromotionsApi, pid: int, status: str) -> dict[str, Any] | None:
    promotion = await api.get(pid)
    return promotion if promotion["status"] == status else None


async def stage_is(api: PromotionsApi, pid: int, index: int, *statuses: str) -> bool:
    return (await api.get(pid))["stages"][index]["status"] in statuses


async def stage_pr(api: PromotionsApi, pid: int, index: int) -> dict[str, Any] | None:
    return (await api.get(pid))["stages"][index]["pr"]


async def no_pr_for_a_while(forge_repo: ForgeRepo, head: str) -> None:
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        assert forge_repo.forge.pull_requests(REPO, state="all", head=head) == [], head
        await asyncio.sleep(0.1)
