"""The store's interface: what the web edge, the workers and the CLI need to persist.

Backends: SQLite (default, ``prbot/store/sqlite.py``) and PostgreSQL
(``prbot/store/postgres.py``: several replicas on one database, job claims with
``SELECT ... FOR UPDATE SKIP LOCKED``), behind the same interface. All times are UNIX
seconds passed in by callers (the store reads no clock), so tests control time. Nothing
secret is ever stored: run inputs arrive with passwords removed, payloads are stored as
received minus headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from prbot.events import Event

JobState = Literal["queued", "running", "done", "dead"]
RunStatus = Literal["queued", "running", "pr_open", "no_change", "merged", "closed", "failed"]


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as received (after verification)."""

    platform: str
    delivery_id: str  # X-GitHub-Delivery / Idempotency-Key / X-Gitlab-Event-UUID
    event: str  # X-GitHub-Event / X-Gitlab-Event
    received_at: float
    payload: bytes  # the raw body; bodies are capped at 25 MB at the edge


@dataclass(frozen=True)
class NewJob:
    kind: str  # e.g. "event", "automation.run"
    payload: dict[str, Any]
    # a second job with the same key is not enqueued. None (intake's jobs: the delivery is
    # deduplicated already) costs nothing: only keyed jobs are in the unique index
    dedupe_key: str | None = None
    run_at: float = 0.0  # not before this time
    max_attempts: int = 8


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    max_attempts: int
    next_run_at: float
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    last_error: str | None = None
    dedupe_key: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class Run:
    """One automation run: who asked for what, and what became of it."""

    id: int
    automation: str
    repo: str
    platform: str
    requested_by: str
    inputs: dict[str, Any]  # passwords removed
    status: RunStatus
    head: str = ""
    pr_number: int | None = None
    pr_url: str = ""
    error: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    # what a slash-command's run is known by (a second create with it is the same run),
    # and the comment that asked for it
    request_key: str | None = None
    requested_in: str = ""


@dataclass(frozen=True)
class PromotionRow:
    """One promotion: a run of a promotion pipeline. ``data`` is its whole state as
    ``prbot.pipeline.codec.to_data`` made it (the store keeps it as plain JSON); the other
    fields are copies for lookups. ``version`` goes up by one at every save."""

    id: int
    pipeline: str
    repo: str
    platform: str
    status: str
    requested_by: str
    data: dict[str, Any]
    version: int
    created_at: float
    updated_at: float
    request_key: str | None = None  # as a Run's
    requested_in: str = ""


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str  # "prbot" or the user the action was taken for
    action: str  # e.g. "commit", "open_pr", "comment", "merge"
    repo: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pruned:
    """What one ``Store.prune`` removed."""

    deliveries: int = 0
    jobs: int = 0


class StoreError(Exception):
    """The store failed (database error, closed store, unknown schema). Backends raise
    this (chained to the driver's error) so callers need not know which backend runs."""


class Held(Protocol):
    """A lock taken with ``Store.hold``."""

    async def alive(self) -> bool:
        """Still held (False once lost: e.g. the database connection holding it dropped,
        and another process may hold it now)."""
        ...

    async def release(self) -> None: ...


class Store(Protocol):
    async def open(self) -> None:
        """Create or migrate the schema; start background writers."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """The store answers (for /readyz)."""
        ...

    def pool_stats(self) -> dict[str, int]:
        """The connection pool's counters for /metrics (psycopg_pool's names: pool_size,
        pool_available, requests_waiting, ...); {} for a store without a pool."""
        ...

    def on_new_jobs(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the event loop) after this process stored jobs that are
        due now, so a worker pool beside the intake claims them at once instead of at
        its next poll; jobs other processes store are found by polling."""
        ...

    # -- locks across every process on this store (replicas included)

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock ``name`` for the block: one holder at a time across every
        process using this store; others wait their turn. Released if the holder dies."""
        ...

    async def hold(self, name: str) -> Held | None:
        """The lock ``name`` if no one holds it, held until released or this process
        dies (then another process's next ``hold`` gets it): leadership."""
        ...

    # -- intake: one transaction per delivery

    async def record_delivery(
        self, delivery: Delivery, events: Sequence[Event], jobs: Sequence[NewJob]
    ) -> bool:
        """Store the delivery, its events and its jobs atomically. False (and nothing
        stored) if a delivery with the same (platform, delivery_id) exists already."""
        ...

    # -- the queue

    async def enqueue(self, jobs: Sequence[NewJob], *, now: float) -> list[int]:
        """Add jobs; returns their ids (an existing job's id for a deduplicated one)."""
        ...

    async def claim(self, worker: str, *, limit: int, lease: float, now: float) -> list[Job]:
        """Lease up to ``limit`` due jobs (queued with next_run_at <= now, or running with
        an expired lease) to ``worker``; their attempts go up by one. A job whose lease
        expired on its last attempt (it crashed or hung every worker) becomes dead."""
        ...

    async def extend_lease(self, job_id: int, worker: str, *, lease: float, now: float) -> bool: ...

    async def complete(self, job_id: int, worker: str, *, now: float) -> bool:
        """Mark the job done. Only its lease owner may: False (and nothing changed) if
        ``worker`` no longer holds the job (its lease expired and another worker took it)."""
        ...

    async def fail(
        self, job_id: int, worker: str, *, error: str, retry_at: float | None, now: float
    ) -> bool:
        """Record a failure: back to queued at ``retry_at``, or dead (``retry_at`` None).
        False (and nothing changed) if ``worker`` is not the lease owner."""
        ...

    async def jobs(self, *, state: JobState | None = None, limit: int = 100) -> list[Job]: ...

    async def job(self, job_id: int) -> Job | None: ...

    async def job_by_key(self, dedupe_key: str) -> Job | None:
        """The job enqueued with ``dedupe_key``, if it is still stored."""
        ...

    async def retry(self, job_id: int, *, now: float) -> bool:
        """Put a dead (or done) job back in the queue with its attempts reset."""
        ...

    async def queue_depth(self) -> dict[str, int]:
        """Number of jobs by state (for /metrics)."""
        ...

    # -- runs

    async def create_run(self, run: Run) -> int:
        """Store a new run; its id. With ``run.request_key``, a run stored before with
        that key is the one: its id, and nothing new stored."""
        ...

    async def update_run(self, run_id: int, *, now: float, **changes: Any) -> None: ...

    async def run(self, run_id: int) -> Run | None: ...

    async def runs(
        self,
        *,
        status: Sequence[str] | None = None,
        head: str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Runs, newest first; only those in ``status`` and on branch ``head`` if given."""
        ...

    # -- promotions

    async def create_promotion(
        self,
        *,
        pipeline: str,
        repo: str,
        platform: str,
        requested_by: str,
        status: str,
        data: dict[str, Any],
        now: float,
        request_key: str | None = None,
        requested_in: str = "",
    ) -> int:
        """Store a new promotion at version 1; returns its id. With ``request_key``, a
        promotion stored before with that key is the one: its id, and nothing stored."""
        ...

    async def save_promotion(
        self,
        promotion_id: int,
        *,
        status: str,
        data: dict[str, Any],
        expected_version: int,
        now: float,
    ) -> bool:
        """Replace a promotion's status and data if its version is still
        ``expected_version`` (the one read); the version becomes ``expected_version + 1``.
        False, and nothing changed, if another save came first or there is no such
        promotion: read it again and redo the step."""
        ...

    async def promotion(self, promotion_id: int) -> PromotionRow | None: ...

    async def promotion_by_key(self, request_key: str) -> PromotionRow | None:
        """The promotion created with ``request_key``, if any."""
        ...

    async def promotions(
        self,
        *,
        platform: str | None = None,
        repo: str | None = None,
        pipeline: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[PromotionRow]:
        """Promotions, newest first; only those matching each filter given (``repo``
        compared without case, ``status`` any of those named)."""
        ...

    # -- audit

    async def audit(self, entry: AuditEntry, *, once: bool = False) -> None:
        """Append ``entry``; with ``once``, not if the very same entry (time, actor,
        action, repository, detail) is there already: an action carried out again after
        a crash writes its line once."""
        ...

    async def audit_log(self, *, repo: str | None = None, limit: int = 100) -> list[AuditEntry]: ...

    async def deliveries(self, *, limit: int = 100) -> list[Delivery]: ...

    # -- retention

    async def prune(self, *, before: float, chunk: int = 500) -> Pruned:
        """Delete deliveries received before ``before`` (bodies and events), then done jobs
        last touched before it that no remaining event points at; oldest first, in short
        transactions of up to ``chunk`` rows so intake keeps flowing. Dead jobs, runs,
        promotions and the audit log are kept."""
        ...
