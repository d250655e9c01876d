"""The reconciler: polls what is in flight, so a lost webhook or job only delays.

GitHub never redelivers a webhook on its own, and a job can be lost to an operator's
mistake; each pass therefore:

- re-enqueues an ``automation.run`` job for each run still queued/running, untouched for
  longer than a lease, that has no live (queued or running) job; a run whose job died
  without the run being marked is marked failed with the job's error instead, so a run
  that cannot succeed is never retried forever;
- asks the forge about runs whose PR is open and marks them merged or closed. To stay far
  inside GitHub's 5,000 requests an hour, each run is asked about at most once per
  interval, oldest first, and at most ``max_pr_checks`` per pass;
- for each unfinished promotion, re-reads the health of its stages awaiting health and asks
  the forge whether its open stage PR merged or closed (as webhooks would have said), and
  wakes it (deadlines, and actions a crash left pending);
- deletes deliveries and done jobs older than PRBOT_RETENTION_DAYS (``Store.prune``):
  every verified body is kept until then, up to 25 MB each.

Re-enqueued jobs carry the dedupe key ``run:{id}:reconcile:{bucket}`` (bucket: the
interval the pass falls in), so reconcilers in several processes enqueue one job.

With several replicas on one store, one reconciler runs at a time: its passes run only
while it holds the store lock ``reconciler`` (``Store.hold``: an advisory lock on its own
connection on PostgreSQL, a file lock on SQLite). The others try again every interval, so
when the leader dies (its connection closes, and the lock with it) one of them takes over
at its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prbot.engine.promotions import AWAITING_HEALTH, UNFINISHED, happen_job
from prbot.engine.promotions import JOB as PROMOTION_JOB
from prbot.engine.providers import scm_for as default_scm_for
from prbot.errors import PermanentError, describe
from prbot.pipeline.codec import from_data
from prbot.pipeline.happenings import PrClosed, PrMerged, PrOpened, Tick
from prbot.pipeline.model import stage_branch
from prbot.scm.port import Scm
from prbot.settings import Settings
from prbot.store.base import Held, Job, NewJob, Pruned, Run, Store

log = logging.getLogger("prbot.reconciler")

ScmFor = Callable[[str], Scm]
RUN_KIND = "automation.run"
MAX_SCANNED = 5000
DAY = 86400.0
LEADER_LOCK = "reconciler"


@dataclass
class ReconcileReport:
    requeued: list[int]
    failed: list[int]
    merged: list[int]
    closed: list[int]
    promotions: int = 0  # promotions woken
    checked: int = 0
    errors: int = 0
    pruned: Pruned = field(default_factory=Pruned)


class Reconciler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        interval: float | None = None,
        scm_for: ScmFor | None = None,
        clock: Callable[[], float] = time.time,
        lease_seconds: float | None = None,
        max_pr_checks: int = 50,
    ):
        self.store = store
        self.settings = settings
        self.interval = settings.reconcile_seconds if interval is None else interval
        self.scm_for = scm_for or (lambda platform: default_scm_for(settings, platform))
        self.clock = clock
        self.lease_seconds = settings.lease_seconds if lease_seconds is None else lease_seconds
        self.max_pr_checks = max_pr_checks
        self._task: asyncio.Task[None] | None = None
        self._leadership: Held | None = None
        self.passes = 0  # passes run by this reconciler (as the leader)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.interval <= 0:
            log.info("reconciler off (PRBOT_RECONCILE_SECONDS=0)")
            return
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name="reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    @property
    def leading(self) -> bool:
        """This reconciler holds the leadership (the last time it looked)."""
        return self._leadership is not None

    async def _loop(self) -> None:
        while True:
            try:
                if await self._lead():
                    await self.reconcile_once()
                    self.passes += 1
            except Exception:
                log.exception("reconcile pass failed; next pass in %.0f s", self.interval)
            await asyncio.sleep(self.interval)

    async def _lead(self) -> bool:
        """Hold the leadership, or take it if free; False while another replica has it."""
        if self._leadership is not None and not await self._leadership.alive():
            log.warning("reconciler: leadership lost (the store connection dropped)")
            self._leadership = None
        if self._leadership is None:
            self._leadership = await self.store.hold(LEADER_LOCK)
            if self._leadership is not None:
                log.info("reconciler: leading (passes run here, every %.0f s)", self.interval)
        return self._leadership is not None

    async def _step_down(self) -> None:
        held, self._leadership = self._leadership, None
        if held is not None:
            await held.release()

    # -- one pass -----------------------------------------------------------------------

    async def reconcile_once(self) -> ReconcileReport:
        report = ReconcileReport([], [], [], [])
        now = self.clock()
        await self._runs_in_flight(now, report)
        await self._open_prs(now, report)
        await self._promotions(now, report)
        if self.settings.retention_days > 0:
            report.pruned = await self.store.prune(before=now - self.settings.retention_days * DAY)
            if report.pruned.deliveries or report.pruned.jobs:
                log.info(
                    "retention: deleted %d deliveries and %d done jobs older than %g days",
                    report.pruned.deliveries,
                    report.pruned.jobs,
                    self.settings.retention_days,
                )
        if report.requeued or report.failed or report.merged or report.closed:
            log.info(
                "reconciled: %d requeued, %d failed, %d merged, %d closed (%d PRs checked)",
                len(report.requeued),
                len(report.failed),
                len(report.merged),
                len(report.closed),
                report.checked,
            )
        return report

    async def _runs_in_flight(self, now: float, report: ReconcileReport) -> None:
        runs = await self.store.runs(status=["queued", "running"], limit=MAX_SCANNED)
        stale = [r for r in runs if now - (r.updated_at or r.created_at) > self.lease_seconds]
        if not stale:
            return
        live: set[int] = set()
        for state in ("queued", "running"):
            live |= {rid for j in await self._run_jobs(state) if (rid := _run_of(j))}
        dead: dict[int, Job] = {}
        for j in sorted(await self._run_jobs("dead"), key=lambda j: j.id):
            if rid := _run_of(j):
                dead[rid] = j  # the newest dead job of each run wins
        bucket = int(now // max(self.interval, self.lease_seconds, 1.0))
        for run in stale:
            if run.id in live:
                continue
            died = dead.get(run.id)
            if died is not None and died.updated_at >= (run.updated_at or 0):
                error = died.last_error or "its job was dead-lettered"
                await self.store.update_run(run.id, now=now, status="failed", error=error)
                report.failed.append(run.id)
                continue
            job = NewJob(
                RUN_KIND,
                {"run_id": run.id},
                dedupe_key=f"run:{run.id}:reconcile:{bucket}",
                max_attempts=self.settings.max_attempts,
            )
            await self.store.enqueue([job], now=now)
            report.requeued.append(run.id)
            log.info("run %s was %s with no job: re-enqueued", run.id, run.status)

    async def _promotions(self, now: float, report: ReconcileReport) -> None:
        """What a lost webhook would have said to each unfinished promotion: its stage PR
        merged or closed, its merge commit's health; and a wake-up. One job per promotion
        and stage per interval (deduplicated), PR reads bounded like the runs'."""
        bucket = int(now // max(self.interval, 1.0))
        rows = await self.store.promotions(status=list(UNFINISHED), limit=MAX_SCANNED)
        jobs: list[NewJob] = []
        for row in rows:
            if not row.data:
                continue  # being made by PromotionEngine.create: its Start job follows
            promotion = from_data(row.data)
            jobs.append(happen_job(row.id, Tick(), run_at=bucket * max(self.interval, 1.0)))
            for stage in promotion.stages:
                if stage.status in AWAITING_HEALTH and stage.merge_sha:
                    check = {"stage": stage.name, "sha": stage.merge_sha}
                    key = f"promotion:{row.id}:check:{stage.name}:{bucket}"
                    jobs.append(
                        NewJob(
                            PROMOTION_JOB,
                            {"promotion_id": row.id, "check": check},
                            dedupe_key=key,
                        )
                    )
                elif stage.status == "pr_open" and stage.pr is None:
                    # asked for, and its report lost to a crash: find it by its branch
                    asked = stage.pr_requested_at or now
                    if now - asked <= self.lease_seconds or report.checked >= self.max_pr_checks:
                        continue
                    report.checked += 1
                    happening = await self._lost_stage_pr(row.platform, promotion, stage.name)
                    if happening is not None:
                        jobs.append(happen_job(row.id, happening))
                elif stage.status == "pr_open" and stage.pr is not None:
                    if report.checked >= self.max_pr_checks:
                        continue
                    report.checked += 1
                    happening = await self._stage_pr(row.platform, row.repo, stage)
                    if happening is not None:
                        jobs.append(happen_job(row.id, happening))
        if jobs:
            await self.store.enqueue(jobs, now=now)
            report.promotions = len(rows)

    async def _lost_stage_pr(self, platform: str, promotion: Any, stage: str) -> Any:
        head = stage_branch(promotion.pipeline.name, promotion.id, stage)
        try:
            pr = await self.scm_for(platform).find_pull_request(promotion.repo, head, state="all")
        except Exception as exc:
            log.warning("reconciler: cannot look for %s: %s", head, describe(exc))
            return None
        if pr is None:
            return None
        if pr.state == "merged" and pr.merge_commit_sha:
            return PrMerged(stage, pr.number, pr.merge_commit_sha)
        if pr.state == "open":
            return PrOpened(stage, pr.number, pr.url)
        return PrClosed(stage, pr.number)

    async def _stage_pr(self, platform: str, repo: str, stage: Any) -> Any:
        try:
            pr = await self.scm_for(platform).get_pull_request(repo, stage.pr.number)
        except PermanentError:
            return None
        except Exception as exc:
            log.warning("reconciler: cannot read %s#%d: %s", repo, stage.pr.number, describe(exc))
            return None
        if pr.state == "merged" and pr.merge_commit_sha:
            return PrMerged(stage.name, pr.number, pr.merge_commit_sha)
        if pr.state == "closed":
            return PrClosed(stage.name, pr.number)
        return None

    async def _run_jobs(self, state: str) -> list[Job]:
        return [
            j for j in await self.store.jobs(state=state, limit=MAX_SCANNED) if j.kind == RUN_KIND
        ]

    async def _open_prs(self, now: float, report: ReconcileReport) -> None:
        runs = await self.store.runs(status=["pr_open"], limit=MAX_SCANNED)
        due = sorted(
            (r for r in runs if r.pr_number and now - (r.updated_at or 0) >= self._pr_every()),
            key=lambda r: r.updated_at,
        )[: self.max_pr_checks]
        unconfigured: set[str] = set()
        for run in due:
            if run.platform in unconfigured:
                continue
            try:
                await self._check_pr(run, now, report)
            except PermanentError as exc:
                unconfigured.add(run.platform)
                log.debug("not checking %s PRs: %s", run.platform, exc)
            except Exception as exc:
                report.errors += 1
                log.warning(
                    "run %s: checking PR #%s failed: %s", run.id, run.pr_number, describe(exc)
                )

    def _pr_every(self) -> float:
        # a pass run by hand (interval 0) checks everything open
        return max(self.interval, 0.0)

    async def _check_pr(self, run: Run, now: float, report: ReconcileReport) -> None:
        scm = self.scm_for(run.platform)
        assert run.pr_number is not None
        pr = await scm.get_pull_request(run.repo, run.pr_number)
        report.checked += 1
        if pr.state == "merged":
            await self.store.update_run(run.id, now=now, status="merged")
            report.merged.append(run.id)
        elif pr.state == "closed":
            await self.store.update_run(run.id, now=now, status="closed")
            report.closed.append(run.id)
        else:
            await self.store.update_run(run.id, now=now)  # checked: to the back of the line
        if pr.state != "open":
            log.info("run %s: PR #%d was %s (no webhook seen)", run.id, pr.number, pr.state)


def _run_of(job: Job) -> int | None:
    try:
        return int(job.payload.get("run_id"))
    except (TypeError, ValueError):
        return None
