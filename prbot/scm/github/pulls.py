"""Pull requests: find by head, open-or-update without ever opening a second one, merge,
close unmerged.

Opening a new PR:  GET pulls?head= · POST pulls · POST labels · POST requested_reviewers
Updating one:      GET pulls?head= (+ PATCH when title/body changed, + labels/reviewers
                   only when some are missing).
Closing one:       GET pull (+ POST comment + PATCH state=closed when it is open).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prbot.scm.github import convert
from prbot.scm.github.client import GitHubClient
from prbot.scm.github.errors import GitHubConflict, GitHubStatusError, GitHubUnavailable
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.port import MergeResult, PullRequest, PullRequestDraft


async def get(api: RepoApi, number: int) -> tuple[PullRequest, dict[str, Any]]:
    data = await api.get("/pulls/{pull_number}", {"pull_number": number})
    return convert.pull_request(api.full_name, data), data


async def find_raw(api: RepoApi, head: str, state: str = "open") -> dict[str, Any] | None:
    """The open (or, with ``state="all"``, the newest) PR from ``head`` in this repository
    (GitHub filters by ``owner:branch`` and lists newest first)."""
    data = await api.get("/pulls", query={"head": f"{api.owner}:{head}", "state": state})
    for item in data or []:
        # belt and braces: a server that ignores the filter must not make us adopt a stranger
        if (item.get("head") or {}).get("ref") == head:
            return item
    return None


async def find(api: RepoApi, head: str, state: str = "open") -> PullRequest | None:
    raw = await find_raw(api, head, state)
    return convert.pull_request(api.full_name, raw) if raw else None


async def open_or_update(api: RepoApi, draft: PullRequestDraft) -> PullRequest:
    raw = await find_raw(api, draft.head)
    if raw is None:
        raw = await _create(api, draft)
    else:
        current = {
            "title": raw.get("title") or "",
            "body": raw.get("body") or "",
            "base": (raw.get("base") or {}).get("ref", ""),
        }
        wanted = {"title": draft.title, "body": draft.body, "base": draft.base}
        # an empty title or base in the draft means "leave it"; an empty body clears it
        changes = {k: v for k, v in wanted.items() if current[k] != v and (v or k == "body")}
        if changes:
            raw = (
                await api.call(
                    "PATCH", "/pulls/{pull_number}", {"pull_number": raw["number"]}, json=changes
                )
            ).data
    pr = convert.pull_request(api.full_name, raw)
    missing_labels = [label for label in draft.labels if label not in pr.labels]
    if missing_labels:
        labels = await api.call(
            "POST",
            "/issues/{issue_number}/labels",
            {"issue_number": pr.number},
            json={"labels": missing_labels},
            idempotent=True,  # adding a label twice is a no-op
        )
        names = tuple(item["name"] for item in labels.data or [] if "name" in item)
        pr = _with_labels(pr, names or (*pr.labels, *missing_labels))
    await _request_reviewers(api, raw, pr, draft.reviewers)
    return pr


async def _create(api: RepoApi, draft: PullRequestDraft) -> dict[str, Any]:
    """POST pulls; after an answer-less failure, look the PR up before trying again."""
    body = {"title": draft.title, "head": draft.head, "base": draft.base, "body": draft.body}
    client: GitHubClient = api.client
    attempt = 0
    while True:
        attempt += 1
        try:
            answer = await api.call("POST", "/pulls", json=body, idempotent=False)
            return answer.data
        except GitHubUnavailable:
            if attempt >= client.policy.max_attempts:
                raise
            await client.pause(attempt)
            found = await find_raw(api, draft.head)  # the lost request may have succeeded
            if found is not None:
                return found
        except GitHubConflict as e:
            if not e.mentions("already exists"):
                raise
            found = await find_raw(api, draft.head)
            if found is None:
                raise
            return found


async def _request_reviewers(
    api: RepoApi, raw: dict[str, Any], pr: PullRequest, reviewers: tuple[str, ...]
) -> None:
    """Request only reviewers not requested yet; "org/team" names a team."""
    have_users = {u.get("login", "").lower() for u in raw.get("requested_reviewers") or []}
    have_teams = {t.get("slug", "").lower() for t in raw.get("requested_teams") or []}
    users: list[str] = []
    teams: list[str] = []
    for r in reviewers:
        if "/" in r:
            slug = r.split("/", 1)[1]
            if slug.lower() not in have_teams:
                teams.append(slug)
        elif r.lower() not in have_users and r.lower() != pr.author.lower():
            users.append(r)  # GitHub refuses the author as a reviewer
    if not users and not teams:
        return
    payload: dict[str, Any] = {"reviewers": users}
    if teams:
        payload["team_reviewers"] = teams
    await api.call(
        "POST",
        "/pulls/{pull_number}/requested_reviewers",
        {"pull_number": pr.number},
        json=payload,
        idempotent=True,
    )


async def merge(api: RepoApi, number: int, message: str | None) -> MergeResult:
    body: dict[str, Any] = {"merge_method": "merge"}
    if message:
        title, _, rest = message.partition("\n")
        body["commit_title"] = title
        if rest.strip():
            body["commit_message"] = rest.strip()
    try:
        answer = await api.call(
            "PUT", "/pulls/{pull_number}/merge", {"pull_number": number}, json=body
        )
    except GitHubStatusError as e:
        if e.status not in (405, 409):
            raise
        # a repeat of a merge whose answer was lost says "not mergeable": check first
        pr, _ = await get(api, number)
        if pr.state == "merged":
            return MergeResult(merged=True, sha=pr.merge_commit_sha, message="already merged")
        return MergeResult(merged=False, sha=None, message=e.detail or f"HTTP {e.status}")
    data = answer.data or {}
    return MergeResult(
        merged=bool(data.get("merged", True)), sha=data.get("sha"), message=data.get("message", "")
    )


async def close(api: RepoApi, number: int, comment: str) -> PullRequest:
    """Close ``number`` unmerged; only the call that closes it posts ``comment``."""
    pr, _ = await get(api, number)
    if pr.state != "open":
        return pr  # closed already, or merged: as it is
    if comment.strip():
        # a plain comment; a lost answer is not posted again (a duplicate is worse)
        await api.call(
            "POST",
            "/issues/{issue_number}/comments",
            {"issue_number": number},
            json={"body": comment},
            idempotent=False,
        )
    try:
        answer = await api.call(
            "PATCH", "/pulls/{pull_number}", {"pull_number": number}, json={"state": "closed"}
        )
    except GitHubConflict:
        # merged meanwhile: GitHub will not change a merged PR's state
        pr, _ = await get(api, number)
        if pr.state == "open":
            raise
        return pr
    return convert.pull_request(api.full_name, answer.data)


def _with_labels(pr: PullRequest, labels: tuple[str, ...]) -> PullRequest:
    return replace(pr, labels=labels)
