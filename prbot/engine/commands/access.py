"""Who may use which command, as the platform says: the commenter's permission on the
repository, read from the SCM (GitHub's collaborator permission, GitLab's effective
access level), never from what the payload claims (``author_association``).

Permissions are cached for ``TTL_SECONDS`` per (platform, repository, user), in a bounded
cache: a comment with ten commands, or a burst of comments, asks the platform once, and a
permission taken away counts within a minute. What a verb needs is the registry's default
under the deployment's setting (PRBOT_COMMAND_PERMISSIONS) and the repository's
``.prbot/config.yaml`` (``prbot.commands.permissions.required``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cachetools import TTLCache

from prbot.commands.permissions import allowed, required
from prbot.commands.registry import APPROVER, Permission
from prbot.engine.definitions import DefinitionsCache
from prbot.scm.port import Scm

TTL_SECONDS = 60.0
MAX_CACHED = 4096
# GitLab's roles, for a refusal that a GitLab user recognises
GITLAB_ROLES: dict[str, str] = {
    "none": "no access",
    "read": "Guest",
    "triage": "Reporter",
    "write": "Developer",
    "maintain": "Maintainer",
    "admin": "Owner",
}


class Access:
    def __init__(
        self,
        definitions: DefinitionsCache,
        deployment: Mapping[str, Permission] | None = None,
        *,
        ttl: float = TTL_SECONDS,
    ) -> None:
        self.definitions = definitions
        self.deployment = dict(deployment or {})
        self._cache: TTLCache[tuple[str, str, str], Permission] = TTLCache(MAX_CACHED, ttl)

    async def permission(self, scm: Scm, repo: str, user: str) -> Permission:
        key = (scm.platform, repo.lower(), user.lower())
        found = self._cache.get(key)
        if found is None:
            found = await scm.permission(repo, user)
            self._cache[key] = found
        return found

    async def need(self, platform: str, repo: str, verb: str) -> tuple[Permission | str, str]:
        """What ``verb`` needs on ``repo``, and why it cannot be told ("" when it can):
        a broken ``.prbot/config.yaml`` refuses every verb that needs a permission."""
        if required(verb) == APPROVER:
            return APPROVER, ""  # the gate decides; no setting changes it
        config = await self.definitions.repo_config(platform, repo)
        need = required(verb, self.deployment, config.command_permissions)
        if config.broken and need != "none":
            return need, config.broken
        return need, ""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    need: Permission | str  # APPROVER for approve
    have: Permission | None  # None when it was not read (open to anyone, or broken)
    broken: str = ""  # the repository's settings cannot be read: refused for that


async def may(
    access: Access, scm: Scm, repo: str, user: str, verb: str, *, listed: bool = False
) -> Verdict:
    """Whether ``user`` may use ``verb`` on ``repo`` (``listed``: a gate lists them, for
    approve): the one rule the slash-commands and the pages both follow."""
    need, broken = await access.need(scm.platform, repo, verb)
    if broken:
        return Verdict(False, need, None, broken)
    if need == "none":
        return Verdict(True, need, None)
    have = await access.permission(scm, repo, user)
    return Verdict(allowed(need, have, approver=listed), need, have)


def shown(permission: str, platform: str) -> str:
    """A permission as the platform's users name it."""
    if platform == "gitlab":
        return f"{GITLAB_ROLES.get(permission, permission)} ({permission})"
    return permission
