"""Who may use which slash-command, as the platform says, on the forge: every verb at
every permission (GitHub's none, read, triage, write, maintain, admin; GitLab's access
levels, no access to Owner), read through the real GitHub and GitLab providers, with the
defaults of the registry. ``approve`` is for the gate's listed users and teams (else
maintain): a read-only member of the listed team may. The forge has no forks: a PR opened
from a branch by a user with read access stands in for a fork's, whose author may use
``help`` and ``status`` only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from prbot.commands.registry import Permission, at_least
from prbot.engine.commands import JOB
from prbot.engine.commands.job import CommandJob
from prbot.engine.definitions import DefinitionsCache
from prbot.events import CommentCreated
from prbot.forge.git import Change
from prbot.settings import Settings
from prbot.store.base import Job
from prbot.store.sqlite import SqliteStore
from prbot.worker.handlers import build_handlers
from tests.support.forge import ForgeRepo
from tests.support.promotions import repo_files

REPO = "acme/gitops"
LEVELS: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")
GITLAB_LEVELS = {"none": 0, "read": 10, "triage": 20, "write": 30, "maintain": 40, "admin": 50}
# each verb's least permission by default (approve: for someone the gate does not list)
LEAST: dict[str, Permission] = {
    "help": "none",
    "status": "none",
    "run": "write",
    "promote": "write",
    "approve": "maintain",
    "hold": "write",
    "resume": "write",
    "retry": "write",
    "rollback": "maintain",
    "cancel": "write",
}
GATED = """\
apiVersion: prbot.dev/v1alpha1
kind: Pipeline
metadata: {name: gated}
spec:
  stages:
    - {name: dev, automation: bump, context: {env: dev}, health: {checks: [ci/deploy]}}
    - name: prod
      automation: bump
      context: {env: prod}
      gates: [{approval: {teams: [platform]}}]
      health: {checks: [ci/deploy]}
"""


@pytest.fixture
def forge_files() -> dict[str, str]:
    return repo_files(gated=GATED)


@pytest.fixture
def forge_options() -> dict[str, object]:
    return {"repo": REPO, "permissions": {f"u-{level}": level for level in LEVELS[1:]}}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "prbot.db"))
    await s.open()
    yield s
    await s.close()


class Commenter:
    """Comments on the forge, and carries the comment's commands out as a worker would."""

    def __init__(self, forge_repo: ForgeRepo, store: SqliteStore, platform: str) -> None:
        self.forge_repo = forge_repo
        self.platform = platform
        scm = forge_repo.github_scm() if platform == "github" else forge_repo.gitlab_scm()
        definitions = DefinitionsCache(None, lambda _: scm)
        handlers = build_handlers(Settings(), store, definitions, scm_for=lambda _: scm)
        self.job: CommandJob = handlers[JOB]  # type: ignore[assignment]
        self.scm = scm

    async def commands(self, number: int, author: str, body: str) -> dict[str, str]:
        """Each command's line of the reply, by verb."""
        forge = self.forge_repo.forge
        comment = await forge.add_comment(REPO, number, body, author=author)
        event = CommentCreated(
            platform=self.platform,  # type: ignore[arg-type]
            repo=REPO,
            number=number,
            comment_id=comment.id,
            author=author,
            body=body,
        )
        job = Job(0, JOB, {"event": event.to_dict()}, "running", 1, 8, 0.0)
        await self.job(job)
        [reply] = [
            c.body for c in forge.comments(REPO, number) if f"prbot:command:{comment.id}" in c.body
        ]
        lines = [line for line in reply.splitlines() if line.startswith("- ")]
        return {line.split("`")[1]: line for line in lines}


def all_verbs(pid: int) -> str:
    return "\n".join(
        [
            "/prbot help",
            f"/prbot status --promotion {pid}",
            "/prbot run nothing-by-that-name",
            "/prbot promote nothing-by-that-name",
            f"/approve prod --promotion {pid}",
            *(f"/{verb} --promotion {pid}" for verb in ("hold", "resume", "retry")),
            *(f"/{verb} --promotion {pid}" for verb in ("rollback", "cancel")),
        ]
    )


async def promotion(store: SqliteStore, platform: str) -> int:
    """A promotion of ``gated`` on the repository (not started: every command that is
    permitted is then refused by the promotion, and changes nothing)."""
    return await store.create_promotion(
        pipeline="gated", repo=REPO, platform=platform, requested_by="alice",
        status="running", data=await gated_data(platform), now=1.0,
    )  # fmt: skip


async def gated_data(platform: str) -> dict[str, Any]:
    from prbot.automation.changeset import MemoryRepoView
    from prbot.automation.loader import load_view
    from prbot.engine.promotions import spec_from_definition
    from prbot.pipeline.codec import to_data
    from prbot.pipeline.model import new_promotion

    [pipeline] = load_view(MemoryRepoView({"gated.yaml": GATED})).pipelines.values()
    p = new_promotion("1", spec_from_definition(pipeline), REPO, {"tag": "1"}, "alice", 1.0)
    return to_data(p)


def verdict(line: str) -> str:
    return "refused" if "not permitted" in line else "permitted"


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_each_verb_at_each_permission(
    forge_repo: ForgeRepo, store: SqliteStore, platform: str
) -> None:
    forge = forge_repo.forge
    forge.create_user("u-none")
    forge.set_permission(REPO, "erin", "read")
    forge.create_team("acme/platform")
    forge.set_team_member("acme/platform", "erin")
    await forge.commit_changes(
        REPO, "change", "A change", {"README.md": Change(content=b"changed\n")},
        actor="u-write", start_branch="main",
    )  # fmt: skip
    pr = await forge.open_pull_request(REPO, head="change", title="A change", author="u-write")
    pid = await promotion(store, platform)
    commenter = Commenter(forge_repo, store, platform)
    if platform == "gitlab":  # the levels the provider reads are GitLab's own
        assert [forge.access_level(REPO, f"u-{level}") for level in LEVELS] == [
            GITLAB_LEVELS[level] for level in LEVELS
        ]

    got: dict[str, dict[str, str]] = {}
    for level in LEVELS:
        lines = await commenter.commands(pr.number, f"u-{level}", all_verbs(pid))
        assert list(lines) == list(LEAST)
        got[level] = {verb: verdict(line) for verb, line in lines.items()}
        for verb, line in lines.items():
            if verdict(line) == "refused":
                need = LEAST[verb]
                shown = {"github": need, "gitlab": f"({need})"}[platform]
                assert shown in line, line
    expected = {
        level: {
            verb: "permitted" if at_least(level, least) else "refused"
            for verb, least in LEAST.items()
        }
        for level in LEVELS
    }
    assert got == expected

    # a read-only member of the team the prod gate lists may approve, and only that
    lines = await commenter.commands(pr.number, "erin", all_verbs(pid))
    assert {verb: verdict(line) for verb, line in lines.items()} == {
        verb: "permitted" if verb in ("help", "status", "approve") else "refused" for verb in LEAST
    }
    assert "refused: stage prod is pending, not waiting at its gates" in lines["approve"]
    if platform == "gitlab":
        assert "needs Developer (write) or more" in lines["hold"]
        assert "@erin has Guest (read)" in lines["hold"]


@pytest.mark.parametrize("platform", ["github", "gitlab"])
async def test_the_author_of_a_pr_without_write_access_may_only_ask(
    forge_repo: ForgeRepo, store: SqliteStore, platform: str
) -> None:
    """The forge cannot fork: a reader's PR from a branch of the repository stands in
    for a fork's (what counts is the author's permission on this repository)."""
    forge = forge_repo.forge
    forge.set_permission(REPO, "forker", "read")
    await forge.commit_changes(
        REPO, "forker-patch", "A fix", {"README.md": Change(content=b"fixed\n")},
        actor="forker", start_branch="main",
    )  # fmt: skip
    pr = await forge.open_pull_request(REPO, head="forker-patch", title="Fix", author="forker")
    pid = await promotion(store, platform)
    lines = await Commenter(forge_repo, store, platform).commands(
        pr.number, "forker", all_verbs(pid)
    )
    assert {verb for verb, line in lines.items() if verdict(line) == "permitted"} == {
        "help",
        "status",
    }
    assert await store.runs() == [] and len(await store.promotions()) == 1
