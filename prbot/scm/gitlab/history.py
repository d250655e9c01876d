"""Commit ancestry, from the merge-base API in one call.

``ancestor`` is in ``descendant``'s history exactly when it is their merge base.
GitLab answers 400 "Could not find ref(s): ..." for an unknown sha and 404 "Merge Base
Not Found" for unrelated histories.
"""

from __future__ import annotations

from prbot.scm.gitlab.client import GitLabClient
from prbot.scm.gitlab.errors import http_status
from prbot.scm.port import NotFound, ScmError


async def is_ancestor(client: GitLabClient, repo: str, ancestor: str, descendant: str) -> bool:
    project = await client.project(repo)
    try:
        base = await client.call(
            "common ancestor", project.repository_merge_base, [ancestor, descendant]
        )
    except NotFound as exc:
        if "merge base not found" in str(exc).lower():
            return False  # no common ancestor
        raise
    except ScmError as exc:
        if http_status(exc) == 400 and "could not find" in str(exc).lower():
            raise NotFound(str(exc)) from None
        raise
    return str((base or {}).get("id") or "").lower() == ancestor.lower()
