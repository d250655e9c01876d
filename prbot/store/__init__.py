"""Persistence: deliveries, jobs, runs, promotions, audit (SQLite by default, or
PostgreSQL for several replicas)."""

from __future__ import annotations

from prbot.errors import redact_url
from prbot.store.base import Store, StoreError
from prbot.store.migrations import SchemaTooNewError
from prbot.store.url import parse_postgres, parse_sqlite, scheme
from prbot.store.writer import StoreClosedError

__all__ = ["SchemaTooNewError", "Store", "StoreClosedError", "StoreError", "open_store"]

_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}


def open_store(url: str, *, migrate: bool | None = None) -> Store:
    """The store a URL names (not opened yet: ``await store.open()``).

    ``sqlite:///abs/path.db``, ``sqlite:relative.db`` or a bare path → SQLite;
    ``?synchronous=full`` makes every commit power-loss durable (see ``sqlite.py``).
    ``postgresql://user:password@host:port/database`` → PostgreSQL (``postgres.py``);
    ``?pool_size=N`` sets its connections per process; ``?migrate=off`` makes ``open()``
    refuse a schema at another version instead of creating or upgrading it (then
    ``prbot db migrate`` does that); other parameters are libpq's. ``migrate`` given here
    overrides the URL's (``prbot db migrate``). SQLite, embedded in one installation,
    always upgrades its file.
    """
    if not url or not url.strip():
        raise ValueError("empty store URL: use e.g. sqlite:///var/lib/prbot/prbot.db")
    target = parse_sqlite(url)
    if target is not None:
        from prbot.store.sqlite import SqliteStore

        options = dict(target.options)
        synchronous = options.pop("synchronous", "normal").lower()
        if synchronous not in _SYNCHRONOUS:
            raise ValueError(
                f"store URL {redact_url(url)!r}: synchronous must be normal or full, "
                f"not {synchronous!r}"
            )
        if options:
            raise ValueError(
                f"store URL {redact_url(url)!r}: unknown option(s) {sorted(options)}; "
                "known: synchronous"
            )
        return SqliteStore(target.path, synchronous=_SYNCHRONOUS[synchronous])  # type: ignore[arg-type]
    postgres = parse_postgres(url)
    if postgres is not None:
        from prbot.store.postgres import DEFAULT_POOL_SIZE, PostgresStore

        size = postgres.options.get("pool_size", str(DEFAULT_POOL_SIZE))
        if not size.isdigit() or int(size) < 1:
            raise ValueError(
                f"store URL {redact_url(url)!r}: pool_size must be a whole number of at "
                f"least 1, not {size!r}"
            )
        upgrade = postgres.options.get("migrate", "on").lower()
        if upgrade not in ("on", "off"):
            raise ValueError(
                f"store URL {redact_url(url)!r}: migrate must be on or off, not {upgrade!r}"
            )
        if migrate is None:
            migrate = upgrade == "on"
        return PostgresStore(postgres.conninfo, pool_size=int(size), migrate=migrate)
    kind = scheme(url)
    raise ValueError(
        f"unsupported store URL scheme {kind!r} in {redact_url(url)!r}: use "
        "sqlite:///path/to/prbot.db or postgresql://user@host:port/database"
    )
