"""Gates: approvals counted as the issue says, and time windows right across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prbot.pipeline.errors import PipelineError
from prbot.pipeline.gates import (
    approval_counted,
    approval_passes,
    approvers,
    gates_pass,
    is_listed,
    next_common_opening,
    next_opening,
    window_is_open,
)
from prbot.pipeline.model import DAYS, Approval, ApprovalRule, StageSpec, WindowRule

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def approvals(*people: str | tuple[str, tuple[str, ...]]) -> tuple[Approval, ...]:
    out = []
    for i, p in enumerate(people):
        by, teams = (p, ()) if isinstance(p, str) else p
        out.append(Approval(by, teams, float(i)))
    return tuple(out)


# ---------------------------------------------------------------- approvals


def test_listed_by_name_or_team_without_case() -> None:
    rule = ApprovalRule(users=("Bob",), teams=("platform",))
    assert is_listed(rule, "bob", ())
    assert is_listed(rule, "carol", ("sre", "PLATFORM"))
    assert not is_listed(rule, "carol", ("sre",))
    assert is_listed(ApprovalRule(), "anyone", ())


def test_distinct_approvers_in_order() -> None:
    rule = ApprovalRule(users=("bob", "carol"), count=2)
    assert approvers(rule, approvals("bob", "eve", "BOB", "carol")) == ("bob", "carol")
    assert approval_passes(rule, approvals("bob", "carol"), "alice")
    assert not approval_passes(rule, approvals("bob", "Bob"), "alice")


@pytest.mark.parametrize(
    ("rule", "given", "passes", "counted"),
    [
        (ApprovalRule(users=("alice", "bob")), ("alice",), False, 0),
        (ApprovalRule(users=("alice", "bob")), ("alice", "bob"), True, 2),
        (ApprovalRule(users=("alice",)), ("alice",), True, 1),
        (ApprovalRule(teams=("platform",)), (("alice", ("platform",)),), False, 0),
        (ApprovalRule(), ("alice",), False, 0),
        (ApprovalRule(), ("zoe",), True, 1),
        (ApprovalRule(users=("alice", "bob"), count=2), ("alice", "bob"), True, 2),
        (ApprovalRule(users=("alice", "bob", "carol"), count=2), ("bob",), False, 1),
    ],
)
def test_the_requester_never_approves_alone_while_others_could(
    rule: ApprovalRule, given: tuple, passes: bool, counted: int
) -> None:
    assert approval_passes(rule, approvals(*given), "alice") is passes
    assert approval_counted(rule, approvals(*given), "alice") == counted


def test_an_approval_count_below_one_is_refused() -> None:
    with pytest.raises(PipelineError, match="count of 1 or more"):
        ApprovalRule(count=0)


# ---------------------------------------------------------------- windows: values


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": "9-17"}, "must look like 09:00-17:00"),
        ({"hours": "09:00-24:30"}, "end after 24:00"),
        ({"hours": "09:00-09:00"}, "are empty"),
        ({"days": ()}, "window days"),
        ({"days": ("monday",)}, "window days"),
        ({"timezone": "Mars/Olympus"}, "not a known time zone"),
    ],
)
def test_bad_windows_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        WindowRule(**kwargs)


def test_open_on_listed_days_between_the_hours_local_time() -> None:
    rule = WindowRule(WORKDAYS, "09:00-17:00", "Europe/Berlin")
    assert window_is_open(rule, utc(2024, 1, 15, 8, 0))  # Monday 09:00 CET
    assert not window_is_open(rule, utc(2024, 1, 15, 7, 59, 59))
    assert not window_is_open(rule, utc(2024, 1, 15, 16, 0))  # 17:00: closed
    assert not window_is_open(rule, utc(2024, 1, 13, 10, 0))  # Saturday
    assert window_is_open(rule, utc(2024, 7, 15, 7, 0))  # Monday 09:00 CEST


def test_a_window_past_midnight_belongs_to_the_day_it_starts() -> None:
    rule = WindowRule(("fri",), "22:00-02:00", "UTC")
    assert window_is_open(rule, utc(2024, 1, 12, 23, 0))  # Friday night
    assert window_is_open(rule, utc(2024, 1, 13, 1, 0))  # Saturday early hours
    assert not window_is_open(rule, utc(2024, 1, 13, 23, 0))  # Saturday night
    assert not window_is_open(rule, utc(2024, 1, 12, 1, 0))  # Friday early hours
    assert next_opening(rule, utc(2024, 1, 13, 3, 0)) == utc(2024, 1, 19, 22, 0)


def test_until_midnight() -> None:
    rule = WindowRule(("sun",), "20:00-24:00", "UTC")
    assert window_is_open(rule, utc(2024, 1, 14, 23, 59, 59))
    assert not window_is_open(rule, utc(2024, 1, 15, 0, 0))


def test_an_open_window_opens_now() -> None:
    rule = WindowRule(WORKDAYS, "09:00-17:00", "Europe/Berlin")
    at = utc(2024, 1, 15, 10, 0)
    assert next_opening(rule, at) == at


# ---------------------------------------------------------------- windows: across DST


def test_berlin_spring_forward_keeps_nine_o_clock_local() -> None:
    # Thursday 2024-03-28 17:00 CET; DST starts Sunday 31 March; Monday opens at 09:00 CEST
    rule = WindowRule(("mon", "tue", "wed", "thu"), "09:00-16:00", "Europe/Berlin")
    opening = next_opening(rule, datetime(2024, 3, 28, 17, 0, tzinfo=BERLIN))
    assert opening == utc(2024, 4, 1, 7, 0)  # 08:00 UTC the week before
    local = opening.astimezone(BERLIN)
    assert (local.hour, local.tzname()) == (9, "CEST")
    assert next_opening(rule, utc(2024, 3, 25, 16, 0)) == utc(2024, 3, 26, 8, 0)  # still CET


def test_berlin_fall_back_keeps_nine_o_clock_local() -> None:
    rule = WindowRule(("mon", "tue", "wed", "thu"), "09:00-16:00", "Europe/Berlin")
    opening = next_opening(rule, datetime(2024, 10, 24, 17, 0, tzinfo=BERLIN))
    assert opening == utc(2024, 10, 28, 8, 0)  # 07:00 UTC the week before
    local = opening.astimezone(BERLIN)
    assert (local.hour, local.tzname()) == (9, "CET")


def test_new_york_spring_forward_and_fall_back() -> None:
    rule = WindowRule(WORKDAYS, "09:00-17:00", "America/New_York")
    spring = next_opening(rule, datetime(2024, 3, 8, 18, 0, tzinfo=NEW_YORK))  # Fri EST
    assert spring == utc(2024, 3, 11, 13, 0)  # 14:00 UTC the week before
    assert spring.astimezone(NEW_YORK).strftime("%H:%M %Z") == "09:00 EDT"
    fall = next_opening(rule, datetime(2024, 11, 1, 18, 0, tzinfo=NEW_YORK))  # Fri EDT
    assert fall == utc(2024, 11, 4, 14, 0)  # 13:00 UTC the week before
    assert fall.astimezone(NEW_YORK).strftime("%H:%M %Z") == "09:00 EST"


def test_a_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    # Berlin skips 02:00-03:00 on 2024-03-31: at 01:00 UTC the clock reads 03:00, inside
    rule = WindowRule(DAYS, "02:30-04:00", "Europe/Berlin")
    opening = next_opening(rule, utc(2024, 3, 31, 0, 30))
    assert opening == utc(2024, 3, 31, 1, 0)
    assert opening.astimezone(BERLIN).hour == 3 and window_is_open(rule, opening)
    assert not window_is_open(rule, opening - timedelta(seconds=1))


def test_new_york_skipped_hour_likewise() -> None:
    rule = WindowRule(("sun",), "02:15-02:45", "America/New_York")
    # 2024-03-10 has no 02:15 in New York at all: the clock reads 03:00 at 07:00 UTC, past
    # the window's end, so the next Sunday's 02:15 EDT is the next opening
    assert next_opening(rule, utc(2024, 3, 10, 6, 0)) == utc(2024, 3, 17, 6, 15)


def test_a_repeated_hour_opens_at_its_first_occurrence() -> None:
    rule = WindowRule(("sun",), "02:30-03:30", "Europe/Berlin")
    opening = next_opening(rule, utc(2024, 10, 26, 12, 0))
    assert opening == utc(2024, 10, 27, 0, 30)  # 02:30 CEST, the first of two
    assert opening.astimezone(BERLIN).tzname() == "CEST"


def test_falling_back_into_a_window_opens_it_again() -> None:
    # 01:00-02:30 on Sunday: closed at 02:45 CEST, then at 01:00 UTC the clock goes back
    # to 02:00 CET, inside the window again
    rule = WindowRule(("sun",), "01:00-02:30", "Europe/Berlin")
    assert not window_is_open(rule, utc(2024, 10, 27, 0, 45))
    assert next_opening(rule, utc(2024, 10, 27, 0, 45)) == utc(2024, 10, 27, 1, 0)


# a window as a property: the opening found is open, and nothing earlier on a 15-minute
# grid is (every zone and window below opens and closes on quarter hours)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
QUARTERS = st.integers(0, 95).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}")


@st.composite
def windows(draw: st.DrawFn) -> WindowRule:
    start, end = draw(QUARTERS), draw(QUARTERS)
    if start == end:
        end = "24:00"
    days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
    return WindowRule(tuple(days), f"{start}-{end}", draw(st.sampled_from(ZONES)))


@settings(derandomize=True, max_examples=120, deadline=None)
@given(
    rule=windows(),
    after=st.integers(int(utc(2024, 1, 1).timestamp()), int(utc(2025, 1, 1).timestamp())).map(
        lambda t: datetime.fromtimestamp(t, UTC)
    ),
)
def test_the_next_opening_is_the_first_open_instant(rule: WindowRule, after: datetime) -> None:
    opening = next_opening(rule, after)
    assert opening is not None and opening >= after
    assert window_is_open(rule, opening)
    if opening > after:
        assert not window_is_open(rule, opening - timedelta(seconds=1))
    grid = after.replace(minute=after.minute // 15 * 15, second=0) + timedelta(minutes=15)
    while grid < opening:
        assert not window_is_open(rule, grid), grid
        grid += timedelta(minutes=15)


# ---------------------------------------------------------------- several gates


def test_several_windows_open_together_at_their_overlap() -> None:
    office = WindowRule(WORKDAYS, "09:00-17:00", "Europe/Berlin")
    overlap = WindowRule(WORKDAYS, "09:00-17:00", "America/New_York")  # 15:00 Berlin
    at = next_common_opening((office, overlap), utc(2024, 1, 15, 6, 0))
    assert at == utc(2024, 1, 15, 14, 0)
    assert next_common_opening((office, WindowRule(hours="20:00-21:00")), utc(2024, 1, 15)) is None


def test_gates_pass_when_every_gate_does() -> None:
    spec = StageSpec(
        "prod",
        gates=(ApprovalRule(users=("bob",)), WindowRule(WORKDAYS, "09:00-17:00", "UTC")),
    )
    monday_ten = utc(2024, 1, 15, 10, 0)
    assert not gates_pass(spec, (), "alice", monday_ten)
    assert gates_pass(spec, approvals("bob"), "alice", monday_ten)
    assert not gates_pass(spec, approvals("bob"), "alice", utc(2024, 1, 13, 10, 0))
    assert gates_pass(StageSpec("dev"), (), "alice", monday_ten)
