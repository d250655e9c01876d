"""``Scm.writable_repositories``: the repositories prbot itself can write to, against the
local forge over HTTP (GitHub as an App, with and without a fixed installation, and with
a token; GitLab with a token) and the memory fake. The forge decides who sees what from
its own roles, installations and visibilities; a repository the bot may only read, or
cannot see, is never listed. Every GitHub request is checked against GitHub's
description."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.scm.port import RepoListing
from tests.support.clock import RecordedSleep
from tests.support.forge import ForgeRepo, _installation_ids, forge_with_repo, http_client
from tests.support.memory_scm import MemoryScm

from .github.openapi_requests import RequestRecorder, validate_all

TOKEN = "listing-bot-token-0123456789"
FILES = {"README.md": "# r\n"}
# the bot's role on each repository besides acme/gitops (write): what the bot may list
ROLES = {"acme/zeta": "maintain", "acme/Alpha": "write", "acme/docs": "read"}
PUBLIC = "acme/website"  # public, and the bot has no role: readable, not writable
STRANGER = "other/secret"  # another owner's private repository


async def seeded(env: ForgeRepo, *, bot: str) -> None:
    forge = env.forge
    for name, role in ROLES.items():
        await forge.create_repo(name, files=FILES)
        forge.set_permission(name, bot, role)
    await forge.create_repo(PUBLIC, files=FILES, visibility="public")
    await forge.create_repo(STRANGER, files=FILES)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[ForgeRepo]:
    async with forge_with_repo(
        tmp_path / "forge", token=TOKEN, bot_type="User", bot_permission="write"
    ) as on:
        await seeded(on, bot=on.bot)
        yield on


WRITABLE = ("acme/Alpha", "acme/gitops", "acme/zeta")


async def test_gitlab_lists_projects_with_developer_access_or_more(env: ForgeRepo) -> None:
    scm = env.gitlab_scm()
    try:
        assert await scm.writable_repositories(limit=100) == RepoListing(WRITABLE, True)
        # more than the limit: a part, and said so
        part = await scm.writable_repositories(limit=2)
        assert part == RepoListing(WRITABLE[:2], False)
        assert scm.counter.total == 2
    finally:
        await scm.aclose()


async def test_github_token_lists_repositories_it_may_push_to(env: ForgeRepo) -> None:
    sent = RequestRecorder()
    async with (
        http_client(event_hooks={"request": [sent]}) as http,
        env.github_scm(sleep=RecordedSleep(), http=http) as scm,
    ):
        assert await scm.writable_repositories(limit=100) == RepoListing(WRITABLE, True)
        # acme/docs (read) is listed by the platform and left out: it counts towards the
        # limit, as every listed item does
        assert await scm.writable_repositories(limit=3) == RepoListing(WRITABLE[:2], False)
    assert validate_all(sent.sent) == {"GET /user/repos"}


async def test_github_app_lists_its_installations_repositories(env: ForgeRepo) -> None:
    """Without a fixed installation: every installation of the App (one on acme's
    gitops and zeta, one read-only on all of other's), the read-only one left out."""
    await env.install_app(repos=["acme/gitops", "acme/zeta"])
    readonly = {"contents": "read", "metadata": "read"}
    await env.forge.install_app(
        31337, "other", repos=None, permissions=readonly, installation_id=next(_installation_ids)
    )
    sent = RequestRecorder()
    async with (
        http_client(event_hooks={"request": [sent]}) as http,
        env.github_app_scm(sleep=RecordedSleep(), http=http) as scm,
    ):
        listing = await scm.writable_repositories(limit=100)
    assert listing == RepoListing(("acme/gitops", "acme/zeta"), True)
    assert validate_all(sent.sent) >= {
        "GET /app/installations",
        "GET /installation/repositories",
    }


async def test_github_app_with_one_installation_lists_only_it(env: ForgeRepo) -> None:
    installation = await env.install_app(repos=["acme/zeta"])
    await env.forge.install_app(31337, "other", repos=None, installation_id=next(_installation_ids))
    async with env.github_app_scm(installation_id=installation.id, sleep=RecordedSleep()) as scm:
        assert await scm.writable_repositories(limit=100) == RepoListing(("acme/zeta",), True)


async def test_memory_fake_lists_what_the_bot_may_write() -> None:
    scm = MemoryScm(bot="prbot")
    scm.add_repo("acme/b", FILES)
    scm.add_repo("acme/a", FILES, bot_permission="admin")
    scm.add_repo("acme/c", FILES, bot_permission="read")
    assert await scm.writable_repositories(limit=5) == RepoListing(("acme/a", "acme/b"), True)
    assert await scm.writable_repositories(limit=1) == RepoListing(("acme/a",), False)
