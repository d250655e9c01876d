"""Gates before a stage's PR: approvals by named people or teams, and time windows.

Approvals: the distinct approvers who are listed (by name, or through one of the listed
teams; anyone when neither is listed) must reach ``count``. The promotion's requester may
approve, but never alone while anyone else could: if the only approvers counted are the
requester, the gate stays shut unless the requester is the only one listed.
Names compare without case, as GitHub and GitLab logins and team slugs do.

Windows are local wall time in an IANA zone, so "09:00-16:00 Europe/Berlin" stays 09:00
on both sides of a DST change; the next opening is an aware datetime, found among the
local starts of the window and the zone's own transitions (where the clock jumps into a
window). Openings are returned in UTC: Python compares and subtracts two datetimes of
the same zone by their wall time, which is wrong across a DST change (PEP 495), so
instants stay in UTC and only a display converts them (``.astimezone(rule.zone)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from prbot.pipeline.model import DAYS, Approval, ApprovalRule, StageSpec, WindowRule

MAX_WINDOW_ROUNDS = 64  # several windows: how many openings to try for a common one

# ---------------------------------------------------------------- approvals


def _fold(name: str) -> str:
    return name.strip().casefold()


def is_listed(rule: ApprovalRule, by: str, teams: Iterable[str]) -> bool:
    """Whether ``by`` (a member of ``teams``) may approve under ``rule``."""
    if not rule.users and not rule.teams:
        return True
    if _fold(by) in {_fold(u) for u in rule.users}:
        return True
    return bool({_fold(t) for t in teams} & {_fold(t) for t in rule.teams})


def others_listed(rule: ApprovalRule, requester: str) -> bool:
    """Whether anyone but the requester could approve (a team counts as others)."""
    return (
        bool(rule.teams) or not rule.users or any(_fold(u) != _fold(requester) for u in rule.users)
    )


def approvers(rule: ApprovalRule, approvals: Sequence[Approval]) -> tuple[str, ...]:
    """The distinct listed approvers, in the order they approved."""
    seen: dict[str, str] = {}
    for a in approvals:
        if is_listed(rule, a.by, a.teams):
            seen.setdefault(_fold(a.by), a.by)
    return tuple(seen.values())


def approval_passes(rule: ApprovalRule, approvals: Sequence[Approval], requester: str) -> bool:
    who = approvers(rule, approvals)
    if len(who) < rule.count:
        return False
    requester_alone = all(_fold(w) == _fold(requester) for w in who)
    return not (requester_alone and others_listed(rule, requester))


def approval_counted(rule: ApprovalRule, approvals: Sequence[Approval], requester: str) -> int:
    """How many approvals count towards ``count`` (the requester's not, while alone)."""
    who = approvers(rule, approvals)
    if others_listed(rule, requester) and all(_fold(w) == _fold(requester) for w in who):
        return 0
    return len(who)


# ---------------------------------------------------------------- windows


def window_is_open(rule: WindowRule, at: datetime) -> bool:
    local = at.astimezone(rule.zone)
    second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    day = DAYS[local.weekday()]
    if rule.start < rule.end:
        return day in rule.days and rule.start <= second < rule.end
    # past midnight: the evening of a listed day, or the early hours after one
    yesterday = DAYS[(local.weekday() - 1) % 7]
    return (day in rule.days and second >= rule.start) or (
        yesterday in rule.days and second < rule.end
    )


def next_opening(rule: WindowRule, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` (aware) when the window is open, in UTC;
    None if it never opens."""
    zone = rule.zone
    after = after.astimezone(UTC)
    if window_is_open(rule, after):
        return after
    today = after.astimezone(zone).date()
    start = time(rule.start // 3600, rule.start % 3600 // 60)
    candidates: set[datetime] = set()
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        for fold in (0, 1):  # both readings of an ambiguous local time
            wall = datetime.combine(day, start, tzinfo=zone).replace(fold=fold)
            candidates.add(wall.astimezone(UTC))
        candidates.update(_transitions(zone, day))
    return min((c for c in candidates if c > after and window_is_open(rule, c)), default=None)


def _transitions(zone: ZoneInfo, day: date) -> list[datetime]:
    """The instants on local ``day`` where the zone's offset changes (the clock jumps)."""
    lo = int(datetime.combine(day, time(), tzinfo=zone).timestamp())
    hi = int(datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).timestamp())

    def offset(t: int) -> timedelta | None:
        return datetime.fromtimestamp(t, UTC).astimezone(zone).utcoffset()

    found: list[datetime] = []
    while offset(lo) != offset(hi):
        # the first second with hi's offset: binary search in (lo, hi]
        target, a, b = offset(hi), lo, hi
        while b - a > 1:
            mid = (a + b) // 2
            if offset(mid) == target:
                b = mid
            else:
                a = mid
        found.append(datetime.fromtimestamp(b, UTC))
        hi = b - 1  # an earlier transition the same day (never seen, but cheap to allow)
    return found


def next_common_opening(rules: Sequence[WindowRule], after: datetime) -> datetime | None:
    """The first instant at or after ``after`` when every window is open, in UTC; None if
    they are never open together."""
    at = after.astimezone(UTC)
    for _ in range(MAX_WINDOW_ROUNDS):
        shut = [r for r in rules if not window_is_open(r, at)]
        if not shut:
            return at
        openings = [next_opening(r, at) for r in shut]
        if any(o is None for o in openings):
            return None
        at = max(o for o in openings if o is not None)
    return None


# ---------------------------------------------------------------- a stage's gates


def gates_pass(
    spec: StageSpec, approvals: Sequence[Approval], requester: str, at: datetime
) -> bool:
    return all(approval_passes(r, approvals, requester) for r in spec.approvals) and all(
        window_is_open(r, at) for r in spec.windows
    )
