"""The reconciler: a PR merged while no webhook reaches prbot is found merged; a run
stuck with no job is re-enqueued once per interval; a run whose job died is failed."""

from __future__ import annotations

from prbot.automation.changeset import DirRepoView
from prbot.automation.loader import load_view
from prbot.engine.providers import close_providers, scm_for
from prbot.engine.run import run_automation
from prbot.store.base import NewJob, Run, Store
from prbot.worker.reconciler import Reconciler
from tests.support.clock import ManualClock

from .conftest import REPO, settings_for

INPUTS = {"service": "podinfo", "tag": "6.7.1"}


async def open_pr_run(store: Store, forge, settings, automations_dir) -> tuple[int, int]:
    """A run whose PR is open on the forge, recorded as pr_open."""
    bump = load_view(DirRepoView(automations_dir)).automations["bump"]
    outcome = await run_automation(scm_for(settings, "github"), REPO, bump, INPUTS)
    pr = outcome.pull_request
    assert pr is not None
    run_id = await store.create_run(
        Run(
            0,
            "bump",
            REPO,
            "github",
            "alice",
            INPUTS,
            "pr_open",
            head=pr.head,
            pr_number=pr.number,
            pr_url=pr.url,
            created_at=0,
        )
    )
    return run_id, pr.number


async def test_merged_without_a_webhook_is_found(store, forge, automations_dir) -> None:
    settings = settings_for(forge, automations_dir)
    try:
        # no hooks are configured on the forge: no webhook will ever arrive
        assert forge.forge.hooks() == []
        merged_id, number = await open_pr_run(store, forge, settings, automations_dir)
        await forge.forge.merge_pull_request(REPO, number, actor="bot")
        reconciler = Reconciler(store, settings, interval=60, clock=ManualClock(10_000))
        report = await reconciler.reconcile_once()
        assert report.merged == [merged_id] and report.checked == 1
        run = await store.run(merged_id)
        assert run is not None and run.status == "merged"

        # merged runs are not asked about again
        again = await reconciler.reconcile_once()
        assert again.checked == 0
    finally:
        await close_providers()


async def test_open_prs_are_checked_at_most_once_per_interval(
    store, forge, automations_dir
) -> None:
    settings = settings_for(forge, automations_dir)
    clock = ManualClock(10_000)
    try:
        run_id, _ = await open_pr_run(store, forge, settings, automations_dir)
        reconciler = Reconciler(store, settings, interval=60, clock=clock)
        assert (await reconciler.reconcile_once()).checked == 1
        forge.requests.reset()
        clock.now += 30
        assert (await reconciler.reconcile_once()).checked == 0
        assert forge.requests.total == 0
        clock.now += 31
        assert (await reconciler.reconcile_once()).checked == 1
        assert (await store.run(run_id)).status == "pr_open"
    finally:
        await close_providers()


async def test_a_stuck_run_is_re_enqueued_once_per_interval(store, forge, automations_dir) -> None:
    settings = settings_for(forge, automations_dir, lease_seconds=60.0)
    run_id = await store.create_run(
        Run(0, "bump", REPO, "github", "alice", INPUTS, "running", created_at=1000)
    )
    clock = ManualClock(1030)
    reconciler = Reconciler(store, settings, interval=300, clock=clock)
    assert (await reconciler.reconcile_once()).requeued == []  # younger than a lease

    clock.now = 1200
    assert (await reconciler.reconcile_once()).requeued == [run_id]
    [job] = await store.jobs(state="queued")
    assert job.kind == "automation.run" and job.payload == {"run_id": run_id}
    assert job.dedupe_key == f"run:{run_id}:reconcile:{1200 // 300}"
    # the job is live now: nothing more to do
    assert (await reconciler.reconcile_once()).requeued == []


async def test_a_run_whose_job_died_unnoticed_is_failed(store, forge, automations_dir) -> None:
    settings = settings_for(forge, automations_dir, lease_seconds=60.0)
    run_id = await store.create_run(
        Run(0, "bump", REPO, "github", "alice", INPUTS, "queued", created_at=1000)
    )
    [job_id] = await store.enqueue(
        [NewJob("automation.run", {"run_id": run_id}, max_attempts=1)], now=1000
    )
    await store.claim("w", limit=1, lease=60, now=1001)
    # the worker records the death and crashes before telling the run
    await store.fail(job_id, "w", error="ScmUnavailable: 503", retry_at=None, now=1002)
    report = await Reconciler(
        store, settings, interval=300, clock=ManualClock(2000)
    ).reconcile_once()
    assert report.failed == [run_id] and report.requeued == []
    run = await store.run(run_id)
    assert run is not None and (run.status, run.error) == ("failed", "ScmUnavailable: 503")


async def test_start_and_stop(store, forge, automations_dir) -> None:
    settings = settings_for(forge, automations_dir)
    off = Reconciler(store, settings, interval=0)
    await off.start()
    assert not off.running
    on = Reconciler(store, settings, interval=0.05)
    await on.start()
    assert on.running
    await on.stop()
    assert not on.running
