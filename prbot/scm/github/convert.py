"""GitHub JSON → the port's values. Tolerant of missing optional fields."""

from __future__ import annotations

from typing import Any

from prbot.scm.port import Comment, HealthState, PullRequest

_STATUS_STATES: dict[str, HealthState] = {
    "success": "success",
    "pending": "pending",
    "failure": "failure",
    "error": "failure",
}
_GOOD_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
_DEPLOYMENT_STATES: dict[str, HealthState] = {
    "success": "success",
    # a later deployment to the environment superseded this one after it had succeeded
    "inactive": "success",
    "error": "failure",
    "failure": "failure",
    "pending": "pending",
    "queued": "pending",
    "in_progress": "pending",
}


def pull_request(repo: str, data: dict[str, Any]) -> PullRequest:
    merged = bool(data.get("merged") or data.get("merged_at"))
    state = "merged" if merged else ("closed" if data.get("state") == "closed" else "open")
    head = data.get("head") or {}
    base = data.get("base") or {}
    return PullRequest(
        repo=repo,
        number=int(data["number"]),
        url=data.get("html_url") or data.get("url") or "",
        head=head.get("ref", ""),
        base=base.get("ref", ""),
        title=data.get("title") or "",
        body=data.get("body") or "",
        state=state,
        head_sha=head.get("sha", ""),
        # for an open PR this is GitHub's test merge, meaningless to callers
        merge_commit_sha=data.get("merge_commit_sha") if merged else None,
        labels=tuple(label["name"] for label in data.get("labels") or [] if "name" in label),
        author=(data.get("user") or {}).get("login", ""),
    )


def comment(data: dict[str, Any]) -> Comment:
    return Comment(
        id=int(data["id"]),
        body=data.get("body") or "",
        author=(data.get("user") or {}).get("login", ""),
        url=data.get("html_url") or "",
    )


def status_state(state: str | None) -> HealthState:
    return _STATUS_STATES.get(state or "", "pending")


def check_state(status: str | None, conclusion: str | None) -> HealthState:
    if status != "completed":
        return "pending"
    return "success" if conclusion in _GOOD_CONCLUSIONS else "failure"


def deployment_state(state: str | None) -> HealthState:
    return _DEPLOYMENT_STATES.get(state or "", "pending")
