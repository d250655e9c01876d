"""``GitHubScm``: the SCM port over GitHub's REST and GraphQL APIs (github.com or GHES)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Literal

from cachetools import TTLCache

from prbot.automation.changeset import ChangeSet
from prbot.scm.counter import RequestCounter
from prbot.scm.github import comments, commits, health, history, pulls, reads, revert, trees
from prbot.scm.github.auth import AppAuth, Auth, TokenAuth
from prbot.scm.github.cache import Listing, ObjectCache
from prbot.scm.github.client import PUBLIC_API, GitHubClient
from prbot.scm.github.listing import writable_repositories
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.github.teams import TeamBook
from prbot.scm.port import (
    PERMISSION_ORDER,
    Comment,
    CommitHealth,
    CommitResult,
    HealthState,
    HealthWanted,
    MergeResult,
    NotFound,
    Permission,
    PullRequest,
    PullRequestDraft,
    Reaction,
    RepoListing,
    ScmError,
    Snapshot,
)


class GitHubScm:
    """The port on GitHub. ``auth`` is a ``TokenAuth`` or an ``AppAuth``; with an app and no
    ``installation_id``, each repository's installation is looked up once and cached."""

    platform = "github"

    def __init__(
        self,
        auth: AppAuth | Auth,
        *,
        api_url: str = PUBLIC_API,
        graphql_url: str | None = None,
        installation_id: int | None = None,
        client: GitHubClient | None = None,
        objects: ObjectCache | None = None,
        **client_options: Any,
    ):
        self.client = client or GitHubClient(
            api_url=api_url, graphql_url=graphql_url, **client_options
        )
        self._auth = auth
        self._installation_id = installation_id
        self._installations: TTLCache[str, int] = TTLCache(maxsize=4096, ttl=3600)
        # a default branch is renamed rarely; five minutes of staleness saves a call per run
        self._default_branches: TTLCache[str, str] = TTLCache(maxsize=4096, ttl=300)
        self.objects = objects or ObjectCache()
        self._me: str | None = None  # the login we act as, once asked
        # our marked comments, found once: a status comment edited at every change of a
        # promotion is then one PATCH (or nothing, when the text is the same), no listing
        self._comments: TTLCache[tuple[str, int, str], Comment] = TTLCache(maxsize=4096, ttl=600)
        # team membership answers, a minute each: approvals and commands ask often
        self._teams = TeamBook(self.client, timer=self.client.now)

    def __repr__(self) -> str:
        return f"GitHubScm(api_url={self.client.api_url!r}, auth={self._auth!r})"

    @property
    def counter(self) -> RequestCounter:
        """Requests sent so far, by route template (for tests, benchmarks, metrics)."""
        return self.client.counter

    # -- construction from configuration ----------------------------------------------

    @classmethod
    def with_token(cls, token: str, **options: Any) -> GitHubScm:
        return cls(TokenAuth(token), **options)

    @classmethod
    def as_app(
        cls,
        app_id: int | str,
        private_key: str | bytes | None = None,
        *,
        private_key_path: str | os.PathLike[str] | None = None,
        installation_id: int | None = None,
        **options: Any,
    ) -> GitHubScm:
        app = AppAuth(app_id, private_key, private_key_path=private_key_path)
        return cls(app, installation_id=installation_id, **options)

    # -- per-repository plumbing --------------------------------------------------------

    async def _api(self, repo: str) -> RepoApi:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ScmError(f"{repo!r} is not an owner/name GitHub repository")
        return RepoApi(self.client, await self._auth_for(owner, name), owner, name)

    async def _auth_for(self, owner: str, name: str) -> Auth:
        if not isinstance(self._auth, AppAuth):
            return self._auth
        if self._installation_id is not None:
            return self._auth.installation(self._installation_id)
        key = f"{owner}/{name}".lower()
        installation = self._installations.get(key)
        if installation is None:
            answer = await self.client.request(
                "GET",
                "/repos/{owner}/{repo}/installation",
                {"owner": owner, "repo": name},
                auth=self._auth.as_app(),
            )
            installation = int(answer.data["id"])
            self._installations[key] = installation
        return self._auth.installation(installation)

    # -- the port -------------------------------------------------------------------

    async def default_branch(self, repo: str) -> str:
        cached = self._default_branches.get(repo.lower())
        if cached:
            return cached
        api = await self._api(repo)
        branch = str((await api.get(""))["default_branch"])
        self._default_branches[repo.lower()] = branch
        return branch

    async def snapshot(self, repo: str, ref: str) -> Snapshot:
        api = await self._api(repo)
        sha = await trees.resolve(api, ref)
        listing = self.objects.listing(repo, sha)
        if listing is None:
            tree_sha, entries = await trees.list_tree(api, sha)
            # shared by later snapshots of this commit: read-only
            listing = Listing(tree_sha, MappingProxyType(entries))
            self.objects.put_listing(repo, sha, listing)
        return Snapshot(repo=repo, ref=ref, sha=sha, entries=listing.entries)

    async def read_files(self, repo: str, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        """Files already read at any commit with the same blob come from the cache."""
        listing = self.objects.listing(repo, sha)
        blob_of = {p: e.sha for p, e in listing.entries.items()} if listing else {}
        out: dict[str, bytes] = {}
        wanted: list[str] = []
        for path in dict.fromkeys(paths):
            blob = blob_of.get(path)
            cached = self.objects.blob(repo, blob) if blob else None
            if cached is not None:
                out[path] = cached
            elif not listing or path in blob_of:  # a listed commit tells us what is missing
                wanted.append(path)
        if wanted:
            fetched = await reads.read_files(await self._api(repo), sha, wanted)
            for path, content in fetched.items():
                if path in blob_of:
                    self.objects.put_blob(repo, blob_of[path], content)
            out.update(fetched)
        return out

    async def commit_changes(
        self, repo: str, *, base_sha: str, branch: str, changes: ChangeSet, message: str
    ) -> CommitResult:
        return await commits.commit_changes(
            await self._api(repo),
            base_sha=base_sha,
            branch=branch,
            changes=changes,
            message=message,
            cache=self.objects,
        )

    async def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        return await pulls.open_or_update(await self._api(repo), draft)

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        pr, _ = await pulls.get(await self._api(repo), number)
        return pr

    async def find_pull_request(
        self, repo: str, head: str, *, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        return await pulls.find(await self._api(repo), head, state)

    async def upsert_comment(self, repo: str, number: int, marker: str, body: str) -> Comment:
        api = await self._api(repo)
        if self._me is None:  # who we are decides which comment is ours: asked once
            self._me = await comments.whoami(api)
        key = (repo.lower(), number, marker)
        text = comments.with_marker(body, marker)
        known = self._comments.get(key)
        if known is not None and known.body == text:
            return known
        comment: Comment | None = None
        if known is not None:
            try:
                comment = await comments.edit(api, known.id, text)
            except NotFound:  # deleted since: find or create it again
                comment = None
        if comment is None:
            comment = await comments.upsert(api, number, marker, body, me=self._me)
        self._comments[key] = comment
        return comment

    async def add_reaction(
        self, repo: str, number: int, comment_id: int, reaction: Reaction
    ) -> None:
        await comments.react(await self._api(repo), comment_id, reaction)

    async def permission(self, repo: str, user: str) -> Permission:
        api = await self._api(repo)
        try:
            data = await api.get("/collaborators/{username}/permission", {"username": user})
        except NotFound:
            return "none"
        # role_name tells maintain/triage apart; custom roles fall back to the base level
        for candidate in (data.get("role_name"), data.get("permission")):
            if candidate in PERMISSION_ORDER:
                return candidate
        return "none"

    async def writable_repositories(self, *, limit: int) -> RepoListing:
        return await writable_repositories(self.client, self._auth, self._installation_id, limit)

    async def teams_of(self, repo: str, user: str, teams: Sequence[str]) -> tuple[str, ...]:
        api = await self._api(repo)  # the repository's installation answers for its org
        return await self._teams.teams_of(api.auth, api.owner, user, teams)

    async def commit_health(
        self, repo: str, sha: str, want: HealthWanted | None = None
    ) -> CommitHealth:
        return await health.commit_health(await self._api(repo), sha, want)

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
            await self._api(repo),
            sha,
            state=state,
            context=context,
            description=description,
            target_url=target_url,
        )

    async def close_pull_request(self, repo: str, number: int, *, comment: str = "") -> PullRequest:
        return await pulls.close(await self._api(repo), number, comment)

    async def is_ancestor(self, repo: str, ancestor: str, descendant: str) -> bool:
        return await history.is_ancestor(await self._api(repo), ancestor, descendant)

    async def merge(self, repo: str, number: int, *, message: str | None = None) -> MergeResult:
        return await pulls.merge(await self._api(repo), number, message)

    async def revert(
        self, repo: str, number: int, *, branch: str, title: str, body: str
    ) -> PullRequest:
        api = await self._api(repo)
        merged, _ = await pulls.get(api, number)
        head, changes, merge_sha = await revert.plan(api, merged, self.objects)
        await commits.commit_changes(
            api,
            base_sha=head,
            branch=branch,
            changes=changes,
            message=f"{title}\n\nThis reverts merge commit {merge_sha} of #{number}.",
            cache=self.objects,
        )
        draft = PullRequestDraft(head=branch, base=merged.base, title=title, body=body)
        return await pulls.open_or_update(api, draft)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> GitHubScm:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
