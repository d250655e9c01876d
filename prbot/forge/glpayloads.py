"""GitLab webhook bodies for forge events (shapes as GitLab's documented deliveries).

``render(forge, event)`` returns ``(X-Gitlab-Event, body)`` or None when GitLab has no
such hook (statuses and check runs reach GitLab hooks as the commit's pipeline instead).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from prbot.forge import git
from prbot.forge.events import ForgeEvent
from prbot.forge.ghshapes import iso_of
from prbot.forge.models import PullRequest, Repo

if TYPE_CHECKING:
    from prbot.forge.state import Forge

GITLAB_EVENTS = {
    "push": "Push Hook",
    "pull_request": "Merge Request Hook",
    "comment": "Note Hook",
    "pipeline": "Pipeline Hook",
    "deployment_status": "Deployment Hook",
}
# the names of the same events in GitLab's hook settings (POST /projects/:id/hooks)
SETTING_NAMES = {
    "push_events": "Push Hook",
    "merge_requests_events": "Merge Request Hook",
    "note_events": "Note Hook",
    "pipeline_events": "Pipeline Hook",
    "deployment_events": "Deployment Hook",
}
MR_ACTIONS = {
    "opened": "open",
    "closed": "close",
    "reopened": "reopen",
    "synchronize": "update",
    "edited": "update",
    "labeled": "update",
    "unlabeled": "update",
    "review_requested": "update",
}
# GitLab's state_id: 1 opened, 2 closed, 3 merged, 4 locked
STATE_IDS = {"open": 1, "closed": 2, "merged": 3}
VISIBILITY_LEVELS = {"private": 0, "internal": 10, "public": 20}
DEPLOYMENT_STATES = {
    "queued": "running",
    "pending": "running",
    "in_progress": "running",
    "success": "success",
    "failure": "failed",
    "error": "failed",
    "inactive": "canceled",
}


def event_name(event: ForgeEvent) -> str | None:
    return GITLAB_EVENTS.get(event.name)


def gl_time(iso: str | None) -> str | None:
    """GitLab hook timestamps look like "2017-12-10 17:01:11 UTC"."""
    if not iso:
        return None
    return iso.replace("T", " ").replace("Z", " UTC")


def project(forge: Forge, repo: Repo) -> dict[str, Any]:
    web = f"{forge.base_url}/{repo.full_name}"
    return {
        "id": repo.id,
        "name": repo.name,
        "description": repo.description,
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": f"{web}.git",
        "git_http_url": f"{web}.git",
        "namespace": repo.owner,
        "visibility_level": VISIBILITY_LEVELS.get(repo.visibility, 0),
        "path_with_namespace": repo.full_name,
        "default_branch": repo.default_branch,
        "ci_config_path": None,
        "homepage": web,
        "url": f"{web}.git",
        "ssh_url": f"{web}.git",
        "http_url": f"{web}.git",
    }


def repository(forge: Forge, repo: Repo) -> dict[str, Any]:
    web = f"{forge.base_url}/{repo.full_name}"
    return {
        "name": repo.name,
        "url": f"{web}.git",
        "description": repo.description,
        "homepage": web,
        "git_http_url": f"{web}.git",
        "git_ssh_url": f"{web}.git",
        "visibility_level": VISIBILITY_LEVELS.get(repo.visibility, 0),
    }


def user(forge: Forge, login: str) -> dict[str, Any]:
    u = forge._users.get(login)
    return {
        "id": u.id if u else 0,
        "name": u.name if u else login,
        "username": login,
        "avatar_url": f"{forge.base_url}/avatars/u/{u.id if u else 0}",
        "email": u.email if u else "[REDACTED]",
    }


def _label(forge: Forge, repo: Repo, name: str) -> dict[str, Any]:
    lab = forge._label(repo, name)
    return {
        "id": lab.id,
        "title": lab.name,
        "color": f"#{lab.color}",
        "project_id": repo.id,
        "created_at": repo.created_at,
        "updated_at": repo.created_at,
        "template": False,
        "description": lab.description or None,
        "type": "ProjectLabel",
        "group_id": None,
    }


async def _last_commit(forge: Forge, repo: Repo, sha: str) -> dict[str, Any] | None:
    try:
        info = await forge.commit_info(repo.full_name, sha)
    except Exception:
        return None
    return _commit(forge, repo, info)


def _commit(forge: Forge, repo: Repo, info: git.CommitInfo) -> dict[str, Any]:
    return {
        "id": info.sha,
        "message": info.message,
        "title": info.message.split("\n", 1)[0],
        "timestamp": iso_of(info.committer.when),
        "url": f"{forge.base_url}/{repo.full_name}/-/commit/{info.sha}",
        "author": {"name": info.author.name, "email": info.author.email},
    }


async def merge_request_attrs(forge: Forge, pr: PullRequest) -> dict[str, Any]:
    repo = forge.repo(pr.repo)
    author = forge._users.get(pr.author)
    merger = forge._users.get(pr.merged_by or "")
    mergeable = await forge.mergeable(pr.repo, pr.number) if pr.state == "open" else None
    status = {True: "can_be_merged", False: "cannot_be_merged", None: "unchecked"}[mergeable]
    detailed = {True: "mergeable", False: "conflict", None: "unchecked"}[mergeable]
    proj = project(forge, repo)
    reviewers = [forge._users[x].id for x in pr.requested_reviewers if x in forge._users]
    return {
        "id": pr.id,
        "iid": pr.number,
        "target_branch": pr.base,
        "source_branch": pr.head,
        "source_project_id": repo.id,
        "target_project_id": repo.id,
        "author_id": author.id if author else 0,
        "assignee_id": None,
        "assignee_ids": [],
        "reviewer_ids": reviewers,
        "title": pr.title,
        "description": pr.body,
        "created_at": gl_time(pr.created_at),
        "updated_at": gl_time(pr.updated_at),
        "milestone_id": None,
        "state": {"open": "opened", "closed": "closed", "merged": "merged"}[pr.state],
        "state_id": STATE_IDS[pr.state],
        "blocking_discussions_resolved": True,
        "work_in_progress": pr.draft,
        "draft": pr.draft,
        "first_contribution": False,
        "merge_status": status,
        "detailed_merge_status": detailed,
        "merge_commit_sha": pr.merge_commit_sha,
        "merge_user_id": merger.id if merger else None,
        "merge_when_pipeline_succeeds": False,
        "url": f"{forge.base_url}/{pr.repo}/-/merge_requests/{pr.number}",
        "source": proj,
        "target": proj,
        "last_commit": await _last_commit(forge, repo, pr.head_sha),
        "labels": [_label(forge, repo, n) for n in pr.labels],
        "head_pipeline_id": None,
        "last_edited_at": None,
        "last_edited_by_id": None,
        "total_time_spent": 0,
        "time_change": 0,
        "human_total_time_spent": None,
        "human_time_change": None,
        "human_time_estimate": None,
    }


async def render(forge: Forge, event: ForgeEvent) -> tuple[str, dict] | None:
    name = event_name(event)
    if name is None or event.repo is None:
        return None
    repo = forge.repo(event.repo)
    d = event.data
    base = {"user": user(forge, event.actor), "project": project(forge, repo)}
    if name == "Push Hook":
        return name, await _push(forge, repo, event)
    if name == "Merge Request Hook":
        pr: PullRequest = d["pr"]
        attrs = await merge_request_attrs(forge, pr)
        action = "merge" if d["action"] == "closed" and pr.merged else MR_ACTIONS.get(d["action"])
        if action is None:
            return None
        attrs["action"] = action
        if d["action"] == "synchronize":
            attrs["oldrev"] = d["before"]
        changes: dict[str, Any] = {}
        if d["action"] in ("labeled", "unlabeled"):
            now = [_label(forge, repo, n) for n in pr.labels]
            label = _label(forge, repo, d["label"].name)
            before = [x for x in now if x["id"] != label["id"]]
            if d["action"] == "unlabeled":
                before = [*now, label]
            changes["labels"] = {"previous": before, "current": now}
        for key, gl_key in (("title", "title"), ("body", "description")):
            if d.get("changes", {}).get(key):
                changes[gl_key] = {"previous": d["changes"][key]["from"], "current": attrs[gl_key]}
        return name, {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            **base,
            "repository": repository(forge, repo),
            "object_attributes": attrs,
            "labels": attrs["labels"],
            "changes": changes,
            "assignees": [],
            "reviewers": [user(forge, x) for x in pr.requested_reviewers],
        }
    if name == "Note Hook":
        c = d["comment"]
        pr = d["pr"]
        author = forge._users.get(c.author)
        url = f"{forge.base_url}/{pr.repo}/-/merge_requests/{pr.number}#note_{c.id}"
        return name, {
            "object_kind": "note",
            "event_type": "note",
            **base,
            "project_id": repo.id,
            "repository": repository(forge, repo),
            "object_attributes": {
                "id": c.id,
                "note": c.body,
                "noteable_type": "MergeRequest",
                "author_id": author.id if author else 0,
                "created_at": gl_time(c.created_at),
                "updated_at": gl_time(c.updated_at),
                "project_id": repo.id,
                "attachment": None,
                "line_code": None,
                "commit_id": "",
                "noteable_id": pr.id,
                "system": False,
                "st_diff": None,
                "type": None,
                "position": None,
                "discussion_id": f"{c.id:040x}",
                "action": "create" if d["action"] == "created" else "update",
                "url": url,
            },
            "merge_request": await merge_request_attrs(forge, pr),
        }
    if name == "Pipeline Hook":
        return name, await _pipeline(forge, repo, event, base)
    if name == "Deployment Hook":
        dep, status = d["deployment"], d["status"]
        web = f"{forge.base_url}/{repo.full_name}"
        info = await forge.commit_info(repo.full_name, dep.sha)
        return name, {
            "object_kind": "deployment",
            "status": DEPLOYMENT_STATES.get(status.state, "running"),
            "status_changed_at": gl_time(status.created_at),
            "deployment_id": dep.id,
            "deployable_id": None,
            "deployable_url": status.log_url or None,
            "environment": dep.environment,
            "environment_tier": "production" if dep.production_environment else "other",
            "environment_slug": dep.environment.lower().replace("/", "-"),
            "environment_external_url": status.environment_url or None,
            **base,
            "short_sha": dep.sha[:8],
            "user_url": f"{forge.base_url}/{event.actor}",
            "commit_url": f"{web}/-/commit/{dep.sha}",
            "commit_title": info.message.split("\n", 1)[0],
            "ref": dep.ref,
        }
    return None


async def _push(forge: Forge, repo: Repo, event: ForgeEvent) -> dict[str, Any]:
    d = event.data
    gd = forge.git_dir(repo.full_name)
    commits: list[git.CommitInfo] = d["commits"]

    def paths() -> list[list[tuple[str, str]]]:
        return [git.changed_paths(gd, c.parents[0] if c.parents else None, c.sha) for c in commits]

    changes = await asyncio.to_thread(paths)
    shaped = []
    for c, ch in zip(commits, changes, strict=True):
        item = _commit(forge, repo, c)
        item["added"] = [p for s, p in ch if s == "A"]
        item["modified"] = [p for s, p in ch if s not in ("A", "D")]
        item["removed"] = [p for s, p in ch if s == "D"]
        shaped.append(item)
    u = user(forge, event.actor)
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": d["before"],
        "after": d["after"],
        "ref": d["ref"],
        "ref_protected": d["ref"] == f"refs/heads/{repo.default_branch}",
        "checkout_sha": None if d["deleted"] else d["after"],
        "message": None,
        "user_id": u["id"],
        "user_name": u["name"],
        "user_username": u["username"],
        "user_email": u["email"],
        "user_avatar": u["avatar_url"],
        "project_id": repo.id,
        "project": project(forge, repo),
        "repository": repository(forge, repo),
        "commits": shaped,
        "total_commits_count": len(shaped),
    }


async def _pipeline(
    forge: Forge, repo: Repo, event: ForgeEvent, base: dict[str, Any]
) -> dict[str, Any]:
    p = event.data["pipeline"]
    info = await forge.commit_info(repo.full_name, p.sha)
    mr = next(
        (pr for pr in forge.pull_requests(repo.full_name, state="open") if pr.head_sha == p.sha),
        None,
    )
    detailed = {"success": "passed", "failed": "failed", "running": "running"}.get(
        p.status, p.status
    )
    body: dict[str, Any] = {
        "object_kind": "pipeline",
        "object_attributes": {
            "id": p.id,
            "iid": p.iid,
            "name": None,
            "ref": p.ref,
            "tag": False,
            "sha": p.sha,
            "before_sha": info.parents[0] if info.parents else git.ZERO_SHA,
            "source": p.source,
            "status": p.status,
            "detailed_status": detailed,
            "stages": [],
            "created_at": gl_time(p.created_at),
            "finished_at": gl_time(p.finished_at),
            "duration": None,
            "queued_duration": None,
            "variables": [],
            "url": f"{forge.base_url}/{repo.full_name}/-/pipelines/{p.id}",
        },
        "merge_request": None,
        **base,
        "commit": _commit(forge, repo, info),
        "builds": [],
    }
    if p.user:
        body["user"] = user(forge, p.user)
    if mr is not None:
        attrs = await merge_request_attrs(forge, mr)
        body["merge_request"] = {
            k: attrs[k]
            for k in [
                "id",
                "iid",
                "title",
                "source_branch",
                "source_project_id",
                "target_branch",
                "target_project_id",
                "state",
                "merge_status",
                "detailed_merge_status",
                "url",
            ]
        }
    return body
