"""Team membership on GitHub: which of some teams a user is an active member of.

A team is a slug of the repository owner's organisation (``platform``) or ``org/slug``.
One ``GET /orgs/{org}/teams/{team_slug}/memberships/{username}`` per distinct team, all
at once: 200 with ``state: active`` is a member; ``pending`` (invited, not accepted) and
404 (no such team or member, or a personal owner, who has no teams) are not. Approval
gates and slash commands ask the same question again and again, so answers are kept for
a minute. A GitHub App needs the organisation permission "members: read" to ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from cachetools import TTLCache

from prbot.scm.github.auth import Auth
from prbot.scm.github.client import GitHubClient
from prbot.scm.github.errors import GitHubStatusError
from prbot.scm.port import NotFound, ScmError, team_names

MEMBERSHIP = "/orgs/{org}/teams/{team_slug}/memberships/{username}"
TTL = 60.0  # seconds an answer is trusted: someone removed from a team loses it this late
MAX_ANSWERS = 4096

# (org, slug, username), lowercased: GitHub compares all three without case
Key = tuple[str, str, str]


class TeamBook:
    """Membership answers of one provider, kept ``TTL`` seconds (least recent out first)."""

    def __init__(self, client: GitHubClient, timer: Callable[[], float] | None = None) -> None:
        self.client = client
        extra = {"timer": timer} if timer else {}
        # by the asking repository's owner too: its credential decides what is visible (an
        # installation on one organisation sees no team of another)
        self._answers: TTLCache[tuple[str, Key], bool] = TTLCache(
            maxsize=MAX_ANSWERS, ttl=TTL, **extra
        )

    async def teams_of(
        self, auth: Auth, owner: str, user: str, teams: Sequence[str]
    ) -> tuple[str, ...]:
        keys = {name: _key(owner, path, user) for name, path in team_names(teams).items()}
        wanted = list(dict.fromkeys(k for k in keys.values() if k is not None))  # each once
        found = await asyncio.gather(*(self._member(auth, owner, k) for k in wanted))
        members = {k for k, yes in zip(wanted, found, strict=True) if yes}
        return tuple(name for name, key in keys.items() if key in members)

    async def _member(self, auth: Auth, asker: str, key: Key) -> bool:
        cached = self._answers.get((asker.lower(), key))
        if cached is not None:
            return cached
        org, slug, username = key
        params = {"org": org, "team_slug": slug, "username": username}
        try:
            answer = await self.client.request("GET", MEMBERSHIP, params, auth=auth)
        except NotFound:
            member = False
        except GitHubStatusError as exc:
            if exc.status != 403:
                raise
            raise ScmError(
                f"GitHub refused to show membership of team {org}/{slug} (403 {exc.detail}): "
                'a GitHub App needs the organization permission "members: read" '
                "(a token: the read:org scope)",
                permanent=True,
            ) from None
        else:
            data = answer.data if isinstance(answer.data, dict) else {}
            member = data.get("state") == "active"
        self._answers[(asker.lower(), key)] = member
        return member


def _key(owner: str, path: str, user: str) -> Key | None:
    """The team a name means: ``slug`` in the owner's organisation, or ``org/slug``;
    None for what cannot be a team (deeper paths: GitHub teams do not nest by name)."""
    org, _, slug = path.rpartition("/")
    if "/" in org or not slug or not user:
        return None
    return ((org or owner).lower(), slug.lower(), user.lower())
