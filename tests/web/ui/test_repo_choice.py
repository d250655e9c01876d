"""The form's repository chooser against the local forge over HTTP (GitHub with the bot's
token, and GitLab): the repositories both prbot and the person can write to; none where
prbot lists more than it may consider or the platform fails (the form then shows the
text field); a person's list kept a while, counted in requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prbot.scm.port import Scm
from prbot.web.ui.repo_choice import RepoChoices
from tests.support.clock import RecordedSleep
from tests.support.forge import ForgeRepo, forge_with_repo

TOKEN = "choice-bot-token-0123456789"
FILES = {"README.md": "# r\n"}


class Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[ForgeRepo]:
    """acme/gitops (the bot: admin) where alice writes and rita reads; acme/infra where
    alice maintains; acme/docs where the bot only reads and alice writes; other/x that
    the bot cannot see at all, where alice is admin."""
    async with forge_with_repo(
        tmp_path / "forge", token=TOKEN, permissions={"alice": "write", "rita": "read"}
    ) as on:
        forge = on.forge
        for name, bot, alice in (
            ("acme/infra", "write", "maintain"),
            ("acme/docs", "read", "write"),
        ):
            await forge.create_repo(name, files=FILES)
            forge.set_permission(name, on.bot, bot)
            forge.set_permission(name, "alice", alice)
        await forge.create_repo("other/x", files=FILES)
        forge.set_permission("other/x", "alice", "admin")
        yield on


@pytest.fixture(params=["github", "gitlab"])
async def scm(request: pytest.FixtureRequest, env: ForgeRepo) -> AsyncIterator[Scm]:
    made = env.github_scm(sleep=RecordedSleep()) if request.param == "github" else env.gitlab_scm()
    try:
        yield made
    finally:
        await made.aclose()


async def test_the_repositories_both_can_write_to(env: ForgeRepo, scm: Scm) -> None:
    timer = Timer()
    choices = RepoChoices(lambda platform: scm, ttl=60, timer=timer)
    assert await choices.writable_by(scm.platform, "alice") == ("acme/gitops", "acme/infra")
    assert await choices.writable_by(scm.platform, "rita") == ()  # reads only
    log = env.server.requests
    before = log.total
    # kept: asking again (any case of the login) costs nothing
    assert await choices.writable_by(scm.platform, "Alice") == ("acme/gitops", "acme/infra")
    assert log.total == before
    # later, asked again: one listing and one permission request per listed repository
    env.forge.set_permission("acme/infra", "alice", "read")
    timer.now = 61
    assert await choices.writable_by(scm.platform, "alice") == ("acme/gitops",)
    assert log.total - before == 1 + 2


async def test_no_list_when_there_are_more_than_it_considers(scm: Scm) -> None:
    choices = RepoChoices(lambda platform: scm, limit=1)
    assert await choices.writable_by(scm.platform, "alice") is None


async def test_no_list_when_the_platform_fails(env: ForgeRepo, scm: Scm) -> None:
    env.server.faults.configure(error_rate=1.0, error_statuses=[503])
    choices = RepoChoices(lambda platform: scm)
    assert await choices.writable_by(scm.platform, "alice") is None
    env.server.faults.clear()  # a failure is not kept: the next form has its list
    assert await choices.writable_by(scm.platform, "alice") == ("acme/gitops", "acme/infra")
