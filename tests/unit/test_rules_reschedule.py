"""Reschedule: keep the booking, change the time. The coach and support may move an upcoming
session at any time; the member until the cancellation window closes, and after that only by
asking the coach, where the service allows it.
"""

from datetime import datetime

import pytest

from coaching import rules
from coaching.errors import (
    Forbidden,
    NotFound,
    NotPending,
    RescheduleWindowClosed,
    SessionNotUpcoming,
    ValidationFailed,
)
from coaching.models import Session, SessionStatus
from tests.builders import (
    CALLERS,
    MEMBER,
    NOW,
    SECOND,
    STAFF,
    STRANGERS,
    VISIBLE,
    canceled,
    hours,
    minutes,
    reschedule_request,
    session,
    with_status,
)

START = NOW + hours(72)
LATER = START + hours(24)
"""A free, aligned time a day after the session's current start."""

# --- plan_reschedule: who may move when ------------------------------------------------------


@pytest.mark.parametrize("who", VISIBLE)
def test_anyone_it_concerns_moves_the_session_directly_before_the_window(who: str) -> None:
    booked = session(start=START)

    assert rules.plan_reschedule(CALLERS[who], booked, LATER, NOW) == "DIRECT"


@pytest.mark.parametrize("who", STAFF)
@pytest.mark.parametrize("late", [False, True], ids=["no-approval-rule", "approval-rule"])
def test_the_coach_and_support_move_the_session_directly_even_inside_the_window(
    who: str, late: bool
) -> None:
    # Given a session one hour away, deep inside its 24-hour window
    booked = session(start=NOW + hours(1), late_reschedule_requires_approval=late)

    # When the coach or support moves it, it moves at once, whatever the service says about
    # late member moves
    assert rules.plan_reschedule(CALLERS[who], booked, LATER, NOW) == "DIRECT"


def test_a_member_moves_directly_up_to_the_last_second_of_the_window() -> None:
    booked = session(start=START, window_hours=24)

    last_second = START - hours(24)

    assert rules.plan_reschedule(MEMBER, booked, LATER, last_second) == "DIRECT"


def test_a_member_is_refused_one_second_after_the_window_closes() -> None:
    # Given a service that does not let members ask for late moves
    booked = session(start=START, window_hours=24, late_reschedule_requires_approval=False)

    # When the member tries to move the session one second after the window closed
    with pytest.raises(RescheduleWindowClosed) as raised:
        rules.plan_reschedule(MEMBER, booked, LATER, START - hours(24) + SECOND)

    # Then they are told to ask their coach
    assert raised.value.code == "RESCHEDULE_WINDOW_CLOSED"
    assert raised.value.status == 409


def test_a_late_member_move_becomes_a_request_where_the_service_asks_the_coach() -> None:
    booked = session(start=START, window_hours=24, late_reschedule_requires_approval=True)

    mode = rules.plan_reschedule(MEMBER, booked, LATER, START - hours(24) + SECOND)

    assert mode == "REQUEST"


def test_a_member_inside_the_window_moves_directly_even_where_late_moves_need_approval() -> None:
    booked = session(start=START, window_hours=24, late_reschedule_requires_approval=True)

    assert rules.plan_reschedule(MEMBER, booked, LATER, START - hours(24)) == "DIRECT"


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        (0, START - SECOND, "DIRECT"),
        (2, START - hours(2), "DIRECT"),
        (2, START - hours(2) + SECOND, RescheduleWindowClosed),
        (48, START - hours(48), "DIRECT"),
        (48, START - hours(48) + SECOND, RescheduleWindowClosed),
    ],
    ids=["0h-last-second", "2h-edge", "2h-closed", "48h-edge", "48h-closed"],
)
def test_the_member_reschedule_window_is_the_cancellation_window(
    window: int, now: datetime, expected: object
) -> None:
    booked = session(start=START, window_hours=window)

    if expected is RescheduleWindowClosed:
        with pytest.raises(RescheduleWindowClosed):
            rules.plan_reschedule(MEMBER, booked, LATER, now)
    else:
        assert rules.plan_reschedule(MEMBER, booked, LATER, now) == expected


@pytest.mark.parametrize("who", STRANGERS)
def test_a_stranger_cannot_reschedule_and_is_not_told_the_session_exists(who: str) -> None:
    with pytest.raises(NotFound):
        rules.plan_reschedule(CALLERS[who], session(start=START), LATER, NOW)


@pytest.mark.parametrize("who", STRANGERS)
def test_a_stranger_gets_404_before_any_complaint_about_the_time(who: str) -> None:
    with pytest.raises(NotFound):
        rules.plan_reschedule(CALLERS[who], session(start=START), NOW - hours(1), NOW)


@pytest.mark.parametrize("who", VISIBLE)
@pytest.mark.parametrize(
    "status", [SessionStatus.CANCELED, SessionStatus.COMPLETED, SessionStatus.DECLINED]
)
def test_a_session_that_is_over_cannot_be_rescheduled(who: str, status: SessionStatus) -> None:
    over = with_status(session(start=START), status)

    with pytest.raises(SessionNotUpcoming) as raised:
        rules.plan_reschedule(CALLERS[who], over, LATER, NOW)

    assert raised.value.code == "SESSION_NOT_UPCOMING"


@pytest.mark.parametrize("who", VISIBLE)
def test_a_session_that_has_started_cannot_be_rescheduled(who: str) -> None:
    booked = session(start=NOW - minutes(15))

    with pytest.raises(SessionNotUpcoming):
        rules.plan_reschedule(CALLERS[who], booked, LATER, NOW)


def test_a_canceled_session_is_not_moved_back_to_life() -> None:
    gone = canceled(session(start=START), at=NOW - hours(1), by=CALLERS["coach"], refunded=True)

    with pytest.raises(SessionNotUpcoming):
        rules.plan_reschedule(CALLERS["coach"], gone, LATER, NOW)


# --- plan_reschedule: the new time ------------------------------------------------------------


@pytest.mark.parametrize("who", VISIBLE)
@pytest.mark.parametrize(
    ("new_start", "message"),
    [
        (LATER + minutes(5), "must fall on a 15-minute boundary (for example 10:00 or 10:15)"),
        (LATER + SECOND, "must fall on a 15-minute boundary (for example 10:00 or 10:15)"),
        (NOW, "must be in the future"),
        (NOW - hours(24), "must be in the future"),
        (START, "is the session's current time"),
    ],
    ids=["misaligned", "one-second-off", "now", "past", "unchanged"],
)
def test_the_new_time_must_be_aligned_in_the_future_and_different(
    who: str, new_start: datetime, message: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.plan_reschedule(CALLERS[who], session(start=START), new_start, NOW)

    assert raised.value.code == "VALIDATION_FAILED"
    assert [(e.field, e.message) for e in raised.value.errors] == [("start", message)]


def test_a_session_may_move_earlier_or_by_a_single_slot() -> None:
    booked = session(start=START)

    assert rules.plan_reschedule(MEMBER, booked, START - hours(24), NOW) == "DIRECT"
    assert rules.plan_reschedule(MEMBER, booked, START + minutes(15), NOW) == "DIRECT"


def test_a_late_member_asking_for_a_bad_time_hears_about_the_time() -> None:
    # The time is checked before the window, so the member learns what to fix first.
    booked = session(start=NOW + hours(2))

    with pytest.raises(ValidationFailed):
        rules.plan_reschedule(MEMBER, booked, LATER + minutes(7), NOW)


# --- require_pending_reschedule: answering a member's late request ---------------------------


def pending(
    *,
    to: datetime = LATER,
    start: datetime | None = None,
    asked_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Session:
    """A session (by default ten hours away) whose member asked (an hour ago) to move it to
    ``to``; the request waits until ``expires_at``, by default the session's start."""
    start = start or NOW + hours(10)
    return session(
        start=start,
        late_reschedule_requires_approval=True,
        reschedule_request=reschedule_request(
            to=to, asked_at=asked_at or NOW - hours(1), expires_at=expires_at or start
        ),
    )


@pytest.mark.parametrize("who", STAFF)
def test_the_coach_and_support_may_answer_a_waiting_request(who: str) -> None:
    rules.require_pending_reschedule(CALLERS[who], pending(), NOW)


def test_the_member_cannot_answer_their_own_request() -> None:
    with pytest.raises(Forbidden) as raised:
        rules.require_pending_reschedule(MEMBER, pending(), NOW)

    assert "reschedule request" in raised.value.detail


@pytest.mark.parametrize("who", STRANGERS)
def test_strangers_cannot_answer_and_are_not_told_the_session_exists(who: str) -> None:
    with pytest.raises(NotFound):
        rules.require_pending_reschedule(CALLERS[who], pending(), NOW)


def test_a_request_can_be_answered_until_the_second_before_it_expires() -> None:
    waiting = pending(expires_at=NOW + hours(5))

    last_second = NOW + hours(5) - SECOND
    rules.require_pending_reschedule(CALLERS["coach"], waiting, last_second)

    with pytest.raises(NotPending) as raised:
        rules.require_pending_reschedule(CALLERS["coach"], waiting, NOW + hours(5))
    assert raised.value.code == "NOT_PENDING"
    assert raised.value.status == 409


def test_there_is_nothing_to_answer_without_a_request() -> None:
    with pytest.raises(NotPending):
        rules.require_pending_reschedule(CALLERS["coach"], session(start=START), NOW)


def test_a_request_on_a_session_that_is_over_cannot_be_answered() -> None:
    # Given a request still inside its deadline on a session that was canceled meanwhile
    waiting = with_status(pending(expires_at=NOW + hours(5)), SessionStatus.CANCELED)

    with pytest.raises(NotPending):
        rules.require_pending_reschedule(CALLERS["support"], waiting, NOW)


def test_a_request_to_a_time_that_has_already_passed_cannot_be_approved() -> None:
    # Given a member who, ten hours before their session, asks to move it to two hours from
    # then, which the service lets them ask for
    asked_at = NOW
    booked = session(start=asked_at + hours(10), late_reschedule_requires_approval=True)
    assert rules.plan_reschedule(MEMBER, booked, asked_at + hours(2), asked_at) == "REQUEST"
    # and the request waits until the original start, as its deadline allows
    waiting = pending(
        start=asked_at + hours(10),
        to=asked_at + hours(2),
        asked_at=asked_at,
        expires_at=rules.request_deadline(asked_at, 48, asked_at + hours(10)),
    )

    # When the coach answers three hours later, after the asked-for time has gone by
    answered_at = asked_at + hours(3)

    # Then the request is no longer waiting: approving it would move the session into the past
    with pytest.raises(NotPending):
        rules.require_pending_reschedule(CALLERS["coach"], waiting, answered_at)
