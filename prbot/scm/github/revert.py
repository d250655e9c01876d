"""Reverting a merged PR as a new PR: the inverse of its merge commit against the first
parent, committed onto the base branch's current head.

A file the PR touched that changed again on the base after the merge is not silently
rolled back: that is a Conflict for a person to resolve.
"""

from __future__ import annotations

from collections.abc import Mapping

from prbot.automation.changeset import ChangeSet, FileChange
from prbot.scm.github import reads
from prbot.scm.github.cache import Listing, ObjectCache
from prbot.scm.github.commits import read_commit
from prbot.scm.github.errors import GitHubConflict
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.github.trees import branch_head, list_tree
from prbot.scm.port import PullRequest, ScmError, TreeEntry


def inverse(before: Mapping[str, TreeEntry], after: Mapping[str, TreeEntry]) -> list[FileChange]:
    """What turns ``after`` back into ``before``; contents are filled in later."""
    out: list[FileChange] = []
    for path, entry in sorted(after.items()):
        old = before.get(path)
        if old is None:
            out.append(FileChange("delete", path, None, entry.mode))
        elif (old.sha, old.mode) != (entry.sha, entry.mode):
            out.append(FileChange("update", path, None, old.mode))
    for path, old in sorted(before.items()):
        if path not in after:
            out.append(FileChange("create", path, None, old.mode))
    return out


async def plan(api: RepoApi, pr: PullRequest, cache: ObjectCache) -> tuple[str, ChangeSet, str]:
    """``(base head sha, the inverse ChangeSet, merge sha)`` for merged ``pr``."""
    if pr.state != "merged" or not pr.merge_commit_sha:
        raise GitHubConflict(
            f"{api.full_name}#{pr.number} is not merged; nothing to revert", status=409
        )
    merge_sha = pr.merge_commit_sha
    merge = await read_commit(api, merge_sha, cache)
    if not merge.parents:
        raise ScmError(f"{api.full_name}: merge commit {merge_sha} has no parent")
    parent = merge.parents[0]
    merge_tree = merge.tree
    _, after = await list_tree(api, merge_tree)
    _, before = await list_tree(api, parent)
    changes = inverse(before, after)
    if not changes:
        raise GitHubConflict(f"{api.full_name}#{pr.number} changed no files", status=409)
    head = await branch_head(api, pr.base)
    if head is None:
        raise GitHubConflict(f"{api.full_name}: base branch {pr.base!r} is gone", status=409)
    if head == merge_sha:
        head_tree, current = merge_tree, after
    else:
        head_tree, current = await list_tree(api, head)
    # commit_changes finds the base's tree here instead of asking again
    cache.put_listing(api.full_name, head, Listing(head_tree, current))
    moved = [c.path for c in changes if current.get(c.path) != after.get(c.path)]
    if moved:
        raise GitHubConflict(
            f"{api.full_name}: cannot revert #{pr.number} cleanly; changed on {pr.base} since "
            f"the merge: {', '.join(moved[:5])}",
            status=409,
        )
    wanted = [c.path for c in changes if c.operation != "delete"]
    contents = await reads.read_files(api, parent, wanted) if wanted else {}
    missing = [p for p in wanted if p not in contents]
    if missing:
        raise ScmError(f"{api.full_name}: could not read {', '.join(missing[:5])} at {parent}")
    filled = tuple(
        c if c.operation == "delete" else FileChange(c.operation, c.path, contents[c.path], c.mode)
        for c in changes
    )
    return head, ChangeSet(filled), merge_sha
