"""Booking, and answering booking requests: members book other people's services at a future
quarter hour; a coach who reviews requests approves or declines them until they expire.
"""

from datetime import datetime

import pytest

from coaching import rules
from coaching.errors import Forbidden, NotFound, NotPending, ValidationFailed
from coaching.models import Caller, Role, Session, SessionStatus
from tests.builders import (
    CALLERS,
    COACH,
    MEMBER,
    NOW,
    SECOND,
    STAFF,
    STRANGERS,
    hours,
    minutes,
    service,
    session,
    with_status,
)

START = NOW + hours(72)

# --- require_can_book -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "other_member"])
def test_any_member_may_book_a_coachs_service(who: str) -> None:
    rules.require_can_book(CALLERS[who], service(), START, NOW)


@pytest.mark.parametrize("who", ["coach", "other_coach", "support", "admin"])
def test_only_members_book(who: str) -> None:
    with pytest.raises(Forbidden) as raised:
        rules.require_can_book(CALLERS[who], service(), START, NOW)

    assert raised.value.code == "FORBIDDEN"
    assert raised.value.detail == "Only members book sessions."


def test_a_coach_cannot_book_their_own_service_with_a_member_token() -> None:
    # Given the coach signed in with a member role
    coach_as_member = Caller(id=COACH.id, role=Role.MEMBER)

    with pytest.raises(Forbidden) as raised:
        rules.require_can_book(coach_as_member, service(coach=COACH), START, NOW)

    assert raised.value.detail == "A coach cannot book their own service."


def test_the_role_is_checked_before_the_time() -> None:
    with pytest.raises(Forbidden):
        rules.require_can_book(CALLERS["coach"], service(), NOW - hours(1), NOW)


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (START + minutes(10), "must fall on a 15-minute boundary (for example 10:00 or 10:15)"),
        (START + SECOND, "must fall on a 15-minute boundary (for example 10:00 or 10:15)"),
        (NOW, "must be in the future"),
        (NOW - hours(1), "must be in the future"),
    ],
    ids=["misaligned", "one-second-off", "now", "past"],
)
def test_a_booking_must_start_on_a_future_quarter_hour(start: datetime, message: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.require_can_book(MEMBER, service(), start, NOW)

    assert [(e.field, e.message) for e in raised.value.errors] == [("start", message)]


def test_the_next_quarter_hour_can_be_booked() -> None:
    rules.require_can_book(MEMBER, service(), NOW + minutes(15), NOW)


# --- booking_status ---------------------------------------------------------------------------


def test_a_coach_who_reviews_requests_gets_a_request() -> None:
    assert rules.booking_status(service(requires_approval=True)) is SessionStatus.REQUESTED


def test_a_coach_who_does_not_review_requests_gets_a_scheduled_session() -> None:
    assert rules.booking_status(service(requires_approval=False)) is SessionStatus.SCHEDULED


# --- require_pending_booking ------------------------------------------------------------------


def request(expires_at: datetime | None = None) -> Session:
    """A booking request three days out, waiting for the coach until ``expires_at`` (a day)."""
    deadline = expires_at or NOW + hours(24)
    return session(status=SessionStatus.REQUESTED, start=START, request_expires_at=deadline)


@pytest.mark.parametrize("who", STAFF)
def test_the_coach_and_support_may_answer_a_waiting_booking_request(who: str) -> None:
    rules.require_pending_booking(CALLERS[who], request(), NOW)


def test_the_member_cannot_approve_their_own_booking_request() -> None:
    with pytest.raises(Forbidden) as raised:
        rules.require_pending_booking(MEMBER, request(), NOW)

    assert "booking request" in raised.value.detail


@pytest.mark.parametrize("who", STRANGERS)
def test_strangers_cannot_answer_a_booking_request_nor_learn_of_it(who: str) -> None:
    with pytest.raises(NotFound):
        rules.require_pending_booking(CALLERS[who], request(), NOW)


def test_a_booking_request_can_be_answered_until_the_second_before_it_expires() -> None:
    waiting = request(expires_at=NOW + hours(24))

    last_second = NOW + hours(24) - SECOND
    rules.require_pending_booking(COACH, waiting, last_second)
    with pytest.raises(NotPending) as raised:
        rules.require_pending_booking(COACH, waiting, NOW + hours(24))

    assert raised.value.code == "NOT_PENDING"
    assert raised.value.status == 409


@pytest.mark.parametrize(
    "status",
    [
        SessionStatus.SCHEDULED,
        SessionStatus.CANCELED,
        SessionStatus.COMPLETED,
        SessionStatus.DECLINED,
        SessionStatus.EXPIRED,
    ],
)
def test_only_a_requested_booking_can_be_answered(status: SessionStatus) -> None:
    # Given a request that was already approved, withdrawn, declined or expired
    answered = with_status(request(), status)

    # When the coach answers it (again)
    with pytest.raises(NotPending):
        rules.require_pending_booking(COACH, answered, NOW)


def test_a_request_without_a_deadline_is_not_waiting_for_an_answer() -> None:
    broken = request().model_copy(update={"request_expires_at": None})

    with pytest.raises(NotPending):
        rules.require_pending_booking(COACH, broken, NOW)
