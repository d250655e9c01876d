"""Writing a ChangeSet as one commit on a branch with the Git Data API, in constant calls.

First run:   GET ref (404) · POST trees · POST commits · POST refs        (4)
Re-run:      GET ref · GET commits/{head} → same Change-Id on base: done  (2, or 1
             when this process made or saw that commit: commits are cached)
New change:  GET ref · GET commits/{head} · POST trees · POST commits · PATCH ref (5)
(+1 GET git/commits/{base} when the base's tree is not known from a snapshot, and one
POST git/blobs per *binary* file: the trees API takes inline content only as text.)

Idempotency costs no extra read: the commit message carries a ``Prbot-Change-Id``
trailer, a hash of the ChangeSet, so the head commit we must read anyway to decide
whether to move the branch also says whether it already holds exactly this change.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from prbot.automation.changeset import ChangeSet, FileChange
from prbot.scm.change_id import TRAILER, carries, change_id, with_trailer
from prbot.scm.github.cache import CommitInfo, ObjectCache
from prbot.scm.github.errors import GitHubConflict
from prbot.scm.github.repo_api import RepoApi
from prbot.scm.github.trees import branch_head
from prbot.scm.port import CommitResult

__all__ = ["TRAILER", "carries", "change_id", "commit_changes", "read_commit", "with_trailer"]


async def read_commit(api: RepoApi, sha: str, cache: ObjectCache) -> CommitInfo:
    """A commit's tree, parents and message (commits never change: cached)."""
    info = cache.commit(api.full_name, sha)
    if info is None:
        data = await api.get("/git/commits/{commit_sha}", {"commit_sha": sha})
        info = CommitInfo(
            tree=str(data["tree"]["sha"]),
            parents=tuple(str(p["sha"]) for p in data.get("parents") or []),
            message=str(data.get("message") or ""),
        )
        cache.put_commit(api.full_name, sha, info)
    return info


async def commit_changes(
    api: RepoApi,
    *,
    base_sha: str,
    branch: str,
    changes: ChangeSet,
    message: str,
    cache: ObjectCache,
) -> CommitResult:
    cid = change_id(changes)
    head = await branch_head(api, branch)
    if head is not None and head != base_sha:
        commit = await read_commit(api, head, cache)
        if commit.parents == (base_sha,) and carries(commit.message, cid):
            return CommitResult(branch=branch, sha=head, created_branch=False, changed=False)
    listing = cache.listing(api.full_name, base_sha)
    tree = listing.tree_sha if listing else (await read_commit(api, base_sha, cache)).tree
    if changes:
        items = await _tree_items(api, changes)
        created = await api.call(
            "POST", "/git/trees", json={"base_tree": tree, "tree": items}, idempotent=True
        )
        tree = created.data["sha"]
    # git objects are content-addressed, so repeating these POSTs after a lost answer is safe
    full_message = with_trailer(message, cid)
    commit = await api.call(
        "POST",
        "/git/commits",
        json={"message": full_message, "tree": tree, "parents": [base_sha]},
        idempotent=True,
    )
    new_sha = str(commit.data["sha"])
    # a re-run reads this commit back to compare Change-Ids: remember it instead
    cache.put_commit(api.full_name, new_sha, CommitInfo(tree, (base_sha,), full_message))
    if head is None:
        try:
            await api.call(
                "POST",
                "/git/refs",
                json={"ref": f"refs/heads/{branch}", "sha": new_sha},
                idempotent=True,  # a repeat answers 422 "already exists", handled below
            )
            return CommitResult(branch=branch, sha=new_sha, created_branch=True, changed=True)
        except GitHubConflict:
            pass  # created meanwhile (a concurrent run, or our own lost answer): move it
    await api.call(
        "PATCH",
        "/git/refs/heads/{branch}",
        {"branch": branch},
        json={"sha": new_sha, "force": True},
    )
    return CommitResult(branch=branch, sha=new_sha, created_branch=False, changed=True)


async def _tree_items(api: RepoApi, changes: ChangeSet) -> list[dict[str, Any]]:
    binary = [c for c in changes if c.operation != "delete" and _text(c) is None]
    shas = await asyncio.gather(*(_post_blob(api, c.content or b"") for c in binary))
    blob_sha = {c.path: sha for c, sha in zip(binary, shas, strict=True)}
    items: list[dict[str, Any]] = []
    for c in changes:
        item: dict[str, Any] = {"path": c.path, "mode": c.mode, "type": "blob"}
        if c.operation == "delete":
            item["sha"] = None  # GitHub's way to drop a path from base_tree
        elif c.path in blob_sha:
            item["sha"] = blob_sha[c.path]
        else:
            item["content"] = _text(c)
        items.append(item)
    return items


def _text(change: FileChange) -> str | None:
    """The content as text, if it survives a JSON string round trip byte for byte."""
    data = change.content or b""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def _post_blob(api: RepoApi, content: bytes) -> str:
    answer = await api.call(
        "POST",
        "/git/blobs",
        json={"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"},
        idempotent=True,
    )
    return str(answer.data["sha"])
