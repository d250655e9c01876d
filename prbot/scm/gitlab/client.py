"""The one python-gitlab client of a provider, and what every operation shares.

python-gitlab is synchronous, so every call runs in a worker thread (``call``) and the
event loop never waits on the network; its exceptions become the port's errors there,
scrubbed of the token. Project ids and user ids are looked up once and cached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import gitlab

from prbot.scm.counter import RequestCounter
from prbot.scm.gitlab.archive import ArchiveTooLarge
from prbot.scm.gitlab.errors import translate
from prbot.scm.gitlab.transport import CountingSession, RetryPolicy
from prbot.scm.port import NotFound

log = logging.getLogger("prbot.scm.gitlab")
T = TypeVar("T")

# how often an ambiguous write (no answer) is looked up and tried again
WRITE_ATTEMPTS = 3
# the default branch may be changed by a maintainer; the project id never changes
PROJECT_TTL = 300.0
# branches remembered as just created by us (committed, MR not opened yet)
MAX_FRESH_BRANCHES = 1024


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    default_branch: str
    fetched_at: float


class GitLabClient:
    def __init__(self, url: str, token: str, *, timeout: float, retry: RetryPolicy | None) -> None:
        self.counter = RequestCounter("gitlab")
        self._secrets = (token,)
        session = CountingSession(self.counter, retry)
        # retries are the session's (jittered, method-aware); python-gitlab's are off
        self.gl = gitlab.Gitlab(
            url,
            private_token=token,
            timeout=timeout,
            retry_transient_errors=False,
            per_page=100,
            session=session,
        )
        self._projects: dict[str, ProjectInfo] = {}
        self._user_ids: dict[str, int] = {}
        self._me: str | None = None
        # branches this provider just created: no merge request can be open from them yet
        # unless one outlived an earlier branch of that name (then a create answers 409);
        # an insertion-ordered dict used as a bounded set
        self._fresh: dict[tuple[str, str], None] = {}

    def __repr__(self) -> str:
        return f"GitLabClient({self.gl.url!r})"

    async def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; failures as the port's errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ArchiveTooLarge:
            raise
        except Exception as exc:
            raise translate(exc, what, self._secrets) from None

    # --- projects and branches -----------------------------------------------------

    async def info(self, repo: str) -> ProjectInfo:
        info = self._projects.get(repo)
        if info is None or time.monotonic() - info.fetched_at > PROJECT_TTL:
            project = await self.call("get project", self.gl.projects.get, repo)
            info = ProjectInfo(
                int(project.id), str(project.default_branch or "main"), time.monotonic()
            )
            self._projects[repo] = info
        return info

    async def project(self, repo: str) -> Any:
        """A lazy project handle (no request) by the cached numeric id."""
        info = self._projects.get(repo) or await self.info(repo)
        return self.gl.projects.get(info.id, lazy=True)

    async def branch_head(self, project: Any, branch: str) -> dict[str, Any] | None:
        """The head commit of ``branch`` (id, parent_ids, message...), None if missing."""
        try:
            found = await self.call("get branch", project.branches.get, branch)
        except NotFound:
            return None
        return dict(found.commit)

    def mark_fresh(self, repo: str, branch: str) -> None:
        self._fresh[(repo, branch)] = None
        while len(self._fresh) > MAX_FRESH_BRANCHES:
            del self._fresh[next(iter(self._fresh))]

    def take_fresh(self, repo: str, branch: str) -> bool:
        """Whether we just created ``branch`` (and forget it: the hint is used once)."""
        fresh = (repo, branch) in self._fresh
        self._fresh.pop((repo, branch), None)
        return fresh

    # --- users ---------------------------------------------------------------------

    async def user_id(self, username: str) -> int | None:
        if username not in self._user_ids:
            users = await self.call(
                "find user", self.gl.users.list, username=username, get_all=False
            )
            match = [u for u in users if str(u.username).lower() == username.lower()]
            if not match:
                return None  # not cached: the account may be created later
            self._user_ids[username] = int(match[0].id)
        return self._user_ids[username]

    async def user_ids(self, usernames: Sequence[str]) -> list[int]:
        ids: list[int] = []
        for name in usernames:
            uid = await self.user_id(name)
            if uid is None:
                # an unknown reviewer should not block the change from being proposed
                log.warning("reviewer %r is not a GitLab user; skipped", name)
            else:
                ids.append(uid)
        return ids

    async def whoami(self) -> str:
        if self._me is None:
            await self.call("get current user", self.gl.auth)
            assert self.gl.user is not None
            self._me = str(self.gl.user.username)
        return self._me

    async def close(self) -> None:
        await asyncio.to_thread(self.gl.session.close)
