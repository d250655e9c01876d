"""A real PostgreSQL server for the tests: Debian's binaries, a temporary data folder,
listening on 127.0.0.1 only (no Unix socket), started once per test session and stopped
at its end. Each test that asks gets a database of its own (``postgres_url``).

The server binaries must be there (``./dev test`` installs Debian's ``postgresql``): a
test that needs them FAILS without them, it is never skipped. As root, the server runs
as the ``postgres`` user (it refuses to run as root), in a folder that user owns.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.serve import free_port

SUPERUSER = "prbot"
START_SECONDS = 60


def server_bin() -> Path | None:
    """The newest installed server's bin folder (/usr/lib/postgresql/NN/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """``start()``, then ``new_database()`` as often as needed, then ``stop()``.

    ``durable=False`` (tests) turns fsync off: the data is thrown away at the end, and a
    test must not wait on a disk. The benchmarks start it durable, as in production.
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 300) -> None:
        bindir = server_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): "
                "./dev test installs Debian's postgresql package; or apt-get install postgresql"
            )
        self.bindir = bindir
        self.durable = durable
        self.max_connections = max_connections
        self.port = 0
        self.folder: Path | None = None
        self._names = itertools.count(1)
        self._as_user: list[str] = []

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        self.folder = Path(tempfile.mkdtemp(prefix="prbot-postgres-"))
        if os.geteuid() == 0:
            # the server refuses root: it runs as postgres, in a folder postgres owns
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        self._run(
            "initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        self.port = free_port()
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            "-c unix_socket_directories=''",
            f"-c max_connections={self.max_connections}",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            str(START_SECONDS),
            "-o",
            " ".join(options),
            "start",
        )
        return self

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def pid(self) -> int | None:
        """The postmaster's process id (its backends are its children), for CPU counts."""
        if self.folder is None:
            return None
        try:
            return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def log(self) -> str:
        if self.folder is None:
            return ""
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        if self.folder is None:
            return
        folder, self.folder = self.folder, None
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(folder / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_user, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=START_SECONDS + 30,
            cwd="/",  # the postgres user may not enter the current folder
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, tool, done.stdout, f"{done.stderr}\n{self.log()[-2000:]}"
            )


_shared: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """One server for the whole session, whichever test module asks first."""
    global _shared
    if _shared is None:
        try:
            _shared = PostgresServer().start()
        except (RuntimeError, subprocess.CalledProcessError, KeyError) as exc:
            pytest.fail(f"cannot start PostgreSQL for the tests: {exc}", pytrace=False)
        atexit.register(stop_shared)
    return _shared


def stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None


# imported by the test modules and conftests that need them (``from tests.support.postgres
# import postgres_fixtures``): named apart from the fixtures, so a test's parameter does
# not shadow an import


@pytest.fixture(scope="session", name="postgres_server")
def postgres_server_fixture() -> Iterator[PostgresServer]:
    yield shared_server()
    stop_shared()


@pytest.fixture(name="postgres_url")
def postgres_url_fixture(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return postgres_server.new_database()


@pytest.fixture(name="database_url", params=["sqlite", "postgresql"])
def database_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store of a ``prbot serve`` under test: SQLite in its data folder, then a fresh
    database on the session's PostgreSQL server (the end-to-end tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'data' / 'prbot.db'}"
    return request.getfixturevalue("postgres_server").new_database()
