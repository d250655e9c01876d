"""Committing a ChangeSet: one POST to the commits API, or none when already there.

The branch is (re)started from ``base_sha`` with ``force`` when it exists, so a re-run
replaces the earlier run's commit instead of stacking on it. A branch whose head is one
commit on ``base_sha`` carrying the same Change-Id already holds the change.
"""

from __future__ import annotations

from typing import Any

from prbot.automation.changeset import ChangeSet
from prbot.scm.gitlab.changes import actions, change_id, trailer_of, with_trailer
from prbot.scm.gitlab.client import WRITE_ATTEMPTS, GitLabClient
from prbot.scm.gitlab.errors import http_status
from prbot.scm.gitlab.reads import Reader
from prbot.scm.port import CommitResult, ScmError, ScmUnavailable


async def commit_changes(
    client: GitLabClient,
    reader: Reader,
    repo: str,
    *,
    base_sha: str,
    branch: str,
    changes: ChangeSet,
    message: str,
) -> CommitResult:
    if not changes:
        raise ValueError("commit_changes needs at least one change")
    project = await client.project(repo)
    cid = change_id(changes)
    payload: dict[str, Any] = {
        "branch": branch,
        "commit_message": with_trailer(message, cid),
        "actions": actions(changes, reader.modes(repo, base_sha)),
        "start_sha": base_sha,
    }
    head = await client.branch_head(project, branch)
    existed = head is not None
    if head is not None and holds(head, base_sha, cid):
        return CommitResult(branch, str(head["id"]), created_branch=False, changed=False)
    last: ScmError | None = None
    for _ in range(WRITE_ATTEMPTS):
        # force resets an existing branch onto base_sha + the change (a re-render)
        payload["force"] = head is not None
        try:
            commit = await client.call("create commit", project.commits.create, payload)
        except ScmUnavailable as exc:
            last = exc  # no answer: the commit may exist; look before writing again
        except ScmError as exc:
            if http_status(exc) != 400 or "already exists" not in str(exc):
                raise
            last = exc  # the branch appeared since we looked
        else:
            if not existed:
                client.mark_fresh(repo, branch)
            return CommitResult(branch, str(commit.id), not existed, True)
        head = await client.branch_head(project, branch)
        if head is not None and holds(head, base_sha, cid):
            return CommitResult(branch, str(head["id"]), not existed, True)
    assert last is not None
    raise last


def holds(head: dict[str, Any], base_sha: str, cid: str) -> bool:
    """The branch head is exactly one commit on ``base_sha`` carrying this change."""
    return (
        list(head.get("parent_ids") or []) == [base_sha]
        and trailer_of(str(head.get("message") or "")) == cid
    )
