"""Between SQLite rows and the store's values. Column lists are spelled out (never
``SELECT *``) so a later migration adding a column cannot shift positions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, get_args

import orjson

from prbot.store.base import AuditEntry, Delivery, Job, PromotionRow, Run, RunStatus

JOB_COLUMNS = (
    "id, kind, payload, state, attempts, max_attempts, next_run_at, lease_owner, "
    "lease_expires_at, last_error, dedupe_key, created_at, updated_at"
)
RUN_COLUMNS = (
    "id, automation, repo, platform, requested_by, inputs, status, head, pr_number, pr_url, "
    "error, created_at, updated_at, request_key, requested_in"
)
PROMOTION_COLUMNS = (
    "id, pipeline, repo, platform, status, requested_by, data, version, created_at, "
    "updated_at, request_key, requested_in"
)
AUDIT_COLUMNS = "at, actor, action, repo, detail"
DELIVERY_COLUMNS = "platform, delivery_id, event, received_at, payload"

RUN_STATUSES: frozenset[str] = frozenset(get_args(RunStatus))

# compact and stable; ensure_ascii off because SQLite TEXT is UTF-8 anyway
_stdlib_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> str:
    """Compact JSON text. orjson writes the same text as the stdlib for prbot's values
    (str keys, str/int/float/bool/None, lists, dicts) several times faster, on the intake's
    hot path; the stdlib takes what orjson refuses (ints beyond 64 bits, non-str keys)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _stdlib_dumps(value)


def _time(value: float | None) -> float | None:
    # SQLite may hand back a whole REAL as an int (seen with RETURNING): keep floats
    return None if value is None else float(value)


def job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        kind=row[1],
        payload=json.loads(row[2]),
        state=row[3],
        attempts=row[4],
        max_attempts=row[5],
        next_run_at=float(row[6]),
        lease_owner=row[7],
        lease_expires_at=_time(row[8]),
        last_error=row[9],
        dedupe_key=row[10],
        created_at=float(row[11]),
        updated_at=float(row[12]),
    )


def run(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        automation=row[1],
        repo=row[2],
        platform=row[3],
        requested_by=row[4],
        inputs=json.loads(row[5]),
        status=row[6],
        head=row[7],
        pr_number=row[8],
        pr_url=row[9],
        error=row[10],
        created_at=float(row[11]),
        updated_at=float(row[12]),
        request_key=row[13],
        requested_in=row[14],
    )


def promotion(row: Sequence[Any]) -> PromotionRow:
    return PromotionRow(
        id=row[0],
        pipeline=row[1],
        repo=row[2],
        platform=row[3],
        status=row[4],
        requested_by=row[5],
        data=json.loads(row[6]),
        version=row[7],
        created_at=float(row[8]),
        updated_at=float(row[9]),
        request_key=row[10],
        requested_in=row[11],
    )


def audit(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        at=float(row[0]), actor=row[1], action=row[2], repo=row[3], detail=json.loads(row[4])
    )


def delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        platform=row[0],
        delivery_id=row[1],
        event=row[2],
        received_at=float(row[3]),
        payload=bytes(row[4]),
    )


def check_run_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}: expected one of {sorted(RUN_STATUSES)}")


UPDATABLE_RUN_FIELDS = frozenset({"status", "head", "pr_number", "pr_url", "error", "inputs"})


def run_values(run: Run) -> tuple[Any, ...]:
    """A new run's column values, as both backends insert them (``id`` is the store's)."""
    check_run_status(run.status)
    return (
        run.automation,
        run.repo,
        run.platform,
        run.requested_by,
        dumps(run.inputs),
        run.status,
        run.head,
        run.pr_number,
        run.pr_url,
        run.error,
        run.created_at,
        run.updated_at or run.created_at,
        run.requested_in,
    )


def run_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A run update's fields checked and encoded; ValueError names a field that may not
    change. Only these names ever reach a statement's text."""
    unknown = set(changes) - UPDATABLE_RUN_FIELDS
    if unknown:
        raise ValueError(
            f"cannot update run field(s) {sorted(unknown)}: "
            f"updatable are {sorted(UPDATABLE_RUN_FIELDS)}"
        )
    if "status" in changes:
        check_run_status(changes["status"])
    if "inputs" in changes:
        return {**changes, "inputs": dumps(changes["inputs"])}
    return changes


MAX_ID = 2**63 - 1  # the largest id either store can hold


def storable_id(row_id: int) -> bool:
    """Whether a row could have this id: beyond a 64-bit integer the drivers raise
    instead of finding nothing (an id from a URL or a comment is anyone's number)."""
    return 0 <= row_id <= MAX_ID
