"""Who may use which command: the verb's default, overridden per deployment (settings)
and per repository (``.prbot/config.yaml``).

A repository's own setting wins over the deployment's, except for ``rollback``, where
the stricter of the two wins: undoing a production change is the platform team's call
as much as the repository's. ``approve`` is decided by the gate itself: a user it lists,
or a member of a team it lists; a gate that lists nobody needs maintain.
"""

from __future__ import annotations

from collections.abc import Mapping

from prbot.commands.registry import APPROVER, BY_NAME, PERMISSIONS, Permission, at_least
from prbot.errors import did_you_mean

STRICTER_WINS = frozenset({"rollback"})
# read-only users (and fork authors without write) may use only the open verbs, whatever
# an override says: anything that acts needs at least this
LEAST_TO_ACT: Permission = "triage"


class PermissionsError(ValueError):
    """An override naming an unknown verb or permission."""


def parse_overrides(values: Mapping[str, object], where: str) -> dict[str, Permission]:
    """``{verb: permission}`` from a setting or a config file, checked."""
    found: dict[str, Permission] = {}
    for name, level in values.items():
        if name not in BY_NAME:
            raise PermissionsError(f"{where}: no command {name!r}{did_you_mean(name, BY_NAME)}")
        if name == "approve":
            raise PermissionsError(f"{where}: approve is decided by the gate's approvers")
        if level not in PERMISSIONS:
            raise PermissionsError(
                f"{where}: {name}: {level!r} is not one of {', '.join(PERMISSIONS)}"
            )
        acts = BY_NAME[name].permission != "none"
        if acts and not at_least(level, LEAST_TO_ACT):  # type: ignore[arg-type]
            raise PermissionsError(
                f"{where}: {name}: needs at least {LEAST_TO_ACT} (read-only users may use "
                "only the commands open to anyone)"
            )
        found[name] = level  # type: ignore[assignment]
    return found


def required(
    verb: str,
    deployment: Mapping[str, Permission] | None = None,
    repository: Mapping[str, Permission] | None = None,
) -> Permission | str:
    """The permission ``verb`` needs here (``APPROVER`` for approve)."""
    default = BY_NAME[verb].permission
    if default == APPROVER:
        return APPROVER
    ours = (deployment or {}).get(verb, default)  # type: ignore[arg-type]
    theirs = (repository or {}).get(verb)
    if theirs is None:
        return ours
    if verb in STRICTER_WINS:
        return theirs if at_least(theirs, ours) else ours
    return theirs


def allowed(need: Permission | str, have: Permission, *, approver: bool = False) -> bool:
    """Whether someone with ``have`` (and, for approve, listed by the gate or not) may."""
    if need == APPROVER:
        return approver or at_least(have, "maintain")
    return at_least(have, need)  # type: ignore[arg-type]
