"""``MemoryScm``: the whole ``prbot.scm.port.Scm`` port held in memory.

A small git model (commits with whole trees, branches and tags, blob ids as git computes
them) and a forge around it (pull requests, comments and reactions, permissions, commit
statuses, teams), behaving as the providers do where the port says what to do: a commit carries
the Change-Id trailer and a re-commit of the same change makes none; a PR is opened once
per head and updated after; only the bot's own comment carrying a marker is edited; a
merge makes a merge commit and moves the base; a revert opens a PR restoring the files;
closing comments only on a PR still open.
tests/scm/test_contract.py runs the same tests on it as on GitHub and GitLab.

Besides the port it has what a test needs to look behind it (``files``, ``branch_head``,
``commit``, ``pulls``, ``comments``, ``reactions``, ``reads``, ``committed``) and to act
as someone else on the forge (``add_repo``, ``push``, ``create_tag``, ``add_comment``,
``set_permission``, ``set_team_member``, ``add_signal``); closing a PR is the port's
``close_pull_request``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from prbot.automation.changeset import REGULAR, ChangeSet, FileChange, RepoFile
from prbot.scm.change_id import carries, change_id, with_trailer
from prbot.scm.port import (
    PERMISSION_ORDER,
    Comment,
    CommitHealth,
    CommitResult,
    Conflict,
    HealthSignal,
    HealthState,
    HealthWanted,
    MergeResult,
    NotFound,
    Permission,
    Platform,
    PrState,
    PullRequest,
    PullRequestDraft,
    Reaction,
    RepoListing,
    ScmError,
    Snapshot,
    TreeEntry,
    team_names,
)

# what ``add_repo`` and ``push`` take: content, a RepoFile, or (content, mode)
FileValue = bytes | str | RepoFile | tuple[bytes | str, str]
Tree = Mapping[str, RepoFile]

REACTIONS: frozenset[str] = frozenset(get_args(Reaction))


def blob_sha(content: bytes) -> str:
    """The id git gives a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def as_repo_file(value: FileValue) -> RepoFile:
    if isinstance(value, RepoFile):
        return value
    mode = REGULAR
    if isinstance(value, tuple):
        value, mode = value
    return RepoFile(value.encode() if isinstance(value, str) else bytes(value), mode)


@dataclass(frozen=True)
class MemoryCommit:
    sha: str
    tree: Tree
    parents: tuple[str, ...]
    message: str
    author: str


@dataclass
class MemoryPull:
    number: int
    head: str
    base: str
    title: str
    body: str
    author: str
    state: PrState = "open"
    head_sha: str = ""  # the head when merged or closed; an open PR follows its branch
    merge_commit_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)


@dataclass
class MemoryComment:
    id: int
    number: int
    body: str
    author: str
    reactions: list[tuple[str, str]] = field(default_factory=list)  # (user, reaction)


@dataclass
class MemoryRepo:
    name: str
    default_branch: str
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main", "tags/v1" -> sha
    commits: dict[str, MemoryCommit] = field(default_factory=dict)
    pulls: dict[int, MemoryPull] = field(default_factory=dict)
    comments: dict[int, MemoryComment] = field(default_factory=dict)
    signals: dict[str, list[HealthSignal]] = field(default_factory=dict)  # sha -> oldest first
    permissions: dict[str, Permission] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        return self.name.split("/")[0]


class MemoryScm:
    """The ``Scm`` port in memory. ``repos`` seeds repositories (name -> files) with the
    bot as a writer; ``platform`` is what ``platform`` says (the behaviour is the same)."""

    def __init__(
        self,
        repos: Mapping[str, Mapping[str, FileValue]] | None = None,
        *,
        platform: Platform = "github",
        bot: str = "prbot",
        url: str = "https://scm.memory.test",
    ) -> None:
        self.platform: Platform = platform
        self.bot = bot
        self.url = url
        self.repos: dict[str, MemoryRepo] = {}
        self.reads: list[list[str]] = []  # the paths of each read_files call
        self.committed: list[ChangeSet] = []  # the change of each commit commit_changes made
        # team path (lowercased) -> login (lowercased) -> active (False: invited, pending)
        self.teams: dict[str, dict[str, bool]] = {}
        self.closed = False
        self._tick = 0
        self._comment_ids = 9_000_000
        for name, files in (repos or {}).items():
            self.add_repo(name, files)

    # -- the port: reads -------------------------------------------------------------------

    async def default_branch(self, repo: str) -> str:
        return self._repo(repo).default_branch

    async def snapshot(self, repo: str, ref: str) -> Snapshot:
        r = self._repo(repo)
        sha = self._resolve(r, ref)
        if sha is None:
            raise NotFound(f"{repo}: no branch, tag or commit {ref!r}")
        entries = {
            path: TreeEntry(path, f.mode, blob_sha(f.content))
            for path, f in sorted(r.commits[sha].tree.items())
        }
        return Snapshot(repo=repo, ref=ref, sha=sha, entries=MappingProxyType(entries))

    async def read_files(self, repo: str, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        r = self._repo(repo)
        self.reads.append(list(paths))
        commit = self._commit_at(r, sha)
        return {p: commit.tree[p].content for p in dict.fromkeys(paths) if p in commit.tree}

    # -- the port: writes ------------------------------------------------------------------

    async def commit_changes(
        self, repo: str, *, base_sha: str, branch: str, changes: ChangeSet, message: str
    ) -> CommitResult:
        r = self._repo(repo)
        base = self._commit_at(r, base_sha)
        cid = change_id(changes)
        head = r.refs.get(f"heads/{branch}")
        if head is not None and head != base.sha:
            commit = r.commits[head]
            if commit.parents == (base.sha,) and carries(commit.message, cid):
                return CommitResult(branch, head, created_branch=False, changed=False)
        tree = dict(base.tree)
        for change in changes:
            if change.operation == "delete":
                tree.pop(change.path, None)
            else:
                tree[change.path] = RepoFile(change.content or b"", change.mode)
        sha = self._new_commit(r, tree, (base.sha,), with_trailer(message, cid), self.bot)
        r.refs[f"heads/{branch}"] = sha  # force: a re-render replaces the earlier commit
        self.committed.append(changes)
        return CommitResult(branch, sha, created_branch=head is None, changed=True)

    async def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        r = self._repo(repo)
        pull = self._open_pull(r, draft.head)
        if pull is None:
            pull = self._create_pull(r, draft)
        else:
            # an empty title or base means "leave it"; an empty body clears it
            if draft.title:
                pull.title = draft.title
            pull.body = draft.body
            if draft.base and draft.base != pull.base:
                if f"heads/{draft.base}" not in r.refs:
                    raise ScmError(f"{repo}: base branch {draft.base!r} does not exist")
                pull.base = draft.base
        # labels and reviewers are added, never removed: people may have added their own
        pull.labels.extend(label for label in draft.labels if label not in pull.labels)
        for login in draft.reviewers:
            if login != pull.author and login not in pull.reviewers and self._may_review(r, login):
                pull.reviewers.append(login)
        return self._pull_request(r, pull)

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        r = self._repo(repo)
        return self._pull_request(r, self._pull(r, number))

    async def find_pull_request(
        self, repo: str, head: str, *, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        r = self._repo(repo)
        if state == "all":
            found = [p for p in r.pulls.values() if p.head == head]
            pull = max(found, key=lambda p: p.number) if found else None
        else:
            pull = self._open_pull(r, head)
        return None if pull is None else self._pull_request(r, pull)

    async def upsert_comment(self, repo: str, number: int, marker: str, body: str) -> Comment:
        r = self._repo(repo)
        self._pull(r, number)
        tag = f"<!-- prbot:{marker} -->"
        text = body if tag in body else f"{body.rstrip()}\n\n{tag}"
        # only the bot's own comment: anyone can paste the marker into theirs
        for c in r.comments.values():
            if c.number == number and c.author == self.bot and tag in c.body:
                c.body = text
                return self._comment(r, c)
        return self._comment(r, self._add_comment(r, number, text, self.bot))

    async def add_reaction(
        self, repo: str, number: int, comment_id: int, reaction: Reaction
    ) -> None:
        r = self._repo(repo)
        c = r.comments.get(comment_id)
        if c is None or c.number != number:
            raise NotFound(f"{repo}#{number}: no comment {comment_id}")
        if reaction not in REACTIONS:
            raise ScmError(f"unknown reaction {reaction!r}")
        if (self.bot, reaction) not in c.reactions:
            c.reactions.append((self.bot, reaction))

    async def permission(self, repo: str, user: str) -> Permission:
        r = self._repo(repo)
        if user == r.owner:
            return "admin"
        return r.permissions.get(user, "none")

    async def writable_repositories(self, *, limit: int) -> RepoListing:
        """The repositories the bot has write (or more) on, by path."""
        write = PERMISSION_ORDER.index("write")
        names = sorted(
            (n for n, r in self.repos.items()
             if PERMISSION_ORDER.index(r.permissions.get(self.bot, "none")) >= write),
            key=str.lower,
        )  # fmt: skip
        return RepoListing(tuple(names[:limit]), complete=len(names) <= limit)

    async def teams_of(self, repo: str, user: str, teams: Sequence[str]) -> tuple[str, ...]:
        """As the platform names teams: "github", ``org/slug`` or a slug of the owner's
        organisation; "gitlab", a group path, a bare name under the owner's group first,
        a group's members counting in its subgroups."""
        r = self._repo(repo)
        return tuple(
            name for name, path in team_names(teams).items() if self._in_team(r, user, path)
        )

    async def commit_health(
        self, repo: str, sha: str, want: HealthWanted | None = None
    ) -> CommitHealth:
        """With ``want``, only the kinds a provider would read (as GitHubScm decides)."""
        r = self._repo(repo)
        seen: set[tuple[str, str]] = set()
        newest_first: list[HealthSignal] = []
        for signal in reversed(r.signals.get(sha, [])):
            if (signal.kind, signal.name) not in seen:
                seen.add((signal.kind, signal.name))
                newest_first.append(signal)
        kinds = self._kinds_read(newest_first, want)
        kept = [
            s
            for s in newest_first
            if s.kind in kinds
            and (want is None or s.kind != "deployment" or s.name == want.deployment)
        ]
        return CommitHealth(sha, tuple(kept))

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
        r = self._repo(repo)
        self._commit_at(r, sha)  # a status names a commit that exists
        self.add_signal(repo, sha, HealthSignal("status", context, state, target_url))

    async def close_pull_request(self, repo: str, number: int, *, comment: str = "") -> PullRequest:
        r = self._repo(repo)
        pull = self._pull(r, number)
        if pull.state == "open":  # closed or merged already: as it is, and no comment
            if comment.strip():
                self._add_comment(r, number, comment, self.bot)
            pull.head_sha = r.refs.get(f"heads/{pull.head}", pull.head_sha)
            pull.state = "closed"
        return self._pull_request(r, pull)

    async def is_ancestor(self, repo: str, ancestor: str, descendant: str) -> bool:
        r = self._repo(repo)
        self._commit_at(r, ancestor)  # an unknown sha is NotFound, as on the platforms
        return ancestor in self._ancestors(r, self._commit_at(r, descendant).sha)

    async def merge(self, repo: str, number: int, *, message: str | None = None) -> MergeResult:
        r = self._repo(repo)
        pull = self._pull(r, number)
        if pull.state == "merged":
            return MergeResult(True, pull.merge_commit_sha, "already merged")
        if pull.state != "open":
            return MergeResult(False, None, "405 Pull Request is not mergeable")
        base_sha = r.refs.get(f"heads/{pull.base}")
        head_sha = r.refs.get(f"heads/{pull.head}")
        if base_sha is None or head_sha is None:
            return MergeResult(False, None, "405 a branch of the pull request is gone")
        tree = self._merge_trees(r, base_sha, head_sha)
        if tree is None:
            return MergeResult(False, None, "405 Pull Request is not mergeable (conflicts)")
        text = message or f"Merge pull request #{number} from {r.owner}/{pull.head}\n\n{pull.title}"
        sha = self._new_commit(r, tree, (base_sha, head_sha), text, self.bot)
        r.refs[f"heads/{pull.base}"] = sha
        pull.state, pull.head_sha, pull.merge_commit_sha = "merged", head_sha, sha
        return MergeResult(True, sha, "merged")

    async def revert(
        self, repo: str, number: int, *, branch: str, title: str, body: str
    ) -> PullRequest:
        """The inverse of the merge commit against its first parent, committed onto the
        base's head; a file changed on the base since the merge is a Conflict."""
        r = self._repo(repo)
        pull = self._pull(r, number)
        if pull.state != "merged" or pull.merge_commit_sha is None:
            raise Conflict(f"{repo}#{number} is not merged; nothing to revert")
        merge = r.commits[pull.merge_commit_sha]
        before, after = r.commits[merge.parents[0]].tree, merge.tree
        changes = inverse(before, after)
        if not changes:
            raise Conflict(f"{repo}#{number} changed no files")
        head = r.refs.get(f"heads/{pull.base}")
        if head is None:
            raise Conflict(f"{repo}: base branch {pull.base!r} is gone")
        current = r.commits[head].tree
        moved = [c.path for c in changes if current.get(c.path) != after.get(c.path)]
        if moved:
            raise Conflict(
                f"{repo}: cannot revert #{number} cleanly; changed on {pull.base} since the "
                f"merge: {', '.join(moved[:5])}"
            )
        await self.commit_changes(
            repo,
            base_sha=head,
            branch=branch,
            changes=ChangeSet(tuple(changes)),
            message=f"{title}\n\nThis reverts merge commit {merge.sha} of #{number}.",
        )
        draft = PullRequestDraft(head=branch, base=pull.base, title=title, body=body)
        return await self.open_pull_request(repo, draft)

    async def aclose(self) -> None:
        self.closed = True

    # -- acting as someone else on the forge -------------------------------------------------

    def add_repo(
        self,
        repo: str,
        files: Mapping[str, FileValue],
        *,
        default_branch: str = "main",
        bot_permission: Permission = "write",
        permissions: Mapping[str, Permission] | None = None,
    ) -> str:
        """A repository with one commit holding ``files``; its owner is admin. The head."""
        owner, _, name = repo.partition("/")
        if not owner or not name or repo in self.repos:
            raise ValueError(f"cannot create repository {repo!r}")
        r = MemoryRepo(repo, default_branch)
        tree = {path: as_repo_file(value) for path, value in files.items()}
        sha = self._new_commit(r, tree, (), "Initial commit", owner)
        r.refs[f"heads/{default_branch}"] = sha
        r.permissions[self.bot] = bot_permission
        r.permissions.update(permissions or {})
        self.repos[repo] = r
        return sha

    def push(
        self,
        repo: str,
        branch: str,
        files: Mapping[str, FileValue | None],
        *,
        message: str = "Hand edit",
        author: str = "someone",
    ) -> str:
        """One commit on ``branch`` (created from the default branch if missing) setting
        ``files`` (None deletes a path). The new head."""
        r = self._repo(repo)
        parent = r.refs.get(f"heads/{branch}") or r.refs[f"heads/{r.default_branch}"]
        tree = dict(r.commits[parent].tree)
        for path, value in files.items():
            if value is None:
                tree.pop(path, None)
            else:
                tree[path] = as_repo_file(value)
        sha = self._new_commit(r, tree, (parent,), message, author)
        r.refs[f"heads/{branch}"] = sha
        return sha

    def create_tag(self, repo: str, tag: str, sha: str) -> None:
        r = self._repo(repo)
        r.refs[f"tags/{tag}"] = self._commit_at(r, sha).sha

    def add_comment(self, repo: str, number: int, body: str, *, author: str) -> int:
        r = self._repo(repo)
        self._pull(r, number)
        return self._add_comment(r, number, body, author).id

    def set_permission(self, repo: str, user: str, permission: Permission) -> None:
        if permission not in PERMISSION_ORDER:
            raise ValueError(f"unknown permission {permission!r}")
        self._repo(repo).permissions[user] = permission

    def set_team_member(self, team: str, user: str, *, active: bool = True) -> None:
        """Put ``user`` in ``team`` (a path: ``acme/platform``); ``active=False``: invited,
        not accepted yet (pending)."""
        self.teams.setdefault(team.strip("/").lower(), {})[user.lower()] = active

    def add_signal(self, repo: str, sha: str, signal: HealthSignal) -> None:
        """A status, check, deployment or pipeline reported on ``sha`` (latest wins)."""
        self._repo(repo).signals.setdefault(sha, []).append(signal)

    # -- looking behind the port -------------------------------------------------------------

    def branch_head(self, repo: str, branch: str) -> str | None:
        return self._repo(repo).refs.get(f"heads/{branch}")

    def commit(self, repo: str, sha: str) -> MemoryCommit:
        return self._commit_at(self._repo(repo), sha)

    def files(self, repo: str, ref: str) -> dict[str, RepoFile]:
        r = self._repo(repo)
        sha = self._resolve(r, ref)
        if sha is None:
            raise NotFound(f"{repo}: no ref {ref!r}")
        return dict(r.commits[sha].tree)

    def pulls(
        self, repo: str, *, state: PrState | None = "open", head: str | None = None
    ) -> list[MemoryPull]:
        """The pull requests in ``state`` (None: all), newest first."""
        return [
            p
            for p in sorted(self._repo(repo).pulls.values(), key=lambda p: -p.number)
            if (state is None or p.state == state) and (head is None or p.head == head)
        ]

    def comments(self, repo: str, number: int) -> list[MemoryComment]:
        return [c for c in self._repo(repo).comments.values() if c.number == number]

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        return [reaction for _, reaction in self._repo(repo).comments[comment_id].reactions]

    # -- inside --------------------------------------------------------------------------

    def _repo(self, repo: str) -> MemoryRepo:
        if self.closed:
            raise ScmError("MemoryScm is closed")
        try:
            return self.repos[repo]
        except KeyError:
            raise NotFound(f"no repository {repo!r}") from None

    @staticmethod
    def _resolve(r: MemoryRepo, ref: str) -> str | None:
        for name in (f"heads/{ref}", f"tags/{ref}", ref.removeprefix("refs/")):
            if name in r.refs:
                return r.refs[name]
        return ref if ref in r.commits else None

    def _commit_at(self, r: MemoryRepo, sha: str) -> MemoryCommit:
        commit = r.commits.get(sha)
        if commit is None:
            raise NotFound(f"{r.name}: no commit {sha}")
        return commit

    def _new_commit(
        self, r: MemoryRepo, tree: Tree, parents: tuple[str, ...], message: str, author: str
    ) -> str:
        self._tick += 1
        h = hashlib.sha1()
        for path, f in sorted(tree.items()):
            h.update(f"{f.mode} {path}\0{blob_sha(f.content)}\n".encode())
        h.update(f"parents {' '.join(parents)}\n{author} {self._tick}\n\n{message}".encode())
        sha = h.hexdigest()
        r.commits[sha] = MemoryCommit(sha, MappingProxyType(dict(tree)), parents, message, author)
        return sha

    def _ancestors(self, r: MemoryRepo, sha: str) -> set[str]:
        seen: set[str] = set()
        todo = [sha]
        while todo:
            s = todo.pop()
            if s not in seen:
                seen.add(s)
                todo.extend(r.commits[s].parents)
        return seen

    def _merge_trees(self, r: MemoryRepo, ours: str, theirs: str) -> dict[str, RepoFile] | None:
        """A three-way merge by whole files (None on a conflict)."""
        theirs_ancestors = self._ancestors(r, theirs)
        common = [s for s in self._ancestors(r, ours) if s in theirs_ancestors]
        # the nearest common ancestor: the one with the most ancestors of its own
        base_tree: Tree = {}
        if common:
            nearest = max(common, key=lambda s: len(self._ancestors(r, s)))
            base_tree = r.commits[nearest].tree
        a, b = r.commits[ours].tree, r.commits[theirs].tree
        out: dict[str, RepoFile] = {}
        for path in sorted({*a, *b, *base_tree}):
            old, mine, other = base_tree.get(path), a.get(path), b.get(path)
            if mine == other or other == old:
                pick = mine
            elif mine == old:
                pick = other
            else:
                return None
            if pick is not None:
                out[path] = pick
        return out

    def _pull(self, r: MemoryRepo, number: int) -> MemoryPull:
        try:
            return r.pulls[int(number)]
        except (KeyError, ValueError):
            raise NotFound(f"{r.name}: no pull request #{number}") from None

    def _open_pull(self, r: MemoryRepo, head: str) -> MemoryPull | None:
        found = [p for p in r.pulls.values() if p.head == head and p.state == "open"]
        return max(found, key=lambda p: p.number) if found else None

    def _create_pull(self, r: MemoryRepo, draft: PullRequestDraft) -> MemoryPull:
        base = draft.base or r.default_branch
        head_sha = r.refs.get(f"heads/{draft.head}")
        base_sha = r.refs.get(f"heads/{base}")
        if head_sha is None or base_sha is None:
            raise ScmError(f"{r.name}: head {draft.head!r} or base {base!r} does not exist")
        if not draft.title.strip():
            raise ScmError(f"{r.name}: a pull request needs a title")
        if head_sha in self._ancestors(r, base_sha):
            raise ScmError(f"{r.name}: no commits between {base} and {draft.head}")
        number = max(r.pulls, default=0) + 1
        pull = MemoryPull(number, draft.head, base, draft.title, draft.body, self.bot)
        r.pulls[number] = pull
        return pull

    def _in_team(self, r: MemoryRepo, user: str, path: str) -> bool:
        path, owner = path.lower(), r.owner.lower()
        if self.platform == "github":  # org/slug, a bare slug in the owner's organisation
            org, _, slug = path.rpartition("/")
            return "/" not in org and self.teams.get(f"{org or owner}/{slug}", {}).get(
                user.lower(), False
            )
        if "/" not in path and f"{owner}/{path}" in self.teams:
            path = f"{owner}/{path}"
        parts = path.split("/")  # a group's members are members of its subgroups
        return any(
            self.teams.get("/".join(parts[:depth]), {}).get(user.lower(), False)
            for depth in range(len(parts), 0, -1)
        )

    @staticmethod
    def _kinds_read(signals: Sequence[HealthSignal], want: HealthWanted | None) -> tuple[str, ...]:
        if want is None:
            return ("status", "check", "pipeline", "deployment")
        kinds: list[str] = []
        if want.checks:
            kinds.append("status")
            statuses = {s.name for s in signals if s.kind == "status"}
            if any(name not in statuses for name in want.checks):
                kinds.append("check")
            if "pipeline" in want.checks:
                kinds.append("pipeline")
        if want.deployment is not None:
            kinds.append("deployment")
        return tuple(kinds)

    @staticmethod
    def _may_review(r: MemoryRepo, login: str) -> bool:
        # an unknown reviewer is skipped: it should not block the change from being proposed
        return login == r.owner or r.permissions.get(login, "none") != "none"

    def _pull_request(self, r: MemoryRepo, pull: MemoryPull) -> PullRequest:
        head_sha = pull.head_sha
        if pull.state == "open":
            head_sha = r.refs.get(f"heads/{pull.head}", head_sha)
        path = "-/merge_requests" if self.platform == "gitlab" else "pull"
        return PullRequest(
            repo=r.name,
            number=pull.number,
            url=f"{self.url}/{r.name}/{path}/{pull.number}",
            head=pull.head,
            base=pull.base,
            title=pull.title,
            body=pull.body,
            state=pull.state,
            head_sha=head_sha,
            merge_commit_sha=pull.merge_commit_sha if pull.state == "merged" else None,
            labels=tuple(pull.labels),
            author=pull.author,
        )

    def _add_comment(self, r: MemoryRepo, number: int, body: str, author: str) -> MemoryComment:
        if not body.strip():
            raise ScmError("a comment needs a body")
        self._comment_ids += 1
        c = MemoryComment(self._comment_ids, number, body, author)
        r.comments[c.id] = c
        return c

    def _comment(self, r: MemoryRepo, c: MemoryComment) -> Comment:
        path = "-/merge_requests" if self.platform == "gitlab" else "pull"
        return Comment(c.id, c.body, c.author, f"{self.url}/{r.name}/{path}/{c.number}#{c.id}")


def inverse(before: Tree, after: Tree) -> list[FileChange]:
    """The changes that turn tree ``after`` back into ``before``."""
    out: list[FileChange] = []
    for path, now in sorted(after.items()):
        old = before.get(path)
        if old is None:
            out.append(FileChange("delete", path, None, now.mode))
        elif old != now:
            out.append(FileChange("update", path, old.content, old.mode))
    for path, old in sorted(before.items()):
        if path not in after:
            out.append(FileChange("create", path, old.content, old.mode))
    return out


__all__ = [
    "MemoryComment",
    "MemoryCommit",
    "MemoryPull",
    "MemoryRepo",
    "MemoryScm",
    "blob_sha",
    "inverse",
]
