"""Versioned schema for the SQLite store.

``MIGRATIONS`` is append-only: entry ``i`` takes the schema from version ``i`` to
``i + 1``; released entries are never edited (a database in the field already ran them),
fixes go in a new entry. The version lives in ``PRAGMA user_version``: it sits in the
database header, so it changes in the same transaction as the DDL and a crash mid-way
leaves the old version with the old schema.
"""

from __future__ import annotations

import sqlite3

from prbot.store.base import StoreError

# Times are REAL UNIX seconds passed in by callers; JSON columns are TEXT.
V1 = """
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    received_at REAL NOT NULL,
    payload     BLOB NOT NULL,
    -- the dedupe: a redelivery hits this constraint, never a read-then-write race
    UNIQUE (platform, delivery_id)
);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    delivery INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    data     TEXT NOT NULL
);
CREATE INDEX events_delivery ON events (delivery);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    next_run_at      REAL NOT NULL,
    lease_owner      TEXT,
    lease_expires_at REAL,
    last_error       TEXT,
    dedupe_key       TEXT UNIQUE,
    -- where the job came from, for tracing a webhook to its work
    delivery         INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, next_run_at);
-- claim also looks for running jobs whose lease ran out (a crashed worker's)
CREATE INDEX jobs_lease ON jobs (state, lease_expires_at);
CREATE INDEX jobs_delivery ON jobs (delivery);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    automation   TEXT NOT NULL,
    repo         TEXT NOT NULL,
    platform     TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    inputs       TEXT NOT NULL,
    -- no CHECK on status: new statuses should not need a table rebuild; the store
    -- validates against base.RunStatus instead
    status       TEXT NOT NULL,
    head         TEXT NOT NULL DEFAULT '',
    pr_number    INTEGER,
    pr_url       TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX runs_status ON runs (status, id);
-- a merged/closed PR event finds its run by repository and number
CREATE INDEX runs_pr ON runs (repo, pr_number);

CREATE TABLE promotions (
    id         INTEGER PRIMARY KEY,
    pipeline   TEXT NOT NULL,
    repo       TEXT NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX promotions_pipeline ON promotions (pipeline, status);

CREATE TABLE promotion_stages (
    id          INTEGER PRIMARY KEY,
    promotion   INTEGER NOT NULL REFERENCES promotions(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    status      TEXT NOT NULL,
    pr_number   INTEGER,
    merge_sha   TEXT,
    detail      TEXT NOT NULL DEFAULT '{}',
    started_at  REAL,
    finished_at REAL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (promotion, stage),
    UNIQUE (promotion, position)
);
-- a health report names a sha: find the stage waiting on it
CREATE INDEX promotion_stages_sha ON promotion_stages (merge_sha);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    repo   TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_repo ON audit (repo, id);
"""

# Cheaper intake and queue writes (bench/store.py). Every index a job touches is now an
# index of the state it is in, so a job pays only for the index of its current state.
V2 = """
-- jobs is rebuilt: V1's column constraint "dedupe_key TEXT UNIQUE" made an index entry
-- for every job, NULL keys included, and a column constraint cannot be dropped in place
CREATE TABLE jobs_v2 (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    next_run_at      REAL NOT NULL,
    lease_owner      TEXT,
    lease_expires_at REAL,
    last_error       TEXT,
    dedupe_key       TEXT,
    delivery         INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL
);
INSERT INTO jobs_v2 (id, kind, payload, state, attempts, max_attempts, next_run_at,
                     lease_owner, lease_expires_at, last_error, dedupe_key, delivery,
                     created_at, updated_at)
SELECT id, kind, payload, state, attempts, max_attempts, next_run_at, lease_owner,
       lease_expires_at, last_error, dedupe_key, delivery, created_at, updated_at
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
-- only keyed jobs are indexed: intake jobs need no key (the delivery is deduplicated)
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL;
-- claim's pick of queued jobs in due order; a claimed job leaves it
CREATE INDEX jobs_due ON jobs (next_run_at) WHERE state = 'queued';
-- claim's look for leases that ran out (a crashed worker's); holds running jobs only
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- dead letters, newest first (prbot jobs dead), and their count; few rows
CREATE INDEX jobs_dead ON jobs (state) WHERE state = 'dead';
-- a delivery's jobs; also what ON DELETE SET NULL searches when a delivery goes
CREATE INDEX jobs_delivery ON jobs (delivery);

-- events no longer keep a copy of what their job's payload holds: an event that became a
-- job points at it (jobs.payload is never updated), other events keep their data
CREATE TABLE events_v2 (
    delivery INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    job      INTEGER REFERENCES jobs(id),
    data     TEXT,
    PRIMARY KEY (delivery, position),
    CHECK ((job IS NULL) != (data IS NULL))
) WITHOUT ROWID;
-- window functions need SQLite 3.25; the position is counted instead
INSERT INTO events_v2 (delivery, position, kind, job, data)
SELECT delivery, position, kind, job, CASE WHEN job IS NULL THEN data END
FROM (
    SELECT e.delivery, e.kind, e.data,
           (SELECT count(*) FROM events p WHERE p.delivery = e.delivery AND p.id < e.id)
               AS position,
           (SELECT j.id FROM jobs j WHERE j.delivery = e.delivery AND j.payload = e.data
            ORDER BY j.id LIMIT 1) AS job
    FROM events e
);
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
-- what the foreign key searches when a job is deleted (a retention job, one day): without
-- it, every deleted job scans all events (6 ms each at 200k events)
CREATE INDEX events_job ON events (job) WHERE job IS NOT NULL;
-- the events as V1 stored them, for reading them with SQL
CREATE VIEW event_data AS
SELECT e.delivery, e.position, e.kind, coalesce(e.data, j.payload) AS data, e.job
FROM events e LEFT JOIN jobs j ON j.id = e.job;
"""

# Webhook bodies move out of the database into append-only files (``bodies.py``): a row
# names its body's file, offset and length, and keeps an empty payload. Rows written
# before keep their payload inline.
V3 = """
ALTER TABLE deliveries ADD COLUMN body_file TEXT;
ALTER TABLE deliveries ADD COLUMN body_offset INTEGER;
ALTER TABLE deliveries ADD COLUMN body_length INTEGER;
-- retention's question "does a delivery still name this file?"
CREATE INDEX deliveries_body_file ON deliveries (body_file) WHERE body_file IS NOT NULL;
"""

# A pull request event finds its runs by head branch (``Store.runs(head=...)``) instead of
# reading every open run: constant work per event however many runs are open.
V4 = """
CREATE INDEX runs_head ON runs (head, status);
"""

# Promotions (issue 10): one row per run of a promotion pipeline. Its whole state is one
# JSON document (``prbot.pipeline.codec.to_data``), rewritten at each step, beside the
# columns lookups need; ``version`` counts saves, for optimistic concurrency (a save names
# the version it read, and loses if another save came first). V1's promotions and
# promotion_stages tables were never written by any prbot: they give way to this one.
V5 = """
DROP TABLE promotion_stages;
DROP TABLE promotions;
CREATE TABLE promotions (
    id           INTEGER PRIMARY KEY,
    pipeline     TEXT NOT NULL,
    -- owner/name as the forge spells it; compared without case, as forges do
    repo         TEXT NOT NULL COLLATE NOCASE,
    platform     TEXT NOT NULL,
    -- no CHECK on status, as for runs: the pipeline's statuses may grow
    status       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    data         TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
-- a repository's promotions (of one pipeline, in some statuses), newest first
CREATE INDEX promotions_repo ON promotions (platform, repo, pipeline, status, id);
-- the live ones (running, held) across repositories, newest first
CREATE INDEX promotions_status ON promotions (status, id);
"""

# Slash-commands (issue 11): a run or promotion started by a comment's command carries a
# key made of the comment and the command's place in it, so the command's job, retried
# after a crash, finds what it already started instead of starting a second one; and the
# address of that comment, for its PR body. Unkeyed rows (the API's) cost no index entry.
V6 = """
ALTER TABLE runs ADD COLUMN request_key TEXT;
ALTER TABLE runs ADD COLUMN requested_in TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX runs_request_key ON runs (request_key) WHERE request_key IS NOT NULL;
ALTER TABLE promotions ADD COLUMN request_key TEXT;
ALTER TABLE promotions ADD COLUMN requested_in TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX promotions_request_key ON promotions (request_key)
    WHERE request_key IS NOT NULL;
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6)

LATEST = len(MIGRATIONS)


class SchemaTooNewError(StoreError):
    """The database was written by a newer prbot: running older code on it could corrupt
    data that code does not understand, so we refuse rather than guess."""


def split_statements(script: str) -> list[str]:
    """Split a script into statements. ``executescript`` would do it, but it COMMITs
    first, which would break the one-transaction-per-upgrade guarantee."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        # complete_statement understands string literals and CREATE TRIGGER bodies,
        # so a ';' inside either does not end the statement
        if sqlite3.complete_statement(pending):
            if _has_sql(pending):
                statements.append(pending.strip())
            pending = ""
    if _has_sql(pending.rstrip(";")):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return statements


def _has_sql(text: str) -> bool:
    lines = (line.split("--", 1)[0].strip() for line in text.splitlines())
    return any(line and line != ";" for line in lines)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection, migrations: tuple[str, ...] = MIGRATIONS, *, name: str = "database"
) -> int:
    """Apply the missing migrations in ONE transaction; return the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``). BEGIN IMMEDIATE takes
    the write lock before reading the version, so two processes starting together do not
    both try to upgrade: the second waits (busy_timeout) and then finds nothing to do.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)
        if version > len(migrations):
            raise SchemaTooNewError(
                f"{name} has schema version {version} but this prbot knows versions up to "
                f"{len(migrations)}: it was written by a newer prbot; upgrade prbot, or "
                "restore a backup taken before the upgrade"
            )
        for target in range(version + 1, len(migrations) + 1):
            for statement in split_statements(migrations[target - 1]):
                conn.execute(statement)
            # PRAGMA takes no parameters; target is an int we computed
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(migrations)
