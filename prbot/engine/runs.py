"""Automation runs kept in the store: run one for its job, and follow its PR.

- ``AutomationRunHandler`` runs the automation of a stored Run (the ``automation.run``
  job, payload ``{"run_id": N, "inputs": {...}}``) against its repository and records the
  outcome on the Run and in the audit log. Idempotent: the head branch is deterministic
  and ``run_automation`` finds the existing branch and PR, so a retry after a crash makes
  no second commit or PR.
- A run with password inputs is carried out by ``carry`` in the process that took the
  request, with their values (``prbot.engine.sealed_runs``); its stored job only names
  them (``"sealed"``) and is a guard: run by a worker later, it does nothing if the run is
  done, and otherwise fails it (``PASSWORD_GONE``), never running it without them.
- On the router: a PR merged, closed or reopened moves the Runs whose PR it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from prbot.automation.definitions import PrAutomation
from prbot.automation.inputs import ValidInputs, validate_inputs
from prbot.automation.limits import LIMITS, Limits
from prbot.engine.router import Context, Router
from prbot.engine.run import run_automation
from prbot.engine.run_requests import RUN_JOB
from prbot.engine.sandbox import Sandbox
from prbot.engine.vault import PASSWORD_GONE
from prbot.errors import (
    DescribedError,
    PermanentError,
    describe,
    is_permanent,
    redact,
    retry_after,
)
from prbot.events import Event, PullRequestEvent
from prbot.pipeline.status import link
from prbot.scm.port import Scm
from prbot.store.base import AuditEntry, Job, Run, Store

log = logging.getLogger("prbot.worker")

ScmFor = Callable[[str], Scm]
Clock = Callable[[], float]


class AutomationLookup(Protocol):
    """Where a run's automation is found (``DefinitionsCache``)."""

    async def lookup(self, platform: str, repo: str, name: str) -> PrAutomation: ...


# a PR's fate is final for its run: a re-run would raise a new PR for a finished change
FINISHED = ("merged", "closed")
MAX_RUNS_SCANNED = 5000

router = Router()


class AutomationRunHandler:
    def __init__(
        self,
        store: Store,
        definitions: AutomationLookup,
        scm_for: ScmFor,
        *,
        clock: Clock = time.time,
        secrets: Iterable[str] = (),
        sandbox: Sandbox | None = None,
        limits: Limits = LIMITS,
    ):
        self.store = store
        self.definitions = definitions
        self.scm_for = scm_for
        self.clock = clock
        self.secrets = tuple(secrets)
        self.sandbox = sandbox
        self.limits = limits

    async def __call__(self, job: Job) -> None:
        run = await self._stored(job)
        if await self._sealed(job, run):
            await self._guard(run)
            return
        await self._perform(job, run, {})

    async def _sealed(self, job: Job, run: Run) -> bool:
        """Whether the run needs password values: its job says so, or, for a job the
        reconciler queued again (it carries no inputs), the run's first job said so."""
        if "inputs" in job.payload:
            return bool(job.payload.get("sealed"))
        first = await self.store.job_by_key(f"{RUN_JOB}:{run.id}")
        return first is not None and bool(first.payload.get("sealed"))

    async def carry(self, job: Job, passwords: Mapping[str, str]) -> None:
        """Run a sealed job with the values of its password inputs (only the process
        that took the request has them)."""
        await self._perform(job, await self._stored(job), passwords)

    async def _stored(self, job: Job) -> Run:
        run_id = _run_id(job)
        run = await self.store.run(run_id)
        if run is None:
            raise PermanentError(f"run {run_id} does not exist")
        return run

    async def _guard(self, run: Run) -> None:
        """A sealed run's job, due: done by the process that had its passwords, or
        failed (the pool's ``on_dead`` records why on the run)."""
        if run.status not in ("queued", "running"):
            log.info("run %s was carried out where it was asked for (%s)", run.id, run.status)
            return
        log.warning("run %s: its password inputs are gone; failed", run.id)
        raise DescribedError(PASSWORD_GONE, permanent=True)

    async def _perform(self, job: Job, run: Run, passwords: Mapping[str, str]) -> None:
        if run.status in FINISHED:
            log.info("run %s is %s already; nothing to do", run.id, run.status)
            return
        await self.store.update_run(run.id, now=self.clock(), status="running", error="")
        secrets: Iterable[str] = (*self.secrets, *passwords.values())
        try:
            automation = await self.definitions.lookup(run.platform, run.repo, run.automation)
            given = {**_inputs(job, run), **passwords}
            valid = validate_inputs(automation.configuration, given, self.limits)
            secrets = (*self.secrets, *passwords.values(), *valid.secrets)
            scm = self.scm_for(run.platform)
            await self._run(run, automation, valid, scm)
        except Exception as exc:
            text = redact(describe(exc), secrets)
            # queued: a retry is due (the pool's on_dead makes it failed if not)
            await self.store.update_run(run.id, now=self.clock(), status="queued", error=text)
            # the raiser decided whether a retry helps; the text is what the pool stores
            raise DescribedError(
                text, permanent=is_permanent(exc), retry_after=retry_after(exc)
            ) from None

    async def _run(self, run: Run, automation: PrAutomation, valid: ValidInputs, scm: Scm) -> None:
        outcome = await run_automation(
            scm,
            run.repo,
            automation,
            valid,
            sandbox=self.sandbox,
            limits=self.limits,
            note=requested_note(run.requested_by, run.requested_in, f"run {run.id}"),
        )
        pr = outcome.pull_request
        now = self.clock()
        actor = run.requested_by or "prbot"
        head = outcome.render.pull_request.head
        # an earlier attempt may have committed and crashed before its audit entry: the
        # first attempt to see the run's PR records the commit then
        committed_before = bool(outcome.render.changes) and pr is not None and not run.pr_number
        if outcome.changed or committed_before:
            await self.store.audit(
                AuditEntry(
                    now,
                    actor,
                    "commit",
                    run.repo,
                    {
                        "run_id": run.id,
                        "automation": run.automation,
                        "branch": head,
                        "sha": pr.head_sha if pr else "",
                    },
                )
            )
        if pr is None:
            await self.store.update_run(run.id, now=now, status="no_change", head=head, error="")
            log.info("run %s: no change for %s on %s", run.id, run.automation, run.repo)
            return
        if run.pr_number != pr.number:
            # once per PR: a re-run that finds the same PR records nothing new
            await self.store.audit(
                AuditEntry(
                    now,
                    actor,
                    "open_pr",
                    run.repo,
                    {
                        "run_id": run.id,
                        "automation": run.automation,
                        "number": pr.number,
                        "url": pr.url,
                    },
                )
            )
        await self.store.update_run(
            run.id,
            now=now,
            status="pr_open" if pr.state == "open" else pr.state,
            head=pr.head,
            pr_number=pr.number,
            pr_url=pr.url,
            error="",
        )
        log.info("run %s: %s #%d %s", run.id, run.repo, pr.number, pr.url)

    async def on_dead(self, job: Job, error: str) -> None:
        """The job will not be tried again: its run has failed, for this reason."""
        try:
            run_id = _run_id(job)
        except PermanentError:
            return
        if await self.store.run(run_id) is not None:
            await self.store.update_run(run_id, now=self.clock(), status="failed", error=error)


@router.register(PullRequestEvent)
async def pull_request_moves_runs(event: Event, context: Context) -> None:
    assert isinstance(event, PullRequestEvent)
    target = {"merged": "merged", "closed": "closed", "reopened": "pr_open"}.get(event.action)
    if target is None:
        return
    source = ("closed",) if target == "pr_open" else ("pr_open", "queued", "running")
    for run in await matching_runs(context.store, event, source):
        await context.store.update_run(run.id, now=context.clock(), status=target)
        log.info("run %s: PR #%d %s", run.id, event.number, event.action)


async def matching_runs(
    store: Store, event: PullRequestEvent, statuses: Iterable[str]
) -> list[Run]:
    """The runs whose PR the event is about: same platform, repository and head branch,
    and the same PR number (a head branch can have had older PRs). A run not yet past its
    first PR (no number) must match by being open, never by head alone: a queued run
    shares its head with whatever earlier run used the same inputs."""
    # the store picks the head branch (an index search); the rest is checked here
    found = await store.runs(status=list(statuses), head=event.head, limit=MAX_RUNS_SCANNED)
    return [
        r
        for r in found
        if r.platform == event.platform
        and r.repo.lower() == event.repo.lower()
        and (r.pr_number == event.number or (r.pr_number is None and r.status == "pr_open"))
    ]


def requested_note(requested_by: str, requested_in: str, what: str) -> str:
    """The end of the PR body of a run or promotion: who asked, and a link to the comment
    or catalog page they asked in (the API, a script's way in, has none)."""
    if not requested_in:
        return f"Requested by @{requested_by} through prbot's API ({what})."
    # the catalog's page, or a comment on a PR or MR (neither has /catalog/ in its path)
    where = "the catalog" if "/catalog/" in urlsplit(requested_in).path else "a comment"
    return f"Requested by @{requested_by} in {link(where, requested_in)} ({what})."


def _run_id(job: Job) -> int:
    try:
        return int(job.payload["run_id"])
    except (KeyError, TypeError, ValueError):
        raise PermanentError("payload has no run_id") from None


def _inputs(job: Job, run: Run) -> dict[str, Any]:
    """The job's inputs (which may hold passwords, never stored with the run) over the
    run's stored ones."""
    given = job.payload.get("inputs")
    return {**run.inputs, **given} if isinstance(given, dict) else dict(run.inputs)
