"""GitHub webhook payloads for forge events (shapes as octokit's webhook schemas).

``render(forge, event, hook)`` returns ``(X-GitHub-Event, payload)`` or None when GitHub
has no such event (pipelines are GitLab's).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from prbot.forge import git
from prbot.forge.events import ForgeEvent
from prbot.forge.ghshapes import GitHubShapes, iso_of
from prbot.forge.models import Hook, Installation, PullRequest

if TYPE_CHECKING:
    from prbot.forge.state import Forge

GITHUB_EVENTS = {
    "push": "push",
    "pull_request": "pull_request",
    "comment": "issue_comment",
    "status": "status",
    "check_run": "check_run",
    "check_suite": "check_suite",
    "deployment": "deployment",
    "deployment_status": "deployment_status",
    "installation": "installation",
}


def event_name(event: ForgeEvent) -> str | None:
    return GITHUB_EVENTS.get(event.name)


# REST-only fields the webhook schemas (additionalProperties: false) do not allow
REST_ONLY = {"network_count", "subscribers_count"}
SUITE_REST_ONLY = {
    "check_runs_url",
    "head_commit",
    "latest_check_runs_count",
    "rerequestable",
    "runs_rerequestable",
}


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in REST_ONLY}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


async def render(forge: Forge, event: ForgeEvent, hook: Hook) -> tuple[str, dict] | None:
    rendered = await _render(forge, event, hook)
    if rendered is None:
        return None
    name, payload = rendered
    return name, _scrub(payload)


async def _render(forge: Forge, event: ForgeEvent, hook: Hook) -> tuple[str, dict] | None:
    name = event_name(event)
    if name is None:
        return None
    shapes = GitHubShapes(forge)
    d = event.data
    if name == "installation":
        inst: Installation = d["installation"]
        shaped = shapes.installation(inst)
        for key in ("node_id", "client_id"):
            shaped.pop(key, None)
        payload = {
            "action": d["action"],
            "installation": shaped,
            "repositories": [
                {
                    "id": r.id,
                    "node_id": shapes.repo(r)["node_id"],
                    "name": r.name,
                    "full_name": r.full_name,
                    "private": r.private,
                }
                for r in forge.installation_repos(inst)
            ],
            "sender": shapes.user(event.actor),
        }
        return name, payload
    assert event.repo is not None
    repo = forge.repo(event.repo)
    payload: dict[str, Any] = {}
    if name == "push":
        payload = await _push(forge, shapes, event)
    elif name == "pull_request":
        pr: PullRequest = d["pr"]
        payload = {"action": d["action"], "number": pr.number}
        payload["pull_request"] = await _pull_request(forge, shapes, pr)
        if d.get("label") is not None:
            payload["label"] = shapes.label(repo.full_name, d["label"])
        if d["action"] == "synchronize":
            payload["before"], payload["after"] = d["before"], d["after"]
        if d.get("reviewer"):
            payload["requested_reviewer"] = shapes.user(d["reviewer"])
        if d.get("changes"):
            payload["changes"] = d["changes"]
    elif name == "issue_comment":
        payload = {
            "action": d["action"],
            "issue": shapes.issue(d["pr"]),
            "comment": shapes.comment(d["comment"]),
        }
        if d.get("changes"):
            payload["changes"] = d["changes"]
    elif name == "status":
        payload = await _status(forge, shapes, event)
    elif name == "check_run":
        run = shapes.check_run(d["check_run"], webhook=True)
        for key in SUITE_REST_ONLY:
            run["check_suite"].pop(key, None)
        payload = {"action": d["action"], "check_run": run}
    elif name == "check_suite":
        suite = shapes.check_suite(d["suite"], repo)
        info = await forge.commit_info(repo.full_name, d["suite"]["sha"])
        suite["head_commit"] = {
            "id": info.sha,
            "tree_id": info.tree,
            "message": info.message,
            "timestamp": iso_of(info.committer.when),
            "author": {"name": info.author.name, "email": info.author.email},
            "committer": {"name": info.committer.name, "email": info.committer.email},
        }
        payload = {"action": d["action"], "check_suite": suite}
    elif name == "deployment":
        payload = {"action": "created", "deployment": shapes.deployment(d["deployment"])}
    elif name == "deployment_status":
        status = shapes.deployment_status(d["status"])
        for key in ("environment_url", "log_url"):
            if not status.get(key):
                status.pop(key, None)  # optional, and "" matches both arms of its oneOf
        payload = {
            "action": "created",
            "deployment_status": status,
            "deployment": shapes.deployment(d["deployment"]),
        }
    payload["repository"] = shapes.repo(repo)
    payload["sender"] = shapes.user(event.actor)
    inst = forge.installation_for_repo(repo.full_name, hook.app_id)
    if inst is not None:
        payload["installation"] = {"id": inst.id, "node_id": shapes.installation(inst)["node_id"]}
    return name, payload


async def _pull_request(forge: Forge, shapes: GitHubShapes, pr: PullRequest) -> dict[str, Any]:
    try:
        mergeable = await forge.mergeable(pr.repo, pr.number) if pr.state == "open" else None
        stats = await forge.pull_request_diffstat(pr.repo, pr.number)
    except Exception:  # a branch deleted meanwhile: deliver what we know
        mergeable, stats = None, None
    return shapes.pull_request(pr, mergeable=mergeable, stats=stats)


async def _push(forge: Forge, shapes: GitHubShapes, event: ForgeEvent) -> dict[str, Any]:
    d = event.data
    repo = event.repo
    assert repo is not None
    gd = forge.git_dir(repo)
    commits: list[git.CommitInfo] = d["commits"]

    def paths() -> list[list[tuple[str, str]]]:
        return [git.changed_paths(gd, c.parents[0] if c.parents else None, c.sha) for c in commits]

    changes = await asyncio.to_thread(paths)
    web = f"{forge.base_url}/{repo}"
    shaped = []
    for c, ch in zip(commits, changes, strict=True):
        shaped.append(
            {
                "id": c.sha,
                "tree_id": c.tree,
                "distinct": True,
                "message": c.message,
                "timestamp": iso_of(c.committer.when),
                "url": f"{web}/commit/{c.sha}",
                "author": {"name": c.author.name, "email": c.author.email, "username": None},
                "committer": {
                    "name": c.committer.name,
                    "email": c.committer.email,
                    "username": None,
                },
                "added": [p for s, p in ch if s == "A"],
                "removed": [p for s, p in ch if s == "D"],
                "modified": [p for s, p in ch if s not in ("A", "D")],
            }
        )
    for item in shaped:
        for who in ("author", "committer"):
            item[who] = {k: v for k, v in item[who].items() if v is not None}
    pusher = forge._users.get(event.actor)
    before, after = d["before"], d["after"]
    return {
        "ref": d["ref"],
        "before": before,
        "after": after,
        "created": d["created"],
        "deleted": d["deleted"],
        "forced": d["forced"],
        "base_ref": None,
        "compare": f"{web}/compare/{before[:12]}...{after[:12]}",
        "commits": shaped,
        "head_commit": shaped[-1] if shaped else None,
        "pusher": {
            "name": event.actor,
            "email": pusher.email if pusher else f"{event.actor}@forge.local",
        },
    }


async def _status(forge: Forge, shapes: GitHubShapes, event: ForgeEvent) -> dict[str, Any]:
    s = event.data["status"]
    info = await forge.commit_info(s.repo, s.sha)
    branches = [
        {
            "name": name,
            "commit": {
                "sha": head,
                "url": f"{shapes.api}/repos/{s.repo}/commits/{head}",
            },
            "protected": False,
        }
        for name, head in await forge.branches(s.repo)
        if head == s.sha
    ]
    git_commit = shapes.git_commit(s.repo, info)
    author = forge._users.get(next(
        (u.login for u in forge._users.values() if u.email == info.author.email), ""
    ))  # fmt: skip
    commit = {
        "sha": s.sha,
        "node_id": git_commit["node_id"],
        "commit": {
            "author": git_commit["author"],
            "committer": git_commit["committer"],
            "message": info.message,
            "tree": git_commit["tree"],
            "url": git_commit["url"],
            "comment_count": 0,
            # the webhook schema predates verified_at and allows no extra keys
            "verification": {
                k: v for k, v in git_commit["verification"].items() if k != "verified_at"
            },
        },
        "url": f"{shapes.api}/repos/{s.repo}/commits/{s.sha}",
        "html_url": f"{forge.base_url}/{s.repo}/commit/{s.sha}",
        "comments_url": f"{shapes.api}/repos/{s.repo}/commits/{s.sha}/comments",
        "author": shapes.user(author.login) if author else None,
        "committer": shapes.user(author.login) if author else None,
        "parents": [
            {
                "sha": p,
                "url": f"{shapes.api}/repos/{s.repo}/commits/{p}",
                "html_url": f"{forge.base_url}/{s.repo}/commit/{p}",
            }
            for p in info.parents
        ],
    }
    return {
        "id": s.id,
        "sha": s.sha,
        "name": s.repo,
        "target_url": s.target_url,
        "avatar_url": None,
        "context": s.context,
        "description": s.description,
        "state": s.state,
        "commit": commit,
        "branches": branches,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }
