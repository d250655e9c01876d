"""Store URLs: which backend, which file. Errors never repeat a password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from prbot.errors import redact_url

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class SqliteTarget:
    path: str
    options: dict[str, str]


def parse_sqlite(url: str) -> SqliteTarget | None:
    """The file a SQLite URL names; None if ``url`` is not a SQLite one.

    ``sqlite:///abs/path.db`` (absolute), ``sqlite:relative.db`` and a bare path are
    accepted; ``?synchronous=full`` may follow a URL.
    """
    match = _SCHEME.match(url)
    # one letter before ':' is a Windows drive ("C:\\prbot.db"), not a scheme
    if match is None or len(match.group(1)) == 1:
        return SqliteTarget(url, {})
    if match.group(1).lower() != "sqlite":
        return None
    rest, _, query = url[match.end() :].partition("?")
    if rest.startswith("///"):
        path = rest[2:]  # keep one slash: the path is absolute
    elif rest.startswith("//"):
        raise ValueError(
            f"store URL {redact_url(url)!r} names a host; SQLite needs a file: "
            "use sqlite:///absolute/path.db or sqlite:relative.db"
        )
    else:
        path = rest
    if not path or path in (":memory:", "/:memory:"):
        raise ValueError(
            f"store URL {redact_url(url)!r} names no file: SQLite needs one "
            "(WAL and the separate reader connections do not work in memory)"
        )
    options = {key.lower(): value for key, value in parse_qsl(query, keep_blank_values=True)}
    return SqliteTarget(path, options)


@dataclass(frozen=True)
class PostgresTarget:
    conninfo: str  # for libpq: postgresql://user:password@host:port/db?sslmode=...
    options: dict[str, str]  # prbot's own options, taken out of the query


# prbot's own options on a PostgreSQL URL; every other query parameter is libpq's
POSTGRES_OPTIONS = frozenset({"pool_size", "migrate"})


def parse_postgres(url: str) -> PostgresTarget | None:
    """The connection a PostgreSQL URL names; None if ``url`` is not a PostgreSQL one.

    ``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` (SQLAlchemy's
    spelling) are accepted; libpq's parameters (``sslmode``, ``connect_timeout``, ...)
    pass through; ``pool_size`` (connections each process keeps) and ``migrate``
    (``on``, the default, or ``off``) are prbot's.
    """
    kind = scheme(url)
    if kind not in ("postgresql", "postgres") and not kind.startswith("postgresql+"):
        return None
    rest = url[len(kind) + 1 :]
    if not rest.startswith("//"):
        raise ValueError(f"store URL {redact_url(url)!r}: use postgresql://user@host:port/database")
    base, _, query = rest.partition("?")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in POSTGRES_OPTIONS:
            ours[key.lower()] = value
        else:
            theirs.append((key, value))
    conninfo = "postgresql:" + base + ("?" + urlencode(theirs) if theirs else "")
    return PostgresTarget(conninfo, ours)


def scheme(url: str) -> str:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""
