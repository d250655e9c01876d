"""``prbot db``: the store's schema and moving an installation to PostgreSQL.

``prbot db migrate`` creates or upgrades the schema of the store (``prbot serve`` does it
at start-up too, unless its PostgreSQL URL says ``?migrate=off``); ``prbot db copy``
moves every row of one store into an empty PostgreSQL database, counts checked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from prbot.errors import PrbotError, redact_url
from prbot.settings import database_url

EXIT_OK, EXIT_FAIL = 0, 2

EPILOG = """\
examples:
  prbot db migrate                                   # the store prbot serve uses
  prbot db migrate --database-url postgresql://prbot@db:5432/prbot
  prbot db copy --from sqlite:.prbot-data/prbot.db --to postgresql://prbot@db:5432/prbot

Moving to PostgreSQL: stop prbot serve, run prbot db copy, set PRBOT_DATABASE_URL to the
postgresql:// URL, start the replicas. The copy refuses a target holding prbot data
(--replace empties it first) and changes nothing if any count differs.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "db",
        help="create or upgrade the store's schema; copy a store to PostgreSQL",
        description="The store: its schema, and moving an installation to PostgreSQL.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=lambda _args: _usage(p))
    cmds = p.add_subparsers(dest="db_cmd", metavar="COMMAND")
    migrate = cmds.add_parser(
        "migrate",
        help="create or upgrade the schema",
        description="Create the store's schema, or upgrade it to this prbot's version.",
    )
    migrate.add_argument(
        "--database-url", metavar="URL", help="the store (default: as prbot serve finds it)"
    )
    migrate.set_defaults(func=run_migrate)
    copy = cmds.add_parser(
        "copy",
        help="copy every row of a store into a PostgreSQL database",
        description=(
            "Copy deliveries (with their bodies), jobs, events, runs, promotions and the "
            "audit log, ids kept, into a PostgreSQL database, in one transaction; the "
            "rows of each table are counted on both sides before it commits."
        ),
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="the store")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://…")
    copy.add_argument(
        "--replace",
        action="store_true",
        help="empty the target's prbot tables first (refused without it if they hold rows)",
    )
    copy.set_defaults(func=run_copy)
    return p


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_FAIL


def run_migrate(args: argparse.Namespace) -> int:
    return asyncio.run(_migrate(args.database_url or database_url()))


async def _migrate(url: str) -> int:
    from prbot.store import StoreError, open_store

    try:
        store = open_store(url, migrate=True)
        await store.open()
    except (ValueError, StoreError, OSError) as exc:
        print(f"prbot: {exc}", file=sys.stderr)
        return EXIT_FAIL
    before = getattr(store, "schema_from", None)
    await store.close()
    where = redact_url(url)
    if before is None:  # SQLite upgrades its file at every open: it is current now
        from prbot.store.migrations import LATEST

        print(f"{where}: schema at version {LATEST}")
        return EXIT_OK
    from prbot.store.postgres_schema import LATEST as PG_LATEST

    if before == 0:
        print(f"{where}: schema created (version {PG_LATEST})")
    elif before == PG_LATEST:
        print(f"{where}: schema up to date (version {PG_LATEST})")
    else:
        print(f"{where}: schema upgraded from version {before} to {PG_LATEST}")
    return EXIT_OK


def run_copy(args: argparse.Namespace) -> int:
    return asyncio.run(_copy(args.source, args.target, replace=args.replace))


async def _copy(source: str, target: str, *, replace: bool) -> int:
    from prbot.store import StoreError
    from prbot.store.copy import copy_store

    if source == target:
        print("prbot: --from and --to name the same store", file=sys.stderr)
        return EXIT_FAIL
    try:
        report = await copy_store(source, target, replace=replace)
    except (ValueError, StoreError, PrbotError, OSError) as exc:
        print(f"prbot: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if report.replaced:
        held = ", ".join(f"{n} {t}" for t, n in report.replaced.items() if n)
        print(f"emptied {redact_url(target)} first ({held})")
    counts = ", ".join(f"{n} {t}" for t, n in report.counts.items())
    print(f"copied to {redact_url(target)}, counts checked: {counts}")
    return EXIT_OK
