"""Team membership on GitLab: a team is a group, named by its full path.

A bare name (``platform``) means the group of that name under the project's top-level
group (``acme/platform``) when there is one, else the top-level group ``platform``.
Membership counts inherited members (``GET /groups/:id/members/all/:user_id``, the
group given by its URL-encoded path: no lookup of its id); 404 is "not a member", or
"no such group" when GitLab says ``404 Group Not Found``, which alone sends a bare name
on to its second meaning. The user's id is looked up once per provider. Answers are
kept for a minute: approval gates and slash commands ask again and again.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence

from cachetools import TTLCache

from prbot.scm.gitlab.client import GitLabClient
from prbot.scm.gitlab.errors import http_status
from prbot.scm.port import NotFound, ScmError, team_names

TTL = 60.0  # seconds an answer is trusted: someone removed from a group loses it this late
MAX_ANSWERS = 4096


class Answer(enum.Enum):
    MEMBER = "member"
    NOT_MEMBER = "not a member"
    NO_GROUP = "no such group"


class TeamBook:
    """Membership answers of one provider, by (group path, user id), kept ``TTL`` s."""

    def __init__(self, client: GitLabClient) -> None:
        self.client = client
        self._answers: TTLCache[tuple[str, int], Answer] = TTLCache(maxsize=MAX_ANSWERS, ttl=TTL)

    async def teams_of(self, repo: str, user: str, teams: Sequence[str]) -> tuple[str, ...]:
        names = team_names(teams)
        if not names or not user:
            return ()
        uid = await self.client.user_id(user)
        if uid is None:
            return ()
        top = repo.split("/", 1)[0]
        asked: dict[str, asyncio.Task[Answer]] = {}  # a group named twice is asked once

        def answer(path: str) -> asyncio.Task[Answer]:
            key = path.lower()  # GitLab finds groups by path without case
            if key not in asked:
                asked[key] = asyncio.ensure_future(self._answer(key, uid))
            return asked[key]

        async def member(path: str) -> bool:
            if "/" not in path:
                nested = await answer(f"{top}/{path}")
                if nested is not Answer.NO_GROUP:
                    return nested is Answer.MEMBER
            return await answer(path) is Answer.MEMBER

        found = await asyncio.gather(*(member(path) for path in names.values()))
        return tuple(name for name, yes in zip(names, found, strict=True) if yes)

    async def _answer(self, path: str, uid: int) -> Answer:
        cached = self._answers.get((path, uid))
        if cached is not None:
            return cached
        group = self.client.gl.groups.get(path, lazy=True)  # no request
        try:
            found = await self.client.call("get group member", group.members_all.get, uid)
        except NotFound as exc:
            # "404 Group Not Found" (missing, or hidden from us) vs "404 Not found"
            result = Answer.NO_GROUP if "group not found" in str(exc).lower() else Answer.NOT_MEMBER
        except ScmError as exc:
            if http_status(exc) != 403:
                raise
            raise ScmError(
                f"GitLab refused to show the members of group {path} (403): the token "
                "needs the read_api scope and access to the group",
                permanent=True,
            ) from None
        else:
            # "awaiting": added past the group's seat limit, not let in yet
            state = getattr(found, "membership_state", None) or "active"
            result = Answer.MEMBER if state == "active" else Answer.NOT_MEMBER
        self._answers[(path, uid)] = result
        return result
