"""Time: the cancellation window, what counts as upcoming, request deadlines, calendar slots.

The window is elapsed time. Across a daylight-saving change "24 hours before" a 10:00 session
reads 09:00 or 11:00 on the local clock, never 10:00, and never gives 23 or 25 hours of notice.
"""

from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coaching import rules
from coaching.errors import ValidationFailed
from coaching.models import MAX_SESSION_MINUTES, MIN_SESSION_MINUTES, SLOT_MINUTES, SessionStatus
from tests.builders import NOW, SECOND, hours, minutes, session, with_status

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")

# --- refundable_until and inside_free_window --------------------------------------------------


@pytest.mark.parametrize("window", [0, 2, 24, 48, 24 * 30])
def test_refundable_until_is_the_start_minus_the_window(window: int) -> None:
    start = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert rules.refundable_until(start, window) == start - hours(window)


# Sessions at 10:00 local time on the day the clocks change, and the last refunded second on the
# local clock, 24 elapsed hours before: 09:00 the day before in spring, 11:00 in autumn.
DST_DAYS = [
    pytest.param(
        datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK),
        datetime(2026, 3, 7, 9, 0, tzinfo=NEW_YORK),
        id="new-york-spring-forward",
    ),
    pytest.param(
        datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK),
        datetime(2026, 10, 31, 11, 0, tzinfo=NEW_YORK),
        id="new-york-fall-back",
    ),
    pytest.param(
        datetime(2026, 3, 29, 10, 0, tzinfo=LONDON),
        datetime(2026, 3, 28, 9, 0, tzinfo=LONDON),
        id="london-spring-forward",
    ),
    pytest.param(
        datetime(2026, 10, 25, 10, 0, tzinfo=LONDON),
        datetime(2026, 10, 24, 11, 0, tzinfo=LONDON),
        id="london-fall-back",
    ),
]


@pytest.mark.parametrize(("local_start", "local_last_second"), DST_DAYS)
def test_across_a_clock_change_24_hours_before_is_elapsed_time(
    local_start: datetime, local_last_second: datetime
) -> None:
    # Given a session at 10:00 local time on the day the clocks change, stored in UTC
    booked = session(start=local_start, timezone=str(local_start.tzinfo))
    assert booked.start.tzinfo is UTC

    # When we ask until when a cancel is refunded
    until = rules.refundable_until(booked.start, 24)

    # Then it is exactly 24 elapsed hours earlier, which the local clock shows at another hour
    assert booked.start - until == hours(24)
    assert until == local_last_second
    assert until.astimezone(local_start.tzinfo).hour == local_last_second.hour != 10


def test_the_window_is_elapsed_hours_even_when_the_start_carries_a_zone() -> None:
    # Given a start as a client in New York might express it, before anything normalised it:
    # 10:00 on the Sunday the clocks spring forward (14:00 UTC)
    local_start = datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK)

    # When we ask until when a cancel is refunded, with a 24-hour window
    until = rules.refundable_until(local_start, 24)

    # Then it is 24 elapsed hours before, 14:00 UTC on Saturday (09:00 on the New York clock),
    # not 10:00 Saturday on the New York clock, which is only 23 hours before
    assert until == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)
    assert local_start - until == hours(24)


@pytest.mark.parametrize(("local_start", "local_last_second"), DST_DAYS)
def test_a_cancel_is_refunded_until_the_same_elapsed_second_across_a_clock_change(
    local_start: datetime, local_last_second: datetime
) -> None:
    booked = session(start=local_start, window_hours=24)

    assert rules.inside_free_window(booked, local_last_second) is True
    assert rules.inside_free_window(booked, local_last_second + SECOND) is False


def test_spring_forward_the_same_clock_time_the_day_before_is_too_late() -> None:
    # Given a session at 10:00 in New York on the Sunday the clocks spring forward
    booked = session(start=datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK))

    # When the member cancels at 10:00 on Saturday by their clock, 23 hours before
    saturday_ten = datetime(2026, 3, 7, 10, 0, tzinfo=NEW_YORK)

    # Then they are already inside the 24 hours: not refunded
    assert booked.start - saturday_ten == hours(23)
    assert rules.inside_free_window(booked, saturday_ten) is False


def test_fall_back_the_same_clock_time_the_day_before_is_still_free() -> None:
    # Given a session at 10:00 in New York on the Sunday the clocks fall back
    booked = session(start=datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK))

    # When the member cancels at 10:30 on Saturday by their clock, 24.5 hours before
    saturday = datetime(2026, 10, 31, 10, 30, tzinfo=NEW_YORK)

    # Then it is still refunded, and so is 11:00, but not 11:00:01
    assert booked.start - saturday == hours(24.5)
    assert rules.inside_free_window(booked, saturday) is True
    assert rules.inside_free_window(booked, datetime(2026, 10, 31, 11, 0, tzinfo=NEW_YORK))
    assert not rules.inside_free_window(booked, datetime(2026, 10, 31, 11, 0, 1, tzinfo=NEW_YORK))


@pytest.mark.parametrize("window", [0, 2, 24, 48])
def test_the_free_window_ends_on_the_second(window: int) -> None:
    booked = session(start=NOW + hours(72), window_hours=window)
    closes = booked.start - hours(window)

    assert rules.inside_free_window(booked, closes - SECOND) is True
    assert rules.inside_free_window(booked, closes) is True
    assert rules.inside_free_window(booked, closes + SECOND) is False


# --- is_upcoming ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SessionStatus.REQUESTED, True),
        (SessionStatus.SCHEDULED, True),
        (SessionStatus.CANCELED, False),
        (SessionStatus.COMPLETED, False),
        (SessionStatus.DECLINED, False),
        (SessionStatus.EXPIRED, False),
    ],
)
def test_only_requested_and_scheduled_sessions_are_upcoming(
    status: SessionStatus, expected: bool
) -> None:
    assert rules.is_upcoming(session(status=status), NOW) is expected


def test_a_session_in_progress_is_upcoming_until_the_second_it_ends() -> None:
    booked = session(start=NOW + hours(1))

    assert rules.is_upcoming(booked, booked.start - SECOND) is True
    assert rules.is_upcoming(booked, booked.start) is True
    assert rules.is_upcoming(booked, booked.end - SECOND) is True
    assert rules.is_upcoming(booked, booked.end) is False


def test_a_session_can_no_longer_be_changed_from_the_second_it_starts() -> None:
    booked = session(start=NOW + hours(1))

    assert rules.not_started(booked, booked.start - SECOND) is True
    assert rules.not_started(booked, booked.start) is False
    assert rules.not_started(with_status(booked, SessionStatus.CANCELED), NOW) is False


# --- request_deadline -------------------------------------------------------------------------


def test_a_request_waits_its_time_to_live_when_the_start_is_further_away() -> None:
    start = NOW + hours(72)
    assert rules.request_deadline(NOW, 48, start) == NOW + hours(48)


def test_a_request_never_waits_past_the_start_it_is_about() -> None:
    start = NOW + hours(5)
    assert rules.request_deadline(NOW, 48, start) == start


def test_a_request_whose_time_to_live_ends_at_the_start_expires_then() -> None:
    start = NOW + hours(48)
    assert rules.request_deadline(NOW, 48, start) == start


# --- require_slot_aligned ---------------------------------------------------------------------


@pytest.mark.parametrize("minute", [0, 15, 30, 45])
def test_quarter_hours_are_slot_aligned(minute: int) -> None:
    rules.require_slot_aligned(datetime(2026, 12, 4, 10, minute, tzinfo=UTC))


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 12, 4, 10, 5, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 14, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 59, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 0, 0, 1, tzinfo=UTC),
    ],
    ids=["10:05", "10:14", "10:59", "one-second-past", "one-microsecond-past"],
)
def test_anything_off_a_quarter_hour_is_refused(start: datetime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.require_slot_aligned(start)

    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.status == 422
    assert [error.field for error in raised.value.errors] == ["start"]
    assert "15-minute boundary" in raised.value.errors[0].message


def test_a_misaligned_time_is_reported_on_the_field_named() -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.require_slot_aligned(datetime(2026, 12, 4, 10, 7, tzinfo=UTC), "new_start")

    assert [error.field for error in raised.value.errors] == ["new_start"]


def test_a_quarter_hour_in_a_half_hour_zone_is_aligned() -> None:
    # 10:00 in India is 04:30 UTC: the slots are quarter hours in UTC as well.
    kolkata = datetime(2026, 12, 4, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    rules.require_slot_aligned(kolkata)


# --- require_future ---------------------------------------------------------------------------


def test_one_second_from_now_is_the_future() -> None:
    rules.require_future(NOW + SECOND, NOW)


@pytest.mark.parametrize("start", [NOW, NOW - SECOND, NOW - hours(24)], ids=["now", "1s-ago", "1d"])
def test_now_and_the_past_are_refused(start: datetime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.require_future(start, NOW)

    assert raised.value.code == "VALIDATION_FAILED"
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("start", "must be in the future")
    ]


def test_a_past_time_is_reported_on_the_field_named() -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.require_future(NOW, NOW, "new_start")

    assert [error.field for error in raised.value.errors] == ["new_start"]


# --- slots_between ----------------------------------------------------------------------------


def test_an_hour_occupies_four_quarter_hour_slots() -> None:
    start = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)

    assert rules.slots_between(start, start + minutes(60)) == [
        datetime(2026, 12, 4, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 15, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 30, tzinfo=UTC),
        datetime(2026, 12, 4, 10, 45, tzinfo=UTC),
    ]


def test_no_time_occupies_no_slots() -> None:
    start = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert rules.slots_between(start, start) == []


def test_a_part_slot_at_the_end_still_occupies_the_slot() -> None:
    start = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert rules.slots_between(start, start + minutes(20)) == [start, start + minutes(15)]


def test_slots_cross_midnight() -> None:
    start = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    assert rules.slots_between(start, start + minutes(60))[-1] == datetime(
        2026, 12, 5, 0, 15, tzinfo=UTC
    )


def test_two_hours_in_the_night_the_clocks_fall_back_are_eight_slots() -> None:
    # Given a stored two-hour session from 01:00 EDT to 02:00 EST, the night New York falls back
    booked = session(start=datetime(2026, 11, 1, 1, 0, tzinfo=NEW_YORK), length=120)
    assert booked.end - booked.start == hours(2)

    # Then it occupies eight distinct slots, one per elapsed quarter hour
    slots = rules.slots_between(booked.start, booked.end)
    assert len(slots) == 8
    assert len(set(slots)) == 8


def test_slots_are_elapsed_quarter_hours_even_when_the_times_carry_a_zone() -> None:
    # Given two elapsed hours from 01:00 EDT to 02:00 EST, written in New York time
    start = datetime(2026, 11, 1, 1, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 11, 1, 2, 0, tzinfo=NEW_YORK)
    assert end.astimezone(UTC) - start.astimezone(UTC) == hours(2)

    # Then the calendar slots cover all two hours (05:00 to 06:45 UTC), so none can be
    # booked twice
    slots = [slot.astimezone(UTC) for slot in rules.slots_between(start, end)]
    assert slots == [datetime(2026, 11, 1, 5, 0, tzinfo=UTC) + minutes(15 * n) for n in range(8)]


@settings(database=None, derandomize=True, max_examples=200)
@given(
    quarter=st.integers(min_value=0, max_value=4 * 24 * 365),
    length=st.integers(min_value=MIN_SESSION_MINUTES, max_value=MAX_SESSION_MINUTES),
)
def test_a_session_holds_one_aligned_slot_per_quarter_hour_its_time_touches(
    quarter: int, length: int
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + minutes(SLOT_MINUTES * quarter)

    slots = rules.slots_between(start, start + minutes(length))

    assert len(slots) == -(-length // SLOT_MINUTES)  # rounded up
    assert slots[0] == start
    assert all(later - earlier == minutes(SLOT_MINUTES) for earlier, later in pairwise(slots))
    for slot in slots:
        rules.require_slot_aligned(slot)
    # the hold ends on the first boundary at or after the real end, never a slot later
    assert slots[-1] < start + minutes(length) <= slots[-1] + minutes(SLOT_MINUTES)


# --- held time: a session holds its coach until its end rounded up to the grid -----------------


@pytest.mark.parametrize(
    ("end", "held_until"),
    [
        (datetime(2026, 12, 4, 10, 50, tzinfo=UTC), datetime(2026, 12, 4, 11, 0, tzinfo=UTC)),
        (datetime(2026, 12, 4, 10, 25, tzinfo=UTC), datetime(2026, 12, 4, 10, 30, tzinfo=UTC)),
        (datetime(2026, 12, 4, 10, 10, tzinfo=UTC), datetime(2026, 12, 4, 10, 15, tzinfo=UTC)),
        (datetime(2026, 12, 4, 10, 46, tzinfo=UTC), datetime(2026, 12, 4, 11, 0, tzinfo=UTC)),
        (datetime(2026, 12, 4, 10, 45, tzinfo=UTC), datetime(2026, 12, 4, 10, 45, tzinfo=UTC)),
        (datetime(2026, 12, 4, 23, 55, tzinfo=UTC), datetime(2026, 12, 5, 0, 0, tzinfo=UTC)),
        (
            datetime(2026, 12, 4, 10, 45, 0, 1, tzinfo=UTC),
            datetime(2026, 12, 4, 11, 0, tzinfo=UTC),
        ),
        # the boundary is the same instant whatever zone the end is written in
        (datetime(2026, 12, 4, 10, 50, tzinfo=NEW_YORK), datetime(2026, 12, 4, 16, 0, tzinfo=UTC)),
    ],
)
def test_a_hold_ends_at_the_next_quarter_hour_boundary(end: datetime, held_until: datetime) -> None:
    assert rules.held_until(end) == held_until


def _holds(start: datetime, length: int) -> set[datetime]:
    return set(rules.slots_between(start, start + minutes(length)))


def test_a_50_minute_session_at_10_leaves_11_bookable_and_not_10_45() -> None:
    ten = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    held = _holds(ten, 50)

    assert held == {ten + minutes(m) for m in (0, 15, 30, 45)}
    assert not held & _holds(ten + minutes(60), 50)  # 11:00 is free
    assert held & _holds(ten + minutes(45), 50)  # 10:45 is not


def test_a_25_minute_session_at_10_leaves_10_30_bookable_and_not_10_15() -> None:
    ten = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    held = _holds(ten, 25)

    assert held == {ten, ten + minutes(15)}
    assert not held & _holds(ten + minutes(30), 25)  # 10:30 is free
    assert held & _holds(ten + minutes(15), 25)  # 10:15 is not


def test_a_session_booked_before_the_end_of_another_is_refused_however_short() -> None:
    # Given a 10-minute session at 10:00, which holds 10:00 to 10:15
    ten = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    held = _holds(ten, 10)

    # Then nothing else starts at 10:00, and 10:15 is free
    assert held == {ten}
    assert held & _holds(ten, 10)
    assert not held & _holds(ten + minutes(15), 10)


def test_a_hold_counts_elapsed_time_the_night_the_clocks_fall_back() -> None:
    # Given a 50-minute session at 01:30 EDT, the night New York falls back at 02:00 EDT
    start = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
    booked = session(start=start, length=50)

    # Then it holds four quarter hours, 05:30 to 06:30 UTC, the last partly used
    assert rules.slots_between(booked.start, booked.end) == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC) + minutes(15 * n) for n in range(4)
    ]
