"""Crash recovery with real processes: a worker (tests/worker/runner.py) runs the real
``automation.run`` handler against the forge, is SIGKILLed between the commit and the PR,
and a second worker finishes the job once the lease runs out: one commit, one PR. And
SIGTERM: the worker drains the job in flight and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from prbot.store.base import NewJob, Run, Store
from tests.support.waiting import wait_for

from .conftest import BRANCH, REPO, TOKEN, git

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("runner.py")
INPUTS = {"service": "podinfo", "tag": "6.7.1"}
# anything the developer's shell may hold that would change what the runner does
SCRUBBED = (
    "APP_ID",
    "PRIVATE_KEY",
    "PRIVATE_KEY_PATH",
    "GITLAB_TOKEN",
    "GITLAB_URL",
    "PRBOT_CONFIG",
    "PRBOT_DATA_DIR",
    "GITHUB_TOKEN",
    "GHE_HOST",
)


class Runner:
    def __init__(self, tmp: Path, forge, automations: Path, name: str, **env: str):
        self.log = tmp / f"{name}.log"
        base = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        self.env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "WEBHOOK_SECRET": "test-webhook-secret",
            "GITHUB_TOKEN": TOKEN,
            "GHE_HOST": f"127.0.0.1:{forge.port}",
            "GHE_PROTOCOL": "http",
            "PRBOT_DATABASE_URL": f"sqlite:{tmp / 'prbot.db'}",
            "PRBOT_AUTOMATIONS_DIR": str(automations),
            "PRBOT_WORKERS": "1",
            "PRBOT_LEASE_SECONDS": "2",
            **env,
        }
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Runner:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, str(RUNNER), env=self.env, stdout=out, stderr=out, cwd=ROOT
            )
        return self

    async def wait(self, timeout: float = 20) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"runner did not exit:\n{self.log.read_text()}") from None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def ensure_dead(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def new_run(store: Store) -> tuple[int, int]:
    run_id = await store.create_run(
        Run(0, "bump", REPO, "github", "alice", dict(INPUTS), "queued", created_at=0)
    )
    [job_id] = await store.enqueue(
        [
            NewJob(
                "automation.run", {"run_id": run_id, "inputs": INPUTS}, dedupe_key=f"run:{run_id}"
            )
        ],
        now=0,
    )
    return run_id, job_id


async def job_state(store: Store, job_id: int) -> str:
    job = await store.job(job_id)
    assert job is not None
    return job.state


async def test_sigkill_between_commit_and_pr_recovers_with_one_commit_one_pr(
    tmp_path, forge, automations_dir, store
) -> None:
    run_id, job_id = await new_run(store)
    mark = tmp_path / "committed"
    first = Runner(
        tmp_path,
        forge,
        automations_dir,
        "first",
        PRBOT_TEST_MARK_AFTER_COMMIT=str(mark),
        PRBOT_TEST_SLEEP_AFTER_COMMIT="120",
    )
    second = Runner(tmp_path, forge, automations_dir, "second")
    try:
        await first.start()
        await wait_for(mark.exists, timeout=20, what="the first worker's commit")
        assert forge.forge.pull_requests(REPO, state="all") == []
        first.signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        crashed = await store.job(job_id)
        assert crashed is not None and crashed.state == "running" and crashed.attempts == 1

        await second.start()
        await wait_for(
            lambda: _state_is(store, job_id, "done"),
            timeout=20,
            what=f"the job done by the second worker\n{second.log}",
        )
        second.signal(signal.SIGTERM)
        assert await second.wait() == 0
    finally:
        await first.ensure_dead()
        await second.ensure_dead()

    job = await store.job(job_id)
    assert job is not None and job.attempts == 2 and job.lease_owner is None
    prs = forge.forge.pull_requests(REPO, state="all")
    assert len(prs) == 1 and prs[0].head == BRANCH
    commits = git(forge, "rev-list", f"main..{BRANCH}").split()
    assert commits == [mark.read_text()], "the second worker made another commit"
    run = await store.run(run_id)
    assert run is not None
    assert (run.status, run.pr_number, run.head, run.error) == (
        "pr_open",
        prs[0].number,
        BRANCH,
        "",
    )
    actions = sorted(e.action for e in await store.audit_log(repo=REPO))
    assert actions == ["commit", "open_pr"]


async def test_sigterm_drains_the_job_in_flight_and_exits_0(
    tmp_path, forge, automations_dir, store
) -> None:
    run_id, job_id = await new_run(store)
    mark = tmp_path / "committed"
    runner = Runner(
        tmp_path,
        forge,
        automations_dir,
        "draining",
        PRBOT_TEST_MARK_AFTER_COMMIT=str(mark),
        PRBOT_TEST_SLEEP_AFTER_COMMIT="1.0",
        PRBOT_LEASE_SECONDS="30",
    )
    try:
        await runner.start()
        await wait_for(mark.exists, timeout=20, what="the worker's commit")
        runner.signal(signal.SIGTERM)
        assert await runner.wait() == 0, runner.log.read_text()
    finally:
        await runner.ensure_dead()
    job = await store.job(job_id)
    assert job is not None and (job.state, job.attempts) == ("done", 1)
    run = await store.run(run_id)
    assert run is not None and run.status == "pr_open"
    assert len(forge.forge.pull_requests(REPO)) == 1


async def _state_is(store: Store, job_id: int, state: str) -> bool:
    return await job_state(store, job_id) == state
