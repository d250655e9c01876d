"""The forge's aiohttp application and a server that runs it on 127.0.0.1.

``create_app(forge)`` wires GitHub REST (``/api/v3``), GitHub GraphQL (``/api/graphql``),
GitLab v4 (``/api/v4``, from ``prbot.forge.gitlab`` when that module exists), both
platforms' OAuth sign-in flows (``prbot.forge.oauth``), the admin API (``/_forge``) and
the read-only HTML pages (``prbot.forge.pages``) behind the request recorder / fault
injector. ``ForgeServer`` is an async context manager for tests, the demo and the CLI::

    async with ForgeServer(data_dir) as srv:
        srv.github_api_url   # http://127.0.0.1:PORT/api/v3
        srv.forge            # the Forge behind it
"""

from __future__ import annotations

import importlib
import logging
import shutil
import socket
import tempfile
from pathlib import Path
from types import TracebackType

from aiohttp import web

from prbot.forge import (
    admin,
    faults,
    ghteams,
    ghuser,
    github,
    graphql_api,
    manifest_api,
    oauth,
    pages,
)
from prbot.forge.ghhttp import FORGE_KEY, github_middleware
from prbot.forge.state import Forge

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub refuses larger bodies too
HOST = "127.0.0.1"  # never anything else: the forge has no real security


def create_app(
    forge: Forge,
    *,
    request_log: faults.RequestLog | None = None,
    fault_state: faults.Faults | None = None,
) -> web.Application:
    request_log = request_log or faults.RequestLog()
    fault_state = fault_state or faults.Faults()
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[
            faults.middleware(request_log, fault_state),
            admin.admin_errors,
            github_middleware,
        ],
    )
    app[FORGE_KEY] = forge
    app[admin.LOG_KEY] = request_log
    app[admin.FAULTS_KEY] = fault_state
    github.setup_routes(app)
    ghteams.setup_routes(app)
    ghuser.setup_routes(app)
    graphql_api.setup_routes(app)
    admin.setup_routes(app)
    oauth.setup_routes(app)
    manifest_api.setup_routes(app, forge)  # GitHub's App manifest flow
    _setup_gitlab(app, forge)
    pages.setup_routes(app)  # after the APIs: their paths win over a page's
    return app


def _setup_gitlab(app: web.Application, forge: Forge) -> None:
    try:
        module = importlib.import_module("prbot.forge.gitlab")
    except ModuleNotFoundError as exc:
        if exc.name != "prbot.forge.gitlab":
            raise  # the module exists but is broken: say so
        return
    module.setup_routes(app, forge)


class ForgeServer:
    """Serve a Forge on 127.0.0.1 (``port=0``: a free port). ``data_dir=None`` uses a
    temporary folder removed on exit; pass ``forge`` to serve an existing one."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int = 0,
        forge: Forge | None = None,
    ):
        self._tmp: str | None = None
        if forge is None:
            if data_dir is None:
                self._tmp = tempfile.mkdtemp(prefix="prbot-forge-")
                data_dir = self._tmp
            forge = Forge(data_dir)
        self.forge = forge
        self.requested_port = port
        self.port = 0
        self.requests = faults.RequestLog()
        self.faults = faults.Faults()
        self.app = create_app(forge, request_log=self.requests, fault_state=self.faults)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def github_api_url(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/api/graphql"

    @property
    def gitlab_url(self) -> str:
        """What python-gitlab takes as its url (it appends /api/v4 itself)."""
        return self.url

    @property
    def admin_url(self) -> str:
        return f"{self.url}/_forge"

    async def start(self) -> ForgeServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.requested_port))
        self.port = sock.getsockname()[1]
        self.forge.base_url = self.url
        # access logs would be noise in tests; the recorder keeps what matters
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        log.info("forge listening on %s (data in %s)", self.url, self.forge.data_dir)
        return self

    async def stop(self) -> None:
        await self.forge.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def __aenter__(self) -> ForgeServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
