"""A window gate end to end, with time moved through PRBOT_CLOCK_FILE, never slept:
`prbot serve` as a process, the forge with real git and signed webhooks. A stage whose
window is closed waits at its gate with no PR, its next opening stored and its wake-up a
durable Tick job at that second; when the test moves the server's clock past the opening,
the worker pool runs that job and the PR opens. Both openings fall just after a DST change
in Europe/Berlin and are 09:00 local on the new side of it: spring forward (the wake-up is
at 07:00 UTC, not an hour late) and fall back (08:00 UTC, not an hour early). The pure
rule's own cases are in tests/pipeline/."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from prbot.engine.promotions import JOB
from prbot.pipeline.codec import from_data
from prbot.store.base import JobState, Store
from tests.support.forge import ForgeRepo
from tests.support.promotions import ClockedServe, PromotionsApi, repo_files
from tests.support.promotions import served_at as clocked_serve
from tests.support.serve import ROOT
from tests.support.waiting import wait_for

REPO = "acme/gitops"
TOKEN = "window-forge-token-5678"
SECRET = "window-webhook-secret-1234"
API_TOKEN = "window-internal-api-token"
SLOW = {"timeout": 15.0, "every": 0.1}
# how long "no PR yet" is watched: the pool polls every 0.5 s and the server looks at the
# clock file every 0.05 s, so a due wake-up would have run by then
QUIET_SECONDS = 1.5
OPENS_WITHIN_SECONDS = 5.0
BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> float:
    return datetime.fromisoformat(f"{text}+00:00").timestamp()


# Saturday 13:00 CET; summer time begins Sunday 2026-03-29 at 01:00 UTC
SPRING_NOW = utc("2026-03-28T12:00:00")
SPRING_OPENING = utc("2026-03-30T07:00:00")  # Monday 09:00 CEST
# Friday 14:00 CEST; summer time ends Sunday 2026-10-25 at 01:00 UTC
AUTUMN_NOW = utc("2026-10-23T12:00:00")
AUTUMN_OPENING = utc("2026-10-26T08:00:00")  # Monday 09:00 CET

FIRST_GATED = """\
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: windowed}
spec:
  stages:
    - name: dev
      automation: bump
      context: {env: dev}
      gates:
        - window: {days: [mon, tue], hours: "09:00-16:00", timezone: Europe/Berlin}
      health: {checks: [ci/deploy]}
"""

SECOND_GATED = """\
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: weekly}
spec:
  stages:
    - name: dev
      automation: bump
      context: {env: dev}
      health: {checks: [ci/deploy]}
    - name: prod
      automation: bump
      context: {env: prod}
      gates:
        - window: {days: [mon], hours: "09:00-16:00", timezone: Europe/Berlin}
      health: {checks: [ci/deploy]}
"""


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files(windowed=FIRST_GATED, weekly=SECOND_GATED)


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "token": TOKEN}


@asynccontextmanager
async def served_at(
    forge_repo: ForgeRepo, tmp_path: Path, platform: str, at: float, database_url: str
) -> AsyncIterator[ClockedServe]:
    """``prbot serve`` whose clock reads ``at`` as it starts."""
    async with clocked_serve(
        forge_repo, tmp_path, at, platform=platform, database_url=database_url,
        webhook_secret=SECRET, api_token=API_TOKEN,
    ) as s:  # fmt: skip
        yield s
    assert s.process.exit_code == 0, s.process.output()[-3000:]
    assert "PRBOT_CLOCK_FILE is set" in s.process.output()  # never quietly in production


def test_the_openings_are_nine_local_on_the_new_side_of_the_change() -> None:
    def local(at: float) -> str:
        return datetime.fromtimestamp(at, BERLIN).strftime("%a %H:%M %Z")

    assert (local(SPRING_NOW), local(SPRING_OPENING)) == ("Sat 13:00 CET", "Mon 09:00 CEST")
    assert (local(AUTUMN_NOW), local(AUTUMN_OPENING)) == ("Fri 14:00 CEST", "Mon 09:00 CET")


def test_serve_refuses_to_start_on_a_malformed_clock_file(tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    clock.write_text("next monday")
    env = {"PATH": os.environ["PATH"], "WEBHOOK_SECRET": SECRET, "PRBOT_CLOCK_FILE": str(clock)}
    env["PRBOT_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "prbot.cli", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"prbot: PRBOT_CLOCK_FILE: {clock} must hold a number")


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_a_closed_window_opens_the_pr_when_the_clock_reaches_it(
    tmp_path: Path, forge_repo: ForgeRepo, platform: str, database_url: str
) -> None:
    forge = forge_repo.forge
    async with served_at(forge_repo, tmp_path, platform, SPRING_NOW, database_url) as s:
        pid = (await s.api.start("7.0.0", pipeline="windowed"))["id"]
        waiting = await wait_for(lambda: status_is(s.api, pid, "waiting"), **SLOW, what="gate")
        assert waiting["stages"][0]["status"] == "gates" and waiting["stages"][0]["pr"] is None
        assert await opens_at(s.store, pid, 0) == SPRING_OPENING
        [gate] = waiting["stages"][0]["gates"]  # the API shows the gate and its opening
        assert (gate["type"], gate["opens_at"]) == ("window", SPRING_OPENING)
        assert await wake_ups(s.store, pid) == [SPRING_OPENING]

        head = f"prbot/promote/windowed/{pid}/dev"
        await no_pr_for_a_while(forge_repo, head)
        s.clock.set(SPRING_OPENING - 30)
        await no_pr_for_a_while(forge_repo, head)

        s.clock.set(SPRING_OPENING + 1)
        moved = time.monotonic()
        pr = await wait_for(lambda: stage_pr(s.api, pid, 0), **SLOW, what="the PR at the opening")
        assert time.monotonic() - moved < OPENS_WITHIN_SECONDS
        [opened] = forge.pull_requests(REPO, state="open", head=head)
        assert opened.number == pr["number"]
        # the stored wake-up did it (the test only moved the clock), at 09:00 summer time;
        # its job is marked done once its handler returns, a moment after the PR exists
        done = await wait_for(
            lambda: wake_ups(s.store, pid, state="done"), **SLOW, what="the wake-up done"
        )
        assert done == [SPRING_OPENING]
        assert await gates_passed_at(s.store) == "Mon 09:00 CEST"


async def test_a_later_stage_waits_for_its_window_after_the_autumn_change(
    tmp_path: Path, forge_repo: ForgeRepo, database_url: str
) -> None:
    forge = forge_repo.forge
    async with served_at(forge_repo, tmp_path, "github", AUTUMN_NOW, database_url) as s:
        pid = (await s.api.start("8.0.0", pipeline="weekly"))["id"]
        dev = await wait_for(lambda: stage_pr(s.api, pid, 0), **SLOW, what="the dev PR")
        merged = await forge.merge_pull_request(REPO, dev["number"], actor="alice")
        await wait_for(lambda: stage_is(s.api, pid, 0, "merged", "verifying"), **SLOW)
        await forge.post_status(
            REPO, merged.merge_commit_sha, "success", creator="ci", context="ci/deploy"
        )
        waiting = await wait_for(lambda: status_is(s.api, pid, "waiting"), **SLOW, what="gate")
        assert [st["status"] for st in waiting["stages"]] == ["succeeded", "gates"]
        assert waiting["stages"][1]["pr"] is None
        assert await opens_at(s.store, pid, 1) == AUTUMN_OPENING
        assert waiting["stages"][1]["gates"][0]["opens_at"] == AUTUMN_OPENING
        assert await wake_ups(s.store, pid) == [AUTUMN_OPENING]
        # the promotion's status comment (on the dev PR) shows the gate and its opening
        comment = await wait_for(
            lambda: comment_saying(forge_repo, dev["number"], "opens Mon 2026-10-26 09:00 CET"),
            **SLOW,
            what="the status comment with the opening",
        )
        assert "window mon 09:00-16:00 Europe/Berlin" in comment

        # 09:00 by the summer offset is an hour early: still closed
        head = f"prbot/promote/weekly/{pid}/prod"
        s.clock.set(AUTUMN_OPENING - 3600 + 1)
        await no_pr_for_a_while(forge_repo, head)
        s.clock.set(AUTUMN_OPENING - 3)  # runs on in real time: watched for less than 3 s
        await no_pr_for_a_while(forge_repo, head, seconds=1.0)

        s.clock.set(AUTUMN_OPENING + 1)
        moved = time.monotonic()
        prod = await wait_for(lambda: stage_pr(s.api, pid, 1), **SLOW, what="the prod PR")
        assert time.monotonic() - moved < OPENS_WITHIN_SECONDS
        assert prod["number"] != dev["number"]
        assert [p.number for p in forge.pull_requests(REPO, head=head)] == [prod["number"]]
        assert await gates_passed_at(s.store) == "Mon 09:00 CET"


# -- reading the server's work -----------------------------------------------------------


async def status_is(api: PromotionsApi, pid: int, status: str) -> dict[str, Any] | None:
    promotion = await api.get(pid)
    return promotion if promotion["status"] == status else None


async def stage_is(api: PromotionsApi, pid: int, index: int, *statuses: str) -> bool:
    return (await api.get(pid))["stages"][index]["status"] in statuses


async def stage_pr(api: PromotionsApi, pid: int, index: int) -> dict[str, Any] | None:
    return (await api.get(pid))["stages"][index]["pr"]


async def opens_at(store: Store, pid: int, index: int) -> float | None:
    """The stage's next window opening as the server stored it (the API does not show it)."""
    row = await store.promotion(pid)
    assert row is not None
    return from_data(row.data).stages[index].window_opens_at


async def wake_ups(store: Store, pid: int, state: JobState = "queued") -> list[float]:
    """The run_at of the promotion's Tick jobs in ``state``."""
    return [
        job.next_run_at
        for job in await store.jobs(state=state, limit=500)
        if job.kind == JOB
        and job.payload["promotion_id"] == pid
        and job.payload["happening"]["type"] == "Tick"
    ]


async def gates_passed_at(store: Store) -> str:
    """When the gate was decided passed, in Berlin's local time."""
    [entry] = [e for e in await store.audit_log(repo=REPO) if e.action == "gates passed"]
    return datetime.fromtimestamp(entry.at, BERLIN).strftime("%a %H:%M %Z")


async def no_pr_for_a_while(
    forge_repo: ForgeRepo, head: str, seconds: float = QUIET_SECONDS
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert forge_repo.forge.pull_requests(REPO, state="all", head=head) == [], head
        await asyncio.sleep(0.1)


def comment_saying(forge_repo: ForgeRepo, number: int, text: str) -> str | None:
    return next((c.body for c in forge_repo.forge.comments(REPO, number) if text in c.body), None)
