"""GitLab v4 JSON representations of the forge's records.

One function per object, with the fields python-gitlab and GitLab's own documentation
show; web URLs start at ``forge.base_url`` (``/<path>/-/merge_requests/<iid>`` etc.).
Kept apart from the routes so webhook payloads can reuse them.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from prbot.forge import git
from prbot.forge.models import (
    ACCESS_LEVELS,
    Comment,
    Deployment,
    Pipeline,
    PullRequest,
    Reaction,
    Repo,
    Status,
    Team,
    TeamMember,
    User,
)

if TYPE_CHECKING:
    from prbot.forge.state import Forge

# the forge keeps GitHub's names; GitLab's award emoji names for the same eight
EMOJI_OF_REACTION = {
    "+1": "thumbsup",
    "-1": "thumbsdown",
    "laugh": "laughing",
    "confused": "confused",
    "heart": "heart",
    "hooray": "tada",
    "rocket": "rocket",
    "eyes": "eyes",
}
REACTION_OF_EMOJI = {v: k for k, v in EMOJI_OF_REACTION.items()}
# GitLab commit status states <-> the forge's (GitHub's) four
STATUS_TO_FORGE = {
    "pending": "pending",
    "running": "pending",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
    "skipped": "success",
}
STATUS_FROM_FORGE = {
    "pending": "pending",
    "success": "success",
    "failure": "failed",
    "error": "canceled",
}
# GitLab deployment statuses <-> the forge's deployment status states
DEPLOYMENT_TO_FORGE = {
    "created": "pending",
    "running": "in_progress",
    "success": "success",
    "failed": "failure",
    "canceled": "error",
    "blocked": "queued",
}
DEPLOYMENT_FROM_FORGE = {
    "pending": "created",
    "queued": "blocked",
    "in_progress": "running",
    "success": "success",
    "inactive": "success",  # superseded by a newer deployment; it did succeed
    "failure": "failed",
    "error": "canceled",
}
MR_STATE = {"open": "opened", "closed": "closed", "merged": "merged"}
# a team member is a developer of the group, a team maintainer its maintainer
GROUP_ACCESS = {"member": 30, "maintainer": 40}


def gl_time(ts: str | None) -> str | None:
    """``2024-01-01T00:00:00Z`` as GitLab prints it: ``2024-01-01T00:00:00.000Z``."""
    if not ts:
        return None
    return ts[:-1] + ".000Z" if ts.endswith("Z") and "." not in ts else ts


def unix_time(when: int) -> str:
    from prbot.forge.state import iso

    return gl_time(iso(when)) or ""


class GitLabShapes:
    def __init__(self, forge: Forge):
        self.forge = forge

    @property
    def web(self) -> str:
        return self.forge.base_url.rstrip("/")

    # --- people ------------------------------------------------------------------------

    def user(self, login: str | None) -> dict[str, Any] | None:
        if login is None:
            return None
        u: User | None = next((x for x in self.forge.users() if x.login == login), None)
        uid = u.id if u else 0
        return {
            "id": uid,
            "username": login,
            "name": u.name if u else login,
            "state": "active",
            "locked": False,
            "avatar_url": f"{self.web}/uploads/-/system/user/avatar/{uid}/avatar.png",
            "web_url": f"{self.web}/{login}",
            "bot": bool(u and u.type == "Bot"),
        }

    def full_user(self, u: User) -> dict[str, Any]:
        return {
            **(self.user(u.login) or {}),
            "created_at": gl_time(u.created_at),
            "public_email": u.email,
            "bio": "",
            "is_admin": False,
        }

    def member(self, repo: Repo, u: User) -> dict[str, Any]:
        return {
            **(self.user(u.login) or {}),
            "access_level": ACCESS_LEVELS[self.forge.permission(repo.full_name, u.login)],
            "created_at": gl_time(repo.created_at),
            "expires_at": None,
            "membership_state": "active",
        }

    def group(self, team: Team) -> dict[str, Any]:
        parent = self.forge.find_team(team.parent) if team.parent else None
        return {
            "id": team.id,
            "web_url": f"{self.web}/groups/{team.path}",
            "name": team.name,
            "path": team.slug,
            "description": team.description,
            "visibility": "private",
            "full_name": " / ".join(team.path.split("/")),
            "full_path": team.path,
            "parent_id": parent.id if parent else None,
            "created_at": gl_time(team.created_at),
            "avatar_url": None,
        }

    def group_member(self, team: Team, m: TeamMember) -> dict[str, Any]:
        return {
            **(self.user(m.login) or {}),
            "access_level": GROUP_ACCESS[m.role],
            "created_at": gl_time(team.created_at),
            "expires_at": None,
            "membership_state": "active" if m.state == "active" else "awaiting",
        }

    # --- projects and git ----------------------------------------------------------------

    def project(self, repo: Repo) -> dict[str, Any]:
        owner = next((u for u in self.forge.users() if u.login == repo.owner), None)
        web = f"{self.web}/{repo.full_name}"
        return {
            "id": repo.id,
            "description": repo.description,
            "name": repo.name,
            "name_with_namespace": f"{repo.owner} / {repo.name}",
            "path": repo.name,
            "path_with_namespace": repo.full_name,
            "created_at": gl_time(repo.created_at),
            "last_activity_at": gl_time(repo.pushed_at or repo.updated_at),
            "default_branch": repo.default_branch,
            "visibility": repo.visibility,
            "web_url": web,
            "http_url_to_repo": f"{web}.git",
            "ssh_url_to_repo": f"git@forge.local:{repo.full_name}.git",
            "readme_url": f"{web}/-/blob/{repo.default_branch}/README.md",
            "namespace": {
                "id": owner.id if owner else 0,
                "name": repo.owner,
                "path": repo.owner,
                "kind": "user",
                "full_path": repo.owner,
                "web_url": f"{self.web}/{repo.owner}",
            },
            "archived": False,
            "empty_repo": False,
            "topics": [],
            "forks_count": 0,
            "star_count": 0,
        }

    def commit(self, repo: Repo, info: git.CommitInfo) -> dict[str, Any]:
        title = info.message.split("\n", 1)[0]
        return {
            "id": info.sha,
            "short_id": info.sha[:8],
            "title": title,
            "message": info.message,
            "author_name": info.author.name,
            "author_email": info.author.email,
            "authored_date": unix_time(info.author.when),
            "committer_name": info.committer.name,
            "committer_email": info.committer.email,
            "committed_date": unix_time(info.committer.when),
            "created_at": unix_time(info.committer.when),
            "parent_ids": list(info.parents),
            "trailers": {},
            "extended_trailers": {},
            "web_url": f"{self.web}/{repo.full_name}/-/commit/{info.sha}",
        }

    def branch(self, repo: Repo, name: str, info: git.CommitInfo) -> dict[str, Any]:
        default = name == repo.default_branch
        return {
            "name": name,
            "commit": self.commit(repo, info),
            "merged": False,
            "protected": default,
            "developers_can_push": not default,
            "developers_can_merge": not default,
            "can_push": True,
            "default": default,
            "web_url": f"{self.web}/{repo.full_name}/-/tree/{name}",
        }

    @staticmethod
    def tree_item(item: git.TreeItem) -> dict[str, Any]:
        return {
            "id": item.sha,
            "name": item.path.rsplit("/", 1)[-1],
            "type": item.type,
            "path": item.path,
            "mode": item.mode,
        }

    # --- merge requests ----------------------------------------------------------------

    def merge_request(self, repo: Repo, pr: PullRequest, mergeable: bool | None) -> dict[str, Any]:
        merge_status = {True: "can_be_merged", False: "cannot_be_merged", None: "unchecked"}
        detailed = {True: "mergeable", False: "conflict", None: "not_open"}
        reviewers = [self.user(login) for login in pr.requested_reviewers]
        return {
            "id": pr.id,
            "iid": pr.number,
            "project_id": repo.id,
            "title": pr.title,
            "description": pr.body,
            "state": MR_STATE[pr.state],
            "created_at": gl_time(pr.created_at),
            "updated_at": gl_time(pr.updated_at),
            "merged_by": self.user(pr.merged_by),
            "merge_user": self.user(pr.merged_by),
            "merged_at": gl_time(pr.merged_at),
            "closed_by": None,
            "closed_at": gl_time(pr.closed_at) if pr.state == "closed" else None,
            "target_branch": pr.base,
            "source_branch": pr.head,
            "source_project_id": repo.id,
            "target_project_id": repo.id,
            "author": self.user(pr.author),
            "assignee": None,
            "assignees": [],
            "reviewers": reviewers,
            "labels": list(pr.labels),
            "draft": pr.draft,
            "work_in_progress": pr.draft,
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": merge_status[mergeable],
            "detailed_merge_status": detailed[mergeable],
            "has_conflicts": mergeable is False,
            "sha": pr.head_sha,
            "merge_commit_sha": pr.merge_commit_sha,
            "squash_commit_sha": None,
            "diff_refs": {
                "base_sha": pr.base_sha,
                "head_sha": pr.head_sha,
                "start_sha": pr.base_sha,
            },
            "user_notes_count": len(self.forge.comments(repo.full_name, pr.number)),
            "should_remove_source_branch": None,
            "force_remove_source_branch": False,
            "squash": False,
            "references": {
                "short": f"!{pr.number}",
                "relative": f"!{pr.number}",
                "full": f"{repo.full_name}!{pr.number}",
            },
            "web_url": f"{self.web}/{repo.full_name}/-/merge_requests/{pr.number}",
        }

    def note(self, repo: Repo, pr: PullRequest, c: Comment) -> dict[str, Any]:
        return {
            "id": c.id,
            "type": None,
            "body": c.body,
            "attachment": None,
            "author": self.user(c.author),
            "created_at": gl_time(c.created_at),
            "updated_at": gl_time(c.updated_at),
            "system": False,
            "noteable_id": pr.id,
            "noteable_type": "MergeRequest",
            "noteable_iid": pr.number,
            "project_id": repo.id,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }

    def award(self, c: Comment, r: Reaction) -> dict[str, Any]:
        return {
            "id": r.id,
            "name": EMOJI_OF_REACTION.get(r.content, r.content),
            "user": self.user(r.user),
            "created_at": gl_time(r.created_at),
            "updated_at": gl_time(r.created_at),
            "awardable_id": c.id,
            "awardable_type": "Note",
        }

    # --- health ------------------------------------------------------------------------

    def status(self, s: Status, ref: str | None) -> dict[str, Any]:
        return {
            "id": s.id,
            "sha": s.sha,
            "ref": ref,
            "status": STATUS_FROM_FORGE.get(s.state, s.state),
            "name": s.context,
            "target_url": s.target_url,
            "description": s.description,
            "created_at": gl_time(s.created_at),
            "started_at": gl_time(s.created_at),
            "finished_at": gl_time(s.updated_at) if s.state != "pending" else None,
            "allow_failure": False,
            "coverage": None,
            "author": self.user(s.creator),
        }

    def pipeline(self, repo: Repo, p: Pipeline) -> dict[str, Any]:
        return {
            "id": p.id,
            "iid": p.iid,
            "project_id": repo.id,
            "sha": p.sha,
            "ref": p.ref,
            "status": p.status,
            "source": p.source,
            "created_at": gl_time(p.created_at),
            "updated_at": gl_time(p.updated_at),
            "finished_at": gl_time(p.finished_at),
            "user": self.user(p.user) if p.user else None,
            "web_url": f"{self.web}/{repo.full_name}/-/pipelines/{p.id}",
        }

    def deployment(self, repo: Repo, d: Deployment) -> dict[str, Any]:
        statuses = self.forge.deployment_statuses(repo.full_name, d.id)
        latest = statuses[0] if statuses else None
        status = DEPLOYMENT_FROM_FORGE.get(latest.state, "created") if latest else "created"
        return {
            "id": d.id,
            "iid": d.id,
            "ref": d.ref,
            "sha": d.sha,
            "status": status,
            "created_at": gl_time(d.created_at),
            "updated_at": gl_time(d.updated_at),
            "finished_at": gl_time(latest.created_at)
            if latest and status in ("success", "failed", "canceled")
            else None,
            "user": self.user(d.creator),
            "environment": self.environment(
                repo, d.environment, latest.environment_url if latest else ""
            ),
            "deployable": None,
        }

    def environment(self, repo: Repo, name: str, external_url: str = "") -> dict[str, Any]:
        # the forge has no environment records: a stable id from the repo and name
        digest = hashlib.sha256(f"{repo.id}:{name}".encode()).digest()
        return {
            "id": int.from_bytes(digest[:3], "big"),
            "name": name,
            "slug": name.lower().replace("/", "-"),
            "external_url": external_url or None,
            "state": "available",
            "tier": "production" if name == "production" else "other",
        }
