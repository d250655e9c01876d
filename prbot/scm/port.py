"""The one interface the core needs from a forge, whatever the platform.

Everything here is a value or a Protocol: providers (GitHub, GitLab) implement ``Scm``;
the core never imports a provider. Repositories are named by their full path
(``owner/name`` on GitHub, ``group/sub/name`` on GitLab). Pull requests and merge
requests are both ``PullRequest``; ``number`` is GitLab's ``iid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prbot.automation.changeset import ChangeSet
from prbot.commands.registry import PERMISSIONS, Permission
from prbot.errors import PrbotError

Platform = Literal["github", "gitlab"]
PrState = Literal["open", "closed", "merged"]
HealthState = Literal["pending", "success", "failure"]
HealthKind = Literal["status", "check", "deployment", "pipeline"]
# GitHub's permission names, the commands' ladder; GitLab access levels map onto them (10
# guest -> read, 20 reporter -> triage, 30 developer -> write, 40 maintainer -> maintain,
# 50 owner -> admin)
PERMISSION_ORDER = PERMISSIONS
Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]


class ScmError(PrbotError):
    """A forge refused or failed a request. Messages never contain tokens or keys."""


class NotFound(ScmError):
    pass


class Conflict(ScmError):
    """The forge's state changed under us (a ref moved, a PR is not mergeable)."""


class RateLimited(ScmError):
    """Out of requests, and waiting as told would exceed our bound."""

    def __init__(self, message: str, reset_in: float | None = None):
        super().__init__(message, retry_after=reset_in)
        self.reset_in = reset_in


class ScmUnavailable(ScmError):
    """5xx answers or timeouts that outlasted the retries."""


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str  # "100644", "100755", "120000"
    sha: str  # blob id


@dataclass(frozen=True)
class Snapshot:
    """A repository at one commit: its file listing, and the contents read so far."""

    repo: str
    ref: str
    sha: str
    entries: Mapping[str, TreeEntry]
    contents: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitResult:
    branch: str
    sha: str  # the branch's head after the call
    created_branch: bool
    changed: bool  # False: the branch already held exactly this change; no commit made


@dataclass(frozen=True)
class PullRequestDraft:
    head: str
    base: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    url: str
    head: str
    base: str
    title: str
    body: str
    state: PrState
    head_sha: str
    merge_commit_sha: str | None = None
    labels: tuple[str, ...] = ()
    author: str = ""


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    url: str = ""


@dataclass(frozen=True)
class HealthSignal:
    """One status / check run / deployment / pipeline reported on a commit."""

    kind: HealthKind
    name: str  # status context, check name, deployment environment, pipeline "pipeline"
    state: HealthState
    url: str = ""


@dataclass(frozen=True)
class CommitHealth:
    sha: str
    signals: tuple[HealthSignal, ...] = ()

    def state_of(self, name: str) -> HealthState | None:
        """The state of the named signal (latest wins; providers list newest first)."""
        for s in self.signals:
            if s.name == name:
                return s.state
        return None


@dataclass(frozen=True)
class HealthWanted:
    """What a caller will look at in a commit's health, so a provider reads only what can
    answer it. Whatever it skips cannot change ``state_of`` for a wanted name: a check is
    looked for among statuses first and among check runs only when not found there (as
    ``state_of`` prefers statuses, listed first), so a wanted signal is never dropped."""

    checks: tuple[str, ...] = ()  # status contexts / check-run names / "pipeline" on GitLab
    deployment: str | None = None  # an environment whose deployment of the sha counts


@dataclass(frozen=True)
class RepoListing:
    """Repositories the bot may write to (open PRs on), as far as it listed them."""

    repos: tuple[str, ...]  # full paths, sorted case-insensitively
    complete: bool  # False: there were more than the limit asked for (these are a part)


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    sha: str | None
    message: str = ""


class Scm(Protocol):
    """What the core may ask of a forge. All methods are idempotent where the name says so."""

    platform: Platform

    async def default_branch(self, repo: str) -> str: ...

    async def snapshot(self, repo: str, ref: str) -> Snapshot:
        """The file listing of ``ref`` (a branch, tag or sha), in a constant number of calls."""
        ...

    async def read_files(self, repo: str, sha: str, paths: Sequence[str]) -> dict[str, bytes]:
        """Contents of many files at one commit, in a constant number of calls. Missing
        files are absent from the result."""
        ...

    async def commit_changes(
        self, repo: str, *, base_sha: str, branch: str, changes: ChangeSet, message: str
    ) -> CommitResult:
        """Make ``branch`` hold commit ``base_sha`` plus ``changes`` in one commit: create
        the branch if missing, else move it (force) onto that new commit, so a re-run
        replaces the earlier run's commit. If the branch's head already is one commit on
        top of ``base_sha`` with exactly that tree, make no commit (``changed=False``).
        ``base_sha`` is the commit the changes were rendered against, so files changed on
        the base since then are never overwritten with stale content. A constant number
        of calls, whatever the number of files."""
        ...

    async def open_pull_request(self, repo: str, draft: PullRequestDraft) -> PullRequest:
        """Open a PR from ``draft.head``, or update the open one from that head (title,
        body, labels, reviewers). Never opens a second PR for the same head."""
        ...

    async def get_pull_request(self, repo: str, number: int) -> PullRequest: ...

    async def find_pull_request(
        self, repo: str, head: str, *, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        """The open PR from ``head``, if any; with ``state="all"``, the newest PR from
        ``head`` whatever its state (one merged since, say)."""
        ...

    async def upsert_comment(self, repo: str, number: int, marker: str, body: str) -> Comment:
        """Create, or edit in place, the comment carrying the hidden ``marker``."""
        ...

    async def add_reaction(
        self, repo: str, number: int, comment_id: int, reaction: Reaction
    ) -> None: ...

    async def permission(self, repo: str, user: str) -> Permission: ...

    async def writable_repositories(self, *, limit: int) -> RepoListing:
        """The repositories prbot itself can write to, at most ``limit`` of them (the
        bot's view: a person's own is found by asking ``permission`` about each). GitHub:
        the App's installations' repositories, or with a token the repositories it may
        push to; GitLab: projects where the token has Developer or more. At most
        ``limit // 100 + 2`` requests per installation."""
        ...

    async def teams_of(self, repo: str, user: str, teams: Sequence[str]) -> tuple[str, ...]:
        """Which of ``teams`` ``user`` is an active member of, as named in ``teams``.

        GitHub: a team slug of the repository's owner organisation (``platform``) or
        ``org/slug``; GitLab: a group's full path, a bare name being looked for under the
        project's top-level group first. A pending membership, an unknown team or user
        are "not a member". Names compare case-insensitively; each distinct name is
        answered once, in the order given. Answers may be up to a minute old."""
        ...

    async def commit_health(
        self, repo: str, sha: str, want: HealthWanted | None = None
    ) -> CommitHealth:
        """Statuses, check runs / the pipeline, and deployments reported on ``sha``,
        newest first. With ``want``, only what can answer it is read (see HealthWanted):
        a deployment only of ``want.deployment``; nothing at all for an empty want."""
        ...

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
        """Post a commit status (GitHub status / GitLab external status) named ``context``;
        a later one with the same context supersedes it, so repeating is harmless.
        ``description`` is cut to the platforms' 140 characters."""
        ...

    async def close_pull_request(self, repo: str, number: int, *, comment: str = "") -> PullRequest:
        """Close PR ``number`` unmerged, posting ``comment`` on it first when given (a plain
        comment, no marker). Only the call that closes it comments: a PR already closed
        is returned closed, a merged one returned merged, and neither gets the comment."""
        ...

    async def is_ancestor(self, repo: str, ancestor: str, descendant: str) -> bool:
        """Whether commit ``ancestor`` is commit ``descendant`` or one of its ancestors
        (both full shas), in one request. Unrelated histories: False; an unknown sha:
        NotFound."""
        ...

    async def merge(self, repo: str, number: int, *, message: str | None = None) -> MergeResult: ...

    async def revert(
        self, repo: str, number: int, *, branch: str, title: str, body: str
    ) -> PullRequest:
        """Open a PR that reverts merged PR ``number`` (its merge commit) onto the base."""
        ...

    async def aclose(self) -> None: ...


# GitHub refuses longer status descriptions; GitLab accepts more but shows about this much
MAX_STATUS_DESCRIPTION = 140


def status_description(text: str) -> str:
    """``text`` on one line, cut to what a commit status may carry."""
    line = " ".join(text.split())
    if len(line) <= MAX_STATUS_DESCRIPTION:
        return line
    return line[: MAX_STATUS_DESCRIPTION - 1] + "…"


def team_names(teams: Sequence[str]) -> dict[str, str]:
    """Each distinct name of ``teams``, in order -> the team path it names (without the
    ``@`` a mention or a CODEOWNERS line puts first); blank names are left out."""
    out: dict[str, str] = {}
    for name in teams:
        path = name.strip().removeprefix("@").strip("/")
        if path and name not in out:
            out[name] = path
    return out


GITLAB_ACCESS: dict[int, Permission] = {
    0: "none",
    5: "read",  # minimal access
    10: "read",
    15: "read",  # planner
    20: "triage",
    30: "write",
    40: "maintain",
    50: "admin",
}


def gitlab_permission(access_level: int) -> Permission:
    best: Permission = "none"
    for level, perm in sorted(GITLAB_ACCESS.items()):
        if access_level >= level:
            best = perm
    return best
