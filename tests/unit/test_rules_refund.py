"""Refund: the coach of a session or support gives back credits that did not come back on their
own, in full or in part, never more than was paid and never the same credit twice. A session that
is still upcoming is canceled, not refunded.
"""

import pytest

from coaching import rules
from coaching.errors import (
    Forbidden,
    NotFound,
    NothingToRefund,
    SessionStillUpcoming,
    ValidationFailed,
)
from coaching.models import RefundStatus, Session, SessionStatus
from tests.builders import (
    CALLERS,
    COACH,
    MEMBER,
    NOW,
    SECOND,
    STAFF,
    STRANGERS,
    SUPPORT,
    canceled,
    hours,
    refunded,
    session,
    with_status,
)


def late_cancel(credits: int = 3) -> Session:
    """A session the member canceled two hours before its start, inside the 24-hour window:
    non-refundable, so every credit is still spent. Its start is still ahead of NOW."""
    booked = session(start=NOW + hours(1), credits=credits)
    return canceled(booked, at=NOW - hours(1), by=MEMBER, refunded=False)


def completed(credits: int = 3) -> Session:
    return with_status(session(start=NOW - hours(26), credits=credits), SessionStatus.COMPLETED)


# --- who ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", STAFF)
def test_the_coach_or_support_refund_a_late_cancel_in_full_by_default(who: str) -> None:
    decision = rules.plan_refund(CALLERS[who], late_cancel(credits=3), None, NOW)

    assert decision == rules.RefundDecision(credits=3, status=RefundStatus.EXCEPTION)


def test_the_member_may_not_refund_their_own_session() -> None:
    with pytest.raises(Forbidden) as raised:
        rules.plan_refund(MEMBER, late_cancel(), None, NOW)

    assert raised.value.code == "FORBIDDEN"
    assert "refund a session" in raised.value.detail


@pytest.mark.parametrize("who", STRANGERS)
def test_strangers_cannot_refund_and_are_not_told_the_session_exists(who: str) -> None:
    with pytest.raises(NotFound):
        rules.plan_refund(CALLERS[who], late_cancel(), None, NOW)


def test_a_coach_cannot_refund_a_session_they_did_not_coach() -> None:
    with pytest.raises(NotFound):
        rules.plan_refund(CALLERS["other_coach"], completed(), 1, NOW)


# --- how much ---------------------------------------------------------------------------------


def test_a_partial_refund_gives_back_what_was_asked() -> None:
    decision = rules.plan_refund(COACH, completed(credits=3), 1, NOW)

    assert decision == rules.RefundDecision(credits=1, status=RefundStatus.PARTIAL)


def test_a_refund_of_exactly_what_was_paid_is_a_full_exception() -> None:
    decision = rules.plan_refund(SUPPORT, completed(credits=3), 3, NOW)

    assert decision == rules.RefundDecision(credits=3, status=RefundStatus.EXCEPTION)


def test_after_a_partial_refund_the_default_is_what_is_left() -> None:
    # Given a completed 5-credit session of which the coach already gave back 2
    once = refunded(completed(credits=5), 2, RefundStatus.PARTIAL, NOW - hours(1))

    # When support refunds it without naming an amount
    decision = rules.plan_refund(SUPPORT, once, None, NOW)

    # Then the remaining 3 go back and the session is now refunded in full
    assert decision == rules.RefundDecision(credits=3, status=RefundStatus.EXCEPTION)


def test_a_second_partial_refund_that_leaves_credits_stays_partial() -> None:
    once = refunded(completed(credits=5), 2, RefundStatus.PARTIAL, NOW - hours(1))

    decision = rules.plan_refund(COACH, once, 2, NOW)

    assert decision == rules.RefundDecision(credits=2, status=RefundStatus.PARTIAL)


@pytest.mark.parametrize(
    ("already", "asked", "left"),
    [(0, 4, "3 credits"), (0, 100, "3 credits"), (2, 2, "1 credit")],
    ids=["one-more-than-paid", "far-more-than-paid", "more-than-left"],
)
def test_never_more_than_what_is_still_unrefunded(already: int, asked: int, left: str) -> None:
    booked = completed(credits=3)
    if already:
        booked = refunded(booked, already, RefundStatus.PARTIAL, NOW - hours(1))

    with pytest.raises(ValidationFailed) as raised:
        rules.plan_refund(COACH, booked, asked, NOW)

    assert raised.value.code == "VALIDATION_FAILED"
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("credits", f"is more than the {left} not yet refunded")
    ]


@pytest.mark.parametrize("asked", [0, -1, -3])
def test_a_refund_must_give_back_at_least_one_credit(asked: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        rules.plan_refund(COACH, completed(credits=3), asked, NOW)

    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("credits", "must be at least 1")
    ]


def test_a_session_refunded_automatically_on_cancel_has_nothing_left_to_refund() -> None:
    # Given a session canceled inside the free window, so all 3 credits came back on their own
    gone = canceled(session(start=NOW + hours(72)), at=NOW - hours(1), refunded=True)

    # When the coach tries to refund it as well
    with pytest.raises(NothingToRefund) as raised:
        rules.plan_refund(COACH, gone, None, NOW)

    # Then no credit moves twice
    assert raised.value.code == "NOTHING_TO_REFUND"
    assert raised.value.status == 409


def test_a_session_refunded_in_full_by_exception_cannot_be_refunded_again() -> None:
    done = refunded(completed(credits=3), 3, RefundStatus.EXCEPTION, NOW - hours(1))

    with pytest.raises(NothingToRefund):
        rules.plan_refund(SUPPORT, done, 1, NOW)


@pytest.mark.parametrize("status", [SessionStatus.DECLINED, SessionStatus.EXPIRED])
def test_a_request_whose_held_credits_were_released_has_nothing_to_refund(
    status: SessionStatus,
) -> None:
    released = refunded(
        with_status(session(start=NOW + hours(72)), status),
        3,
        RefundStatus.AUTOMATIC,
        NOW - hours(1),
    )

    with pytest.raises(NothingToRefund):
        rules.plan_refund(COACH, released, None, NOW)


# --- when -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", STAFF)
@pytest.mark.parametrize("status", [SessionStatus.SCHEDULED, SessionStatus.REQUESTED])
def test_an_upcoming_session_is_canceled_not_refunded(who: str, status: SessionStatus) -> None:
    upcoming = session(status=status, start=NOW + hours(1))

    with pytest.raises(SessionStillUpcoming) as raised:
        rules.plan_refund(CALLERS[who], upcoming, None, NOW)

    assert raised.value.code == "SESSION_STILL_UPCOMING"
    assert raised.value.status == 409


def test_a_session_can_be_refunded_from_the_second_it_ends() -> None:
    booked = session(start=NOW + hours(1), credits=3)

    for still_upcoming in (booked.start - SECOND, booked.start, booked.end - SECOND):
        with pytest.raises(SessionStillUpcoming):
            rules.plan_refund(COACH, booked, None, still_upcoming)
    assert rules.plan_refund(COACH, booked, None, booked.end).credits == 3


def test_a_late_cancel_can_be_refunded_before_its_start() -> None:
    # A canceled session is over, even though its start has not come yet.
    gone = late_cancel(credits=3)
    assert gone.start > NOW

    assert rules.plan_refund(COACH, gone, 2, NOW) == rules.RefundDecision(
        credits=2, status=RefundStatus.PARTIAL
    )


def test_the_member_is_refused_before_being_told_the_session_is_upcoming() -> None:
    # Role first: the member learns they may not refund, not anything about the session's state.
    with pytest.raises(Forbidden):
        rules.plan_refund(MEMBER, session(start=NOW + hours(72)), None, NOW)
