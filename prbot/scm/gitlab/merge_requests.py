"""Opening, updating and finding merge requests; never two for one source branch.

An open MR from the head branch is found (one list request) and brought in line with
the draft only where it differs. A create that got no answer is looked up before it is
tried again, and GitLab's 409 "another open merge request already exists" means the
lookup found nothing because the MR outlived an earlier branch of that name.
"""

from __future__ import annotations

from typing import Any

from prbot.scm.gitlab import convert
from prbot.scm.gitlab.client import WRITE_ATTEMPTS, GitLabClient
from prbot.scm.port import Conflict, PullRequest, PullRequestDraft, ScmError, ScmUnavailable


async def open_merge_request(
    client: GitLabClient, repo: str, draft: PullRequestDraft
) -> PullRequest:
    project = await client.project(repo)
    # a branch we just created has no open MR: skip the lookup (a 409 corrects us)
    fresh = client.take_fresh(repo, draft.head)
    existing = None if fresh else await find_open(client, project, draft.head)
    last: ScmError | None = None
    for _ in range(WRITE_ATTEMPTS):
        if existing is not None:
            return await _update(client, repo, project, existing, draft)
        try:
            created = await client.call(
                "create merge request",
                project.mergerequests.create,
                await _payload(client, draft),
            )
            return convert.pull_request(repo, created.attributes)
        except Conflict as exc:  # "Another open merge request already exists"
            last = exc
        except ScmUnavailable as exc:  # no answer: it may have been created
            last = exc
        existing = await find_open(client, project, draft.head)
    assert last is not None
    raise last


async def _payload(client: GitLabClient, draft: PullRequestDraft) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "source_branch": draft.head,
        "target_branch": draft.base,
        "title": draft.title,
        "description": draft.body,
    }
    if draft.labels:
        payload["labels"] = list(draft.labels)
    if draft.reviewers:
        payload["reviewer_ids"] = await client.user_ids(draft.reviewers)
    return payload


async def _update(
    client: GitLabClient, repo: str, project: Any, mr: dict[str, Any], draft: PullRequestDraft
) -> PullRequest:
    """Bring the open MR in line with the draft, with no request if it already is.
    Labels and reviewers are added, never removed: people may have added their own."""
    change: dict[str, Any] = {}
    if mr.get("title") != draft.title:
        change["title"] = draft.title
    if (mr.get("description") or "") != draft.body:
        change["description"] = draft.body
    if mr.get("target_branch") != draft.base:
        change["target_branch"] = draft.base
    have_labels = set(convert.pull_request(repo, mr).labels)
    new_labels = [label for label in draft.labels if label not in have_labels]
    if new_labels:
        change["add_labels"] = ",".join(new_labels)
    reviewers = mr.get("reviewers") or []
    have = {r.get("username") for r in reviewers}
    missing = [r for r in draft.reviewers if r not in have]
    if missing:
        ids = await client.user_ids(missing)
        if ids:
            change["reviewer_ids"] = [int(r["id"]) for r in reviewers] + ids
    if not change:
        return convert.pull_request(repo, mr)
    updated = await client.call(
        "update merge request", project.mergerequests.update, mr["iid"], change
    )
    return convert.pull_request(repo, updated)


async def find_open(
    client: GitLabClient, project: Any, head: str, *, state: str = "opened"
) -> dict[str, Any] | None:
    """The newest merge request from ``head`` in ``state`` (GitLab's: opened, all, ...)."""
    found = await client.call(
        "find merge request",
        project.mergerequests.list,
        source_branch=head,
        state=state,
        per_page=20,
        get_all=False,
    )
    mrs = [mr.attributes for mr in found if mr.attributes.get("source_branch") == head]
    return max(mrs, key=lambda m: int(m["iid"])) if mrs else None


async def close_merge_request(
    client: GitLabClient, repo: str, number: int, comment: str
) -> PullRequest:
    """Close ``!number`` unmerged; only the call that closes it posts ``comment`` (a note).
    GET the MR (+ POST note + PUT state_event=close when it is open)."""
    project = await client.project(repo)
    mr = await get_mr(client, project, number)
    if mr.get("state") != "opened":
        return convert.pull_request(repo, mr)  # closed already, or merged: as it is
    if comment.strip():
        handle = project.mergerequests.get(number, lazy=True)
        # a plain note; a lost answer is not posted again (a duplicate is worse)
        await client.call("create note", handle.notes.create, {"body": comment})
    # GitLab leaves a merge request merged meanwhile as it is, and answers it merged
    closed = await client.call(
        "close merge request", project.mergerequests.update, number, {"state_event": "close"}
    )
    return convert.pull_request(repo, closed)


async def get_mr(client: GitLabClient, project: Any, number: int) -> dict[str, Any]:
    mr = await client.call("get merge request", project.mergerequests.get, number)
    return mr.attributes
