"""``prbot jobs``: look at the job queue and put dead letters back.

The store is found the way ``prbot serve`` finds it (PRBOT_DATABASE_URL, else
``sqlite:$PRBOT_DATA_DIR/prbot.db``; the PRBOT_CONFIG file too), so an operator runs this
beside the server with the same environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prbot.clock import clock_from
from prbot.settings import database_url, setting
from prbot.store.base import Job

EXIT_OK, EXIT_FAIL = 0, 2
STATES = ("queued", "running", "done", "dead")

EPILOG = """\
examples:
  prbot jobs                      # the newest jobs, any state
  prbot jobs --state queued --limit 20
  prbot jobs dead                 # dead letters, with their last error
  prbot jobs show 42              # one job, its payload and last error
  prbot jobs retry 42             # put a dead (or done) job back in the queue

The store: --database-url, else $PRBOT_DATABASE_URL, else sqlite:$PRBOT_DATA_DIR/prbot.db
(PRBOT_DATA_DIR defaults to .prbot-data), as for prbot serve.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "jobs",
        help="list jobs, show dead letters, retry a job",
        description="The job queue: list jobs, show one, retry dead letters.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--database-url", metavar="URL", help="the store (default: as prbot serve)")
    p.add_argument("--state", choices=STATES, help="only jobs in this state")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    p.set_defaults(func=run, jobs_cmd=None)
    cmds = p.add_subparsers(dest="jobs_cmd", metavar="COMMAND")
    dead = cmds.add_parser("dead", help="list dead letters", description="Dead-lettered jobs.")
    # SUPPRESS: without it this default would override ``prbot jobs --limit N dead``
    dead.add_argument("--limit", type=int, default=argparse.SUPPRESS, metavar="N")
    show = cmds.add_parser("show", help="show one job", description="One job in full.")
    show.add_argument("job_id", type=int, metavar="ID")
    retry = cmds.add_parser(
        "retry",
        help="queue a dead or done job again",
        description=("Put a dead (or done) job back in the queue with its attempts reset."),
    )
    retry.add_argument("job_id", type=int, metavar="ID")
    return p


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from prbot.store import open_store

    url = args.database_url or database_url()
    if url.startswith("sqlite:") and not _sqlite_exists(url):
        print(
            f"prbot: no store at {url} (set PRBOT_DATABASE_URL or PRBOT_DATA_DIR)", file=sys.stderr
        )
        return EXIT_FAIL
    # the clock prbot serve runs on (PRBOT_CLOCK_FILE moves it in tests and the demo)
    clock = clock_from(setting("PRBOT_CLOCK_FILE"))
    store = open_store(url)
    await store.open()
    try:
        if args.jobs_cmd == "show":
            return await _show(store, args.job_id, clock())
        if args.jobs_cmd == "retry":
            return await _retry(store, args.job_id, clock())
        state = "dead" if args.jobs_cmd == "dead" else args.state
        jobs = await store.jobs(state=state, limit=max(1, args.limit))
        print(format_table(jobs, now=clock()))
        return EXIT_OK
    finally:
        await store.close()


def _sqlite_exists(url: str) -> bool:
    """Listing jobs must not create an empty database where the operator mistyped one."""
    from prbot.store.url import parse_sqlite

    target = parse_sqlite(url)
    return target is None or Path(target.path).exists()


async def _show(store: Any, job_id: int, now: float) -> int:
    job = await store.job(job_id)
    if job is None:
        print(f"prbot: no job {job_id}", file=sys.stderr)
        return EXIT_FAIL
    print(f"Job:        {job.id}")
    print(f"Kind:       {job.kind}")
    print(f"State:      {job.state}")
    print(f"Attempts:   {job.attempts} of {job.max_attempts}")
    print(f"Next run:   {_when(job.next_run_at, now) if job.state == 'queued' else '-'}")
    if job.lease_owner:
        print(f"Leased by:  {job.lease_owner} (until {_when(job.lease_expires_at or 0, now)})")
    if job.dedupe_key:
        print(f"Dedupe key: {job.dedupe_key}")
    print(f"Created:    {_stamp(job.created_at)}")
    print(f"Updated:    {_stamp(job.updated_at)}")
    print(f"Last error: {job.last_error or '-'}")
    print("Payload:")
    print(json.dumps(job.payload, indent=2, sort_keys=True, ensure_ascii=False))
    return EXIT_OK


async def _retry(store: Any, job_id: int, now: float) -> int:
    job = await store.job(job_id)
    if job is None:
        print(f"prbot: no job {job_id}", file=sys.stderr)
        return EXIT_FAIL
    if not await store.retry(job_id, now=now):
        print(
            f"prbot: job {job_id} is {job.state}; only dead or done jobs can be retried",
            file=sys.stderr,
        )
        return EXIT_FAIL
    print(f"job {job_id} ({job.kind}) queued again")
    return EXIT_OK


def format_table(jobs: Sequence[Job], *, now: float, error_width: int = 60) -> str:
    """One line per job: id, kind, state, attempts, next run, last error (cut)."""
    if not jobs:
        return "no jobs"
    header = ("ID", "KIND", "STATE", "ATTEMPTS", "NEXT RUN", "LAST ERROR")
    rows = [
        (
            str(j.id),
            j.kind,
            j.state,
            f"{j.attempts}/{j.max_attempts}",
            _when(j.next_run_at, now) if j.state == "queued" else "-",
            _cut(j.last_error or "", error_width),
        )
        for j in jobs
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for r in (header, *rows):
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _when(at: float, now: float) -> str:
    delta = at - now
    if delta <= 0:
        return "now"
    if delta < 120:
        return f"in {delta:.0f}s"
    if delta < 7200:
        return f"in {delta / 60:.0f}m"
    return f"in {delta / 3600:.1f}h"


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else "-"
