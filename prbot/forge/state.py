"""``Forge``: the local forge's model, the single source of truth behind every API façade.

``Forge`` lives here (construction, persistence, ids, clock, event emission); its methods
come from one mixin per concern: state_accounts (users, auth, repos, permissions),
state_git (git reads/writes, refs), state_pulls (PRs, labels, reviewers, comments),
state_health (statuses, pipelines, check runs, deployments), state_apps (apps,
installations, tokens, hooks), state_teams (GitHub teams / GitLab groups). Import
``Forge`` from here.

API summary (repositories are named by full name ``owner/name``; ``actor``/``author``/
``creator`` arguments are user logins — an installation acts as its app's bot user
``<slug>[bot]``, see ``actor_login``). Methods that touch git or announce a change are
``async``; lookups are plain. Failures raise ``errors.ForgeError`` subclasses whose
``status`` is the HTTP status to answer with (NotFound 404, Unprocessable 422, Conflict
409, NotMergeable 405, Forbidden 403).

Users, tokens, auth
    create_user(login, name=, email=, type=) -> User          (idempotent)
    user(login) / user_by_id(id) / users()
    create_token(login, token=None) -> str                     (personal access token)
    authenticate(token, platform=None) -> User | Installation | App | None
        (PAT, OAuth user token of that platform, installation token, app JWT)
    actor_login(principal) -> str
Repositories
    await create_repo(full_name, files=|folder=, default_branch=, visibility=) -> Repo
    repo(full_name) / repo_by_id(id) / repos() / git_dir(full_name)
Permissions (GitHub names; GitLab access levels via ACCESS_LEVELS)
    set_permission(repo, login, permission) ; permission(repo, login) -> str
    principal_permission(repo, principal) -> str ; access_level(repo, login) -> int
    collaborators(repo) -> list[(User, permission)]
Git
    await resolve(repo, ref) -> sha | None ; await branches(repo) ; await refs(repo, prefix)
    await list_tree(repo, treeish, recursive=True) ; await read_blobs(repo, shas)
    await read_file(repo, ref, path) -> (blob sha, bytes) | None
    await write_blob(repo, data) ; await write_tree(repo, base_tree, changes)
    await create_commit(repo, tree, parents, message, author=, committer=) -> sha
    await commit_info(repo, sha) ; await log(repo, ref, max_count=, exclude=)
    await create_ref(repo, ref, sha, actor=)
    await update_ref(repo, ref, sha, actor=, force=, expected=) -> old sha
    await delete_ref(repo, ref, actor=)
    await commit_changes(repo, branch, message, changes, actor=, start_branch=, expected_head=)
    await revert_commit(repo, sha, branch, actor=) -> sha
Pull requests (``number`` = GitLab iid; ``id`` is global)
    await open_pull_request(repo, head=, base=, title=, body=, author=, labels=, reviewers=)
    pull_request(repo, number) / pull_request_by_id(id) / pull_requests(repo, state=, head=, base=)
    await update_pull_request(repo, number, actor=, title=, body=, state=, base=)
    await mergeable(repo, number) -> bool | None ; await pull_request_commits(repo, number)
    await pull_request_diffstat(repo, number) -> {commits, additions, deletions, changed_files}
    await merge_pull_request(repo, number, actor=, merge_method=, title=, message=, sha=)
    await add_labels / remove_label / request_reviewers
Comments and reactions
    await add_comment(repo, number, body, author=)
    await edit_comment(repo, comment_id, body, actor=)
    comments(repo, number) ; comment(repo, comment_id)
    await add_reaction(repo, comment_id, content, user=) -> (Reaction, created)
    await remove_reaction(repo, comment_id, reaction_id)
Health
    await post_status(repo, sha, state, context=, creator=, target_url=, description=, ref=)
    statuses(repo, sha) ; combined_status(repo, sha) -> (state, latest per context)
    await post_check_run(repo, sha, name, app_id=, status=, conclusion=, ...)
    await update_check_run(repo, id, status=, conclusion=)
    check_runs(repo, sha, name=) ; check_run(repo, id)
    await create_pipeline(repo, sha, ref, status, user=)
    await set_pipeline_status(repo, id, status, actor=)
    pipelines(repo, sha=, ref=) ; pipeline(repo, id)
    await create_deployment(repo, ref, environment=, creator=, ...) ; deployments(repo, ...)
    await post_deployment_status(repo, deployment_id, state, creator=, ...)
    deployment_statuses(repo, deployment_id) ; deployment_status(repo, deployment_id, id)
Teams and groups (a path: GitHub's ``org/slug``, GitLab's group full path)
    create_team(path, name=, description=) -> Team              (idempotent)
    team(path) / find_team(path) / team_by_id(id) / teams()
    set_team_member(path, login, role=member|maintainer, state=active|pending)
    remove_team_member(path, login)
    team_member(path, login) (direct) ; group_member(path, login) (with parent groups)
GitHub Apps
    await register_app(app_id, public_key_pem, slug=, ...)
    await install_app(app_id, account, repos=) -> Installation
    app(id) ; installation(id) ; installation_for_repo(repo, app_id=None)
    verify_app_jwt(jwt) -> App | None
    create_installation_token(installation_id, repos=) -> (token, record)
OAuth sign-in (state_oauth; codes, tokens and secrets are kept as hashes)
    set_app_callback(app_id, url) ; new_app_client_secret(app_id, secret=None) -> str
    create_oauth_application(name, redirect_uris, scopes=, uid=, secret=) -> (app, secret)
    oauth_application(uid) / oauth_applications() / update_oauth_application(uid, ...)
    new_oauth_application_secret(uid, secret=None) -> str
    oauth_client(platform, client_id) -> OAuthClient (either platform's, for the flows)
    issue_oauth_code(platform, client_id, login, redirect_uri, scope=, code_challenge=, ...)
    exchange_oauth_code(platform, client_id, secret, code, redirect_uri=, code_verifier=)
    refresh_oauth_token(platform, client_id, secret, refresh_token) -> IssuedTokens
    oauth_token(token, platform=None) -> OAuthToken | None
Webhooks
    add_hook(platform, url, secret=, events=, repo=) -> Hook ; hooks(repo=None) ; remove_hook(id)
    webhooks (a webhooks.WebhookDispatcher: deliveries, redeliver)

Events emitted (see events.py): push on every branch move; pull_request opened / edited /
closed / reopened / synchronize (head moved) / labeled / unlabeled / review_requested;
comment created / edited; status; check_run created / completed and check_suite
completed; pipeline (the commit's external pipeline changed status); deployment;
deployment_status; installation created.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prbot.forge.events import ForgeEvent
from prbot.forge.models import (
    App,
    CheckRun,
    Comment,
    Deployment,
    DeploymentStatus,
    Hook,
    Installation,
    InstallationToken,
    Label,
    OAuthApplication,
    OAuthCode,
    OAuthToken,
    Pipeline,
    Principal,
    PullRequest,
    Reaction,
    Repo,
    Status,
    Team,
    TeamMember,
    User,
    iso,
)
from prbot.forge.ratelimit import RateLimits
from prbot.forge.state_accounts import AccountsMixin
from prbot.forge.state_apps import AppsMixin
from prbot.forge.state_git import GitMixin
from prbot.forge.state_health import HealthMixin
from prbot.forge.state_oauth import OAuthMixin
from prbot.forge.state_pulls import PullsMixin
from prbot.forge.state_teams import TeamsMixin

__all__ = ["Forge", "Principal", "iso"]

STATE_FILE = "state.json"
# commit dates come from a logical clock so the same steps give the same shas in tests
LOGICAL_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z


class Forge(AccountsMixin, GitMixin, PullsMixin, HealthMixin, AppsMixin, TeamsMixin, OAuthMixin):
    """The forge's state: repositories on disk plus a JSON-persisted model.

    ``data_dir`` holds ``state.json`` and ``git/<owner>/<name>.git``; an existing data dir
    is loaded as it was left. ``now`` is the wall clock used for timestamps and token
    expiry; commit dates come from a persisted logical clock.
    """

    def __init__(self, data_dir: Path | str, *, now: Callable[[], float] = time.time):
        from prbot.forge.webhooks import WebhookDispatcher  # webhooks renders our models

        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.now = now
        # set by the server once it listens; every URL in an answer or payload starts here
        self.base_url = "http://127.0.0.1"
        self.rate_limits = RateLimits(now=now)
        self.webhooks = WebhookDispatcher(self)
        self._ids: dict[str, int] = {}
        self._clock = LOGICAL_EPOCH
        self._users: dict[str, User] = {}
        self._repos: dict[str, Repo] = {}
        self._pulls: dict[tuple[str, int], PullRequest] = {}
        self._comments: dict[int, Comment] = {}
        self._statuses: list[Status] = []
        self._check_runs: dict[int, CheckRun] = {}
        self._suites: dict[tuple[str, str, int], int] = {}
        self._pipelines: dict[int, Pipeline] = {}
        self._deployments: dict[int, Deployment] = {}
        self._deployment_statuses: dict[int, DeploymentStatus] = {}
        self._apps: dict[int, App] = {}
        self._installations: dict[int, Installation] = {}
        self._inst_tokens: dict[str, InstallationToken] = {}
        self._hooks: dict[int, Hook] = {}
        self._teams: dict[str, Team] = {}  # by path, lowercased
        self._oauth_apps: dict[str, OAuthApplication] = {}  # GitLab's, by uid
        self._oauth_codes: dict[str, OAuthCode] = {}  # by hash
        self._oauth_tokens: dict[str, OAuthToken] = {}  # access and refresh, by hash
        self._token_index: dict[str, str] = {}
        self._mergeable_cache: dict[tuple[str, str, str], bool] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._load()

    # --- persistence ------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def _load(self) -> None:
        if not self.state_path.exists():
            return
        d = json.loads(self.state_path.read_text(encoding="utf-8"))
        self._ids = d.get("ids", {})
        self._clock = d.get("clock", LOGICAL_EPOCH)
        for u in d.get("users", []):
            self._users[u["login"]] = User(**u)
        for r in d.get("repos", []):
            r["labels"] = [Label(**lab) for lab in r.get("labels", [])]
            repo = Repo(**r)
            self._repos[repo.full_name] = repo
        for p in d.get("pulls", []):
            pr = PullRequest(**p)
            self._pulls[(pr.repo, pr.number)] = pr
        for c in d.get("comments", []):
            c["reactions"] = [Reaction(**x) for x in c.get("reactions", [])]
            self._comments[c["id"]] = Comment(**c)
        self._statuses = [Status(**s) for s in d.get("statuses", [])]
        self._check_runs = {c["id"]: CheckRun(**c) for c in d.get("check_runs", [])}
        self._suites = {(s[0], s[1], s[2]): s[3] for s in d.get("suites", [])}
        self._pipelines = {p["id"]: Pipeline(**p) for p in d.get("pipelines", [])}
        self._deployments = {x["id"]: Deployment(**x) for x in d.get("deployments", [])}
        self._deployment_statuses = {
            x["id"]: DeploymentStatus(**x) for x in d.get("deployment_statuses", [])
        }
        self._apps = {a["id"]: App(**a) for a in d.get("apps", [])}
        self._installations = {i["id"]: Installation(**i) for i in d.get("installations", [])}
        self._inst_tokens = {
            t["token_hash"]: InstallationToken(**t) for t in d.get("installation_tokens", [])
        }
        self._hooks = {h["id"]: Hook(**h) for h in d.get("hooks", [])}
        for t in d.get("teams", []):
            t["members"] = [TeamMember(**m) for m in t.get("members", [])]
            team = Team(**t)
            self._teams[team.path.lower()] = team
        self._oauth_load(d)
        for u in self._users.values():
            for h in u.token_hashes:
                self._token_index[h] = u.login

    def save(self) -> None:
        """Write state.json atomically (called after every change)."""
        asdict = dataclasses.asdict
        now = self.now()
        d = {
            "version": 1,
            "ids": self._ids,
            "clock": self._clock,
            "users": [asdict(u) for u in self._users.values()],
            "repos": [asdict(r) for r in self._repos.values()],
            "pulls": [asdict(p) for p in self._pulls.values()],
            "comments": [asdict(c) for c in self._comments.values()],
            "statuses": [asdict(s) for s in self._statuses],
            "check_runs": [asdict(c) for c in self._check_runs.values()],
            "suites": [[*k, v] for k, v in self._suites.items()],
            "pipelines": [asdict(p) for p in self._pipelines.values()],
            "deployments": [asdict(x) for x in self._deployments.values()],
            "deployment_statuses": [asdict(x) for x in self._deployment_statuses.values()],
            "apps": [asdict(a) for a in self._apps.values()],
            "installations": [asdict(i) for i in self._installations.values()],
            "installation_tokens": [
                asdict(t) for t in self._inst_tokens.values() if t.expires_at > now
            ],
            "hooks": [asdict(h) for h in self._hooks.values()],
            "teams": [asdict(t) for t in self._teams.values()],
            **self._oauth_dump(now),
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(d, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_path)

    def _next_id(self, kind: str, start: int = 1) -> int:
        n = self._ids.get(kind, start - 1) + 1
        self._ids[kind] = n
        return n

    def _tick(self) -> int:
        self._clock += 60
        return self._clock

    def timestamp(self) -> str:
        return iso(self.now())

    def _emit(self, name: str, repo: str | None, actor: str, **data: Any) -> None:
        self.webhooks.dispatch(ForgeEvent(name, repo, actor, data))

    def _lock(self, repo: str) -> asyncio.Lock:
        return self._locks.setdefault(repo, asyncio.Lock())

    async def aclose(self) -> None:
        """Wait for (bounded) and stop in-flight webhook deliveries."""
        await self.webhooks.aclose()
