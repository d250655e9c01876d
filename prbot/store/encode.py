"""From the store's values to the rows both backends write: jobs' rows, and each event
paired with the job it became. Encoding happens here, in the caller's task, so a value
that cannot be encoded fails before anything is queued or any transaction begins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prbot.events import Event
from prbot.store import ops, rows
from prbot.store.base import NewJob


def event_rows(
    events: Sequence[Event], jobs: Sequence[NewJob], job_rows: Sequence[ops.JobRow]
) -> list[ops.EventRow]:
    """Each event, paired with a job whose payload it equals (the web edge makes job i
    from ``events[i].to_dict()``), so the store keeps that JSON once and encodes it once."""
    found = []
    for i, event in enumerate(events):
        data = event.to_dict()
        job = job_with_payload(jobs, data, hint=i)
        text = rows.dumps(data) if job is None else job_rows[job].payload
        found.append(ops.EventRow(event.kind, text, job))
    return found


def job_with_payload(jobs: Sequence[NewJob], payload: dict[str, Any], *, hint: int) -> int | None:
    if hint < len(jobs) and same(jobs[hint].payload, payload):
        return hint
    return next((i for i, job in enumerate(jobs) if same(job.payload, payload)), None)


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # == alone takes True for 1 and 1 for 1.0, which encode differently: the event read
    # back from the job's JSON must be the event given
    return a == b and all(type(value) is type(b[key]) for key, value in a.items())


def job_row(job: NewJob, *, now: float) -> ops.JobRow:
    if job.max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {job.max_attempts}")
    # run_at 0 (the default) means "now"; stamping now keeps due jobs in arrival order
    return ops.JobRow(
        kind=job.kind,
        payload=rows.dumps(job.payload),
        max_attempts=job.max_attempts,
        next_run_at=max(job.run_at, now),
        dedupe_key=job.dedupe_key,
        created_at=now,
    )
