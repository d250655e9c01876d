"""Plain records the forge keeps; ``Forge`` (state.py) owns and persists them.

Every record is a dataclass of JSON-able fields so the whole state round-trips through
``dataclasses.asdict`` and ``cls(**data)``. Timestamps are ISO-8601 UTC strings
(``2024-01-01T00:00:00Z``), as both platforms print them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Platform = Literal["github", "gitlab"]
# GitHub's repository roles, weakest first; "none" means no access at all
Permission = Literal["none", "read", "triage", "write", "maintain", "admin"]
PERMISSIONS: tuple[str, ...] = ("none", "read", "triage", "write", "maintain", "admin")
# GitLab access levels for the same roles (guest 10, reporter 20, developer 30, ...)
ACCESS_LEVELS: dict[str, int] = {
    "none": 0,
    "read": 10,
    "triage": 20,
    "write": 30,
    "maintain": 40,
    "admin": 50,
}
PrState = Literal["open", "closed", "merged"]
StatusState = Literal["error", "failure", "pending", "success"]
REACTIONS: tuple[str, ...] = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def iso(ts: float) -> str:
    """Unix seconds as GitHub prints times: 2024-01-01T00:00:00Z."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hash_token(token: str) -> str:
    """What the forge stores instead of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class User:
    id: int
    login: str
    name: str
    email: str
    type: Literal["User", "Bot", "Organization"] = "User"
    created_at: str = ""
    # sha256 hex digests of personal access tokens: the forge never stores a token itself
    token_hashes: list[str] = field(default_factory=list)


TeamRole = Literal["member", "maintainer"]
# "pending": invited and not accepted yet (GitLab's "awaiting"); no rights until active
TeamState = Literal["active", "pending"]
TEAM_ROLES: tuple[str, ...] = ("member", "maintainer")
TEAM_STATES: tuple[str, ...] = ("active", "pending")


@dataclass
class TeamMember:
    login: str
    role: TeamRole = "member"
    state: TeamState = "active"


@dataclass
class Team:
    """A GitHub team or a GitLab group, named by its path: ``acme/platform`` is team
    ``platform`` of organisation ``acme`` on GitHub, the subgroup ``platform`` of group
    ``acme`` on GitLab (where paths nest deeper, and members of a group are members of
    its subgroups too)."""

    id: int
    path: str
    name: str
    description: str = ""
    created_at: str = ""
    members: list[TeamMember] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str | None:
        return self.path.rpartition("/")[0] or None


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str = ""


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str = "main"
    visibility: Literal["public", "private", "internal"] = "private"
    description: str = ""
    created_at: str = ""
    updated_at: str = ""
    pushed_at: str = ""
    # login -> permission (the owner is admin without an entry)
    permissions: dict[str, str] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def private(self) -> bool:
        return self.visibility != "public"


@dataclass
class PullRequest:
    id: int  # global id (GitLab's MR id); ``number`` is per repo (GitLab's iid)
    repo: str  # full name
    number: int
    title: str
    body: str
    head: str  # branch name in the same repository
    base: str
    head_sha: str
    base_sha: str  # base branch head when the PR was opened or last synchronised
    author: str
    state: PrState = "open"
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    created_at: str = ""
    updated_at: str = ""
    closed_at: str | None = None
    merged_at: str | None = None

    @property
    def merged(self) -> bool:
        return self.state == "merged"


@dataclass
class Reaction:
    id: int
    content: str  # GitHub names: +1 -1 laugh confused heart hooray rocket eyes
    user: str
    created_at: str = ""


@dataclass
class Comment:
    """A comment on a pull request (GitHub issue comment / GitLab MR note)."""

    id: int
    repo: str
    number: int
    body: str
    author: str
    created_at: str = ""
    updated_at: str = ""
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Status:
    id: int
    repo: str
    sha: str
    context: str
    state: str  # error | failure | pending | success
    creator: str
    target_url: str | None = None
    description: str | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass
class CheckRun:
    id: int
    repo: str
    sha: str
    name: str
    app_id: int  # 0 when posted by a user (the forge's own "checks" app)
    suite_id: int
    status: str = "completed"  # queued | in_progress | completed
    conclusion: str | None = None  # success | failure | neutral | cancelled | ...
    details_url: str | None = None
    external_id: str | None = None
    head_branch: str | None = None
    title: str | None = None
    summary: str | None = None
    started_at: str = ""
    completed_at: str | None = None


@dataclass
class Pipeline:
    """A GitLab-style pipeline: the forge keeps one "external" pipeline per commit whose
    status aggregates the commit statuses posted on it (as GitLab does), plus any created
    explicitly."""

    id: int
    iid: int
    repo: str
    sha: str
    ref: str
    status: str  # created | pending | running | success | failed | canceled | skipped
    source: str = "external"
    user: str = ""
    created_at: str = ""
    updated_at: str = ""
    finished_at: str | None = None


@dataclass
class Deployment:
    id: int
    repo: str
    sha: str
    ref: str
    environment: str
    creator: str
    task: str = "deploy"
    description: str | None = None
    payload: dict = field(default_factory=dict)
    transient_environment: bool = False
    production_environment: bool = False
    created_at: str = ""
    updated_at: str = ""


@dataclass
class DeploymentStatus:
    id: int
    deployment_id: int
    repo: str
    # error | failure | inactive | pending | success | queued | in_progress
    state: str
    creator: str
    environment: str
    description: str = ""
    target_url: str = ""
    log_url: str = ""
    environment_url: str = ""
    created_at: str = ""
    updated_at: str = ""


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    public_key_pem: str
    bot_login: str  # "<slug>[bot]": the user an installation acts as
    created_at: str = ""
    permissions: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    # user authorization (the OAuth web flow): hashes of the client secrets (GitHub keeps
    # several so one can rotate them) and the callback URL ("" until one is set)
    client_secret_hashes: list[str] = field(default_factory=list)
    callback_url: str = ""

    @property
    def client_id(self) -> str:
        # derived from the id, so it never changes and needs no migration of old state
        return f"Iv1.{self.id:016x}"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str  # the user/org login it is installed on
    repos: list[str] | None = None  # full names; None: all the account's repositories
    permissions: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""


@dataclass
class InstallationToken:
    token_hash: str
    installation_id: int
    expires_at: float  # unix time
    repos: list[str] | None = None  # narrowed selection, None: the installation's
    permissions: dict[str, str] = field(default_factory=dict)


@dataclass
class Hook:
    """A webhook subscription. ``repo`` None: every repository (a GitHub App's hook)."""

    id: int
    platform: Platform
    url: str
    secret: str = ""  # GitHub: HMAC key; GitLab: sent verbatim as X-Gitlab-Token
    events: list[str] = field(default_factory=list)  # empty: every event
    repo: str | None = None
    active: bool = True
    app_id: int | None = None


@dataclass
class OAuthApplication:
    """A GitLab OAuth application (Admin > Applications): ``uid`` is its client id."""

    id: int
    name: str
    uid: str
    secret_hashes: list[str]
    redirect_uris: list[str]  # exact matches, as GitLab (Doorkeeper) compares them
    scopes: list[str]
    created_at: str = ""


@dataclass
class OAuthCode:
    """An authorization code, single-use; ``token_hashes`` are what it was exchanged for,
    revoked if the code is presented again (RFC 6749 4.1.2)."""

    code_hash: str
    platform: Platform
    client_id: str
    login: str
    redirect_uri: str
    scope: str
    expires_at: float
    code_challenge: str = ""
    code_challenge_method: str = ""
    used: bool = False
    token_hashes: list[str] = field(default_factory=list)


@dataclass
class OAuthToken:
    """A user token issued to an OAuth client (``kind`` access or refresh)."""

    token_hash: str
    kind: Literal["access", "refresh"]
    platform: Platform
    client_id: str
    login: str
    scope: str
    expires_at: float | None  # None: never (GitLab's refresh tokens)
    created_at: float
    pair_hash: str = ""  # the access token a refresh token came with, and vice versa


# who a token belongs to: a person (PAT), an app installation, or an app itself (JWT)
Principal = User | Installation | App
