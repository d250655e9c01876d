"""``GitLabScm``: the SCM port over GitLab's v4 REST API, through python-gitlab.

One ``gitlab.Gitlab`` (one HTTP session) serves the provider's whole life; its calls
run in worker threads. Writes are made so that a retry, a re-run or a crash in between
changes nothing twice: a commit carries a Change-Id trailer, and a create that failed
without an answer is looked up before it is tried again. The operations live in small
modules (reads, commit, merge_requests, notes, health, merging, history, teams); this
class wires them to the port.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Literal

from prbot.automation.changeset import ChangeSet
from prbot.scm.counter import RequestCounter
from prbot.scm.gitlab import health, history, merge_requests, merging, notes
from prbot.scm.gitlab.archive import ArchiveLimits
from prbot.scm.gitlab.client import GitLabClient
from prbot.scm.gitlab.commit import commit_changes
from prbot.scm.gitlab.convert import pull_request
from prbot.scm.gitlab.reads import Reader
from prbot.scm.gitlab.teams import TeamBook
from prbot.scm.gitlab.transport import RetryPolicy
from prbot.scm.port import (
    Comment,
    CommitHealth,
    CommitResult,
    HealthState,
    HealthWanted,
    MergeResult,
    NotFound,
    Permission,
    Platform,
    PullRequest,
    PullRequestDraft,
    Reaction,
    RepoListing,
    Snapshot,
    gitlab_permission,
)

DEVELOPER = 30  # the access level that may push a branch and open a merge request


class GitLabScm:
    """The ``Scm`` port for gitlab.com or a self-managed GitLab (and the local forge).

    ``url`` is the instance's base URL (python-gitlab appends ``/api/v4``); ``token`` a
    personal, project or group access token. ``counter`` tallies every HTTP request by
    method and route template (``"GET /projects/:id/merge_requests"``).
    """

    platform: Platform = "gitlab"

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        archive_limits: ArchiveLimits | None = None,
    ) -> None:
        self._client = GitLabClient(url, token, timeout=timeout, retry=retry)
        self._reader = Reader(self._client, archive_limits or ArchiveLimits())
        self._teams = TeamBook(self._client)

    def __repr__(self) -> str:
        return f"GitLabScm({self._client.gl.url!r})"

    @property
    def counter(self) -> RequestCounter:
        return self._client.counter

    async def default_branch(self, repo: str) -> str:
        return (await self._client.info(repo)).default_branch

    async def snapshot(self, repo: str, ref: str) -> Snapshot:
        return await self._reader.snapshot(repo, ref)

    async def read_files(self, repo: str, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        return await self._reader.read_files(repo, sha, paths)

    async def commit_changes(
        self, repo: str, *, base_sha: str, branch: str, changes: ChangeSet, message: str
    ) -> CommitResult:
        return await commit_changes(
            self._client,
            self._reader,
            repo,
            base_sha=base_sha,
            branch=branch,
            changes=changes,
            message=message,
        )

    async def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        return await merge_requests.open_merge_request(self._client, repo, draft)

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        project = await self._client.project(repo)
        return pull_request(repo, await merge_requests.get_mr(self._client, project, number))

    async def find_pull_request(
        self, repo: str, head: str, *, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        project = await self._client.project(repo)
        mr = await merge_requests.find_open(
            self._client, project, head, state="all" if state == "all" else "opened"
        )
        return pull_request(repo, mr) if mr else None

    async def upsert_comment(self, repo: str, number: int, marker: str, body: str) -> Comment:
        return await notes.upsert_note(self._client, repo, number, marker, body)

    async def add_reaction(
        self, repo: str, number: int, comment_id: int, reaction: Reaction
    ) -> None:
        await notes.award_emoji(self._client, repo, number, comment_id, reaction)

    async def permission(self, repo: str, user: str) -> Permission:
        project = await self._client.project(repo)
        uid = await self._client.user_id(user)
        if uid is None:
            return "none"
        try:
            member = await self._client.call("get member", project.members_all.get, uid)
        except NotFound:
            return "none"
        return gitlab_permission(int(member.access_level))

    async def writable_repositories(self, *, limit: int) -> RepoListing:
        """``GET /projects?min_access_level=30``, by path, one item past ``limit``."""

        def listed() -> list[str]:
            pages = self._client.gl.projects.list(
                min_access_level=DEVELOPER, simple=True, order_by="path", sort="asc",
                per_page=min(limit + 1, 100), iterator=True,
            )  # fmt: skip
            return [str(p.path_with_namespace) for p in islice(pages, limit + 1)]

        found = await self._client.call("list projects", listed)
        names = sorted(found[:limit], key=str.lower)
        return RepoListing(tuple(names), complete=len(found) <= limit)

    async def teams_of(self, repo: str, user: str, teams: Sequence[str]) -> tuple[str, ...]:
        return await self._teams.teams_of(repo, user, teams)

    async def commit_health(
        self, repo: str, sha: str, want: HealthWanted | None = None
    ) -> CommitHealth:
        return await health.commit_health(self._client, repo, sha, want)

    async def set_commit_status(
        self,
        repo: str,
        sha: str,
        *,
        state: HealthState,
        context: str,
        description: str = "",
        target_url: str = "",
    ) -> None:
        await health.post_status(
            self._client,
            repo,
            sha,
            state=state,
            context=context,
            description=description,
            target_url=target_url,
        )

    async def close_pull_request(self, repo: str, number: int, *, comment: str = "") -> PullRequest:
        return await merge_requests.close_merge_request(self._client, repo, number, comment)

    async def is_ancestor(self, repo: str, ancestor: str, descendant: str) -> bool:
        return await history.is_ancestor(self._client, repo, ancestor, descendant)

    async def merge(self, repo: str, number: int, *, message: str | None = None) -> MergeResult:
        return await merging.merge(self._client, repo, number, message)

    async def revert(
        self, repo: str, number: int, *, branch: str, title: str, body: str
    ) -> PullRequest:
        return await merging.revert(
            self._client, repo, number, branch=branch, title=title, body=body
        )

    async def aclose(self) -> None:
        await self._client.close()
