"""Sweeps: booking requests past their deadline expire, reschedule requests past their deadline
expire, and sessions whose end has passed complete. ``due_at`` says when a session next needs the
sweep; ``sweep_action`` what the sweep does to it at ``now``.
"""

import pytest

from coaching import rules
from coaching.models import RefundStatus, SessionStatus
from tests.builders import (
    NOW,
    SECOND,
    canceled,
    hours,
    refunded,
    reschedule_request,
    session,
    with_status,
)

START = NOW + hours(10)

# --- due_at -----------------------------------------------------------------------------------


def test_a_booking_request_is_due_when_it_expires() -> None:
    waiting = session(
        status=SessionStatus.REQUESTED, start=START, request_expires_at=NOW + hours(4)
    )

    assert rules.due_at(waiting) == NOW + hours(4)


def test_a_scheduled_session_is_due_when_it_ends() -> None:
    booked = session(start=START, length=90)

    assert rules.due_at(booked) == START + hours(1.5)


def test_a_session_with_a_reschedule_request_is_due_when_the_request_expires() -> None:
    asked = session(
        start=START,
        reschedule_request=reschedule_request(
            to=START + hours(24), asked_at=NOW, expires_at=NOW + hours(3)
        ),
    )

    assert rules.due_at(asked) == NOW + hours(3)


def test_a_reschedule_request_never_makes_a_session_due_after_it_ends() -> None:
    # A request's deadline is never past the start, but due_at does not rely on it.
    asked = session(
        start=START,
        reschedule_request=reschedule_request(
            to=START + hours(24), asked_at=NOW, expires_at=START + hours(5)
        ),
    )

    assert rules.due_at(asked) == asked.end


@pytest.mark.parametrize(
    "status",
    [
        SessionStatus.CANCELED,
        SessionStatus.COMPLETED,
        SessionStatus.DECLINED,
        SessionStatus.EXPIRED,
    ],
)
def test_a_session_that_is_over_is_never_due(status: SessionStatus) -> None:
    assert rules.due_at(with_status(session(start=START), status)) is None


# --- sweep_action -----------------------------------------------------------------------------


def test_a_booking_request_expires_on_the_second_of_its_deadline() -> None:
    waiting = session(
        status=SessionStatus.REQUESTED, start=START, request_expires_at=NOW + hours(4)
    )

    assert rules.sweep_action(waiting, NOW + hours(4) - SECOND) is None
    assert rules.sweep_action(waiting, NOW + hours(4)) == "EXPIRE_BOOKING"
    assert rules.sweep_action(waiting, START + hours(5)) == "EXPIRE_BOOKING"


def test_a_booking_request_never_completes_even_after_its_end() -> None:
    # Given a request left without a deadline, long after its end
    waiting = session(status=SessionStatus.REQUESTED, start=START).model_copy(
        update={"request_expires_at": None}
    )

    # Then the sweep does nothing to it: only a deadline expires a request
    assert rules.sweep_action(waiting, START + hours(48)) is None


def test_a_reschedule_request_expires_on_the_second_of_its_deadline() -> None:
    asked = session(
        start=START,
        reschedule_request=reschedule_request(
            to=START + hours(24), asked_at=NOW, expires_at=NOW + hours(3)
        ),
    )

    assert rules.sweep_action(asked, NOW + hours(3) - SECOND) is None
    assert rules.sweep_action(asked, NOW + hours(3)) == "EXPIRE_RESCHEDULE"


def test_an_expired_reschedule_request_goes_first_even_after_the_session_ended() -> None:
    # Given a session whose request expired and which has also ended, and a sweep that was late
    asked = session(
        start=START,
        reschedule_request=reschedule_request(to=START + hours(24), asked_at=NOW, expires_at=START),
    )

    # Then the sweep first expires the request (the session keeps its time)...
    assert rules.sweep_action(asked, asked.end + hours(1)) == "EXPIRE_RESCHEDULE"

    # ...and once that is done, completes the session on its next pass
    cleared = asked.model_copy(update={"reschedule_request": None})
    assert rules.sweep_action(cleared, asked.end + hours(1)) == "COMPLETE"


def test_a_scheduled_session_completes_on_the_second_it_ends() -> None:
    booked = session(start=START, length=60)

    assert rules.sweep_action(booked, START) is None
    assert rules.sweep_action(booked, booked.end - SECOND) is None
    assert rules.sweep_action(booked, booked.end) == "COMPLETE"


@pytest.mark.parametrize(
    "status",
    [
        SessionStatus.CANCELED,
        SessionStatus.COMPLETED,
        SessionStatus.DECLINED,
        SessionStatus.EXPIRED,
    ],
)
def test_the_sweep_leaves_sessions_that_are_over_alone(status: SessionStatus) -> None:
    # Even with a stale request deadline and an end long past
    over = with_status(
        session(status=SessionStatus.REQUESTED, start=START, request_expires_at=NOW + hours(1)),
        status,
    )

    assert rules.sweep_action(over, START + hours(48)) is None


def test_a_canceled_session_is_not_completed_by_the_sweep() -> None:
    # A canceled session stays canceled, so it keeps its canceled tag under past sessions.
    gone = canceled(session(start=START), at=NOW, refunded=False)

    assert rules.due_at(gone) is None
    assert rules.sweep_action(gone, gone.end + hours(1)) is None


def test_a_refunded_session_that_has_ended_still_completes() -> None:
    # Credits refunded by exception do not change whether the session happened.
    booked = refunded(session(start=START), 3, RefundStatus.EXCEPTION, START + SECOND)

    assert rules.sweep_action(booked, booked.end) == "COMPLETE"


@pytest.mark.parametrize("status", [SessionStatus.REQUESTED, SessionStatus.SCHEDULED])
def test_the_sweep_acts_exactly_from_the_moment_due_at_names(status: SessionStatus) -> None:
    deadline = NOW + hours(4) if status is SessionStatus.REQUESTED else None
    booked = session(status=status, start=START, request_expires_at=deadline)
    due = rules.due_at(booked)
    assert due is not None

    assert rules.sweep_action(booked, due - SECOND) is None
    assert rules.sweep_action(booked, due) is not None
