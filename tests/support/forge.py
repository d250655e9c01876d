"""The local forge with a repository on it: one way for every test to get one.

``forge_with_repo`` starts a real ``prbot.forge.server.ForgeServer`` on 127.0.0.1 (GitHub
REST/GraphQL and GitLab v4 on the same port) and seeds a bare git repository with the
given files, a bot user with a token and the collaborators asked for. The ``forge_repo``
fixture (registered for every folder by tests/conftest.py) is that, per test, with the
files of the ``forge_files`` fixture and the options of ``forge_options``: override either
in a folder's conftest or a test module to seed something else.

What a test checks on a branch it reads with the git CLI on the bare repository
(``ForgeRepo.git``/``show``/``ls_tree``), never through the API under test.
"""

from __future__ import annotations

import functools
import itertools
import ssl
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from prbot.demo.stack import app_keypair as new_app_keypair
from prbot.forge.server import ForgeServer
from prbot.forge.state import Forge
from prbot.scm.github import AppAuth, GitHubScm
from prbot.scm.gitlab import GitLabScm, RetryPolicy

REPO = "acme/gitops"
BOT = "prbot"
TOKEN = "forge-test-token-0123456789"
APP_ID = 31337

# path -> content, or (content, mode) for an executable ("100755") or a symlink ("120000")
Files = Mapping[str, bytes | str | tuple[bytes | str, str]]

FILES: Files = {
    "README.md": "# gitops\n",
    "apps/podinfo.yaml": "image:\n  repository: podinfo\n  tag: '6.0.0' # bumped by prbot\n",
}

# quick GitLab retries: tests exercise the retry paths, not the production delays
FAST_GITLAB_RETRY = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, max_wait=2.0)


@functools.cache
def app_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) of one RSA key per test run (one costs ~50 ms)."""
    return new_app_keypair()


_installation_ids = itertools.count(81_000_001)


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def http_client(**options: Any) -> httpx.AsyncClient:
    """An httpx client for a provider's ``http=`` (to hook requests). The forge is plain
    HTTP, but building a client's TLS context costs ~30 ms: all of them share one."""
    options.setdefault("timeout", 30)
    options.setdefault("verify", _tls())
    return httpx.AsyncClient(**options)


@functools.cache
def app_auth(app_id: int = APP_ID) -> AppAuth:
    """The App's credentials, shared by the test run (loading the key costs ~50 ms)."""
    return AppAuth(app_id, app_keypair()[0])


@dataclass
class ForgeRepo:
    """A running forge, one repository on it, and the bot whose token reaches it."""

    server: ForgeServer
    repo: str = REPO
    bot: str = BOT
    token: str = TOKEN

    @property
    def forge(self) -> Forge:
        return self.server.forge

    @property
    def git_dir(self) -> Path:
        return self.forge.git_dir(self.repo)

    # -- what is on the forge, from git itself ------------------------------------------

    def git_bytes(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args], check=True, capture_output=True
        ).stdout

    def git(self, *args: str) -> str:
        return self.git_bytes(*args).decode()

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", ref).strip()

    def parents(self, ref: str) -> list[str]:
        return self.git("rev-list", "--parents", "-n", "1", ref).split()[1:]

    def ls_tree(self, ref: str) -> dict[str, tuple[str, str]]:
        """path -> (mode, blob sha) of every file at ``ref``."""
        out = {}
        for line in self.git("ls-tree", "-r", ref).splitlines():
            meta, path = line.split("\t", 1)
            mode, _kind, sha = meta.split()
            out[path] = (mode, sha)
        return out

    def show(self, ref: str, path: str) -> str:
        return self.git("show", f"{ref}:{path}")

    def open_prs(self, head: str) -> list[Any]:
        return self.forge.pull_requests(self.repo, state="open", head=head)

    # -- providers pointed at it ---------------------------------------------------------

    def github_scm(self, **options: Any) -> GitHubScm:
        """GitHubScm with the bot's token (GHES-style URLs on the forge)."""
        return GitHubScm.with_token(
            self.token,
            api_url=self.server.github_api_url,
            graphql_url=self.server.graphql_url,
            **options,
        )

    async def install_app(self, app_id: int = APP_ID, *, slug: str = "prbot", **install: Any):
        """Register a GitHub App with ``app_keypair()`` and install it on the repository
        (``repos=None``: on every repository of its owner). Installation ids are unique in
        the test run, so ``app_auth()``'s cached tokens never reach the wrong forge."""
        await self.forge.register_app(app_id, app_keypair()[1], slug=slug)
        install.setdefault("repos", [self.repo])
        install.setdefault("installation_id", next(_installation_ids))
        return await self.forge.install_app(app_id, self.repo.split("/")[0], **install)

    def github_app_scm(self, app_id: int = APP_ID, **options: Any) -> GitHubScm:
        """GitHubScm as the App of ``install_app`` (the installation is looked up per
        repository unless ``installation_id`` is given)."""
        return GitHubScm(
            app_auth(app_id),
            api_url=self.server.github_api_url,
            graphql_url=self.server.graphql_url,
            **options,
        )

    def gitlab_scm(self, token: str | None = None, **options: Any) -> GitLabScm:
        options.setdefault("retry", FAST_GITLAB_RETRY)
        options.setdefault("timeout", 10)
        return GitLabScm(self.server.gitlab_url, token or self.token, **options)


@asynccontextmanager
async def running_forge(data_dir: Path | str | None = None) -> AsyncIterator[ForgeServer]:
    """A forge on a free port of 127.0.0.1 keeping its data in ``data_dir``."""
    async with ForgeServer(forge=Forge(data_dir) if data_dir else None) as server:
        yield server


async def seed_repo(
    server: ForgeServer,
    repo: str = REPO,
    files: Files | None = None,
    *,
    bot: str = BOT,
    token: str = TOKEN,
    bot_type: str = "User",
    bot_permission: str = "admin",
    permissions: Mapping[str, str] | None = None,
) -> ForgeRepo:
    """``repo`` on ``server`` with one commit holding ``files`` on main; ``bot`` (created
    with ``token`` if new) gets ``bot_permission``, each login of ``permissions`` its role."""
    forge = server.forge
    await forge.create_repo(repo, files=FILES if files is None else files)
    forge.create_user(bot, type=bot_type)
    forge.create_token(bot, token)
    forge.set_permission(repo, bot, bot_permission)
    for login, permission in (permissions or {}).items():
        forge.set_permission(repo, login, permission)
    return ForgeRepo(server, repo, bot, token)


@asynccontextmanager
async def forge_with_repo(
    data_dir: Path | str | None = None,
    repo: str = REPO,
    files: Files | None = None,
    **seed: Any,
) -> AsyncIterator[ForgeRepo]:
    """A running forge with ``repo`` seeded by ``seed_repo``; stopped on exit."""
    async with running_forge(data_dir) as server:
        yield await seed_repo(server, repo, files, **seed)


# -- the fixture ---------------------------------------------------------------------------


@pytest.fixture
def forge_files() -> Files:
    """The files ``forge_repo`` seeds its repository with (override to change them)."""
    return FILES


@pytest.fixture
def forge_options() -> dict[str, Any]:
    """``seed_repo`` options of ``forge_repo``: repo, bot, token, permissions, ..."""
    return {}


@pytest.fixture
async def forge_repo(
    tmp_path: Path, forge_files: Files, forge_options: dict[str, Any]
) -> AsyncIterator[ForgeRepo]:
    """A forge on 127.0.0.1 with one seeded repository, for one test."""
    async with forge_with_repo(tmp_path / "forge", files=forge_files, **forge_options) as env:
        yield env
