"""Commit ancestry, from the compare API in one call.

``GET compare/{ancestor}...{descendant}`` says how ``descendant`` stands against
``ancestor``: "ahead" (or "identical") exactly when ``ancestor`` is in its history.
``per_page=1`` keeps the listed commits to one: only the status is read.
"""

from __future__ import annotations

from prbot.scm.github.errors import GitHubNotFound
from prbot.scm.github.repo_api import RepoApi

_DESCENDS = frozenset({"ahead", "identical"})


async def is_ancestor(api: RepoApi, ancestor: str, descendant: str) -> bool:
    try:
        data = await api.get(
            "/compare/{basehead}",
            {"basehead": f"{ancestor}...{descendant}"},
            query={"per_page": 1},
        )
    except GitHubNotFound as e:
        # unrelated histories answer 404 "No common ancestor between A and B."
        if e.mentions("no common ancestor"):
            return False
        raise
    return (data or {}).get("status") in _DESCENDS
