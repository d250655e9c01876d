"""GitLab's JSON shapes as the port's values: merge requests, notes, health, emoji."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prbot.scm.port import (
    Comment,
    HealthSignal,
    HealthState,
    PrState,
    PullRequest,
    Reaction,
)

_MR_STATES: dict[str, PrState] = {
    "opened": "open",
    "merged": "merged",
    "closed": "closed",
    "locked": "closed",  # transient state while GitLab merges; not open for our purposes
}

# GitHub reaction names (the port's) -> GitLab award emoji names
EMOJI: dict[Reaction, str] = {
    "+1": "thumbsup",
    "-1": "thumbsdown",
    "laugh": "laughing",
    "confused": "confused",
    "heart": "heart",
    "hooray": "tada",
    "rocket": "rocket",
    "eyes": "eyes",
}

# commit status / pipeline status -> health; anything unknown counts as still pending
_FAILED = {"failed", "canceled", "cancelled", "skipped", "error", "failure"}
_SUCCESS = {"success"}
# deployments: "blocked"/"created"/"running" are on their way
_DEPLOY_FAILED = {"failed", "canceled", "cancelled"}


def pull_request(repo: str, mr: Mapping[str, Any]) -> PullRequest:
    author = mr.get("author") or {}
    return PullRequest(
        repo=repo,
        number=int(mr["iid"]),
        url=str(mr.get("web_url") or ""),
        head=str(mr.get("source_branch") or ""),
        base=str(mr.get("target_branch") or ""),
        title=str(mr.get("title") or ""),
        body=str(mr.get("description") or ""),
        state=_MR_STATES.get(str(mr.get("state")), "closed"),
        head_sha=str(mr.get("sha") or ""),
        merge_commit_sha=mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or None,
        labels=tuple(_label_names(mr.get("labels") or ())),
        author=str(author.get("username") or ""),
    )


def _label_names(labels: Iterable[Any]) -> list[str]:
    # labels are names, or objects with ``with_labels_details=true``
    return [str(x["name"]) if isinstance(x, Mapping) else str(x) for x in labels]


def comment(note: Mapping[str, Any], url: str = "") -> Comment:
    author = note.get("author") or {}
    return Comment(
        id=int(note["id"]),
        body=str(note.get("body") or ""),
        author=str(author.get("username") or ""),
        url=url,
    )


def status_state(status: str) -> HealthState:
    if status in _SUCCESS:
        return "success"
    if status in _FAILED:
        return "failure"
    return "pending"


def deployment_state(status: str) -> HealthState:
    if status == "success":
        return "success"
    if status in _DEPLOY_FAILED:
        return "failure"
    return "pending"


def status_signals(statuses: Iterable[Mapping[str, Any]]) -> list[HealthSignal]:
    ordered = sorted(statuses, key=lambda s: int(s.get("id") or 0), reverse=True)
    return [
        HealthSignal(
            "status",
            str(s.get("name") or "default"),
            status_state(str(s.get("status"))),
            str(s.get("target_url") or ""),
        )
        for s in ordered
    ]


def pipeline_signal(pipelines: Iterable[Mapping[str, Any]]) -> list[HealthSignal]:
    ordered = sorted(pipelines, key=lambda p: int(p.get("id") or 0), reverse=True)
    if not ordered:
        return []
    newest = ordered[0]
    return [
        HealthSignal(
            "pipeline",
            "pipeline",
            status_state(str(newest.get("status"))),
            str(newest.get("web_url") or ""),
        )
    ]


def deployment_signals(deployments: Iterable[Mapping[str, Any]], sha: str) -> list[HealthSignal]:
    """The newest deployment of ``sha`` per environment, newest first."""
    ordered = sorted(deployments, key=lambda d: int(d.get("id") or 0), reverse=True)
    seen: set[str] = set()
    out: list[HealthSignal] = []
    for d in ordered:
        if d.get("sha") != sha:
            continue
        env = d.get("environment") or {}
        name = str(env.get("name") if isinstance(env, Mapping) else env)
        if name in seen:
            continue
        seen.add(name)
        url = str(env.get("external_url") or "") if isinstance(env, Mapping) else ""
        out.append(HealthSignal("deployment", name, deployment_state(str(d.get("status"))), url))
    return out
