"""GitHub JSON representations of the forge's records.

One function per object, shared by the REST answers (github.py) and the webhook payloads
(ghpayloads.py), so both carry the same fields GitHub's OpenAPI description and the
octokit webhook schemas require. URLs start at ``forge.base_url``: the API under
``/api/v3``, web pages at the root (``html_url``).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from prbot.forge import git
from prbot.forge.models import (
    App,
    CheckRun,
    Comment,
    Deployment,
    DeploymentStatus,
    Installation,
    Label,
    PullRequest,
    Reaction,
    Repo,
    Status,
)

if TYPE_CHECKING:
    from prbot.forge.state import Forge

REACTION_KEYS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


def node_id(kind: str, ident: int | str) -> str:
    """An opaque global id in GitHub's legacy format ("04:User1")."""
    raw = f"0{len(kind)}:{kind}{ident}"
    return base64.b64encode(raw.encode()).decode()


def iso_of(when: int) -> str:
    from prbot.forge.models import iso

    return iso(when)


class GitHubShapes:
    def __init__(self, forge: Forge):
        self.forge = forge

    @property
    def api(self) -> str:
        return f"{self.forge.base_url}/api/v3"

    @property
    def web(self) -> str:
        return self.forge.base_url

    # --- users and apps -------------------------------------------------------------------

    def user(self, login: str | None) -> dict[str, Any] | None:
        if login is None:
            return None
        u = self.forge._users.get(login)
        uid = u.id if u else 0
        kind = u.type if u else "User"
        api = f"{self.api}/users/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": node_id("Bot" if kind == "Bot" else "User", uid),
            "avatar_url": f"{self.web}/avatars/u/{uid}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.web}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "site_admin": False,
        }

    def app(self, app: App | None) -> dict[str, Any] | None:
        if app is None:
            return None
        return {
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("Integration", app.id),
            "owner": self.user(app.owner),
            "name": app.name,
            "description": f"{app.name} (local forge app)",
            "external_url": f"{self.web}/apps/{app.slug}",
            "html_url": f"{self.web}/apps/{app.slug}",
            "created_at": app.created_at,
            "updated_at": app.created_at,
            "permissions": dict(app.permissions),
            "events": list(app.events),
        }

    def checks_app(self, app_id: int) -> dict[str, Any]:
        app = self.forge._apps.get(app_id)
        if app is not None:
            return self.app(app)  # type: ignore[return-value]
        # check runs posted through the admin API come from the forge's own app
        return {
            "id": 1,
            "slug": "forge-checks",
            "node_id": node_id("Integration", 1),
            "owner": self.user(None) or self._ghost(),
            "name": "Forge checks",
            "description": "Check runs posted through the local forge's admin API",
            "external_url": f"{self.web}/apps/forge-checks",
            "html_url": f"{self.web}/apps/forge-checks",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {"checks": "write", "metadata": "read"},
            "events": [],
        }

    def _ghost(self) -> dict[str, Any]:
        shape = self.user("ghost")
        assert shape is not None
        return shape

    def installation(self, inst: Installation) -> dict[str, Any]:
        app = self.forge.app(inst.app_id)
        account = self.forge._users.get(inst.account)
        return {
            "id": inst.id,
            "node_id": node_id("Installation", inst.id),
            "account": self.user(inst.account),
            "repository_selection": "all" if inst.repos is None else "selected",
            "access_tokens_url": f"{self.api}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": f"{self.web}/settings/installations/{inst.id}",
            "app_id": inst.app_id,
            "app_slug": app.slug,
            "client_id": app.client_id,
            "target_id": account.id if account else 0,
            "target_type": "Organization" if account and account.type == "Organization" else "User",
            "permissions": dict(inst.permissions),
            "events": list(inst.events),
            "created_at": inst.created_at,
            "updated_at": inst.updated_at,
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }

    # --- repositories -----------------------------------------------------------------------

    def repo(self, repo: Repo, *, viewer: str | None = None) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        html = f"{self.web}/{repo.full_name}"
        open_count = len(self.forge.pull_requests(repo.full_name, state="open"))
        shape: dict[str, Any] = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": html,
            "description": repo.description or None,
            "fork": False,
            "url": api,
            "forks_url": f"{api}/forks",
            "keys_url": f"{api}/keys{{/key_id}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "teams_url": f"{api}/teams",
            "hooks_url": f"{api}/hooks",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "events_url": f"{api}/events",
            "assignees_url": f"{api}/assignees{{/user}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "tags_url": f"{api}/tags",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "languages_url": f"{api}/languages",
            "stargazers_url": f"{api}/stargazers",
            "contributors_url": f"{api}/contributors",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "commits_url": f"{api}/commits{{/sha}}",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "comments_url": f"{api}/comments{{/number}}",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "merges_url": f"{api}/merges",
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{api}/downloads",
            "issues_url": f"{api}/issues{{/number}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "labels_url": f"{api}/labels{{/name}}",
            "releases_url": f"{api}/releases{{/id}}",
            "deployments_url": f"{api}/deployments",
            "created_at": repo.created_at,
            "updated_at": repo.updated_at,
            "pushed_at": repo.pushed_at,
            "git_url": f"{html}.git",
            "ssh_url": f"{html}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": None,
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_count,
            "license": None,
            "allow_forking": False,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": repo.visibility,
            "forks": 0,
            "open_issues": open_count,
            "watchers": 0,
            "default_branch": repo.default_branch,
            "custom_properties": {},
            "network_count": 0,
            "subscribers_count": 0,
        }
        if viewer is not None:
            level = self.forge.permission(repo.full_name, viewer)
            order = ("none", "read", "triage", "write", "maintain", "admin")
            have = order.index(level)
            shape["permissions"] = {
                "admin": have >= 5,
                "maintain": have >= 4,
                "push": have >= 3,
                "triage": have >= 2,
                "pull": have >= 1,
            }
        return shape

    def label(self, repo: str, label: Label) -> dict[str, Any]:
        return {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.api}/repos/{repo}/labels/{label.name}",
            "name": label.name,
            "color": label.color,
            "default": False,
            "description": label.description or None,
        }

    # --- pull requests, issues and comments ---------------------------------------------------

    def pull_request(
        self,
        pr: PullRequest,
        *,
        mergeable: bool | None = None,
        stats: dict[str, int] | None = None,
        simple: bool = False,
    ) -> dict[str, Any]:
        """The ``pull-request`` shape (``simple``: the list item ``pull-request-simple``)."""
        r = self.forge.repo(pr.repo)
        api = f"{self.api}/repos/{pr.repo}"
        html = f"{self.web}/{pr.repo}/pull/{pr.number}"
        labels = [self.label(pr.repo, self.forge._label(r, n)) for n in pr.labels]
        repo_shape = self.repo(r)
        owner = self.user(r.owner)
        shape: dict[str, Any] = {
            "url": f"{api}/pulls/{pr.number}",
            "id": pr.id,
            "node_id": node_id("PullRequest", pr.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pr.number}",
            "commits_url": f"{api}/pulls/{pr.number}/commits",
            "review_comments_url": f"{api}/pulls/{pr.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pr.number}/comments",
            "statuses_url": f"{api}/statuses/{pr.head_sha}",
            "number": pr.number,
            "state": "open" if pr.state == "open" else "closed",
            "locked": False,
            "title": pr.title,
            "user": self.user(pr.author),
            "body": pr.body or None,
            "labels": labels,
            "milestone": None,
            "active_lock_reason": None,
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "closed_at": pr.closed_at,
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(x) for x in pr.requested_reviewers],
            "requested_teams": [],
            "head": {
                "label": f"{r.owner}:{pr.head}",
                "ref": pr.head,
                "sha": pr.head_sha,
                "user": owner,
                "repo": repo_shape,
            },
            "base": {
                "label": f"{r.owner}:{pr.base}",
                "ref": pr.base,
                "sha": pr.base_sha,
                "user": owner,
                "repo": repo_shape,
            },
            "_links": {
                "self": {"href": f"{api}/pulls/{pr.number}"},
                "html": {"href": html},
                "issue": {"href": f"{api}/issues/{pr.number}"},
                "comments": {"href": f"{api}/issues/{pr.number}/comments"},
                "review_comments": {"href": f"{api}/pulls/{pr.number}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/pulls/{pr.number}/commits"},
                "statuses": {"href": f"{api}/statuses/{pr.head_sha}"},
            },
            "author_association": self.association(pr.repo, pr.author),
            "auto_merge": None,
            "draft": pr.draft,
        }
        if simple:
            return shape
        stats = stats or {}
        if pr.state == "open":
            state = {True: "clean", False: "dirty", None: "unknown"}[mergeable]
        else:
            state = "unknown"
        shape.update(
            {
                "merged": pr.merged,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": state,
                "merged_by": self.user(pr.merged_by),
                "comments": len(self.forge.comments(pr.repo, pr.number)),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": stats.get("commits", 0),
                "additions": stats.get("additions", 0),
                "deletions": stats.get("deletions", 0),
                "changed_files": stats.get("changed_files", 0),
            }
        )
        return shape

    def association(self, repo: str, login: str) -> str:
        r = self.forge.repo(repo)
        if login == r.owner:
            return "OWNER"
        if self.forge.permission(repo, login) in ("write", "maintain", "admin"):
            return "COLLABORATOR" if login in r.permissions else "NONE"
        return "NONE"

    def reactions(self, url: str, reactions: list[Reaction]) -> dict[str, Any]:
        rollup: dict[str, Any] = {"url": url, "total_count": len(reactions)}
        for key in REACTION_KEYS:
            rollup[key] = sum(1 for r in reactions if r.content == key)
        return rollup

    def issue(self, pr: PullRequest) -> dict[str, Any]:
        """The issue side of a pull request (what issue_comment payloads carry)."""
        r = self.forge.repo(pr.repo)
        api = f"{self.api}/repos/{pr.repo}"
        url = f"{api}/issues/{pr.number}"
        return {
            "url": url,
            "repository_url": api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.web}/{pr.repo}/pull/{pr.number}",
            "id": pr.id,
            "node_id": node_id("PullRequest", pr.id),
            "number": pr.number,
            "title": pr.title,
            "user": self.user(pr.author),
            "labels": [self.label(pr.repo, self.forge._label(r, n)) for n in pr.labels],
            "state": "open" if pr.state == "open" else "closed",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(self.forge.comments(pr.repo, pr.number)),
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "closed_at": pr.closed_at,
            "author_association": self.association(pr.repo, pr.author),
            "active_lock_reason": None,
            "draft": pr.draft,
            "pull_request": {
                "url": f"{api}/pulls/{pr.number}",
                "html_url": f"{self.web}/{pr.repo}/pull/{pr.number}",
                "diff_url": f"{self.web}/{pr.repo}/pull/{pr.number}.diff",
                "patch_url": f"{self.web}/{pr.repo}/pull/{pr.number}.patch",
                "merged_at": pr.merged_at,
            },
            "body": pr.body or None,
            "reactions": self.reactions(f"{url}/reactions", []),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "state_reason": None,
        }

    def comment(self, c: Comment) -> dict[str, Any]:
        api = f"{self.api}/repos/{c.repo}"
        url = f"{api}/issues/comments/{c.id}"
        user = self.forge._users.get(c.author)
        via_app = None
        if user is not None and user.type == "Bot":
            app = next((a for a in self.forge._apps.values() if a.bot_login == c.author), None)
            via_app = self.app(app)
        return {
            "id": c.id,
            "node_id": node_id("IssueComment", c.id),
            "url": url,
            "html_url": f"{self.web}/{c.repo}/pull/{c.number}#issuecomment-{c.id}",
            "issue_url": f"{api}/issues/{c.number}",
            "body": c.body,
            "user": self.user(c.author),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "author_association": self.association(c.repo, c.author),
            "performed_via_github_app": via_app,
            "reactions": self.reactions(f"{url}/reactions", c.reactions),
        }

    def reaction(self, r: Reaction) -> dict[str, Any]:
        return {
            "id": r.id,
            "node_id": node_id("Reaction", r.id),
            "user": self.user(r.user),
            "content": r.content,
            "created_at": r.created_at,
        }

    # --- health ---------------------------------------------------------------------------------

    def status(self, s: Status) -> dict[str, Any]:
        creator = self.user(s.creator)
        return {
            "url": f"{self.api}/repos/{s.repo}/statuses/{s.sha}",
            "avatar_url": creator["avatar_url"] if creator else None,
            "id": s.id,
            "node_id": node_id("StatusContext", s.id),
            "state": s.state,
            "description": s.description,
            "target_url": s.target_url,
            "context": s.context,
            "created_at": s.created_at,
            "updated_at": s.updated_at,
            "creator": creator,
        }

    def combined_status(self, repo: Repo, sha: str) -> dict[str, Any]:
        state, latest = self.forge.combined_status(repo.full_name, sha)
        api = f"{self.api}/repos/{repo.full_name}"
        items = []
        for s in latest:
            item = self.status(s)
            item.pop("creator")
            item["required"] = False
            items.append(item)
        return {
            "state": state,
            "sha": sha,
            "total_count": len(items),
            "statuses": items,
            "repository": self.minimal_repo(repo),
            "commit_url": f"{api}/commits/{sha}",
            "url": f"{api}/commits/{sha}/status",
        }

    def minimal_repo(self, repo: Repo) -> dict[str, Any]:
        full = self.repo(repo)
        keep = [
            "id",
            "node_id",
            "name",
            "full_name",
            "owner",
            "private",
            "html_url",
            "description",
            "fork",
            "url",
            "archive_url",
            "assignees_url",
            "blobs_url",
            "branches_url",
            "collaborators_url",
            "comments_url",
            "commits_url",
            "compare_url",
            "contents_url",
            "contributors_url",
            "deployments_url",
            "downloads_url",
            "events_url",
            "forks_url",
            "git_commits_url",
            "git_refs_url",
            "git_tags_url",
            "git_url",
            "hooks_url",
            "issue_comment_url",
            "issue_events_url",
            "issues_url",
            "keys_url",
            "labels_url",
            "languages_url",
            "merges_url",
            "milestones_url",
            "notifications_url",
            "pulls_url",
            "releases_url",
            "ssh_url",
            "stargazers_url",
            "statuses_url",
            "subscribers_url",
            "subscription_url",
            "tags_url",
            "teams_url",
            "trees_url",
            "clone_url",
        ]
        return {k: full[k] for k in keep}

    def check_suite_ref(self, run: CheckRun) -> dict[str, Any]:
        return {"id": run.suite_id}

    def check_run(self, run: CheckRun, *, webhook: bool = False) -> dict[str, Any]:
        r = self.forge.repo(run.repo)
        api = f"{self.api}/repos/{run.repo}"
        prs = [
            self.check_run_pr(pr)
            for pr in self.forge.pull_requests(run.repo, state="open")
            if pr.head_sha == run.sha
        ]
        shape: dict[str, Any] = {
            "id": run.id,
            "node_id": node_id("CheckRun", run.id),
            "head_sha": run.sha,
            "external_id": run.external_id or "",
            "url": f"{api}/check-runs/{run.id}",
            "html_url": f"{self.web}/{run.repo}/runs/{run.id}",
            "details_url": run.details_url or f"{self.web}/{run.repo}/runs/{run.id}",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "name": run.name,
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{api}/check-runs/{run.id}/annotations",
            },
            "check_suite": {"id": run.suite_id},
            "app": self.checks_app(run.app_id),
            "pull_requests": prs,
        }
        if webhook:
            suite = self.check_suite(
                {
                    "id": run.suite_id,
                    "sha": run.sha,
                    "app_id": run.app_id,
                    "head_branch": run.head_branch,
                    "status": "completed" if run.status == "completed" else "in_progress",
                    "conclusion": None,
                },
                r,
            )
            shape["check_suite"] = suite
        return shape

    def check_run_pr(self, pr: PullRequest) -> dict[str, Any]:
        r = self.forge.repo(pr.repo)
        ref = {"id": r.id, "url": f"{self.api}/repos/{r.full_name}", "name": r.name}
        return {
            "url": f"{self.api}/repos/{pr.repo}/pulls/{pr.number}",
            "id": pr.id,
            "number": pr.number,
            "head": {"ref": pr.head, "sha": pr.head_sha, "repo": ref},
            "base": {"ref": pr.base, "sha": pr.base_sha, "repo": ref},
        }

    def check_suite(self, suite: dict[str, Any], repo: Repo) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo.full_name}"
        prs = [
            self.check_run_pr(pr)
            for pr in self.forge.pull_requests(repo.full_name, state="open")
            if pr.head_sha == suite["sha"]
        ]
        runs = suite.get("runs") or []
        ts = max((c.completed_at or c.started_at for c in runs), default=repo.updated_at)
        return {
            "id": suite["id"],
            "node_id": node_id("CheckSuite", suite["id"]),
            "head_branch": suite.get("head_branch"),
            "head_sha": suite["sha"],
            "status": suite["status"],
            "conclusion": suite["conclusion"],
            "url": f"{api}/check-suites/{suite['id']}",
            "before": None,
            "after": suite["sha"],
            "pull_requests": prs,
            "app": self.checks_app(suite["app_id"]),
            "created_at": min((c.started_at for c in runs), default=ts),
            "updated_at": ts,
            "latest_check_runs_count": len(runs),
            "check_runs_url": f"{api}/check-suites/{suite['id']}/check-runs",
            "rerequestable": True,
            "runs_rerequestable": True,
            "head_commit": None,
        }

    def deployment(self, d: Deployment) -> dict[str, Any]:
        api = f"{self.api}/repos/{d.repo}"
        return {
            "url": f"{api}/deployments/{d.id}",
            "id": d.id,
            "node_id": node_id("Deployment", d.id),
            "sha": d.sha,
            "ref": d.ref,
            "task": d.task,
            "payload": d.payload,
            "original_environment": d.environment,
            "environment": d.environment,
            "description": d.description,
            "creator": self.user(d.creator),
            "created_at": d.created_at,
            "updated_at": d.updated_at,
            "statuses_url": f"{api}/deployments/{d.id}/statuses",
            "repository_url": api,
            "transient_environment": d.transient_environment,
            "production_environment": d.production_environment,
            "performed_via_github_app": None,
        }

    def deployment_status(self, s: DeploymentStatus) -> dict[str, Any]:
        api = f"{self.api}/repos/{s.repo}"
        return {
            "url": f"{api}/deployments/{s.deployment_id}/statuses/{s.id}",
            "id": s.id,
            "node_id": node_id("DeploymentStatus", s.id),
            "state": s.state,
            "creator": self.user(s.creator),
            "description": s.description,
            "environment": s.environment,
            "target_url": s.target_url,
            "created_at": s.created_at,
            "updated_at": s.updated_at,
            "deployment_url": f"{api}/deployments/{s.deployment_id}",
            "repository_url": api,
            "environment_url": s.environment_url,
            "log_url": s.log_url,
            "performed_via_github_app": None,
        }

    # --- git objects ----------------------------------------------------------------------------

    def git_commit(self, repo: str, c: git.CommitInfo) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo}/git"

        def person(sig: git.Signature) -> dict[str, Any]:
            return {"name": sig.name, "email": sig.email, "date": iso_of(sig.when)}

        return {
            "sha": c.sha,
            "node_id": node_id("Commit", c.sha),
            "url": f"{api}/commits/{c.sha}",
            "html_url": f"{self.web}/{repo}/commit/{c.sha}",
            "author": person(c.author),
            "committer": person(c.committer),
            "message": c.message,
            "tree": {"sha": c.tree, "url": f"{api}/trees/{c.tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/commits/{p}",
                    "html_url": f"{self.web}/{repo}/commit/{p}",
                }
                for p in c.parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def commit(self, repo: str, c: git.CommitInfo) -> dict[str, Any]:
        """A commit as the REST commits and compare APIs show it (GitHub's "commit")."""
        g = self.git_commit(repo, c)
        api = f"{self.api}/repos/{repo}/commits"

        def account(sig: git.Signature) -> dict[str, Any] | None:
            # GitHub links a commit to the account whose email it carries, if any
            login = next((u.login for u in self.forge._users.values() if u.email == sig.email), "")
            return self.user(login) if login else None

        return {
            "url": f"{api}/{c.sha}",
            "sha": c.sha,
            "node_id": g["node_id"],
            "html_url": g["html_url"],
            "comments_url": f"{api}/{c.sha}/comments",
            "commit": {
                "url": g["url"],
                "author": g["author"],
                "committer": g["committer"],
                "message": c.message,
                "comment_count": 0,
                "tree": g["tree"],
                "verification": g["verification"],
            },
            "author": account(c.author),
            "committer": account(c.committer),
            "parents": [
                {"sha": p, "url": f"{api}/{p}", "html_url": f"{self.web}/{repo}/commit/{p}"}
                for p in c.parents
            ],
        }

    def git_ref(self, repo: str, ref: str, sha: str, kind: str = "commit") -> dict[str, Any]:
        api = f"{self.api}/repos/{repo}/git"
        return {
            "ref": ref,
            "node_id": node_id("Ref", f"{repo}:{ref}"),
            "url": f"{api}/{ref}",
            "object": {"type": kind, "sha": sha, "url": f"{api}/{kind}s/{sha}"},
        }

    def tree(self, repo: str, sha: str, items: list[git.TreeItem]) -> dict[str, Any]:
        api = f"{self.api}/repos/{repo}/git"
        entries = []
        for i in items:
            entry: dict[str, Any] = {
                "path": i.path,
                "mode": i.mode,
                "type": i.type,
                "sha": i.sha,
                "url": f"{api}/{i.type}s/{i.sha}",
            }
            if i.type == "blob":
                entry["size"] = i.size or 0
            entries.append(entry)
        return {"sha": sha, "url": f"{api}/trees/{sha}", "tree": entries, "truncated": False}
