"""Persistence: deliveries, jobs, runs, promotions, audit (SQLite by default)."""

from __future__ import annotations

from prbot.errors import redact_url
from prbot.store.base import Store, StoreError
from prbot.store.migrations import SchemaTooNewError
from prbot.store.url import parse_sqlite, scheme
from prbot.store.writer import StoreClosedError

__all__ = ["SchemaTooNewError", "Store", "StoreClosedError", "StoreError", "open_store"]

_SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}


def open_store(url: str) -> Store:
    """The store a URL names (not opened yet: ``await store.open()``).

    ``sqlite:///abs/path.db``, ``sqlite:relative.db`` or a bare path → SQLite;
    ``?synchronous=full`` makes every commit power-loss durable (see ``sqlite.py``).
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
    kind = scheme(url)
    if kind in ("postgresql", "postgres") or kind.startswith("postgresql+"):
        raise ValueError("PostgreSQL support is not built yet: use sqlite")
    raise ValueError(
        f"unsupported store URL scheme {kind!r} in {redact_url(url)!r}: use sqlite:///path/to/prbot.db"
    )
