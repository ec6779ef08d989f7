"""The rules added after the first product walk: a move the member did not make keeps their
refund; a reschedule request lapses an hour before the session and the member may withdraw it; a
request past its deadline reads as expired at once; a session in progress is upcoming but can no
longer be changed or refunded.
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
    SessionStillUpcoming,
)
from coaching.models import Session, SessionStatus
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
    reschedule_request,
    session,
    with_status,
)

# --- a move the member did not make -----------------------------------------------------------


@pytest.mark.parametrize("mover", STAFF)
def test_a_move_by_the_coach_or_support_keeps_the_members_refund_until_the_new_start(
    mover: str,
) -> None:
    # Given a session three days out, which the member could cancel with a full refund
    booked = session(start=NOW + hours(72))
    new_start = NOW + hours(10)

    # When the coach (or support) moves it to ten hours from now, inside the 24-hour window
    policy = rules.policy_after_move(booked, new_start, mover, NOW)  # type: ignore[arg-type]
    moved = booked.model_copy(
        update={"start": new_start, "end": new_start + hours(1), "policy": policy}
    )

    # Then the member may still cancel with every credit back, right up to the new start
    assert policy.kept_after_move is True
    assert policy.refundable_until == new_start
    quote = rules.cancellation_quote(moved, new_start - SECOND)
    assert (quote.refundable, quote.refund_credits) == (True, 3)
    assert quote.refundable_until == new_start


def test_the_members_own_move_moves_the_window_with_the_session() -> None:
    booked = session(start=NOW + hours(72))
    new_start = NOW + hours(96)

    policy = rules.policy_after_move(booked, new_start, "member", NOW)

    assert policy.kept_after_move is False
    assert policy.refundable_until == new_start - hours(24)


def test_a_coach_move_gives_back_no_right_the_member_had_already_lost() -> None:
    # Given a session five hours away: a cancel now would not be refunded
    booked = session(start=NOW + hours(5))
    new_start = NOW + hours(8)

    policy = rules.policy_after_move(booked, new_start, "coach", NOW)

    assert policy.kept_after_move is False
    assert policy.refundable_until == new_start - hours(24)
    assert (
        rules.cancellation_quote(booked.model_copy(update={"policy": policy}), NOW).refundable
        is False
    )


def test_a_coach_move_further_out_keeps_the_right_until_the_new_start() -> None:
    # Moving later never shortens what the member had: they may cancel free until it starts
    booked = session(start=NOW + hours(30))
    new_start = NOW + hours(24 * 7)

    policy = rules.policy_after_move(booked, new_start, "support", NOW)

    assert (policy.kept_after_move, policy.refundable_until) == (True, new_start)


# --- a reschedule request ends in time to matter ----------------------------------------------


def test_a_request_waits_its_time_to_live_when_the_session_is_far_away() -> None:
    start = NOW + hours(24 * 5)

    assert rules.reschedule_request_deadline(NOW, 48, start, start + hours(24)) == NOW + hours(48)


def test_a_request_lapses_an_hour_before_the_session_when_that_comes_first() -> None:
    start = NOW + hours(10)

    assert rules.reschedule_request_deadline(NOW, 48, start, start + hours(24)) == start - hours(1)


def test_a_request_to_an_earlier_time_lapses_an_hour_before_that_time() -> None:
    start, earlier = NOW + hours(10), NOW + hours(4)

    assert rules.reschedule_request_deadline(NOW, 48, start, earlier) == earlier - hours(1)


@pytest.mark.parametrize("left", [60, 45, 15])
def test_a_request_that_would_be_born_lapsed_is_refused(left: int) -> None:
    start = NOW + minutes(left)

    with pytest.raises(RescheduleWindowClosed) as raised:
        rules.reschedule_request_deadline(NOW, 48, start, start + hours(24))

    assert raised.value.code == "RESCHEDULE_WINDOW_CLOSED"


def test_an_hour_and_a_second_before_the_session_a_request_still_gets_its_second() -> None:
    start = NOW + hours(1) + SECOND

    assert rules.reschedule_request_deadline(NOW, 48, start, start + hours(24)) == NOW + SECOND


def waiting(*, expires_at: datetime | None = None, start: datetime | None = None) -> Session:
    """A session ten hours away whose member asked an hour ago to move it a day later."""
    start = start or NOW + hours(10)
    return session(
        start=start,
        late_reschedule_requires_approval=True,
        reschedule_request=reschedule_request(
            to=start + hours(24),
            asked_at=NOW - hours(1),
            expires_at=expires_at or start - hours(1),
        ),
    )


# --- the member withdraws their request ----------------------------------------------------------


def test_the_member_may_withdraw_their_waiting_request() -> None:
    rules.require_can_withdraw(MEMBER, waiting(), NOW)


@pytest.mark.parametrize("who", STAFF)
def test_the_coach_and_support_may_not_withdraw_the_members_request(who: str) -> None:
    with pytest.raises(Forbidden):
        rules.require_can_withdraw(CALLERS[who], waiting(), NOW)


@pytest.mark.parametrize("who", STRANGERS)
def test_strangers_do_not_learn_the_session_exists(who: str) -> None:
    with pytest.raises(NotFound):
        rules.require_can_withdraw(CALLERS[who], waiting(), NOW)


def test_there_is_nothing_to_withdraw_without_a_request() -> None:
    with pytest.raises(NotPending) as raised:
        rules.require_can_withdraw(MEMBER, session(start=NOW + hours(10)), NOW)

    assert (raised.value.code, raised.value.status) == ("NOT_PENDING", 409)


def test_a_request_past_its_deadline_can_no_longer_be_withdrawn_or_answered() -> None:
    lapsed = waiting(expires_at=NOW)

    with pytest.raises(NotPending):
        rules.require_can_withdraw(MEMBER, lapsed, NOW)
    with pytest.raises(NotPending):
        rules.require_pending_reschedule(COACH, lapsed, NOW)
    rules.require_can_withdraw(MEMBER, lapsed, NOW - SECOND)


# --- a request past its deadline reads as expired ------------------------------------------------


def test_a_request_past_its_deadline_reads_as_expired_before_the_sweep_comes() -> None:
    deadline = NOW + hours(2)
    asked = waiting(expires_at=deadline)

    before, after = rules.as_read(asked, deadline - SECOND), rules.as_read(asked, deadline)

    assert before == asked
    assert after.reschedule_request is None
    last = after.history[-1]
    assert (last.kind, last.at, last.by) == ("RESCHEDULE_EXPIRED", deadline, None)
    assert last.start == asked.reschedule_request.start  # type: ignore[union-attr]
    # and the sweep agrees that it is due now
    assert rules.sweep_action(asked, deadline) == "EXPIRE_RESCHEDULE"


def test_reading_a_session_without_a_request_changes_nothing() -> None:
    booked = session(start=NOW + hours(10))

    assert rules.as_read(booked, NOW + hours(9)) is booked


# --- a session in progress ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", *STAFF])
def test_a_session_in_progress_is_upcoming_but_cannot_be_canceled_or_moved(who: str) -> None:
    booked = session(start=NOW - minutes(15))

    assert rules.is_upcoming(booked, NOW) is True
    with pytest.raises(SessionNotUpcoming) as canceled:
        rules.plan_cancel(CALLERS[who], booked, NOW)
    with pytest.raises(SessionNotUpcoming):
        rules.plan_reschedule(CALLERS[who], booked, NOW + hours(48), NOW)
    assert (canceled.value.code, canceled.value.status) == ("SESSION_NOT_UPCOMING", 409)


@pytest.mark.parametrize("who", STAFF)
def test_a_session_in_progress_cannot_be_refunded_until_it_ends(who: str) -> None:
    booked = session(start=NOW - minutes(15))

    with pytest.raises(SessionStillUpcoming) as raised:
        rules.plan_refund(CALLERS[who], booked, None, NOW)

    assert (raised.value.code, raised.value.status) == ("SESSION_STILL_UPCOMING", 409)
    assert rules.plan_refund(CALLERS[who], booked, None, booked.end).credits == 3


def test_a_quote_during_the_session_offers_nothing_back() -> None:
    quote = rules.cancellation_quote(session(start=NOW - minutes(15)), NOW)

    assert (quote.refundable, quote.refund_credits) == (False, 0)


def test_a_canceled_session_whose_time_is_now_is_past_not_in_progress() -> None:
    gone = with_status(session(start=NOW - minutes(15)), SessionStatus.CANCELED)

    assert rules.is_upcoming(gone, NOW) is False
