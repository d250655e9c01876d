"""Promotions at run time: the pure machine (``prbot.pipeline``) driven by the store, the
SCM and the job queue.

- A promotion is stored whole (``pipeline.codec``) with a version; every happening goes
  through a ``promotion.happen`` job, decided under a per-promotion lock and saved only if
  no one else saved first (optimistic versions), so happenings are serialised per
  promotion across workers and processes.
- The actions a decision returns are then carried out (each is safe to repeat), and what
  they report (a PR opened, health read) is decided next, in the same job.
- PR and health webhooks reach it through the router: a stage PR is recognised by its
  deterministic head branch, health by the merge commit of a stage awaiting health.
- Timers are durable: ``ScheduleWakeUp`` is a ``promotion.happen`` job of a ``Tick`` with
  its ``run_at``.
- The status comment is written by a ``promotion.status`` job, at most once per
  ``status_seconds`` per promotion: every change inside that span is one edit per stage
  PR, written with the state at the end of it, and a PR whose comment already says that
  is skipped. A transition's next PR never waits for comments, and GitHub's limits on
  rapid content edits are respected. ``status_seconds=0`` writes at once.

Exactly once: a decision's actions are saved with it (``PENDING`` in the stored data) and
cleared once carried out; a job that crashed in between is retried (its lease runs out)
and carries out what is still pending first. Every action is safe to repeat. One
happening runs at a time per promotion across every process on the store (replicas
included): a process lock, then the store's named lock ``promotion:ID`` (an advisory lock
on PostgreSQL), so pending actions are never carried out by two replicas at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, get_args

from cachetools import LRUCache

from prbot.automation.definitions import ApprovalGate, Pipeline, PrAutomation
from prbot.automation.limits import LIMITS, Limits
from prbot.engine.definitions import DefinitionsCache
from prbot.engine.router import Context, Router
from prbot.engine.run import run_automation
from prbot.engine.runs import requested_note
from prbot.engine.sandbox import Sandbox
from prbot.engine.timing import measured, timed_scm
from prbot.errors import PermanentError, PrbotError, is_permanent
from prbot.events import Event, HealthReported, PullRequestEvent
from prbot.pipeline import actions as act
from prbot.pipeline import happenings as hap
from prbot.pipeline.codec import from_data, to_data
from prbot.pipeline.health import may_change
from prbot.pipeline.machine import decide
from prbot.pipeline.model import (
    ApprovalRule,
    HealthRule,
    PipelineSpec,
    Promotion,
    StageSpec,
    WindowRule,
    new_promotion,
)
from prbot.pipeline.status import render_status, status_marker
from prbot.scm.port import HealthWanted, Scm
from prbot.store.base import AuditEntry, NewJob, PromotionRow, Store

log = logging.getLogger("prbot.promotions")

JOB = "promotion.happen"
STATUS_JOB = "promotion.status"
STATUS_SECONDS = 2.0  # a status comment lags its promotion by at most this (plus the queue)
BRANCH_PREFIX = "prbot/promote/"
REVERT_PREFIX = "prbot/revert/"
SAVE_TRIES = 8
PENDING = "pending_actions"  # beside the promotion's data: actions not carried out yet
AWAITING_HEALTH = ("merged", "verifying", "soaking")
UNFINISHED = ("running", "waiting", "held")

ScmFor = Callable[[str], Scm]


# -- definitions -> the machine's values ------------------------------------------------


def spec_from_definition(pipeline: Pipeline) -> PipelineSpec:
    """The ``kind: Pipeline`` definition as the machine's ``PipelineSpec``."""
    stages = []
    for stage in pipeline.stages:
        gates: list[ApprovalRule | WindowRule] = []
        for gate in stage.gates:
            if isinstance(gate, ApprovalGate):
                gates.append(ApprovalRule(tuple(gate.users), tuple(gate.teams), gate.count))
            else:
                gates.append(WindowRule(tuple(gate.days), gate.hours, gate.timezone))
        health = stage.health
        stages.append(
            StageSpec(
                name=stage.name,
                automation=stage.automation,
                context=dict(stage.context),
                health=HealthRule(
                    tuple(health.checks),
                    health.deployment,
                    health.soak_seconds,
                    health.timeout_seconds,
                ),
                gates=tuple(gates),
                on_failure=stage.on_failure,  # type: ignore[arg-type]
            )
        )
    return PipelineSpec(pipeline.name, tuple(stages))


# -- happenings and actions as stored data (job payloads, pending actions) ---------------

# every happening and action by its class name, from the pipeline's own unions
_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (*get_args(hap.Happening), *get_args(act.Action))
}


def encode(value: Any) -> dict[str, Any]:
    """A happening or an action as JSON-safe data."""
    return {"type": type(value).__name__, **dataclasses.asdict(value)}


def decode(data: Mapping[str, Any]) -> Any:
    fields = dict(data)
    cls = _TYPES[fields.pop("type")]
    if cls is hap.HealthObserved:
        fields["signals"] = tuple(hap.Signal(**s) for s in fields.get("signals", ()))
    for key, value in fields.items():
        if isinstance(value, list):
            fields[key] = tuple(value)
    return cls(**fields)


def happen_job(promotion_id: int, happening: Any, *, run_at: float = 0.0, key: str = "") -> NewJob:
    """The job of ``happening``; with ``key``, one such job per promotion ever."""
    dedupe = f"{JOB}:{promotion_id}:{key}" if key else None
    if isinstance(happening, hap.Tick):
        dedupe = f"{JOB}:{promotion_id}:tick:{int(run_at)}"  # one wake-up per moment
    return NewJob(
        JOB,
        {"promotion_id": promotion_id, "happening": encode(happening)},
        dedupe_key=dedupe,
        run_at=run_at,
    )


def status_job(promotion_id: int, now: float, every: float) -> NewJob:
    """The status comment's job for the span of ``every`` seconds ``now`` falls in: one
    per span (its key), run at the span's end, so it writes the latest state."""
    span = int(now // every) + 1
    return NewJob(
        STATUS_JOB,
        {"promotion_id": promotion_id},
        dedupe_key=f"{STATUS_JOB}:{promotion_id}:{span}",
        run_at=span * every,
    )


# -- the engine ------------------------------------------------------------------------


class PromotionEngine:
    def __init__(
        self,
        store: Store,
        definitions: DefinitionsCache,
        scm_for: ScmFor,
        *,
        sandbox: Sandbox | None = None,
        limits: Limits = LIMITS,
        clock: Callable[[], float] = time.time,
        status_seconds: float = STATUS_SECONDS,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.scm_for = scm_for
        self.sandbox = sandbox
        self.limits = limits
        self.clock = clock
        self.status_seconds = status_seconds
        self._locks: dict[int, asyncio.Lock] = {}  # around one decide-and-save
        self._status_locks: dict[int, asyncio.Lock] = {}  # around one status write
        # (platform, repo, PR number) -> the status body last written there
        self._written: LRUCache[tuple[str, str, int], str] = LRUCache(maxsize=4096)
        self._happening: dict[int, asyncio.Lock] = {}  # around a whole happening

    # -- starting ---------------------------------------------------------------------

    async def create(
        self,
        *,
        platform: str,
        repo: str,
        pipeline: Pipeline,
        inputs: Mapping[str, Any],
        requested_by: str,
        request_key: str | None = None,
        requested_in: str = "",
    ) -> tuple[int, Promotion]:
        """Store a new promotion and queue its start (and the supersession of older ones
        of the same pipeline and repository); no SCM work here.

        With ``request_key`` (a slash-command's), asking again is safe: the promotion made
        with that key is the one, finished if a crash stopped its making halfway (stored
        but not filled in, or its jobs not queued: every step here repeats harmlessly)."""
        now = self.clock()
        spec = spec_from_definition(pipeline)
        older = await self.store.promotions(
            platform=platform, repo=repo, pipeline=pipeline.name, status=list(UNFINISHED)
        )
        promotion_id = await self.store.create_promotion(
            pipeline=pipeline.name,
            repo=repo,
            platform=platform,
            requested_by=requested_by,
            status="running",
            data={},
            now=now,
            request_key=request_key,
            requested_in=requested_in,
        )
        # only a keyed request can find one made before (and filled in)
        row = await self.store.promotion(promotion_id) if request_key is not None else None
        if row is not None and row.data:
            promotion = from_data(row.data)  # made before: filled in already
        else:
            promotion = new_promotion(str(promotion_id), spec, repo, inputs, requested_by, now)
            await self.store.save_promotion(
                promotion_id,
                status=promotion.status,
                data=to_data(promotion),
                expected_version=1,
                now=now,
            )
        # keyed, so a second making queues nothing twice; only older promotions go
        jobs = [
            happen_job(r.id, hap.Superseded(str(promotion_id)), key=f"superseded-by-{promotion_id}")
            for r in older
            if r.id < promotion_id
        ]
        jobs.append(happen_job(promotion_id, hap.Start(), key="start"))
        await self.store.enqueue(jobs, now=now)
        return promotion_id, promotion

    # -- one happening ------------------------------------------------------------------

    async def happen(self, promotion_id: int, happening: Any) -> Promotion:
        """Decide ``happening``, save it with its actions, carry them out, decide what
        they report. What an earlier attempt left pending is carried out first."""
        # one happening at a time per promotion in this process: pending actions are
        # another job's work in progress, not a crash's leftovers, while it runs
        async with (
            self._happening.setdefault(promotion_id, asyncio.Lock()),
            self.store.lock(f"promotion:{promotion_id}"),
        ):
            queue: list[Any] = [*await self._recover(promotion_id), happening]
            promotion: Promotion | None = None
            while queue:
                row, promotion, actions = await self._decide(promotion_id, queue.pop(0))
                if actions:
                    queue += await self._act(row, promotion, actions)
                    await self._clear(promotion_id, len(actions))
            assert promotion is not None
            return promotion

    async def _recover(self, promotion_id: int) -> list[Any]:
        """Carry out the actions a crashed attempt saved but did not finish."""
        row = await self.store.promotion(promotion_id)
        pending = row.data.get(PENDING) if row is not None else None
        if not pending or row is None:
            return []
        log.info("promotion %s: carrying out %d pending action(s)", promotion_id, len(pending))
        actions = tuple(decode(a) for a in pending)
        reports = await self._act(row, from_data(row.data), actions)
        await self._clear(promotion_id, len(actions))
        return reports

    async def _clear(self, promotion_id: int, done: int) -> None:
        """Drop the first ``done`` pending actions (carried out); others saved meanwhile
        stay for whoever saved them."""
        lock = self._locks.setdefault(promotion_id, asyncio.Lock())
        async with lock:
            for _ in range(SAVE_TRIES):
                row = await self.store.promotion(promotion_id)
                if row is None or not row.data.get(PENDING):
                    return
                data = {**row.data, PENDING: row.data[PENDING][done:]}
                if not data[PENDING]:
                    del data[PENDING]
                if await self.store.save_promotion(
                    promotion_id,
                    status=row.status,
                    data=data,
                    expected_version=row.version,
                    now=self.clock(),
                ):
                    return

    def _scm(self, platform: str) -> Scm:
        return timed_scm(self.scm_for(platform))

    async def approver_teams(self, row: PromotionRow, stage: str, by: str) -> tuple[str, ...]:
        """Which of the teams listed by ``stage``'s approval gates ``by`` belongs to, as
        the platform says (GitHub team / GitLab group membership); no request when the
        gates list no team."""
        spec = next((s for s in from_data(row.data).pipeline.stages if s.name == stage), None)
        listed = tuple(
            dict.fromkeys(t for rule in (spec.approvals if spec else ()) for t in rule.teams)
        )
        if not listed:
            return ()
        return await self._scm(row.platform).teams_of(row.repo, by, listed)

    async def read_health(
        self, promotion_id: int, stage: str, sha: str, descendant: bool = False
    ) -> Any:
        row = await self.store.promotion(promotion_id)
        if row is None:
            raise PermanentError(f"promotion {promotion_id} does not exist")
        p = from_data(row.data)
        return await self._health(self._scm(row.platform), p, stage, sha, descendant)

    @staticmethod
    async def _health(
        scm: Scm, p: Promotion, stage: str, sha: str, descendant: bool = False
    ) -> Any:
        """The stage's health on ``sha``: only what its rule requires is read."""
        rule = next((s.health for s in p.pipeline.stages if s.name == stage), None)
        want = HealthWanted(rule.checks, rule.deployment or None) if rule else None
        health = await scm.commit_health(p.repo, sha, want)
        signals = tuple(hap.Signal(s.kind, s.name, s.state, s.url) for s in health.signals)
        return hap.HealthObserved(stage, sha, signals, descendant)

    async def _decide(
        self, promotion_id: int, happening: Any
    ) -> tuple[PromotionRow, Promotion, tuple[Any, ...]]:
        lock = self._locks.setdefault(promotion_id, asyncio.Lock())
        async with lock:
            for _ in range(SAVE_TRIES):
                row = await self.store.promotion(promotion_id)
                if row is None:
                    raise PermanentError(f"promotion {promotion_id} does not exist")
                before = from_data(row.data)
                now = self.clock()
                after, actions = decide(before, happening, now)
                if after == before and not actions:
                    return row, before, ()
                pending = [*row.data.get(PENDING, ()), *(encode(a) for a in actions)]
                data = {**to_data(after), PENDING: pending} if pending else to_data(after)
                saved = await self.store.save_promotion(
                    promotion_id,
                    status=after.status,
                    data=data,
                    expected_version=row.version,
                    now=now,
                )
                if saved:
                    return row, after, actions
            raise PrbotError(f"promotion {promotion_id}: could not save (others kept saving)")

    async def _act(self, row: PromotionRow, p: Promotion, actions: tuple[Any, ...]) -> list[Any]:
        """Carry out the actions; what they report comes back as happenings."""
        scm = self._scm(row.platform)
        reports: list[Any] = []
        for action in actions:
            if isinstance(action, act.OpenStagePr):
                reports.append(await self._open_stage_pr(row, p, scm, action))
            elif isinstance(action, act.CheckHealth):
                reports.append(await self._health(scm, p, action.stage, action.sha))
            elif isinstance(action, act.UpdateStatusComment):
                if self.status_seconds > 0:
                    now = self.clock()
                    await self.store.enqueue(
                        [status_job(row.id, now, self.status_seconds)], now=now
                    )
                else:
                    await self.write_status(row.id)
            elif isinstance(action, act.OpenRevertPr):
                pr = await scm.revert(
                    p.repo,
                    action.number,
                    branch=action.head_branch,
                    title=f"Revert {p.pipeline.name} {action.stage} (promotion {p.id})",
                    body=action.reason,
                )
                reports.append(hap.RevertOpened(action.stage, pr.number, pr.url))
            elif isinstance(action, act.ScheduleWakeUp):
                await self.store.enqueue(
                    [happen_job(row.id, hap.Tick(), run_at=action.at)], now=self.clock()
                )
            elif isinstance(action, act.Audit):
                detail = {"promotion": p.id, "stage": action.stage, "detail": action.detail}
                entry = AuditEntry(action.at, action.who, action.what, p.repo, detail)
                await self.store.audit(entry, once=True)  # carried out again after a crash
            elif isinstance(action, act.ClosePr):
                number = action.number
                if number is None:  # it was being opened: the open PR from its branch
                    found = await scm.find_pull_request(p.repo, action.head_branch)
                    number = found.number if found is not None and found.state == "open" else None
                if number is not None:
                    await scm.close_pull_request(p.repo, number, comment=action.comment)
        return reports

    async def write_status(self, promotion_id: int) -> None:
        """The status comment on every stage PR, as the promotion stands now."""
        async with (
            self._status_locks.setdefault(promotion_id, asyncio.Lock()),
            # another replica's status job must not create the comment a second time
            self.store.lock(f"promotion:{promotion_id}:status"),
        ):
            row = await self.store.promotion(promotion_id)
            if row is None:
                return
            p = from_data(row.data)
            scm = self._scm(row.platform)
            body = render_status(p)
            for number in p.pr_numbers:
                key = (row.platform, p.repo.lower(), number)
                if self._written.get(key) == body:
                    continue  # already says this
                await scm.upsert_comment(p.repo, number, status_marker(p.id), body)
                self._written[key] = body

    async def _open_stage_pr(
        self, row: PromotionRow, p: Promotion, scm: Scm, action: act.OpenStagePr
    ) -> Any:
        try:
            automation = await self.definitions.lookup(row.platform, p.repo, action.automation)
            # the stage's head branch wins over the automation's own
            automation = dataclasses.replace(automation, head=action.head_branch)
            inputs = stage_inputs(automation, p.inputs, action.context)
            outcome = await run_automation(
                scm,
                p.repo,
                automation,
                inputs,
                extra_context=action.extra_context,
                sandbox=self.sandbox,
                limits=self.limits,
                note=requested_note(row.requested_by, row.requested_in, f"promotion {p.id}"),
            )
        except Exception as exc:
            if not is_permanent(exc):
                raise  # the job is retried
            return hap.StagePrFailed(action.stage, str(exc))
        pr = outcome.pull_request
        if pr is None:
            # an attempt that crashed opened it, and it merged since: it is the stage's
            done = await scm.find_pull_request(p.repo, action.head_branch, state="all")
            if done is not None and done.state == "merged" and done.merge_commit_sha:
                return hap.PrMerged(action.stage, done.number, done.merge_commit_sha)
            base = automation.base or await scm.default_branch(p.repo)
            snapshot = await scm.snapshot(p.repo, base)
            return hap.NothingToChange(action.stage, snapshot.sha)
        return hap.PrOpened(action.stage, pr.number, pr.url)


def stage_inputs(
    automation: PrAutomation, inputs: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The promotion's inputs and the stage's context, for the inputs the automation
    declares (the context is also the template's, through ``extra_context``)."""
    names = {f.name for f in automation.configuration}
    merged = {**inputs, **context}
    return {k: v for k, v in merged.items() if k in names}


# -- the job and the router ------------------------------------------------------------


class PromotionJob:
    """The ``promotion.happen`` job: one happening for one promotion."""

    def __init__(self, engine: PromotionEngine) -> None:
        self.engine = engine

    async def __call__(self, job: Any) -> None:
        try:
            promotion_id = int(job.payload["promotion_id"])
            check = job.payload.get("check")
            happening = None if check else decode(job.payload["happening"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"not a promotion job: {exc}") from exc
        started = time.monotonic()
        # since due (queued, or its run_at): how long it waited for a worker
        waited = max(0.0, self.engine.clock() - max(job.created_at, job.next_run_at))
        with measured() as account:
            if check:
                happening = await self.engine.read_health(
                    promotion_id, check["stage"], check["sha"], bool(check.get("descendant"))
                )
            await self.engine.happen(promotion_id, happening)
        # one line per happening: what it was, and how much of its time was the platform's
        log.info(
            "promotion %s: %s %s in %.0f ms (%d SCM calls, %.0f ms) after %.0f ms queued "
            "(job queued at %.3f)",
            promotion_id,
            type(happening).__name__,
            getattr(happening, "stage", ""),
            (time.monotonic() - started) * 1000,
            account.scm_calls,
            account.scm_seconds * 1000,
            waited * 1000,
            job.created_at,
        )


class PromotionStatusJob:
    """The ``promotion.status`` job: write the status comments of one promotion."""

    def __init__(self, engine: PromotionEngine) -> None:
        self.engine = engine

    async def __call__(self, job: Any) -> None:
        try:
            promotion_id = int(job.payload["promotion_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"not a promotion status job: {exc}") from exc
        await self.engine.write_status(promotion_id)


router = Router()


def parse_branch(head: str) -> tuple[str, int, str] | None:
    """``prbot/promote/<pipeline>/<id>/<stage>`` (or ``prbot/revert/...``) -> parts."""
    for prefix in (BRANCH_PREFIX, REVERT_PREFIX):
        if head.startswith(prefix):
            parts = head[len(prefix) :].split("/")
            if len(parts) == 3 and parts[1].isdigit():
                return parts[0], int(parts[1]), parts[2]
    return None


@router.register(PullRequestEvent)
async def pull_request_moves_promotions(event: Event, context: Context) -> None:
    assert isinstance(event, PullRequestEvent)
    parts = parse_branch(event.head)
    if parts is None or event.action not in ("merged", "closed"):
        return
    _pipeline, promotion_id, stage = parts
    revert = event.head.startswith(REVERT_PREFIX)
    if event.action == "merged" and event.merge_commit_sha:
        happening: Any = (
            hap.RevertMerged(stage)
            if revert
            else hap.PrMerged(stage, event.number, event.merge_commit_sha)
        )
    else:
        happening = hap.PrClosed(stage, event.number)
    await context.store.enqueue([happen_job(promotion_id, happening)], now=context.clock())


@router.register(HealthReported)
async def health_wakes_promotions(event: Event, context: Context) -> None:
    """A signal that a stage requires, on its merge commit or a later commit: that stage
    reads its health again."""
    assert isinstance(event, HealthReported)
    signal = hap.Signal(event.source, event.context, event.state, event.url)
    rows = await context.store.promotions(
        platform=event.platform, repo=event.repo, status=list(UNFINISHED)
    )
    jobs = []
    for row in rows:
        if not row.data:
            continue  # being made (stored, not yet filled in): nothing of it awaits health
        promotion = from_data(row.data)
        rules = {spec.name: spec.health for spec in promotion.pipeline.stages}
        for stage in promotion.stages:
            if stage.status not in AWAITING_HEALTH or not stage.merge_sha:
                continue
            if not may_change(rules[stage.name], signal):
                continue
            descendant = False
            if stage.merge_sha != event.sha:
                # a CD tool reports on the commit it applied: a later one of the base
                # branch counts for a merge commit it descends from
                scm = context.scm_for(event.platform)
                descendant = await scm.is_ancestor(event.repo, stage.merge_sha, event.sha)
                if not descendant:
                    continue
            check = {"stage": stage.name, "sha": event.sha, "descendant": descendant}
            jobs.append(NewJob(JOB, {"promotion_id": row.id, "check": check}))
    if jobs:
        await context.store.enqueue(jobs, now=context.clock())
