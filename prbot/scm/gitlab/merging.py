"""Merging a merge request, and reverting a merged one through a new MR."""

from __future__ import annotations

from prbot.scm.gitlab.client import WRITE_ATTEMPTS, GitLabClient
from prbot.scm.gitlab.errors import http_status
from prbot.scm.gitlab.merge_requests import get_mr, open_merge_request
from prbot.scm.port import (
    Conflict,
    MergeResult,
    PullRequest,
    PullRequestDraft,
    ScmError,
    ScmUnavailable,
)

# answers that mean "this merge request can't be merged now"
NOT_MERGEABLE = (405, 406, 409, 422)


async def merge(
    client: GitLabClient, repo: str, number: int, message: str | None = None
) -> MergeResult:
    project = await client.project(repo)
    mr = project.mergerequests.get(number, lazy=True)
    try:
        done = await client.call("merge", mr.merge, merge_commit_message=message)
    except ScmError as exc:
        if http_status(exc) not in NOT_MERGEABLE and not isinstance(exc, ScmUnavailable):
            raise
        # merged by an earlier attempt that lost its answer, or by someone else
        current = await get_mr(client, project, number)
        if current.get("state") == "merged":
            return MergeResult(True, current.get("merge_commit_sha"), "already merged")
        if isinstance(exc, ScmUnavailable):
            raise
        return MergeResult(False, None, str(exc))
    sha = done.get("merge_commit_sha") or done.get("squash_commit_sha") or done.get("sha")
    return MergeResult(True, sha, "merged")


async def revert(
    client: GitLabClient, repo: str, number: int, *, branch: str, title: str, body: str
) -> PullRequest:
    """Branch from the target, revert the merge commit on it, open the MR. Each step is
    skipped when an earlier attempt already did it."""
    project = await client.project(repo)
    mr = await get_mr(client, project, number)
    merge_sha = mr.get("merge_commit_sha") or mr.get("squash_commit_sha")
    if mr.get("state") != "merged" or not merge_sha:
        raise Conflict(f"GitLab revert: !{number} is not merged")
    target = str(mr["target_branch"])
    head = await client.branch_head(project, branch)
    if head is None:
        try:
            await client.call(
                "create branch", project.branches.create, {"branch": branch, "ref": target}
            )
            client.mark_fresh(repo, branch)
        except ScmError as exc:
            if http_status(exc) != 400 or "already exists" not in str(exc):
                raise
        head = await client.branch_head(project, branch)
    # GitLab words a merge commit's revert "This reverts merge request !N"
    marks = (f"This reverts commit {merge_sha}", f"This reverts merge request !{number}")
    for attempt in range(WRITE_ATTEMPTS):
        if any(mark in str((head or {}).get("message") or "") for mark in marks):
            break  # reverted by an earlier attempt
        commit = project.commits.get(merge_sha, lazy=True)
        try:
            await client.call("revert commit", commit.revert, branch=branch)
            break
        except ScmUnavailable:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
        except ScmError as exc:
            # 400 "Sorry, we cannot revert this commit automatically": the target changed
            # the same lines since the merge, as GitHub's Conflict says
            if http_status(exc) != 400 or "revert" not in str(exc).lower():
                raise
            raise Conflict(
                f"GitLab revert: !{number} cannot be reverted cleanly onto {target}: {exc}"
            ) from None
        head = await client.branch_head(project, branch)
    draft = PullRequestDraft(head=branch, base=target, title=title, body=body)
    return await open_merge_request(client, repo, draft)
