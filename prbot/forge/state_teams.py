"""Teams (GitHub) and groups (GitLab), and who is in them.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up; see the
API summary in state.py. One record serves both platforms: a team's path is GitHub's
``org/slug`` and GitLab's group full path. Paths and logins compare without case, as
both platforms compare them.
"""

from __future__ import annotations

from prbot.forge.errors import NotFound, Unprocessable
from prbot.forge.models import TEAM_ROLES, TEAM_STATES, Team, TeamMember

MAX_DEPTH = 20  # GitLab nests groups 20 deep at most
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _check_path(path: str) -> str:
    parts = path.strip("/").split("/")
    ok = 0 < len(parts) <= MAX_DEPTH and all(
        p and len(p) <= 100 and p[0] not in ".-" and set(p) <= _PATH_CHARS for p in parts
    )
    if not ok:
        raise Unprocessable(f"invalid team path {path!r}")
    return "/".join(parts)


class TeamsMixin:
    """Teams / groups and their members."""

    def create_team(self, path: str, *, name: str | None = None, description: str = "") -> Team:
        """The team at ``path`` (``org/slug``, or a GitLab group path), created if new."""
        path = _check_path(path)
        found = self._teams.get(path.lower())
        if found is not None:
            return found
        team = Team(
            id=self._next_id("team", 1_000),
            path=path,
            name=name or path.rsplit("/", 1)[-1],
            description=description,
            created_at=self.timestamp(),
        )
        self._teams[path.lower()] = team
        self.save()
        return team

    def find_team(self, path: str) -> Team | None:
        return self._teams.get(path.strip("/").lower())

    def team(self, path: str) -> Team:
        found = self.find_team(path)
        if found is None:
            raise NotFound("Not Found")
        return found

    def team_by_id(self, team_id: int) -> Team:
        for t in self._teams.values():
            if t.id == team_id:
                return t
        raise NotFound("Not Found")

    def teams(self) -> list[Team]:
        return sorted(self._teams.values(), key=lambda t: t.path.lower())

    def set_team_member(
        self, path: str, login: str, *, role: str = "member", state: str = "active"
    ) -> TeamMember:
        """Put ``login`` (created if new) in the team, or change its role or state."""
        team = self.team(path)
        if role not in TEAM_ROLES:
            raise Unprocessable(f"unknown team role {role!r}")
        if state not in TEAM_STATES:
            raise Unprocessable(f"unknown membership state {state!r}")
        user = self.create_user(login)
        member = self.team_member(team.path, user.login)
        if member is None:
            member = TeamMember(user.login)
            team.members.append(member)
        member.role, member.state = role, state  # type: ignore[assignment]
        self.save()
        return member

    def remove_team_member(self, path: str, login: str) -> None:
        team = self.team(path)
        team.members = [m for m in team.members if m.login.lower() != login.lower()]
        self.save()

    def team_member(self, path: str, login: str) -> TeamMember | None:
        """``login``'s own membership of the team (GitHub's view); None if none."""
        team = self.find_team(path)
        if team is None:
            return None
        return next((m for m in team.members if m.login.lower() == login.lower()), None)

    def group_member(self, path: str, login: str) -> TeamMember | None:
        """``login``'s membership of the group or of any group above it (GitLab's
        ``members/all``): an active one before a pending one, the higher role first."""
        parts = path.strip("/").split("/")
        found = [
            m
            for depth in range(len(parts), 0, -1)
            if (m := self.team_member("/".join(parts[:depth]), login)) is not None
        ]
        if not found:
            return None
        return max(found, key=lambda m: (m.state == "active", TEAM_ROLES.index(m.role)))
