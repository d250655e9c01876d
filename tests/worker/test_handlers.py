"""The job handlers in-process against the forge: automation.run (success, idempotent
re-run, permanent failures marking the run failed, redaction of password inputs) and
event jobs moving runs when their PR is merged or closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from prbot.engine.definitions import DefinitionsCache
from prbot.engine.providers import close_providers, scm_for
from prbot.events import PullRequestEvent
from prbot.store.base import Job, NewJob, Run, Store
from prbot.worker.handlers import build_handlers
from prbot.worker.pool import WorkerPool
from tests.support.waiting import wait_for

from .conftest import BRANCH, REPO, git, settings_for

INPUTS = {"service": "podinfo", "tag": "6.7.1"}

SECRET_AUTOMATION = """\
apiVersion: prbot.dev/v1alpha1
kind: PrAutomation
metadata: {name: with-secret}
spec:
  title: "Rotate"
  message: "m"
  configuration:
    - {name: password, type: password}
  updates:
    regexReplacements:
      - {file: missing.txt, regex: x, replacement: "{{ context.password }}"}
"""


class Harness:
    def __init__(self, store: Store, settings, *, scm_override=None):
        self.store = store
        self.settings = settings
        provider = scm_override or (lambda platform: scm_for(settings, platform))
        self.definitions = DefinitionsCache(settings.automations_dir, provider)
        handlers = build_handlers(settings, store, self.definitions, scm_for=provider)
        self.pool = WorkerPool(
            store,
            handlers,
            poll_interval=0.01,
            max_attempts=settings.max_attempts,
            secrets=settings.secret_values(),
        )

    async def run(self, automation: str = "bump", inputs=None, *, key: str | None = None) -> int:
        run_id = await self.store.create_run(
            Run(0, automation, REPO, "github", "alice", {}, "queued", created_at=0)
        )
        await self.job("automation.run", {"run_id": run_id, "inputs": inputs or INPUTS}, key)
        return run_id

    async def job(self, kind: str, payload: dict, key: str | None = None) -> Job:
        [job_id] = await self.store.enqueue([NewJob(kind, payload, dedupe_key=key)], now=0)
        await wait_for(lambda: self._finished(job_id), what=f"job {job_id} finished")
        job = await self.store.job(job_id)
        assert job is not None
        return job

    async def _finished(self, job_id: int) -> bool:
        job = await self.store.job(job_id)
        return job is not None and job.state in ("done", "dead")


@pytest.fixture
async def harness(store, forge, automations_dir) -> AsyncIterator[Harness]:
    h = Harness(store, settings_for(forge, automations_dir))
    await h.pool.start()
    yield h
    await h.pool.drain(1)
    await close_providers()


async def test_automation_run_opens_a_pr_and_a_rerun_changes_nothing(harness, store, forge) -> None:
    run_id = await harness.run()
    run = await store.run(run_id)
    assert run is not None and run.status == "pr_open", run
    [pr] = forge.forge.pull_requests(REPO)
    assert (run.pr_number, run.pr_url, run.head) == (pr.number, run.pr_url, BRANCH)
    assert run.pr_url.endswith(f"/pull/{pr.number}")
    assert "6.7.1" in git(forge, "show", f"{BRANCH}:apps/podinfo.yaml")

    again = await harness.job("automation.run", {"run_id": run_id, "inputs": INPUTS}, "again")
    assert again.state == "done"
    assert len(forge.forge.pull_requests(REPO, state="all")) == 1
    assert len(git(forge, "rev-list", f"main..{BRANCH}").split()) == 1
    entries = await store.audit_log(repo=REPO)
    assert sorted(e.action for e in entries) == ["commit", "open_pr"]
    assert all(e.actor == "alice" and e.detail["run_id"] == run_id for e in entries)


async def failed_run(store: Store, run_id: int) -> Run:
    # the pool marks the job dead, then its dead-letter hook fails the run: wait for both
    async def failed() -> Run | None:
        run = await store.run(run_id)
        return run if run is not None and run.status == "failed" else None

    return await wait_for(failed, what=f"run {run_id} failed")  # type: ignore[return-value]


async def test_invalid_inputs_fail_the_run_at_once(harness, store) -> None:
    run_id = await harness.run(inputs={"service": "podinfo"})
    [job] = await store.jobs(state="dead")
    assert job.attempts == 1
    assert job.last_error.startswith("InputError: input tag: ")
    run = await failed_run(store, run_id)
    assert run.error == job.last_error


async def test_unknown_automation_fails_the_run(harness, store) -> None:
    run_id = await harness.run("nope")
    [job] = await store.jobs(state="dead")
    assert "no automation named 'nope'" in job.last_error
    await failed_run(store, run_id)


async def test_scm_not_configured_is_a_clear_permanent_failure(
    store, forge, automations_dir
) -> None:
    h = Harness(store, settings_for(forge, automations_dir, github_token=None))
    await h.pool.start()
    try:
        run_id = await h.run()
    finally:
        await h.pool.drain(1)
    [job] = await store.jobs(state="dead")
    assert job.attempts == 1
    assert job.last_error == (
        "ScmNotConfigured: GitHub is not configured: set APP_ID and PRIVATE_KEY(_PATH), "
        "or GITHUB_TOKEN"
    )
    run = await store.run(run_id)
    assert run is not None and run.status == "failed"


async def test_password_inputs_never_reach_the_job_or_run_error(
    store, forge, automations_dir
) -> None:
    (automations_dir / "secret.yaml").write_text(SECRET_AUTOMATION)

    def leaky(platform: str):
        raise RuntimeError("login with hunter2-very-secret refused")

    settings = settings_for(forge, automations_dir, max_attempts=1)
    h = Harness(store, settings, scm_override=leaky)
    await h.pool.start()
    try:
        run_id = await h.run("with-secret", {"password": "hunter2-very-secret"})
    finally:
        await h.pool.drain(1)
    job = (await store.jobs())[0]
    run = await store.run(run_id)
    assert run is not None
    for text in (job.last_error, run.error):
        assert text == "RuntimeError: login with *** refused"


async def test_pr_merged_and_closed_events_move_runs(harness, store, forge) -> None:
    run_id = await harness.run()
    run = await store.run(run_id)
    assert run is not None and run.pr_number is not None
    other = PullRequestEvent(
        platform="github", repo=REPO, action="closed", number=run.pr_number + 1, head=BRANCH
    )
    await harness.job("event", other.to_dict())
    assert (await store.run(run_id)).status == "pr_open"  # another PR from the same head

    closed = PullRequestEvent(
        platform="github", repo=REPO, action="closed", number=run.pr_number, head=BRANCH
    )
    await harness.job("event", closed.to_dict())
    assert (await store.run(run_id)).status == "closed"
    reopened = PullRequestEvent(
        platform="github", repo=REPO, action="reopened", number=run.pr_number, head=BRANCH
    )
    await harness.job("event", reopened.to_dict())
    assert (await store.run(run_id)).status == "pr_open"
    merged = PullRequestEvent(
        platform="github", repo=REPO, action="merged", number=run.pr_number, head=BRANCH
    )
    await harness.job("event", merged.to_dict())
    assert (await store.run(run_id)).status == "merged"

    # a finished run is not run again (that would raise a new PR for a merged change)
    done = await harness.job("automation.run", {"run_id": run_id}, "after-merge")
    assert done.state == "done"
    assert len(forge.forge.pull_requests(REPO, state="all")) == 1


async def test_a_bad_event_payload_is_dead_at_once(harness) -> None:
    job = await harness.job("event", {"kind": "no-such-event"})
    assert (job.state, job.attempts) == ("dead", 1)
    assert "not an event payload" in job.last_error
