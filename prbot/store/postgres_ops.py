"""The SQL of the PostgreSQL store's writes, as functions over a connection in a
transaction (the caller opens it). Arguments arrive encoded (JSON text, tuples), as for
SQLite's ``ops.py``; rows go back as tuples in ``rows``' column order, so the same
decoders serve both backends.

Concurrency is PostgreSQL's: several replicas write at once. Each statement is written so
that its outcome does not depend on who else runs it at the same time: unique keys with
``ON CONFLICT DO NOTHING`` (a second writer of the same key waits for the first one's
commit, then does nothing), ``WHERE version = ...`` and ``WHERE lease_owner = ...``
conditions (re-checked on the row's newest version), and claims that pick and lease in
one statement with ``FOR UPDATE SKIP LOCKED`` (a row another claimer is leasing is passed
over, never handed out twice).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg

from prbot.store import rows
from prbot.store.ops import EventRow, JobRow, job_params
from prbot.store.rows import UPDATABLE_RUN_FIELDS

Row = tuple[Any, ...]
Conn = psycopg.AsyncConnection[Any]

# the channel ``LISTEN``ers wake on when jobs due now were queued (``postgres_notify.py``)
JOBS_CHANNEL = "prbot_jobs"

_JOBS_RETURNED = ", ".join(f"jobs.{c.strip()}" for c in rows.JOB_COLUMNS.split(","))


async def notify_jobs(conn: Conn) -> None:
    # delivered when the transaction commits, to every listening replica; identical
    # notifications of one transaction are folded into one
    await conn.execute("SELECT pg_notify(%s, '')", (JOBS_CHANNEL,))


# -- intake


async def record_delivery(
    conn: Conn,
    delivery: tuple[str, str, str, float],
    body: bytes,
    events: Sequence[EventRow],
    jobs: Sequence[JobRow],
) -> bool:
    """The delivery, its jobs and events, and the NOTIFY, in ONE statement: on an
    autocommit connection that is one round trip and one transaction (data-modifying CTEs
    run together, atomically). A redelivery inserts no delivery row, and so nothing else."""
    shape = (
        tuple(job.dedupe_key is not None for job in jobs),
        tuple(event.job for event in events),
    )
    params: dict[str, Any] = dict(
        zip(("platform", "delivery_id", "event", "at"), delivery, strict=True)
    )
    params["body"] = body
    for i, job in enumerate(jobs):
        params |= {
            f"j{i}_kind": job.kind,
            f"j{i}_payload": job.payload,
            f"j{i}_max": job.max_attempts,
            f"j{i}_next": job.next_run_at,
            f"j{i}_key": job.dedupe_key,
            f"j{i}_at": job.created_at,
        }
    for i, event in enumerate(events):
        params |= {f"e{i}_kind": event.kind, f"e{i}_data": event.data}
    cur = await conn.execute(_delivery_sql(*shape), params)
    found = await cur.fetchone()
    return bool(found and found[0])


@functools.lru_cache(maxsize=64)
def _delivery_sql(keyed: tuple[bool, ...], links: tuple[int | None, ...]) -> str:
    """The statement for a delivery of this shape: which jobs have a dedupe key, which
    job (by index) each event became, if any."""
    ctes = [
        "d AS (INSERT INTO deliveries (platform, delivery_id, event, received_at, payload) "
        "VALUES (%(platform)s::text, %(delivery_id)s::text, %(event)s::text, "
        "%(at)s::double precision, %(body)s::bytea) "
        "ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING id)"
    ]
    for i, has_key in enumerate(keyed):
        conflict = (
            " ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING" if has_key else ""
        )
        # job i reads a count of job i-1's rows (always one row): so job i-1 is inserted
        # first, and ids follow the jobs' order as they do on SQLite
        after = f", (SELECT count(*) FROM j{i - 1}) AS after" if i else ""
        ctes.append(
            f"j{i} AS (INSERT INTO jobs (kind, payload, max_attempts, next_run_at, dedupe_key, "
            "delivery, created_at, updated_at) "
            f"SELECT %(j{i}_kind)s::text, %(j{i}_payload)s::text, %(j{i}_max)s::integer, "
            f"%(j{i}_next)s::double precision, %(j{i}_key)s::text, d.id, "
            f"%(j{i}_at)s::double precision, %(j{i}_at)s::double precision FROM d{after}"
            f"{conflict} RETURNING id)"
        )
    if links:
        rows = []
        for i, job in enumerate(links):
            if job is None:
                rows.append(
                    f"SELECT d.id, {i}, %(e{i}_kind)s::text, NULL::bigint, "
                    f"%(e{i}_data)s::text FROM d"
                )
            else:
                # the event keeps its own data only if its job was deduplicated away
                rows.append(
                    f"SELECT d.id, {i}, %(e{i}_kind)s::text, x.id, "
                    f"CASE WHEN x.id IS NULL THEN %(e{i}_data)s::text END "
                    f"FROM d LEFT JOIN j{job} x ON true"
                )
        ctes.append(
            "e AS (INSERT INTO events (delivery, position, kind, job, data) "
            + " UNION ALL ".join(rows)
            + ")"
        )
    notify = "0"
    if keyed:
        ctes.append(f"n AS (SELECT pg_notify('{JOBS_CHANNEL}', '') FROM d)")
        notify = "(SELECT count(*) FROM n)"  # a CTE no one reads is never run
    return f"WITH {', '.join(ctes)} SELECT (SELECT count(*) FROM d), {notify}"


# -- the queue

_INSERT_JOB = (
    "INSERT INTO jobs (kind, payload, max_attempts, next_run_at, dedupe_key, delivery, "
    "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_KEYED_JOB = (
    f"{_INSERT_JOB} ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING"
)


async def insert_job(conn: Conn, job: JobRow) -> int | None:
    """The new job's id; None if a job with its dedupe_key exists already."""
    sql = _INSERT_JOB if job.dedupe_key is None else _INSERT_KEYED_JOB
    cur = await conn.execute(f"{sql} RETURNING id", job_params(job, None))
    found = await cur.fetchone()
    return None if found is None else int(found[0])


async def insert_jobs(conn: Conn, jobs: Sequence[JobRow]) -> list[int]:
    ids = []
    for job in jobs:
        job_id = await insert_job(conn, job)
        if job_id is None:  # a job with this dedupe_key exists (committed): its id
            cur = await conn.execute("SELECT id FROM jobs WHERE dedupe_key = %s", (job.dedupe_key,))
            found = await cur.fetchone()
            assert found is not None
            job_id = int(found[0])
        ids.append(job_id)
    return ids


# One statement: bury poison jobs, pick due ones, lease them. Each pick is ordered on its
# partial index and stops at :limit; SKIP LOCKED passes over rows another replica's claim
# holds (it leases them), so two claims never wait on each other nor share a job.
_CLAIM = f"""
WITH buried AS (
    UPDATE jobs SET state = 'dead',
        last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired on attempt '
                     || attempts || ' of ' || max_attempts,
        lease_owner = NULL, lease_expires_at = NULL, updated_at = %(now)s
    WHERE id IN (
        SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < %(now)s
        AND attempts >= max_attempts FOR UPDATE SKIP LOCKED)
    RETURNING 1
), due AS (
    SELECT id, next_run_at FROM jobs WHERE state = 'queued' AND next_run_at <= %(now)s
    ORDER BY next_run_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id, next_run_at FROM jobs WHERE state = 'running' AND lease_expires_at < %(now)s
    AND attempts < max_attempts ORDER BY next_run_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) AS found
    ORDER BY next_run_at, id LIMIT %(limit)s
)
UPDATE jobs SET state = 'running', lease_owner = %(worker)s, lease_expires_at = %(expires)s,
    attempts = jobs.attempts + 1, updated_at = %(now)s
FROM picked WHERE jobs.id = picked.id
RETURNING {_JOBS_RETURNED}
"""


async def claim(conn: Conn, worker: str, *, limit: int, lease: float, now: float) -> list[Row]:
    cur = await conn.execute(
        _CLAIM, {"worker": worker, "expires": now + lease, "now": now, "limit": limit}
    )
    found = await cur.fetchall()
    return sorted(found, key=lambda r: (r[6], r[0]))  # due order, as SQLite's


async def extend_lease(conn: Conn, job_id: int, worker: str, *, lease: float, now: float) -> bool:
    cur = await conn.execute(
        "UPDATE jobs SET lease_expires_at = %s, updated_at = %s "
        "WHERE id = %s AND state = 'running' AND lease_owner = %s",
        (now + lease, now, job_id, worker),
    )
    return cur.rowcount == 1


async def complete(conn: Conn, job_id: int, worker: str, *, now: float) -> bool:
    cur = await conn.execute(
        "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, "
        "updated_at = %s WHERE id = %s AND state = 'running' AND lease_owner = %s",
        (now, job_id, worker),
    )
    return cur.rowcount == 1


async def fail(
    conn: Conn, job_id: int, worker: str, *, error: str, retry_at: float | None, now: float
) -> bool:
    cur = await conn.execute(
        "UPDATE jobs SET state = CASE WHEN %(retry_at)s::double precision IS NULL "
        "THEN 'dead' ELSE 'queued' END, "
        "next_run_at = coalesce(%(retry_at)s, next_run_at), last_error = %(error)s, "
        "lease_owner = NULL, lease_expires_at = NULL, updated_at = %(now)s "
        "WHERE id = %(id)s AND state = 'running' AND lease_owner = %(worker)s",
        {"retry_at": retry_at, "error": error, "now": now, "id": job_id, "worker": worker},
    )
    return cur.rowcount == 1


async def retry(conn: Conn, job_id: int, *, now: float) -> bool:
    cur = await conn.execute(
        "UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = %s, lease_owner = NULL, "
        "lease_expires_at = NULL, updated_at = %s WHERE id = %s AND state IN ('dead', 'done')",
        (now, now, job_id),
    )
    return cur.rowcount == 1


# -- runs and promotions


async def _created_or_keyed(conn: Conn, cur: Any, table: str, request_key: str | None) -> int:
    found = await cur.fetchone()
    if found is not None:
        return int(found[0])
    # table is one of two literals of this module, never from outside
    cur = await conn.execute(f"SELECT id FROM {table} WHERE request_key = %s", (request_key,))
    found = await cur.fetchone()
    assert found is not None
    return int(found[0])


async def create_run(conn: Conn, values: tuple[Any, ...], request_key: str | None) -> int:
    cur = await conn.execute(
        "INSERT INTO runs (automation, repo, platform, requested_by, inputs, status, head, "
        "pr_number, pr_url, error, created_at, updated_at, requested_in, request_key) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (request_key) WHERE request_key IS NOT NULL DO NOTHING RETURNING id",
        (*values, request_key),
    )
    return await _created_or_keyed(conn, cur, "runs", request_key)


async def update_run(conn: Conn, run_id: int, changes: dict[str, Any], *, now: float) -> bool:
    # names checked against UPDATABLE_RUN_FIELDS here too: they are formatted into SQL
    assert set(changes) <= UPDATABLE_RUN_FIELDS
    sets = "".join(f"{name} = %({name})s, " for name in changes)
    cur = await conn.execute(
        f"UPDATE runs SET {sets}updated_at = %(_now)s WHERE id = %(_id)s",
        {**changes, "_now": now, "_id": run_id},
    )
    return cur.rowcount == 1


async def create_promotion(conn: Conn, values: tuple[Any, ...], request_key: str | None) -> int:
    cur = await conn.execute(
        "INSERT INTO promotions (pipeline, repo, platform, status, requested_by, data, "
        "version, created_at, updated_at, requested_in, request_key) "
        "VALUES (%s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s)"
        " ON CONFLICT (request_key) WHERE request_key IS NOT NULL DO NOTHING RETURNING id",
        (*values, request_key),
    )
    return await _created_or_keyed(conn, cur, "promotions", request_key)


async def save_promotion(
    conn: Conn, promotion_id: int, *, status: str, data: str, expected_version: int, now: float
) -> bool:
    # of two replicas saving on one version, the second waits for the first's commit,
    # re-reads the row, and its version no longer matches: nothing changed
    cur = await conn.execute(
        "UPDATE promotions SET status = %s, data = %s, version = %s, updated_at = %s "
        "WHERE id = %s AND version = %s",
        (status, data, expected_version + 1, now, promotion_id, expected_version),
    )
    return cur.rowcount == 1


# -- audit


async def audit(
    conn: Conn, values: tuple[float, str, str, str, str], *, once: bool = False
) -> None:
    if not once:
        await conn.execute(
            "INSERT INTO audit (at, actor, action, repo, detail) VALUES (%s, %s, %s, %s, %s)",
            values,
        )
        return
    at, actor, action, repo, detail = values
    # two replicas writing the same line at once: the second waits here for the first's
    # commit, then finds its line (NOT EXISTS alone would let both insert)
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"audit:{repo}:{at!r}",)
    )
    await conn.execute(
        "INSERT INTO audit (at, actor, action, repo, detail) SELECT %s, %s, %s, %s, %s "
        "WHERE NOT EXISTS (SELECT 1 FROM audit WHERE repo = %s AND at = %s AND actor = %s "
        "AND action = %s AND detail = %s)",
        (*values, repo, at, actor, action, detail),
    )


# -- retention


async def prune_deliveries(conn: Conn, *, before: float, limit: int) -> int:
    cur = await conn.execute(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT %s) "
        "AND received_at < %s",
        (limit, before),
    )
    return cur.rowcount


async def prune_jobs(
    conn: Conn, *, before: float, after_id: int, limit: int
) -> tuple[int, int | None]:
    """As SQLite's ``ops.prune_jobs``: one window of ``limit`` jobs after ``after_id``."""
    cur = await conn.execute(
        "SELECT id, created_at FROM jobs WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit)
    )
    found = await cur.fetchall()
    if not found:
        return 0, None
    last_id = found[-1][0]
    cur = await conn.execute(
        "DELETE FROM jobs WHERE id > %s AND id <= %s AND state = 'done' AND updated_at < %s "
        "AND NOT EXISTS (SELECT 1 FROM events WHERE events.job = jobs.id)",
        (after_id, last_id, before),
    )
    done = len(found) < limit or found[-1][1] >= before
    return cur.rowcount, None if done else last_id
