"""The SQL of every write, as plain functions over a connection.

They run on the writer thread inside a transaction (``writer.py``): atomic with their
batch, and rolled back alone if they raise; none needs BEGIN/COMMIT. One may run twice (a
batch is replayed when one of its ops raises), so each touches nothing but the connection.
Arguments arrive already encoded (JSON text, tuples): encoding happens in the caller, so a
value that cannot be encoded fails there, before it is queued, and the writer thread
holds the write lock only for SQL (and hands back rows, not decoded values).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from prbot.store import rows
from prbot.store.bodies import BodyFiles

# UPDATE ... RETURNING arrived in SQLite 3.35 (2021); older builds take the fallback,
# which is just as atomic because it runs inside the writer's transaction.
HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)


Row = tuple[Any, ...]


class JobRow(NamedTuple):
    kind: str
    payload: str  # JSON
    max_attempts: int
    next_run_at: float
    dedupe_key: str | None
    created_at: float


class EventRow(NamedTuple):
    kind: str
    data: str  # JSON
    job: int | None  # index in the delivery's jobs of a job whose payload is ``data``


# -- intake


def record_delivery(
    conn: sqlite3.Connection,
    delivery: tuple[str, str, str, float],
    body: bytes,
    bodies: BodyFiles,
    events: Sequence[EventRow],
    jobs: Sequence[JobRow],
) -> bool:
    # the body's place is reserved, and staged only if the row goes in: a redelivery
    # writes nothing (bodies.py: staged bodies are written just before COMMIT)
    body_file, body_offset = bodies.reserve()
    cur = conn.execute(
        "INSERT INTO deliveries (platform, delivery_id, event, received_at, payload, "
        "body_file, body_offset, body_length) VALUES (?, ?, ?, ?, x'', ?, ?, ?) "
        "ON CONFLICT (platform, delivery_id) DO NOTHING",
        (*delivery, body_file, body_offset, len(body)),
    )
    if cur.rowcount == 0:
        return False  # seen before: the UNIQUE constraint is the dedupe
    bodies.stage(body)
    delivery_pk = cur.lastrowid
    ids = [_insert_job(conn, job, delivery_pk) for job in jobs]
    if events:
        rows = []
        for position, event in enumerate(events):
            job_id = None if event.job is None else ids[event.job]
            # stored once: as the payload of the job inserted here for it; an event whose
            # job was deduplicated away (an older job holds its key) keeps its own data
            data = event.data if job_id is None else None
            rows.append((delivery_pk, position, event.kind, job_id, data))
        conn.executemany(
            "INSERT INTO events (delivery, position, kind, job, data) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    return True


# -- the queue

_INSERT_JOB = (
    "INSERT INTO jobs (kind, payload, max_attempts, next_run_at, dedupe_key, delivery, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# the conflict target names the partial index's WHERE, as SQLite requires
_INSERT_KEYED_JOB = (
    f"{_INSERT_JOB} ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING"
)


def job_params(job: JobRow, delivery: int | None) -> tuple[Any, ...]:
    """A job row's column values, in the order both backends insert them."""
    return (
        job.kind,
        job.payload,
        job.max_attempts,
        job.next_run_at,
        job.dedupe_key,
        delivery,
        job.created_at,
        job.created_at,
    )


def _insert_job(conn: sqlite3.Connection, job: JobRow, delivery: int | None) -> int | None:
    """The new job's id; None if a job with its dedupe_key exists already."""
    sql = _INSERT_JOB if job.dedupe_key is None else _INSERT_KEYED_JOB
    cur = conn.execute(sql, job_params(job, delivery))
    return cur.lastrowid if cur.rowcount == 1 else None


def insert_jobs(
    conn: sqlite3.Connection, jobs: Sequence[JobRow], *, delivery: int | None = None
) -> list[int]:
    ids = []
    for job in jobs:
        job_id = _insert_job(conn, job, delivery)
        if job_id is None:  # a job with this dedupe_key exists: hand back its id
            found = conn.execute(
                "SELECT id FROM jobs WHERE dedupe_key = ?", (job.dedupe_key,)
            ).fetchone()
            job_id = found[0]
        ids.append(job_id)
    return ids


# Due jobs, oldest first. Two ordered picks, merged: the queued one walks the jobs_due
# index in order and stops at :limit, so a claim costs the same with a backlog of 100k
# jobs (a single WHERE ... OR ... sorted every due job: 30 ms at 100k, inside the
# writer's transaction, stalling intake). Expired leases are few (crashed workers').
# INDEXED BY: without statistics the planner may prefer another index on state, or a
# scan; a pick must never do that, and a missing index should fail loudly instead.
_PICK = (
    "SELECT id FROM ("
    " SELECT id, next_run_at FROM ("
    "  SELECT id, next_run_at FROM jobs INDEXED BY jobs_due"
    "  WHERE state = 'queued' AND next_run_at <= :now ORDER BY next_run_at, id LIMIT :limit)"
    " UNION ALL"
    " SELECT id, next_run_at FROM ("
    "  SELECT id, next_run_at FROM jobs INDEXED BY jobs_lease"
    "  WHERE state = 'running' AND lease_expires_at < :now"
    "  AND attempts < max_attempts ORDER BY next_run_at, id LIMIT :limit)"
    ") ORDER BY next_run_at, id LIMIT :limit"
)
_LEASE = (
    "UPDATE jobs SET state = 'running', lease_owner = :worker, lease_expires_at = :expires, "
    "attempts = attempts + 1, updated_at = :now"
)


def claim(
    conn: sqlite3.Connection, worker: str, *, limit: int, lease: float, now: float
) -> list[Row]:
    """The leased jobs' rows (``rows.JOB_COLUMNS``), in due order. Rows, not ``Job``s:
    decoding payloads is the caller's work, off the one writer thread everything shares."""
    # A job whose lease ran out with no attempts left killed (or hung) every worker
    # that took it: a poison job. Bury it instead of handing it out forever.
    conn.execute(
        "UPDATE jobs INDEXED BY jobs_lease SET state = 'dead', "
        "last_error = 'lease of ' || coalesce(lease_owner, '?') || ' expired on attempt ' "
        "|| attempts || ' of ' || max_attempts, "
        "lease_owner = NULL, lease_expires_at = NULL, updated_at = :now "
        "WHERE state = 'running' AND lease_expires_at < :now AND attempts >= max_attempts",
        {"now": now},
    )
    params = {"worker": worker, "expires": now + lease, "now": now, "limit": limit}
    if HAS_RETURNING:
        # one statement picks and leases: no window in which another writer (another
        # process on the same file) could take the same rows
        found = conn.execute(
            f"{_LEASE} WHERE id IN ({_PICK}) RETURNING {rows.JOB_COLUMNS}", params
        ).fetchall()
    else:
        ids = [r[0] for r in conn.execute(_PICK, params)]
        if not ids:
            return []
        conn.executemany(f"{_LEASE} WHERE id = :id", [{**params, "id": i} for i in ids])
        marks = ",".join("?" * len(ids))
        found = conn.execute(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE id IN ({marks})", ids
        ).fetchall()
    # RETURNING order is unspecified: hand jobs out in due order (next_run_at, id)
    return sorted(found, key=lambda r: (r[6], r[0]))


def extend_lease(
    conn: sqlite3.Connection, job_id: int, worker: str, *, lease: float, now: float
) -> bool:
    cur = conn.execute(
        "UPDATE jobs SET lease_expires_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'running' AND lease_owner = ?",
        (now + lease, now, job_id, worker),
    )
    return cur.rowcount == 1


def complete(conn: sqlite3.Connection, job_id: int, worker: str, *, now: float) -> bool:
    # lease_owner in the WHERE: a worker whose lease expired and was taken over must
    # not overwrite the new owner's state
    cur = conn.execute(
        "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, "
        "updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?",
        (now, job_id, worker),
    )
    return cur.rowcount == 1


def fail(
    conn: sqlite3.Connection,
    job_id: int,
    worker: str,
    *,
    error: str,
    retry_at: float | None,
    now: float,
) -> bool:
    # retry_at given means queued, even on the last attempt: the retry policy is the
    # worker's (it requeues a job interrupted by shutdown without counting it a failure)
    cur = conn.execute(
        "UPDATE jobs SET state = CASE WHEN :retry_at IS NULL THEN 'dead' ELSE 'queued' END, "
        "next_run_at = coalesce(:retry_at, next_run_at), last_error = :error, "
        "lease_owner = NULL, lease_expires_at = NULL, updated_at = :now "
        "WHERE id = :id AND state = 'running' AND lease_owner = :worker",
        {"retry_at": retry_at, "error": error, "now": now, "id": job_id, "worker": worker},
    )
    return cur.rowcount == 1


def retry(conn: sqlite3.Connection, job_id: int, *, now: float) -> bool:
    # last_error stays: whoever looks at the job next wants to know why it died
    cur = conn.execute(
        "UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = ?, lease_owner = NULL, "
        "lease_expires_at = NULL, updated_at = ? WHERE id = ? AND state IN ('dead', 'done')",
        (now, now, job_id),
    )
    return cur.rowcount == 1


# -- runs


def create_run(conn: sqlite3.Connection, values: tuple[Any, ...], request_key: str | None) -> int:
    """``values``: the columns up to updated_at, then requested_in. A keyed run that exists
    already is the one asked for (migrations.V6): its id."""
    cur = conn.execute(
        "INSERT INTO runs (automation, repo, platform, requested_by, inputs, status, head, "
        "pr_number, pr_url, error, created_at, updated_at, requested_in, request_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        # the conflict target names the partial index's WHERE, as SQLite requires
        " ON CONFLICT (request_key) WHERE request_key IS NOT NULL DO NOTHING",
        (*values, request_key),
    )
    return _created_or_keyed(conn, cur, "runs", request_key)


def _created_or_keyed(
    conn: sqlite3.Connection, cur: sqlite3.Cursor, table: str, request_key: str | None
) -> int:
    if cur.rowcount == 1 or request_key is None:
        return int(cur.lastrowid or 0)
    # table is one of two literals of this module, never from outside
    found = conn.execute(f"SELECT id FROM {table} WHERE request_key = ?", (request_key,))
    return int(found.fetchone()[0])


def update_run(
    conn: sqlite3.Connection, run_id: int, changes: dict[str, Any], *, now: float
) -> bool:
    # column names come from rows.UPDATABLE_RUN_FIELDS (rows.run_changes), never from
    # outside, so formatting them into the statement is safe
    sets = "".join(f"{name} = :{name}, " for name in changes)
    cur = conn.execute(
        f"UPDATE runs SET {sets}updated_at = :_now WHERE id = :_id",
        {**changes, "_now": now, "_id": run_id},
    )
    return cur.rowcount == 1


# -- promotions


def create_promotion(
    conn: sqlite3.Connection, values: tuple[Any, ...], request_key: str | None
) -> int:
    """``values``: pipeline, repo, platform, status, requested_by, data (JSON), created_at,
    updated_at, requested_in; the version starts at 1. A keyed promotion that exists
    already is the one asked for: its id."""
    cur = conn.execute(
        "INSERT INTO promotions (pipeline, repo, platform, status, requested_by, data, "
        "version, created_at, updated_at, requested_in, request_key) "
        "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)"
        " ON CONFLICT (request_key) WHERE request_key IS NOT NULL DO NOTHING",
        (*values, request_key),
    )
    return _created_or_keyed(conn, cur, "promotions", request_key)


def save_promotion(
    conn: sqlite3.Connection,
    promotion_id: int,
    *,
    status: str,
    data: str,
    expected_version: int,
    now: float,
) -> bool:
    # the version in the WHERE is the whole of the concurrency control: of two saves that
    # read the same version, the second matches no row (writes are serialized)
    cur = conn.execute(
        "UPDATE promotions SET status = ?, data = ?, version = ?, updated_at = ? "
        "WHERE id = ? AND version = ?",
        (status, data, expected_version + 1, now, promotion_id, expected_version),
    )
    return cur.rowcount == 1


# -- audit


def audit(
    conn: sqlite3.Connection, values: tuple[float, str, str, str, str], *, once: bool = False
) -> None:
    if not once:
        conn.execute(
            "INSERT INTO audit (at, actor, action, repo, detail) VALUES (?, ?, ?, ?, ?)", values
        )
        return
    at, actor, action, repo, detail = values
    conn.execute(
        "INSERT INTO audit (at, actor, action, repo, detail) SELECT ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM audit WHERE repo = ? AND at = ? AND actor = ? "
        "AND action = ? AND detail = ?)",
        (*values, repo, at, actor, action, detail),
    )


# -- retention


def prune_deliveries(conn: sqlite3.Connection, *, before: float, limit: int) -> int:
    """Deletes deliveries received before ``before`` among the ``limit`` oldest (their
    events go with them: ON DELETE CASCADE; their jobs keep running, delivery SET NULL).
    Ids grow with time, so only the oldest rows are read: never a scan of the bodies."""
    return conn.execute(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT ?) "
        "AND received_at < ?",
        (limit, before),
    ).rowcount


def prune_jobs(
    conn: sqlite3.Connection, *, before: float, after_id: int, limit: int
) -> tuple[int, int | None]:
    """Deletes done jobs updated before ``before`` among the ``limit`` jobs after
    ``after_id``, unless an event still points at one (its delivery is kept). Returns
    (deleted, the id to go on after), None once past the jobs created before ``before``
    (walking on by id: queued and dead jobs at the front must not stall it)."""
    found = conn.execute(
        "SELECT id, created_at FROM jobs WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    ).fetchall()
    if not found:
        return 0, None
    last_id = found[-1][0]
    deleted = conn.execute(
        "DELETE FROM jobs WHERE id > ? AND id <= ? AND state = 'done' AND updated_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM events WHERE events.job = jobs.id)",
        (after_id, last_id, before),
    ).rowcount
    done = len(found) < limit or found[-1][1] >= before
    return deleted, None if done else last_id
