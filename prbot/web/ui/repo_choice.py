"""The form's repository chooser: the repositories a signed-in person can write to, where
the platform can list them.

prbot keeps no one's platform token (a sign-in reads the login and forgets the token;
behind a proxy there never is one), so it cannot ask the platform "what can this person
write to". It asks what prbot itself can write to (``Scm.writable_repositories``: the
App's installations, a token's repositories, a GitLab token's Developer projects) and
keeps those where the person has write or more (``Scm.permission``, one request per
repository, a few at a time). That is the answer that matters: a PR is opened only where
both prbot and the person can write. The submit checks the full ``run`` rule again
(including a repository's own ``commands: permissions:``).

Bounded: at most ``MAX_CHOICES`` repositories are considered; with more (or when the
platform fails) there is no list and the form shows the text field instead. A person's
list is kept ``TTL_SECONDS`` per process, so the form and its re-renders cost nothing
more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cachetools import TTLCache

from prbot.commands.registry import at_least
from prbot.errors import PrbotError
from prbot.scm.port import Scm

log = logging.getLogger("prbot.web.ui")

MAX_CHOICES = 100
TTL_SECONDS = 120.0
AT_ONCE = 8  # permission requests in flight for one list

ScmFor = Callable[[str], Scm]


class RepoChoices:
    def __init__(
        self,
        scm_for: ScmFor,
        *,
        limit: int = MAX_CHOICES,
        ttl: float = TTL_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scm_for = scm_for
        self.limit = limit
        self._lists: TTLCache[tuple[str, str], tuple[str, ...] | None] = TTLCache(
            maxsize=4096, ttl=ttl, timer=timer
        )

    async def writable_by(self, platform: str, user: str) -> tuple[str, ...] | None:
        """The repositories ``user`` and prbot can both write to on ``platform``, by
        name; None when they cannot be listed (too many, or the platform failed)."""
        key = (platform, user.lower())
        if key in self._lists:
            return self._lists[key]
        try:
            found = await self._list(platform, user)
        except PrbotError as exc:
            # not kept: the next form asks again
            log.warning("cannot list repositories on %s for the form: %s", platform, exc)
            return None
        self._lists[key] = found
        return found

    async def _list(self, platform: str, user: str) -> tuple[str, ...] | None:
        scm = self.scm_for(platform)
        listing = await scm.writable_repositories(limit=self.limit)
        if not listing.complete:
            return None  # a part would hide the one wanted: the text field instead
        gate = asyncio.Semaphore(AT_ONCE)

        async def writes(repo: str) -> bool:
            async with gate:
                return at_least(await scm.permission(repo, user), "write")

        allowed = await asyncio.gather(*(writes(r) for r in listing.repos))
        return tuple(r for r, ok in zip(listing.repos, allowed, strict=True) if ok)
