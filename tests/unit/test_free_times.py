"""Free times: starts on the grid inside the coach's hours, free, and still bookable.

Hours are on the coach's wall clock; what is offered is UTC instants. Expected instants are
written out by hand in UTC (with the offset that applies that day) so a wrong zone rule cannot
make its own expectations.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coaching import free_times, rules
from coaching.errors import DomainError, ValidationFailed
from coaching.models import Availability, SessionType, WorkingHours

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
"""A ``now`` before every range below, so only the hours and claims decide."""


NO_LIMITS = rules.BookingLimits()
"""A service with no notice, horizon or member limit: only the hours and claims decide."""


def kind(minutes: int, before: int = 0, after: int = 0) -> SessionType:
    return SessionType(
        id="t1",
        minutes=minutes,
        credits=1,
        buffer_before_minutes=before,
        buffer_after_minutes=after,
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def hours(zone: str, *stretches: tuple[str, str, str]) -> Availability:
    return Availability(
        coach_id="coach-1",
        timezone=zone,
        weekly=[WorkingHours(day=d, start=s, end=e) for d, s, e in stretches],  # type: ignore[arg-type]
    )


def starts(
    week: Availability,
    minutes: int,
    start: datetime,
    end: datetime,
    *,
    taken: tuple[datetime, ...] = (),
    now: datetime = LONG_AGO,
) -> list[datetime]:
    found = free_times.free_times(week, NO_LIMITS, kind(minutes), set(taken), start, end, now)
    return [f.start for f in found]


def every_15(first: datetime, last: datetime) -> list[datetime]:
    found, at = [], first
    while at <= last:
        found.append(at)
        at += timedelta(minutes=15)
    return found


# 2026-12-07 is a Monday; New York is at UTC-5 then, London at UTC+0, Tokyo at UTC+9.
MONDAY = utc(2026, 12, 7)


def test_starts_run_on_the_grid_from_the_opening_to_the_last_start_that_still_fits() -> None:
    week = hours("America/New_York", ("MON", "09:00", "12:00"))

    found = free_times.free_times(
        week, NO_LIMITS, kind(60), set(), MONDAY, MONDAY + timedelta(days=1), LONG_AGO
    )

    # 09:00 to 11:00 New York time is 14:00 to 16:00 UTC; 11:15 would end after 12:00.
    assert [f.start for f in found] == every_15(utc(2026, 12, 7, 14), utc(2026, 12, 7, 16))
    assert all(f.end - f.start == timedelta(minutes=60) for f in found)


@pytest.mark.parametrize(
    ("zone", "opening"),
    [
        ("America/New_York", utc(2026, 12, 7, 14)),
        ("Europe/London", utc(2026, 12, 7, 9)),
        ("Asia/Tokyo", utc(2026, 12, 7, 0)),
        ("Asia/Kathmandu", utc(2026, 12, 7, 3, 15)),  # UTC+5:45 still lands on the grid
    ],
)
def test_the_same_hours_open_at_the_coach_s_own_nine_o_clock(zone: str, opening: datetime) -> None:
    week = hours(zone, ("MON", "09:00", "10:00"))

    found = starts(week, 60, MONDAY - timedelta(days=1), MONDAY + timedelta(days=2))

    assert found == [opening]


def test_a_session_that_would_straddle_the_end_of_the_hours_is_not_offered() -> None:
    week = hours("Europe/London", ("MON", "09:00", "10:30"))

    found = starts(week, 60, MONDAY, MONDAY + timedelta(days=1))

    # 09:45 would run to 10:45, past the 10:30 close.
    assert found == every_15(utc(2026, 12, 7, 9), utc(2026, 12, 7, 9, 30))


def test_held_time_is_rounded_up_to_the_grid() -> None:
    week = hours("Europe/London", ("MON", "09:00", "11:00"))

    found = free_times.free_times(
        week, NO_LIMITS, kind(50), set(), MONDAY, MONDAY + timedelta(days=1), LONG_AGO
    )

    # A 50-minute session at 10:00 holds until 11:00 and fits; at 10:15 it would hold to 11:15.
    assert [f.start for f in found] == every_15(utc(2026, 12, 7, 9), utc(2026, 12, 7, 10))
    assert found[-1].end == utc(2026, 12, 7, 10, 50)  # the session's own end, not the hold
    assert rules.held_until(utc(2026, 12, 7, 10, 50)) == utc(2026, 12, 7, 11)
    assert rules.held_until(utc(2026, 12, 7, 10, 45)) == utc(2026, 12, 7, 10, 45)


def test_a_claim_in_the_rounded_up_part_blocks_the_start_and_one_just_after_does_not() -> None:
    week = hours("Europe/London", ("MON", "09:00", "13:00"))
    ten = utc(2026, 12, 7, 10)

    blocked = starts(
        week, 50, MONDAY, MONDAY + timedelta(days=1), taken=(ten + timedelta(minutes=45),)
    )
    after = starts(week, 50, MONDAY, MONDAY + timedelta(days=1), taken=(ten + timedelta(hours=1),))

    assert ten not in blocked  # 10:00 + 50 min holds the 10:45 slot
    assert ten in after  # and never the 11:00 one


def test_claimed_slots_remove_every_start_whose_session_would_touch_them() -> None:
    week = hours("Europe/London", ("MON", "09:00", "12:00"))
    taken = tuple(every_15(utc(2026, 12, 7, 10), utc(2026, 12, 7, 10, 45)))  # 10:00-11:00

    found = starts(week, 60, MONDAY, MONDAY + timedelta(days=1), taken=taken)

    assert found == [utc(2026, 12, 7, 9), utc(2026, 12, 7, 11)]


def test_hours_across_midnight_let_a_session_run_over_it() -> None:
    week = hours("Europe/London", ("MON", "22:00", "24:00"), ("TUE", "00:00", "01:00"))

    found = starts(week, 60, MONDAY, MONDAY + timedelta(days=2))

    assert found == every_15(utc(2026, 12, 7, 22), utc(2026, 12, 8, 0))


# --- daylight-saving days ------------------------------------------------------------------------


def test_spring_forward_the_missing_hour_is_skipped_and_elapsed_time_is_what_is_offered() -> None:
    # New York, Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT. Hours 01:00-04:00 on the wall
    # clock are two real hours: 01:00-02:00 EST (06:00-07:00 UTC), 03:00-04:00 EDT (07:00-08:00).
    week = hours("America/New_York", ("SUN", "01:00", "04:00"))
    day = utc(2026, 3, 8)

    found = starts(week, 60, day, day + timedelta(days=1))

    assert found == every_15(utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))


def test_fall_back_the_repeated_hour_counts_twice() -> None:
    # New York, Sunday 2026-11-01: 01:00-02:00 happens in EDT (05:00-06:00 UTC) and again in
    # EST (06:00-07:00 UTC); both are inside hours of 01:00-02:00.
    week = hours("America/New_York", ("SUN", "01:00", "02:00"))
    day = utc(2026, 11, 1)

    found = starts(week, 60, day, day + timedelta(days=1))

    assert found == every_15(utc(2026, 11, 1, 5), utc(2026, 11, 1, 6))


def test_nine_o_clock_follows_the_coach_s_clock_across_the_change() -> None:
    # London moves to BST on Sunday 2026-03-29: 09:00 is 09:00 UTC on Friday, 08:00 UTC on Monday.
    week = hours("Europe/London", ("MON", "09:00", "10:00"), ("FRI", "09:00", "10:00"))

    found = starts(week, 60, utc(2026, 3, 26), utc(2026, 4, 1))

    assert found == [utc(2026, 3, 27, 9), utc(2026, 3, 30, 8)]


def test_a_session_starting_before_the_change_and_ending_after_it_fits_in_elapsed_time() -> None:
    # Hours 00:00-04:00 on the spring-forward Sunday are three real hours (05:00-08:00 UTC).
    week = hours("America/New_York", ("SUN", "00:00", "04:00"))
    day = utc(2026, 3, 8)

    found = starts(week, 180, day, day + timedelta(days=1))

    assert found == [utc(2026, 3, 8, 5)]


# --- what booking would accept -------------------------------------------------------------------


def test_only_starts_after_now_are_offered() -> None:
    week = hours("Europe/London", ("MON", "09:00", "12:00"))
    now = utc(2026, 12, 7, 10, 5)

    found = starts(week, 60, MONDAY, MONDAY + timedelta(days=1), now=now)

    assert found == [
        utc(2026, 12, 7, 10, 15),
        utc(2026, 12, 7, 10, 30),
        utc(2026, 12, 7, 10, 45),
        utc(2026, 12, 7, 11),
    ]


def test_every_start_offered_is_one_booking_accepts() -> None:
    week = hours("America/New_York", ("MON", "09:00", "17:00"), ("WED", "08:00", "12:30"))
    now = utc(2026, 12, 7, 15, 7, 30)

    found = starts(week, 45, now - timedelta(days=1), now + timedelta(days=7), now=now)

    assert found
    for start in found:
        rules.require_bookable_start(start, now)  # raises for a start booking would refuse


def test_a_range_that_starts_off_the_grid_starts_at_the_next_boundary() -> None:
    week = hours("Europe/London", ("MON", "09:00", "10:00"))

    found = starts(week, 15, utc(2026, 12, 7, 9, 1), utc(2026, 12, 7, 9, 31))

    assert found == [utc(2026, 12, 7, 9, 15), utc(2026, 12, 7, 9, 30)]


def test_no_hours_no_free_times() -> None:
    assert starts(Availability(coach_id="c"), 60, MONDAY, MONDAY + timedelta(days=7)) == []


@pytest.mark.parametrize(
    "end",
    [MONDAY, MONDAY - timedelta(minutes=15), MONDAY + timedelta(days=31, seconds=1)],
    ids=["empty", "backwards", "over-31-days"],
)
def test_a_range_that_is_empty_backwards_or_over_31_days_is_refused(end: datetime) -> None:
    week = hours("Europe/London", ("MON", "09:00", "10:00"))

    with pytest.raises(ValidationFailed) as refused:
        free_times.free_times(week, NO_LIMITS, kind(60), set(), MONDAY, end, LONG_AGO)

    assert [e.field for e in refused.value.errors] == ["to"]


def test_thirty_one_days_is_allowed() -> None:
    week = hours("Europe/London", ("MON", "09:00", "10:00"))

    found = starts(week, 60, MONDAY, MONDAY + timedelta(days=31))

    assert found == [MONDAY + timedelta(days=7 * n, hours=9) for n in range(5)]


# --- the hours themselves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stretch",
    [
        {"day": "MON", "start": "09:10", "end": "10:00"},
        {"day": "MON", "start": "09:00", "end": "09:00"},
        {"day": "MON", "start": "10:00", "end": "09:00"},
        {"day": "MON", "start": "24:00", "end": "24:00"},
        {"day": "MON", "start": "9:00", "end": "10:00"},
        {"day": "MON", "start": "09:00", "end": "24:15"},
        {"day": "MONDAY", "start": "09:00", "end": "10:00"},
    ],
)
def test_hours_off_the_grid_empty_backwards_or_on_an_unknown_day_are_refused(
    stretch: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        WorkingHours.model_validate(stretch)


def test_overlapping_stretches_of_one_day_are_refused_and_touching_ones_are_not() -> None:
    def week(*stretches: tuple[str, str, str]) -> Availability:
        return hours("UTC", *stretches)

    with pytest.raises(ValidationError):
        week(("MON", "09:00", "12:00"), ("MON", "11:45", "13:00"))
    touching = week(("TUE", "13:00", "17:00"), ("MON", "13:00", "14:00"), ("MON", "09:00", "13:00"))

    assert [(h.day, h.start) for h in touching.weekly] == [
        ("MON", "09:00"),
        ("MON", "13:00"),
        ("TUE", "13:00"),
    ]


# --- the rule read once gives the answers of the rule read per start ----------------------------

ZONES = ("UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata")
GRID = [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 24 * 60 + 1, 15)]


def _by_definition(week: Availability, slot: datetime) -> bool:
    """Working time as the hours say it, read afresh for each slot: the slot's local weekday and
    time of day fall inside one of that weekday's stretches, with its 15 minutes."""
    local = slot.astimezone(ZoneInfo(week.timezone))
    day = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[local.weekday()]
    minute = local.hour * 60 + local.minute
    return any(
        h.day == day
        and int(h.start[:2]) * 60 + int(h.start[3:]) <= minute
        and minute + 15 <= int(h.end[:2]) * 60 + int(h.end[3:])
        for h in week.weekly
    )


@st.composite
def weeks(draw: st.DrawFn) -> Availability:
    stretches = []
    for day in draw(st.sets(st.sampled_from(["MON", "TUE", "WED", "SAT", "SUN"]), max_size=4)):
        cuts = sorted(draw(st.sets(st.integers(0, len(GRID) - 1), min_size=2, max_size=4)))
        for opens, closes in zip(cuts[::2], cuts[1::2], strict=False):
            stretches.append((day, GRID[opens], GRID[closes]))
    return hours(draw(st.sampled_from(ZONES)), *stretches)


@settings(database=None, derandomize=True, max_examples=150, deadline=None)
@given(
    week=weeks(),
    minutes=st.sampled_from([15, 25, 45, 60, 90]),
    before=st.sampled_from([0, 15]),
    after=st.sampled_from([0, 10]),
    # Around the New York, London and Lord Howe changes of 2026, and an ordinary week.
    first=st.sampled_from([utc(2026, 3, 6), utc(2026, 3, 27), utc(2026, 10, 2), utc(2026, 12, 5)]),
    offset=st.integers(0, 4 * 24 * 4).map(lambda q: timedelta(minutes=7 * q)),
    notice=st.sampled_from([0, 90]),
    horizon=st.sampled_from([None, 2]),
)
def test_free_times_are_the_starts_the_rule_allows_one_start_at_a_time(
    week: Availability,
    minutes: int,
    before: int,
    after: int,
    first: datetime,
    offset: timedelta,
    notice: int,
    horizon: int | None,
) -> None:
    """Free times read the hours once for a whole range (``rules.HoldRule``); a booking asks
    ``require_member_may_hold`` about its one start. Both must answer alike, and the working
    hours read once must say what the hours say, slot by slot, across daylight-saving changes."""
    start, end, now = first + offset, first + offset + timedelta(days=3), first + offset / 2
    limits = rules.BookingLimits(min_notice_minutes=notice, max_days_ahead=horizon)
    session_type = kind(minutes, before, after)
    grid = free_times.grid_at_or_after(start)
    taken = {grid + timedelta(hours=5), grid + timedelta(hours=29)}

    found = free_times.free_times(week, limits, session_type, taken, start, end, now)

    expected = []
    for at in free_times.candidate_starts(start, end) if week.has_hours else ():
        try:
            rules.require_bookable_start(at, now)
            rules.require_member_may_hold(week, limits, session_type, at, now)
        except DomainError:
            continue
        if not taken.intersection(rules.held_slots(at, session_type)):
            expected.append(at)
    assert [f.start for f in found] == expected
    clock = rules.WorkingClock.of(week)
    for slot in free_times.candidate_starts(start, end):
        assert clock.covers(slot) == _by_definition(week, slot), slot
