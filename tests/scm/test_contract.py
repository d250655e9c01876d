"""The SCM port's contract: every behaviour of ``prbot.scm.port.Scm`` as its own test, run
on three implementations: ``GitHubScm`` (as a GitHub App) and ``GitLabScm`` against the
local forge over HTTP on loopback, and tests/support's ``MemoryScm``.

Each test gets a fresh forge with a fresh repository (a forge starts in about 3 ms; one
shared by the module would grow a state it rewrites on every change). What a test checks
behind the port (a branch's files, a commit's parents, who was asked to review) it reads
from the forge's own state and git, or the memory fake's, never through the
implementation under test. Every REST request GitHubScm sends is also checked against
GitHub's OpenAPI description. Where the platforms differ, the test says how, explicitly.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from prbot.automation.changeset import ChangeSet, FileChange
from prbot.forge.git import Change
from prbot.forge.state import Forge
from prbot.scm.change_id import TRAILER
from prbot.scm.port import (
    CommitResult,
    Conflict,
    HealthSignal,
    HealthWanted,
    NotFound,
    PullRequest,
    PullRequestDraft,
    Scm,
    ScmError,
)
from tests.support.clock import RecordedSleep
from tests.support.forge import REPO, forge_with_repo, http_client
from tests.support.memory_scm import MemoryScm, blob_sha

from .github.openapi_requests import RequestRecorder, validate_all

IMPLEMENTATIONS = ["github", "gitlab", "memory"]
OWNER = "acme"  # owns REPO, acme/gitops
TOKEN = "contract-bot-token-0123456789"
BOT = {"github": "prbot[bot]", "gitlab": "prbot", "memory": "prbot"}

VALUES = """\
# dev cluster values: comments survive prbot's edits
image:
  repository: ghcr.io/acme/app   # the registry
  tag: "1.0.0"
replicas: 2
"""
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
START_FILES: dict[str, Any] = {
    "README.md": "# gitops\n",
    "clusters/dev/values.yaml": VALUES,
    "legacy/old.yaml": "old: true\n",
    "scripts/deploy.sh": ("#!/bin/sh\necho deploy\n", "100755"),
    "docs/logo.png": (PNG, "100644"),
    "current": ("clusters/dev", "120000"),
}
# who else has a role on every repository (the owner, acme, is admin)
PEOPLE = {"alice": "maintain", "bob": "read"}

BRANCH = "prbot/contract/billing"
CHANGE = ChangeSet((FileChange("create", "services/billing.yaml", b"name: billing\n"),))
OTHER_CHANGE = ChangeSet((FileChange("create", "services/billing.yaml", b"name: billing-2\n"),))


# -- what a test may see and do behind the port ----------------------------------------------


class Side(Protocol):
    """The repository as the platform holds it, read and changed without the port."""

    async def head(self, branch: str) -> str | None: ...
    async def commit(self, sha: str) -> tuple[tuple[str, ...], str]: ...  # parents, message
    async def files(self, ref: str) -> dict[str, tuple[str, bytes]]: ...  # path: mode, data
    async def open_prs(self, head: str) -> list[int]: ...
    async def reviewers(self, number: int) -> list[str]: ...
    async def comments(self, number: int) -> list[tuple[str, str]]: ...  # author, body
    async def reactions(self, comment_id: int) -> list[str]: ...
    async def comment_as(self, author: str, number: int, body: str) -> int: ...
    async def push(self, branch: str, files: Mapping[str, bytes | None]) -> str: ...
    async def branch(self, name: str, sha: str) -> None: ...
    async def tag(self, name: str, sha: str) -> None: ...
    async def close(self, number: int) -> None: ...
    async def orphan(self) -> str: ...  # a commit with main's files and no parent
    async def team(self, path: str, members: Mapping[str, bool]) -> None: ...  # login: active
    async def check(self, sha: str, name: str, state: str) -> None: ...  # CI's own check
    async def deploy(self, sha: str, environment: str, state: str) -> None: ...


# the port's states as a deployment status's state
DEPLOYED = {"success": "success", "failure": "failure", "pending": "in_progress"}


@dataclass
class ForgeSide:
    forge: Forge
    repo: str
    platform: str = "github"

    async def head(self, branch: str) -> str | None:
        return await self.forge.resolve(self.repo, f"refs/heads/{branch}")

    async def commit(self, sha: str) -> tuple[tuple[str, ...], str]:
        info = await self.forge.commit_info(self.repo, sha)
        return info.parents, info.message

    async def files(self, ref: str) -> dict[str, tuple[str, bytes]]:
        items = [i for i in await self.forge.list_tree(self.repo, ref) if i.type == "blob"]
        blobs = await self.forge.read_blobs(self.repo, [i.sha for i in items])
        return {i.path: (i.mode, blobs[i.sha]) for i in items}

    async def open_prs(self, head: str) -> list[int]:
        return [p.number for p in self.forge.pull_requests(self.repo, state="open", head=head)]

    async def reviewers(self, number: int) -> list[str]:
        return list(self.forge.pull_request(self.repo, number).requested_reviewers)

    async def comments(self, number: int) -> list[tuple[str, str]]:
        return [(c.author, c.body) for c in self.forge.comments(self.repo, number)]

    async def reactions(self, comment_id: int) -> list[str]:
        return [r.content for r in self.forge.comment(self.repo, comment_id).reactions]

    async def comment_as(self, author: str, number: int, body: str) -> int:
        return (await self.forge.add_comment(self.repo, number, body, author=author)).id

    async def push(self, branch: str, files: Mapping[str, bytes | None]) -> str:
        changes = {p: None if c is None else Change(content=c) for p, c in files.items()}
        return await self.forge.commit_changes(
            self.repo, branch, "Hand edit", changes, actor=OWNER, start_branch="main"
        )

    async def branch(self, name: str, sha: str) -> None:
        await self.forge.create_ref(self.repo, f"refs/heads/{name}", sha, actor=OWNER)

    async def tag(self, name: str, sha: str) -> None:
        await self.forge.create_ref(self.repo, f"refs/tags/{name}", sha, actor=OWNER)

    async def close(self, number: int) -> None:
        await self.forge.update_pull_request(self.repo, number, actor=OWNER, state="closed")

    async def orphan(self) -> str:
        main = await self.forge.commit_info(self.repo, await self.forge.resolve(self.repo, "main"))
        return await self.forge.create_commit(self.repo, main.tree, [], "Orphan", author=OWNER)

    async def team(self, path: str, members: Mapping[str, bool]) -> None:
        self.forge.create_team(path)
        for login, active in members.items():
            self.forge.set_team_member(path, login, state="active" if active else "pending")

    async def check(self, sha: str, name: str, state: str) -> None:
        if self.platform == "gitlab":  # a CI job reports as a commit status on GitLab
            await self.forge.post_status(self.repo, sha, state, creator="ci", context=name)
            return
        status, conclusion = ("in_progress", None) if state == "pending" else ("completed", state)
        await self.forge.post_check_run(self.repo, sha, name, status=status, conclusion=conclusion)

    async def deploy(self, sha: str, environment: str, state: str) -> None:
        d = await self.forge.create_deployment(
            self.repo, sha, creator=OWNER, environment=environment, required_contexts=[]
        )
        await self.forge.post_deployment_status(self.repo, d.id, DEPLOYED[state], creator=OWNER)


@dataclass
class MemorySide:
    scm: MemoryScm
    repo: str

    async def head(self, branch: str) -> str | None:
        return self.scm.branch_head(self.repo, branch)

    async def commit(self, sha: str) -> tuple[tuple[str, ...], str]:
        c = self.scm.commit(self.repo, sha)
        return c.parents, c.message

    async def files(self, ref: str) -> dict[str, tuple[str, bytes]]:
        return {p: (f.mode, f.content) for p, f in self.scm.files(self.repo, ref).items()}

    async def open_prs(self, head: str) -> list[int]:
        return [p.number for p in self.scm.pulls(self.repo, head=head)]

    async def reviewers(self, number: int) -> list[str]:
        return list(self.scm.repos[self.repo].pulls[number].reviewers)

    async def comments(self, number: int) -> list[tuple[str, str]]:
        return [(c.author, c.body) for c in self.scm.comments(self.repo, number)]

    async def reactions(self, comment_id: int) -> list[str]:
        return self.scm.reactions(self.repo, comment_id)

    async def comment_as(self, author: str, number: int, body: str) -> int:
        return self.scm.add_comment(self.repo, number, body, author=author)

    async def push(self, branch: str, files: Mapping[str, bytes | None]) -> str:
        return self.scm.push(self.repo, branch, files, author=OWNER)

    async def branch(self, name: str, sha: str) -> None:
        self.scm.repos[self.repo].refs[f"heads/{name}"] = sha

    async def tag(self, name: str, sha: str) -> None:
        self.scm.create_tag(self.repo, name, sha)

    async def close(self, number: int) -> None:
        await self.scm.close_pull_request(self.repo, number)

    async def orphan(self) -> str:
        r = self.scm.repos[self.repo]
        tree = r.commits[r.refs["heads/main"]].tree
        return self.scm._new_commit(r, tree, (), "Orphan", OWNER)

    async def team(self, path: str, members: Mapping[str, bool]) -> None:
        for login, active in members.items():
            self.scm.set_team_member(path, login, active=active)

    async def check(self, sha: str, name: str, state: str) -> None:
        self.scm.add_signal(self.repo, sha, HealthSignal("check", name, state))  # type: ignore[arg-type]

    async def deploy(self, sha: str, environment: str, state: str) -> None:
        self.scm.add_signal(self.repo, sha, HealthSignal("deployment", environment, state))  # type: ignore[arg-type]


@dataclass
class Subject:
    """One implementation of the port, a fresh repository it can write to, and its side."""

    name: str  # github | gitlab | memory
    scm: Scm
    repo: str
    bot: str  # the login the implementation acts as
    side: Side

    async def main(self) -> str:
        head = await self.side.head("main")
        assert head is not None
        return head

    async def commit(
        self, branch: str = BRANCH, changes: ChangeSet = CHANGE, message: str = "Add billing"
    ) -> CommitResult:
        """``changes`` on ``branch``, based on main's head (as the forge has it: a run
        would have read it with ``snapshot``, which the snapshot tests cover)."""
        return await self.scm.commit_changes(
            self.repo, base_sha=await self.main(), branch=branch, changes=changes, message=message
        )

    async def open_pr(self, branch: str = BRANCH, **draft: Any) -> PullRequest:
        if await self.side.head(branch) is None:
            await self.commit(branch)
        fields: dict[str, Any] = {"title": "Add billing", "body": "Adds billing."} | draft
        return await self.scm.open_pull_request(
            self.repo, PullRequestDraft(head=branch, base="main", **fields)
        )


# -- a forge per test (one starts in milliseconds, and stays small) -------------------------------


@pytest.fixture(params=IMPLEMENTATIONS)
async def s(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    name: str = request.param
    if name == "memory":
        memory = MemoryScm(bot=BOT[name])
        memory.add_repo(REPO, START_FILES, permissions=PEOPLE)  # type: ignore[arg-type]
        yield Subject(name, memory, REPO, BOT[name], MemorySide(memory, REPO))
        return
    async with forge_with_repo(
        tmp_path / "forge",
        REPO,
        START_FILES,
        token=TOKEN,
        bot_type="Bot",
        bot_permission="write",
        permissions=PEOPLE,
    ) as on:
        side = ForgeSide(on.forge, REPO, name)
        if name == "gitlab":  # the bot user's token
            scm = on.gitlab_scm()
            try:
                yield Subject(name, scm, REPO, BOT[name], side)
            finally:
                await scm.aclose()
            return
        # GitHub: an App installed on the repository, every request recorded
        installation = await on.install_app()
        sent = RequestRecorder()
        async with (
            http_client(event_hooks={"request": [sent]}) as http,
            on.github_app_scm(
                installation_id=installation.id, sleep=RecordedSleep(), http=http
            ) as scm,
        ):
            yield Subject(name, scm, REPO, BOT[name], side)
        # and every REST request on the way had the shape GitHub's description gives
        validate_all(sent.sent)


def text(files: Mapping[str, Any]) -> dict[str, tuple[str, bytes]]:
    """START_FILES-style values as (mode, bytes)."""
    out = {}
    for path, value in files.items():
        content, mode = value if isinstance(value, tuple) else (value, "100644")
        out[path] = (mode, content.encode() if isinstance(content, str) else content)
    return out


def test_the_memory_fake_has_the_whole_port() -> None:
    """Every method of ``Scm``, with the same parameters (the tests below check behaviour)."""
    fake = MemoryScm()
    methods = [n for n, v in vars(Scm).items() if inspect.isfunction(v) and not n.startswith("_")]
    assert len(methods) == 19
    for name in methods:
        want = inspect.signature(getattr(Scm, name))
        got = inspect.signature(getattr(MemoryScm, name))
        assert list(got.parameters) == list(want.parameters), name
        assert inspect.iscoroutinefunction(getattr(fake, name)), name
    assert fake.platform in ("github", "gitlab")


# -- reads -----------------------------------------------------------------------------------


async def test_default_branch(s: Subject) -> None:
    assert await s.scm.default_branch(s.repo) == "main"


async def test_snapshot_lists_every_file_with_its_mode_and_blob_id(s: Subject) -> None:
    snap = await s.scm.snapshot(s.repo, "main")
    assert (snap.repo, snap.ref, snap.sha) == (s.repo, "main", await s.main())
    want = text(START_FILES)
    assert set(snap.entries) == set(want)
    for path, (mode, content) in want.items():
        entry = snap.entries[path]
        assert (entry.path, entry.mode, entry.sha) == (path, mode, blob_sha(content)), path


async def test_snapshot_of_a_sha_and_of_a_tag(s: Subject) -> None:
    sha = await s.main()
    await s.side.tag("v1.0", sha)
    await s.side.push("main", {"README.md": b"# moved on\n"})
    assert (await s.scm.snapshot(s.repo, "v1.0")).sha == sha
    by_sha = await s.scm.snapshot(s.repo, sha)
    assert by_sha.sha == sha and set(by_sha.entries) == set(START_FILES)


async def test_read_files_returns_contents_and_leaves_out_missing_paths(s: Subject) -> None:
    sha = (await s.scm.snapshot(s.repo, "main")).sha
    read = await s.scm.read_files(
        s.repo, sha, ["docs/logo.png", "current", "README.md", "scripts/deploy.sh", "nope.txt"]
    )
    assert read == {
        "docs/logo.png": PNG,  # binary, byte for byte
        "current": b"clusters/dev",  # a symlink reads as its target
        "README.md": b"# gitops\n",
        "scripts/deploy.sh": b"#!/bin/sh\necho deploy\n",
    }


async def test_read_files_at_an_older_commit(s: Subject) -> None:
    old = await s.main()
    await s.side.push("main", {"README.md": b"# new\n"})
    assert await s.scm.read_files(s.repo, old, ["README.md"]) == {"README.md": b"# gitops\n"}


async def test_missing_repository_ref_and_pull_request_are_not_found(s: Subject) -> None:
    with pytest.raises(NotFound):
        await s.scm.default_branch(f"{OWNER}/missing")
    with pytest.raises(NotFound):
        await s.scm.snapshot(s.repo, "no-such-branch")
    with pytest.raises(NotFound):
        await s.scm.get_pull_request(s.repo, 999)
    with pytest.raises(NotFound):
        await s.scm.close_pull_request(s.repo, 999, comment="Closing")


# -- commits ---------------------------------------------------------------------------------


async def test_commit_creates_the_branch_with_one_commit_on_the_base(s: Subject) -> None:
    base = await s.main()
    result = await s.commit(message="Add billing\n\nThe billing service.")
    assert (result.branch, result.created_branch, result.changed) == (BRANCH, True, True)
    assert result.sha == await s.side.head(BRANCH)
    parents, message = await s.side.commit(result.sha)
    assert parents == (base,)
    assert message.startswith("Add billing\n\nThe billing service.")
    assert f"{TRAILER}: " in message  # what makes a re-run recognise its own commit
    files = await s.side.files(BRANCH)
    assert files["services/billing.yaml"] == ("100644", b"name: billing\n")
    assert {p: f for p, f in files.items() if p != "services/billing.yaml"} == text(START_FILES)
    assert await s.main() == base  # the base is untouched


async def test_recommit_of_the_same_change_makes_no_commit(s: Subject) -> None:
    first = await s.commit()
    again = await s.commit()
    assert (again.sha, again.created_branch, again.changed) == (first.sha, False, False)
    assert await s.side.head(BRANCH) == first.sha


async def test_a_new_change_replaces_the_earlier_commit(s: Subject) -> None:
    base = await s.main()
    first = await s.commit()
    second = await s.commit(changes=OTHER_CHANGE)
    assert (second.created_branch, second.changed) == (False, True)
    assert second.sha != first.sha and second.sha == await s.side.head(BRANCH)
    parents, _ = await s.side.commit(second.sha)
    assert parents == (base,)  # still one commit on the base, not two stacked
    files = await s.side.files(BRANCH)
    assert files["services/billing.yaml"] == ("100644", b"name: billing-2\n")


async def test_a_commit_on_an_older_base_keeps_to_that_base(s: Subject) -> None:
    base = await s.main()
    await s.side.push("main", {"README.md": b"# changed on main since\n"})
    result = await s.scm.commit_changes(
        s.repo, base_sha=base, branch=BRANCH, changes=CHANGE, message="Add billing"
    )
    parents, _ = await s.side.commit(result.sha)
    assert parents == (base,)
    assert (await s.side.files(BRANCH))["README.md"] == ("100644", b"# gitops\n")


async def test_one_commit_creates_updates_deletes_and_sets_modes(s: Subject) -> None:
    changes = ChangeSet(
        (
            FileChange("create", "services/billing/values.yaml", b"name: billing\n"),
            FileChange("create", "assets/icon.png", PNG),
            FileChange("create", "scripts/migrate.sh", b"#!/bin/sh\necho migrate\n", "100755"),
            FileChange("update", "clusters/dev/values.yaml", VALUES.replace("1.0.0", "2.0.0").encode()),
            FileChange("update", "README.md", b"#!/bin/sh\necho now a script\n", "100755"),
            FileChange("update", "scripts/deploy.sh", b"echo no longer executable\n", "100644"),
            FileChange("delete", "legacy/old.yaml"),
        )
    )  # fmt: skip
    result = await s.commit(changes=changes)
    assert result.changed
    files = await s.side.files(BRANCH)
    assert files["services/billing/values.yaml"] == ("100644", b"name: billing\n")
    assert files["assets/icon.png"] == ("100644", PNG)
    assert files["scripts/migrate.sh"] == ("100755", b"#!/bin/sh\necho migrate\n")
    assert files["clusters/dev/values.yaml"][1] == VALUES.replace("1.0.0", "2.0.0").encode()
    assert files["README.md"] == ("100755", b"#!/bin/sh\necho now a script\n")
    assert files["scripts/deploy.sh"] == ("100644", b"echo no longer executable\n")
    assert "legacy/old.yaml" not in files
    # what the change did not name is as it was, modes included
    assert files["current"] == ("120000", b"clusters/dev")
    assert files["docs/logo.png"] == ("100644", PNG)
    assert len(files) == len(START_FILES) + 3 - 1
    # and one request-sized commit: again is a no-op
    assert not (await s.commit(changes=changes)).changed


async def test_a_symlink_is_committed_where_the_platform_can(s: Subject) -> None:
    link = ChangeSet((FileChange("create", "latest", b"clusters/dev", "120000"),))
    if s.name == "gitlab":
        # GitLab's commits API has no symlink action: refused before any request
        with pytest.raises(ValueError, match="symlink"):
            await s.commit(changes=link)
        assert await s.side.head(BRANCH) is None
        return
    await s.commit(changes=link)
    assert (await s.side.files(BRANCH))["latest"] == ("120000", b"clusters/dev")
    snap = await s.scm.snapshot(s.repo, BRANCH)
    assert snap.entries["latest"].mode == "120000"


async def test_an_empty_change(s: Subject) -> None:
    if s.name == "gitlab":
        # GitLab's commits API needs at least one action: refused before any request
        with pytest.raises(ValueError, match="at least one change"):
            await s.commit(changes=ChangeSet())
        assert await s.side.head(BRANCH) is None
        return
    # GitHub (and the fake) commit the base's tree again: a branch with an empty commit
    base = await s.main()
    result = await s.commit(changes=ChangeSet())
    assert result.created_branch and result.changed
    assert (await s.side.commit(result.sha))[0] == (base,)
    assert await s.side.files(BRANCH) == await s.side.files("main")
    assert not (await s.commit(changes=ChangeSet())).changed


# -- pull requests ---------------------------------------------------------------------------


async def test_open_pull_request(s: Subject) -> None:
    committed = await s.commit()
    pr = await s.open_pr()
    assert pr.repo == s.repo and pr.number > 0 and pr.url
    assert (pr.head, pr.base, pr.state) == (BRANCH, "main", "open")
    assert (pr.title, pr.body) == ("Add billing", "Adds billing.")
    assert pr.head_sha == committed.sha and pr.merge_commit_sha is None
    assert pr.author == s.bot
    assert await s.side.open_prs(BRANCH) == [pr.number]


async def test_opening_again_finds_the_same_pr_and_updates_title_and_body(s: Subject) -> None:
    first = await s.open_pr()
    again = await s.open_pr(title="Add billing v2", body="Now with v2.")
    assert again.number == first.number
    assert (again.title, again.body) == ("Add billing v2", "Now with v2.")
    got = await s.scm.get_pull_request(s.repo, first.number)
    assert (got.title, got.body) == ("Add billing v2", "Now with v2.")
    assert await s.side.open_prs(BRANCH) == [first.number]


async def test_labels_and_reviewers_are_added_never_removed(s: Subject) -> None:
    pr = await s.open_pr(labels=("prbot", "svc/billing"), reviewers=("alice",))
    assert set(pr.labels) == {"prbot", "svc/billing"}
    assert await s.side.reviewers(pr.number) == ["alice"]
    again = await s.open_pr(labels=("prbot", "urgent"), reviewers=("bob",))
    assert again.number == pr.number
    assert set(again.labels) == {"prbot", "svc/billing", "urgent"}
    assert sorted(await s.side.reviewers(pr.number)) == ["alice", "bob"]
    got = await s.scm.get_pull_request(s.repo, pr.number)
    assert set(got.labels) == {"prbot", "svc/billing", "urgent"}


async def test_the_author_is_never_asked_to_review(s: Subject) -> None:
    pr = await s.open_pr(reviewers=(s.bot, "alice"))
    assert await s.side.reviewers(pr.number) == ["alice"]


async def test_a_reviewer_without_access(s: Subject) -> None:
    draft = {"reviewers": ("mallory",)}
    if s.name == "github":
        # GitHub refuses the whole review request (422 "Reviews may only be requested from
        # collaborators"): the PR is open, the call fails
        with pytest.raises(ScmError, match="422"):
            await s.open_pr(**draft)
        [number] = await s.side.open_prs(BRANCH)
    else:
        # GitLab finds no such user and leaves them out; the memory fake does the same
        number = (await s.open_pr(**draft)).number
    assert await s.side.reviewers(number) == []


async def test_a_branch_with_nothing_new_cannot_be_proposed(s: Subject) -> None:
    await s.side.branch("prbot/empty", await s.main())
    with pytest.raises(ScmError):
        await s.scm.open_pull_request(
            s.repo, PullRequestDraft(head="prbot/empty", base="main", title="Nothing", body="")
        )
    assert await s.side.open_prs("prbot/empty") == []


async def test_find_pull_request_by_head(s: Subject) -> None:
    assert await s.scm.find_pull_request(s.repo, BRANCH) is None
    pr = await s.open_pr()
    found = await s.scm.find_pull_request(s.repo, BRANCH)
    assert found is not None and (found.number, found.head, found.state) == (
        pr.number,
        BRANCH,
        "open",
    )
    assert await s.scm.find_pull_request(s.repo, "prbot/other") is None
    await s.side.close(pr.number)
    assert await s.scm.find_pull_request(s.repo, BRANCH) is None  # open ones only
    # whatever its state: a PR merged or closed since (what a retried job looks for)
    found = await s.scm.find_pull_request(s.repo, BRANCH, state="all")
    assert found is not None and (found.number, found.state) == (pr.number, "closed")


async def test_find_pull_request_finds_a_merged_one_with_state_all(s: Subject) -> None:
    pr = await s.open_pr()
    merged = await s.scm.merge(s.repo, pr.number)
    assert await s.scm.find_pull_request(s.repo, BRANCH) is None
    found = await s.scm.find_pull_request(s.repo, BRANCH, state="all")
    assert found is not None and found.state == "merged" and found.merge_commit_sha == merged.sha


async def test_get_pull_request_follows_the_branch(s: Subject) -> None:
    pr = await s.open_pr()
    moved = await s.commit(changes=OTHER_CHANGE)
    got = await s.scm.get_pull_request(s.repo, pr.number)
    assert (got.number, got.head, got.base, got.title) == (pr.number, BRANCH, "main", pr.title)
    assert got.head_sha == moved.sha != pr.head_sha
    await s.side.close(pr.number)
    assert (await s.scm.get_pull_request(s.repo, pr.number)).state == "closed"


async def test_close_pull_request_comments_then_closes_it_unmerged(s: Subject) -> None:
    pr = await s.open_pr()
    base = await s.main()
    text = "Superseded by promotion 42."
    closed = await s.scm.close_pull_request(s.repo, pr.number, comment=text)
    assert (closed.number, closed.state, closed.merge_commit_sha) == (pr.number, "closed", None)
    assert (closed.head, closed.head_sha) == (BRANCH, pr.head_sha)
    # a plain comment by the bot: no hidden marker, so no later upsert edits it
    assert await s.side.comments(pr.number) == [(s.bot, text)]
    assert (await s.scm.get_pull_request(s.repo, pr.number)).state == "closed"
    assert await s.scm.find_pull_request(s.repo, BRANCH) is None
    assert await s.side.open_prs(BRANCH) == []
    assert await s.main() == base  # nothing merged
    assert await s.side.head(BRANCH) == pr.head_sha  # the branch stays


async def test_closing_a_closed_pr_returns_it_closed_without_commenting(s: Subject) -> None:
    pr = await s.open_pr()
    first = await s.scm.close_pull_request(s.repo, pr.number)  # no comment given: none posted
    assert first.state == "closed" and await s.side.comments(pr.number) == []
    again = await s.scm.close_pull_request(s.repo, pr.number, comment="Closing again")
    assert (again.number, again.state) == (pr.number, "closed")
    assert await s.side.comments(pr.number) == []  # only the call that closes it comments


async def test_closing_a_merged_pr_leaves_it_merged(s: Subject) -> None:
    pr = await s.open_pr()
    merged = await s.scm.merge(s.repo, pr.number)
    got = await s.scm.close_pull_request(s.repo, pr.number, comment="Superseded")
    assert (got.number, got.state, got.merge_commit_sha) == (pr.number, "merged", merged.sha)
    assert await s.side.comments(pr.number) == []
    assert (await s.scm.get_pull_request(s.repo, pr.number)).state == "merged"
    assert await s.main() == merged.sha


# -- comments and reactions ------------------------------------------------------------------


async def test_upsert_comment_creates_then_edits_in_place(s: Subject) -> None:
    pr = await s.open_pr()
    first = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan: 3 files")
    assert first.body.startswith("Plan: 3 files") and first.author == s.bot
    second = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan: 4 files")
    assert second.id == first.id and second.body.startswith("Plan: 4 files")
    [(author, body)] = await s.side.comments(pr.number)
    assert author == s.bot and body.startswith("Plan: 4 files")
    assert "<!-- prbot:plan -->" in body  # the marker is hidden in the comment
    same = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan: 4 files")
    assert same.id == first.id and len(await s.side.comments(pr.number)) == 1


async def test_another_marker_is_another_comment(s: Subject) -> None:
    pr = await s.open_pr()
    plan = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan")
    status = await s.scm.upsert_comment(s.repo, pr.number, "status", "Status")
    assert plan.id != status.id
    assert [body.split("\n")[0] for _, body in await s.side.comments(pr.number)] == [
        "Plan",
        "Status",
    ]


async def test_a_marker_in_someone_elses_comment_is_left_alone(s: Subject) -> None:
    pr = await s.open_pr()
    quoted = "As the bot says: <!-- prbot:plan --> (quoted)"
    theirs = await s.side.comment_as("alice", pr.number, quoted)
    ours = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan: 3 files")
    assert ours.id != theirs
    again = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan: 4 files")
    assert again.id == ours.id
    comments = await s.side.comments(pr.number)
    assert comments[0] == ("alice", quoted)
    assert comments[1][0] == s.bot and comments[1][1].startswith("Plan: 4 files")


async def test_add_reaction_is_idempotent(s: Subject) -> None:
    pr = await s.open_pr()
    comment = await s.scm.upsert_comment(s.repo, pr.number, "plan", "Plan")
    await s.scm.add_reaction(s.repo, pr.number, comment.id, "rocket")
    await s.scm.add_reaction(s.repo, pr.number, comment.id, "rocket")  # again: no error
    assert await s.side.reactions(comment.id) == ["rocket"]
    await s.scm.add_reaction(s.repo, pr.number, comment.id, "+1")  # GitLab: "thumbsup"
    assert sorted(await s.side.reactions(comment.id)) == ["+1", "rocket"]


async def test_a_reaction_to_a_missing_comment_is_not_found(s: Subject) -> None:
    pr = await s.open_pr()
    with pytest.raises(NotFound):
        await s.scm.add_reaction(s.repo, pr.number, 123_456_789, "eyes")


# -- permissions -----------------------------------------------------------------------------


async def test_permission(s: Subject) -> None:
    assert await s.scm.permission(s.repo, OWNER) == "admin"
    assert await s.scm.permission(s.repo, "alice") == "maintain"
    assert await s.scm.permission(s.repo, "bob") == "read"
    assert await s.scm.permission(s.repo, s.bot) == "write"
    assert await s.scm.permission(s.repo, "mallory") == "none"  # no such user
    assert await s.scm.permission(s.repo, "carol-" + s.name) == "none"


# -- teams -----------------------------------------------------------------------------------


async def test_teams_of_a_member_and_of_everyone_else(s: Subject) -> None:
    await s.side.team(f"{OWNER}/platform", {"alice": True})
    assert await s.scm.teams_of(s.repo, "alice", ["platform"]) == ("platform",)
    assert await s.scm.teams_of(s.repo, "bob", ["platform"]) == ()  # a user, not in it
    assert await s.scm.teams_of(s.repo, "mallory", ["platform"]) == ()  # no such user
    assert await s.scm.teams_of(s.repo, "alice", []) == ()


async def test_an_unknown_team_has_no_members(s: Subject) -> None:
    await s.side.team(f"{OWNER}/platform", {"alice": True})
    assert await s.scm.teams_of(s.repo, "alice", ["nope", "other/platform", "a/b/c", " "]) == ()


async def test_a_pending_membership_does_not_count(s: Subject) -> None:
    """Invited, not accepted yet (GitHub "pending", GitLab "awaiting")."""
    await s.side.team(f"{OWNER}/platform", {"alice": True, "bob": False})
    assert await s.scm.teams_of(s.repo, "bob", ["platform"]) == ()
    assert await s.scm.teams_of(s.repo, "alice", ["platform"]) == ("platform",)


async def test_several_teams_are_answered_in_the_order_given(s: Subject) -> None:
    await s.side.team(f"{OWNER}/platform", {"alice": True})
    await s.side.team(f"{OWNER}/sre", {"alice": True, "bob": True})
    await s.side.team(f"{OWNER}/dba", {"bob": True})
    assert await s.scm.teams_of(s.repo, "alice", ["sre", "dba", "platform"]) == (
        "sre",
        "platform",
    )
    assert await s.scm.teams_of(s.repo, "bob", ["platform", "sre", "dba"]) == ("sre", "dba")


async def test_team_names_match_without_case_and_come_back_as_named(s: Subject) -> None:
    await s.side.team(f"{OWNER}/platform", {"alice": True})
    named = ["Platform", "ACME/platform", "@acme/platform", "platform", "Platform"]
    assert await s.scm.teams_of(s.repo, "Alice", named) == (
        "Platform",
        "ACME/platform",
        "@acme/platform",  # as a mention or CODEOWNERS writes it
        "platform",
    )  # each distinct name once


async def test_a_team_named_with_its_organisation(s: Subject) -> None:
    await s.side.team(f"{OWNER}/platform", {"alice": True})
    await s.side.team("other/platform", {"bob": True})
    assert await s.scm.teams_of(s.repo, "alice", ["acme/platform", "other/platform"]) == (
        "acme/platform",
    )


async def test_groups_nest_on_gitlab_teams_do_not_on_github(s: Subject) -> None:
    """GitLab: members of a group are members of its subgroups, and a bare name is a
    top-level group when the project's group has no subgroup of that name. GitHub (and
    the memory fake as "github"): a bare name is always a team of the owner."""
    await s.side.team(OWNER, {"carol": True})
    await s.side.team(f"{OWNER}/platform", {"alice": True})
    await s.side.team("platform", {"dave": True})  # a top-level group of that name
    await s.side.team("release", {"dave": True})
    gitlab = s.name == "gitlab"
    assert await s.scm.teams_of(s.repo, "carol", ["platform"]) == (("platform",) if gitlab else ())
    assert await s.scm.teams_of(s.repo, "dave", ["platform"]) == ()  # acme/platform it is
    assert await s.scm.teams_of(s.repo, "dave", ["release"]) == (("release",) if gitlab else ())


# -- commit health ---------------------------------------------------------------------------


async def test_a_commit_with_nothing_reported_has_no_signals(s: Subject) -> None:
    sha = await s.main()
    health = await s.scm.commit_health(s.repo, sha)
    assert (health.sha, health.signals) == (sha, ())


async def test_set_commit_status_then_commit_health(s: Subject) -> None:
    sha = (await s.commit()).sha
    url = "https://ci.example/build/1"
    await s.scm.set_commit_status(s.repo, sha, state="pending", context="ci/build")
    await s.scm.set_commit_status(s.repo, sha, state="success", context="ci/build", target_url=url)
    await s.scm.set_commit_status(s.repo, sha, state="failure", context="ci/lint")
    health = await s.scm.commit_health(s.repo, sha)
    assert health.sha == sha
    assert health.state_of("ci/build") == "success"  # the latest status per context wins
    assert health.state_of("ci/lint") == "failure"
    [build] = [x for x in health.signals if x.name == "ci/build" and x.state == "success"]
    assert (build.kind, build.url) == ("status", url)
    kinds = {x.name: x.kind for x in health.signals}
    if s.name == "gitlab":
        # GitLab runs external statuses in a pipeline of the commit, reported besides them
        assert kinds == {"ci/build": "status", "ci/lint": "status", "pipeline": "pipeline"}
        assert health.state_of("pipeline") == "failure"
    else:
        assert kinds == {"ci/build": "status", "ci/lint": "status"}


async def test_repeating_a_status_and_a_long_description_are_fine(s: Subject) -> None:
    sha = await s.main()
    long = "word " * 100  # GitHub refuses over 140 characters: the port cuts it
    for _ in range(2):  # GitLab refuses a "transition" to the same state: harmless
        await s.scm.set_commit_status(
            s.repo, sha, state="success", context="prbot", description=long
        )
    assert (await s.scm.commit_health(s.repo, sha)).state_of("prbot") == "success"


async def test_a_wanted_check_is_found_as_a_status_or_as_ci_s_own_check(s: Subject) -> None:
    """GitHub: a check run; GitLab: a CI job, which reports as a commit status."""
    sha = await s.main()
    await s.scm.set_commit_status(s.repo, sha, state="success", context="ci/build")
    await s.side.check(sha, "ci/lint", "failure")
    await s.side.check(sha, "ci/e2e", "pending")
    both = await s.scm.commit_health(s.repo, sha, HealthWanted(checks=("ci/build", "ci/lint")))
    assert both.state_of("ci/build") == "success"
    assert both.state_of("ci/lint") == "failure"  # a failing required check is always seen
    for name, state in (("ci/build", "success"), ("ci/lint", "failure"), ("ci/e2e", "pending")):
        alone = await s.scm.commit_health(s.repo, sha, HealthWanted(checks=(name,)))
        assert alone.state_of(name) == state, name


async def test_a_wanted_check_not_reported_yet_is_absent(s: Subject) -> None:
    sha = await s.main()
    await s.scm.set_commit_status(s.repo, sha, state="success", context="ci/build")
    health = await s.scm.commit_health(s.repo, sha, HealthWanted(checks=("ci/build", "ci/e2e")))
    assert (health.state_of("ci/build"), health.state_of("ci/e2e")) == ("success", None)


async def test_a_wanted_deployment_is_read_for_its_environment_only(s: Subject) -> None:
    sha = await s.main()
    await s.side.deploy(sha, "dev", "success")
    await s.side.deploy(sha, "prod", "failure")
    await s.scm.set_commit_status(s.repo, sha, state="success", context="ci/build")
    for env, state in (("dev", "success"), ("prod", "failure")):
        health = await s.scm.commit_health(s.repo, sha, HealthWanted(deployment=env))
        assert [(x.kind, x.name, x.state) for x in health.signals] == [("deployment", env, state)]
    assert (await s.scm.commit_health(s.repo, sha, HealthWanted(deployment="qa"))).signals == ()
    both = await s.scm.commit_health(
        s.repo, sha, HealthWanted(checks=("ci/build",), deployment="dev")
    )
    assert (both.state_of("ci/build"), both.state_of("dev"), both.state_of("prod")) == (
        "success",
        "success",
        None,
    )


async def test_the_newest_deployment_of_the_sha_counts(s: Subject) -> None:
    sha = await s.main()
    await s.side.deploy(sha, "dev", "failure")
    await s.side.deploy(sha, "dev", "success")
    later = await s.side.push("main", {"README.md": b"# later\n"})
    await s.side.deploy(later, "dev", "failure")  # another commit's deployment
    health = await s.scm.commit_health(s.repo, sha, HealthWanted(deployment="dev"))
    assert health.state_of("dev") == "success"
    assert (await s.scm.commit_health(s.repo, later, HealthWanted(deployment="dev"))).state_of(
        "dev"
    ) == "failure"


async def test_nothing_wanted_reads_nothing_and_the_pipeline_only_when_wanted(
    s: Subject,
) -> None:
    sha = await s.main()
    await s.scm.set_commit_status(s.repo, sha, state="failure", context="ci/build")
    await s.side.deploy(sha, "dev", "success")
    assert (await s.scm.commit_health(s.repo, sha, HealthWanted())).signals == ()
    checks = await s.scm.commit_health(s.repo, sha, HealthWanted(checks=("ci/build",)))
    assert [(x.kind, x.name) for x in checks.signals] == [("status", "ci/build")]
    # GitLab's pipeline of the commit's statuses is the signal named "pipeline"
    piped = await s.scm.commit_health(s.repo, sha, HealthWanted(checks=("pipeline",)))
    assert piped.state_of("pipeline") == ("failure" if s.name == "gitlab" else None)


# -- history ---------------------------------------------------------------------------------


async def test_is_ancestor_along_a_branch(s: Subject) -> None:
    base = await s.main()
    first = await s.side.push("main", {"README.md": b"# one\n"})
    second = await s.side.push("main", {"README.md": b"# two\n"})
    assert await s.scm.is_ancestor(s.repo, base, second)
    assert await s.scm.is_ancestor(s.repo, first, second)
    assert await s.scm.is_ancestor(s.repo, second, second)  # a commit counts as its own
    assert not await s.scm.is_ancestor(s.repo, second, first)  # behind is not descended
    assert not await s.scm.is_ancestor(s.repo, second, base)


async def test_a_later_base_commit_descends_from_the_merge_commit(s: Subject) -> None:
    """What a CD tool reports health on: the base moved on after the PR merged."""
    pr = await s.open_pr()
    merged = await s.scm.merge(s.repo, pr.number)
    assert merged.sha
    later = await s.side.push("main", {"README.md": b"# later\n"})
    assert await s.scm.is_ancestor(s.repo, merged.sha, later)
    assert await s.scm.is_ancestor(s.repo, pr.head_sha, later)  # via the merge's 2nd parent
    assert not await s.scm.is_ancestor(s.repo, later, merged.sha)


async def test_diverged_commits_and_unrelated_histories_are_not_ancestors(s: Subject) -> None:
    base = await s.main()
    branch = (await s.commit()).sha
    main = await s.side.push("main", {"README.md": b"# moved on\n"})
    assert await s.scm.is_ancestor(s.repo, base, branch)
    assert not await s.scm.is_ancestor(s.repo, branch, main)
    assert not await s.scm.is_ancestor(s.repo, main, branch)
    # no common ancestor at all (GitHub's compare and GitLab's merge base answer 404)
    orphan = await s.side.orphan()
    assert not await s.scm.is_ancestor(s.repo, orphan, main)
    assert not await s.scm.is_ancestor(s.repo, main, orphan)


async def test_is_ancestor_of_an_unknown_commit_is_not_found(s: Subject) -> None:
    main = await s.main()
    unknown = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(NotFound):
        await s.scm.is_ancestor(s.repo, unknown, main)
    with pytest.raises(NotFound):
        await s.scm.is_ancestor(s.repo, main, unknown)


# -- merge and revert ------------------------------------------------------------------------


async def test_merge_makes_a_merge_commit_and_moves_the_base(s: Subject) -> None:
    pr = await s.open_pr()
    base = await s.main()
    merged = await s.scm.merge(s.repo, pr.number, message="Merge billing\n\nShip it.")
    assert merged.merged and merged.sha
    assert await s.main() == merged.sha
    parents, message = await s.side.commit(merged.sha)
    assert parents == (base, pr.head_sha)  # a real merge: base first, then the PR's head
    assert message.startswith("Merge billing")
    got = await s.scm.get_pull_request(s.repo, pr.number)
    assert (got.state, got.merge_commit_sha) == ("merged", merged.sha)
    assert await s.scm.find_pull_request(s.repo, BRANCH) is None
    assert (await s.side.files("main"))["services/billing.yaml"][1] == b"name: billing\n"


async def test_merging_a_merged_pr_again_reports_it_merged(s: Subject) -> None:
    pr = await s.open_pr()
    first = await s.scm.merge(s.repo, pr.number)
    again = await s.scm.merge(s.repo, pr.number)
    assert again.merged and again.sha == first.sha
    assert await s.main() == first.sha


async def test_a_closed_pr_is_not_merged(s: Subject) -> None:
    pr = await s.open_pr()
    base = await s.main()
    await s.side.close(pr.number)
    result = await s.scm.merge(s.repo, pr.number)
    assert not result.merged and result.sha is None
    assert result.message  # the platform's reason, passed on
    assert await s.main() == base


async def test_revert_opens_a_pr_that_restores_the_files(s: Subject) -> None:
    change = ChangeSet(
        (
            FileChange("create", "services/billing.yaml", b"name: billing\n"),
            FileChange("update", "clusters/dev/values.yaml", b"image:\n  tag: '2.0.0'\n"),
            FileChange("delete", "legacy/old.yaml"),
        )
    )
    await s.commit(changes=change)
    pr = await s.open_pr()
    before = await s.side.files("main")
    merged = await s.scm.merge(s.repo, pr.number)
    branch = "prbot/revert/billing"
    revert = await s.scm.revert(
        s.repo, pr.number, branch=branch, title="Revert billing", body=f"Rolls back #{pr.number}"
    )
    assert revert.number != pr.number and revert.state == "open"
    assert (revert.head, revert.base, revert.title) == (branch, "main", "Revert billing")
    assert await s.side.files(branch) == before
    head = await s.side.head(branch)
    assert head is not None and (await s.side.commit(head))[0] == (merged.sha,)
    # asking again finds the same revert and PR
    again = await s.scm.revert(
        s.repo, pr.number, branch=branch, title="Revert billing", body="again"
    )
    assert again.number == revert.number
    assert await s.side.head(branch) == head
    assert await s.side.open_prs(branch) == [revert.number]


async def test_an_unmerged_pr_cannot_be_reverted(s: Subject) -> None:
    pr = await s.open_pr()
    with pytest.raises(Conflict):
        await s.scm.revert(s.repo, pr.number, branch="prbot/revert/x", title="Revert", body="")
    assert await s.side.open_prs("prbot/revert/x") == []


async def test_a_revert_is_refused_when_the_base_changed_the_same_file(s: Subject) -> None:
    change = ChangeSet((FileChange("update", "clusters/dev/values.yaml", b"image: {tag: x}\n"),))
    await s.commit(changes=change)
    pr = await s.open_pr()
    assert (await s.scm.merge(s.repo, pr.number)).merged
    await s.side.push("main", {"clusters/dev/values.yaml": b"image: {tag: by-hand}\n"})
    with pytest.raises(Conflict):
        await s.scm.revert(s.repo, pr.number, branch="prbot/revert/x", title="Revert", body="")
    assert await s.side.open_prs("prbot/revert/x") == []
    # GitHub and the memory fake find the conflict before writing anything; GitLab makes
    # the branch, then its revert commit is refused: the branch stays, with no PR
    assert (await s.side.head("prbot/revert/x") is not None) == (s.name == "gitlab")
