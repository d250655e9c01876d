"""The repositories the bot can write to on GitHub (``Scm.writable_repositories``).

As an App: every installation's repositories (``GET /app/installations`` with the App's
JWT, then ``GET /installation/repositories`` with each installation's token), or only
the configured installation's. With a token: ``GET /user/repos`` of the token's user,
those it may push to. Listings stop one item past the limit: that item says "more"."""

from __future__ import annotations

from typing import Any

from prbot.scm.github.auth import AppAuth, Auth
from prbot.scm.github.client import GitHubClient
from prbot.scm.port import RepoListing

WRITES = ("push", "maintain", "admin")


def can_write(item: dict[str, Any]) -> bool:
    """A listed repository we may push to (an item without ``permissions``: GitHub lists
    an installation's repositories with the installation's, so assume the App's)."""
    permissions = item.get("permissions")
    if not isinstance(permissions, dict):
        return True
    return any(permissions.get(w) for w in WRITES)


async def writable_repositories(
    client: GitHubClient, auth: AppAuth | Auth, installation_id: int | None, limit: int
) -> RepoListing:
    found: list[str] = []
    seen = 0
    if isinstance(auth, AppAuth):
        if installation_id is not None:
            installations = [installation_id]
        else:
            installations = [
                int(i["id"])
                async for i in client.paginate("/app/installations", auth=auth.as_app())
            ]
        for installation in installations:
            listing = client.paginate(
                "/installation/repositories",
                auth=auth.installation(installation),
                key="repositories",
                limit=limit + 1 - seen,
            )
            async for item in listing:
                seen += 1
                if can_write(item) and seen <= limit:
                    found.append(str(item["full_name"]))
            if seen > limit:
                break
    else:
        query = {"affiliation": "owner,collaborator,organization_member", "sort": "full_name"}
        async for item in client.paginate("/user/repos", auth=auth, query=query, limit=limit + 1):
            seen += 1
            if can_write(item) and seen <= limit:
                found.append(str(item["full_name"]))
    names = sorted(dict.fromkeys(found), key=str.lower)
    return RepoListing(tuple(names), complete=seen <= limit)
