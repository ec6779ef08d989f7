"""Cancel: any upcoming session, by its member, its coach or support. Inside the free window (at
least the window's hours before the start) the credits come back; outside it they stay spent.
A booking request nobody accepted always gives its held credits back.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from coaching import rules
from coaching.errors import NotFound, QuoteChanged, SessionNotUpcoming
from coaching.models import EntryKind, SessionStatus
from tests.builders import (
    CALLERS,
    NOW,
    SECOND,
    STRANGERS,
    VISIBLE,
    canceled,
    hours,
    session,
    with_status,
)

NEW_YORK = ZoneInfo("America/New_York")

# --- cancellation_quote: the confirmation dialog's facts -------------------------------------


@pytest.mark.parametrize("window", [2, 24, 48])
def test_a_cancel_exactly_at_the_window_is_refunded_in_full(window: int) -> None:
    # Given a 3-credit session three days out with a window of `window` hours
    booked = session(start=NOW + hours(72), credits=3, window_hours=window)

    # When the cancel comes exactly `window` hours before the start
    quote = rules.cancellation_quote(booked, booked.start - hours(window))

    # Then every credit comes back to the account, as a refund
    assert quote == rules.CancellationQuote(
        refundable=True,
        refund_credits=3,
        refund_percent=100,
        refundable_until=booked.start - hours(window),
        window_hours=window,
        entry_kind=EntryKind.REFUND,
    )


@pytest.mark.parametrize("window", [2, 24, 48])
def test_a_cancel_one_second_inside_the_window_is_not_refunded(window: int) -> None:
    booked = session(start=NOW + hours(72), credits=3, window_hours=window)

    quote = rules.cancellation_quote(booked, booked.start - hours(window) + SECOND)

    assert quote.refundable is False
    assert quote.refund_credits == 0
    # The dialog can still say until when it would have been free.
    assert quote.refundable_until == booked.start - hours(window)
    assert quote.window_hours == window
    assert quote.entry_kind is EntryKind.REFUND


def test_a_cancel_long_before_the_window_is_refunded() -> None:
    booked = session(start=NOW + hours(24 * 14), credits=5)

    quote = rules.cancellation_quote(booked, NOW)

    assert (quote.refundable, quote.refund_credits) == (True, 5)


def test_with_no_window_a_cancel_up_to_the_last_second_is_refunded() -> None:
    # Given a service without a cancellation window
    booked = session(start=NOW + hours(3), credits=2, window_hours=0)

    # When the member cancels one second before the start
    quote = rules.plan_cancel(CALLERS["member"], booked, booked.start - SECOND)

    # Then the credits come back
    assert (quote.refundable, quote.refund_credits, quote.window_hours) == (True, 2, 0)
    assert quote.refundable_until == booked.start

    # And at the start itself there is nothing left to cancel
    with pytest.raises(SessionNotUpcoming):
        rules.plan_cancel(CALLERS["member"], booked, booked.start)


def test_a_booking_request_releases_its_held_credits_even_inside_the_window() -> None:
    # Given a booking request for one hour from now, with a 24-hour window the coach never approved
    request = session(
        status=SessionStatus.REQUESTED,
        start=NOW + hours(1),
        credits=4,
        request_expires_at=NOW + hours(1),
    )
    assert not rules.inside_free_window(request, NOW)

    # When the member withdraws it
    quote = rules.cancellation_quote(request, NOW)

    # Then all the held credits go back, as a release rather than a refund
    assert quote.refundable is True
    assert quote.refund_credits == 4
    assert quote.entry_kind is EntryKind.RELEASE
    assert quote.window_hours == 24
    assert quote.refundable_until == request.start - hours(24)


def test_a_booking_request_inside_the_free_window_is_also_a_release() -> None:
    request = session(status=SessionStatus.REQUESTED, start=NOW + hours(72), credits=3)

    quote = rules.cancellation_quote(request, NOW)

    assert (quote.refundable, quote.refund_credits, quote.entry_kind) == (
        True,
        3,
        EntryKind.RELEASE,
    )


def test_a_spring_forward_cancel_at_the_same_clock_time_the_day_before_is_not_refunded() -> None:
    # Given a session at 10:00 New York time on the Sunday the clocks spring forward
    booked = session(start=datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK), credits=3)

    # When the member cancels at 09:00 on Saturday by their clock: exactly 24 hours before
    at_nine = rules.cancellation_quote(booked, datetime(2026, 3, 7, 9, 0, tzinfo=NEW_YORK))
    # ...or at 10:00 on Saturday: the same clock time, but only 23 hours before
    at_ten = rules.cancellation_quote(booked, datetime(2026, 3, 7, 10, 0, tzinfo=NEW_YORK))

    # Then the first is refunded and the second is not
    assert (at_nine.refundable, at_nine.refund_credits) == (True, 3)
    assert (at_ten.refundable, at_ten.refund_credits) == (False, 0)
    assert at_nine.refundable_until.astimezone(NEW_YORK) == datetime(
        2026, 3, 7, 9, 0, tzinfo=NEW_YORK
    )


# --- plan_cancel: who, and when ----------------------------------------------------------------


@pytest.mark.parametrize("who", VISIBLE)
def test_member_coach_and_support_may_cancel_inside_the_window_with_a_refund(who: str) -> None:
    booked = session(start=NOW + hours(72), credits=3)

    quote = rules.plan_cancel(CALLERS[who], booked, NOW)

    assert (quote.refundable, quote.refund_credits, quote.entry_kind) == (
        True,
        3,
        EntryKind.REFUND,
    )


@pytest.mark.parametrize("who", VISIBLE)
def test_the_same_rule_holds_whoever_cancels_late(who: str) -> None:
    # Given a session two hours out, inside its 24-hour window
    booked = session(start=NOW + hours(2), credits=3)

    # When anyone who may cancel does, the cancel goes through without a refund
    quote = rules.plan_cancel(CALLERS[who], booked, NOW)

    assert (quote.refundable, quote.refund_credits) == (False, 0)


@pytest.mark.parametrize("who", VISIBLE)
def test_a_booking_request_may_be_withdrawn_by_anyone_it_concerns(who: str) -> None:
    request = session(status=SessionStatus.REQUESTED, start=NOW + hours(72))

    quote = rules.plan_cancel(CALLERS[who], request, NOW)

    assert quote.entry_kind is EntryKind.RELEASE


@pytest.mark.parametrize("who", STRANGERS)
def test_a_stranger_cannot_cancel_and_is_not_told_the_session_exists(who: str) -> None:
    with pytest.raises(NotFound):
        rules.plan_cancel(CALLERS[who], session(), NOW)


@pytest.mark.parametrize("who", STRANGERS)
def test_a_stranger_gets_404_even_for_a_session_that_is_over(who: str) -> None:
    # Visibility is checked before state, so "already canceled" leaks nothing either.
    over = canceled(session(), at=NOW - hours(1), refunded=True)

    with pytest.raises(NotFound):
        rules.plan_cancel(CALLERS[who], over, NOW)


@pytest.mark.parametrize("who", VISIBLE)
@pytest.mark.parametrize(
    "status",
    [
        SessionStatus.CANCELED,
        SessionStatus.COMPLETED,
        SessionStatus.DECLINED,
        SessionStatus.EXPIRED,
    ],
)
def test_a_session_that_is_over_cannot_be_canceled(who: str, status: SessionStatus) -> None:
    # Given a session still days away on the calendar but no longer active
    over = with_status(session(start=NOW + hours(72)), status)

    # When someone it concerns tries to cancel it
    with pytest.raises(SessionNotUpcoming) as raised:
        rules.plan_cancel(CALLERS[who], over, NOW)

    # Then the answer is 409 SESSION_NOT_UPCOMING
    assert raised.value.code == "SESSION_NOT_UPCOMING"
    assert raised.value.status == 409


def test_a_canceled_session_cannot_be_canceled_twice() -> None:
    # Given a session the member canceled with a refund a minute ago
    booked = session(start=NOW + hours(72))
    once = canceled(booked, at=NOW - hours(0.1), refunded=True)

    # When the coach cancels it too, nothing more comes back
    with pytest.raises(SessionNotUpcoming):
        rules.plan_cancel(CALLERS["coach"], once, NOW)


@pytest.mark.parametrize("who", VISIBLE)
def test_a_session_that_has_started_cannot_be_canceled(who: str) -> None:
    booked = session(start=NOW - hours(0.25))

    with pytest.raises(SessionNotUpcoming):
        rules.plan_cancel(CALLERS[who], booked, NOW)


def test_a_session_cannot_be_canceled_at_the_second_it_starts() -> None:
    booked = session(start=NOW + hours(5))

    assert rules.plan_cancel(CALLERS["member"], booked, booked.start - SECOND).refundable is False
    with pytest.raises(SessionNotUpcoming):
        rules.plan_cancel(CALLERS["member"], booked, booked.start)


# --- the quote the person confirmed ----------------------------------------------------------


@pytest.mark.parametrize(("expected", "hours_ahead"), [(3, 72), (0, 2)])
def test_a_cancel_that_names_the_refund_still_quoted_goes_through(
    expected: int, hours_ahead: float
) -> None:
    booked = session(start=NOW + hours(hours_ahead), credits=3)

    quote = rules.plan_cancel(CALLERS["member"], booked, NOW, None, expected)

    assert quote.refund_credits == expected


def test_a_window_that_closed_between_the_quote_and_the_confirmation_refuses_the_cancel() -> None:
    # Given the dialog quoted 3 credits back a second before the window closed
    booked = session(start=NOW + hours(72), credits=3, window_hours=24)
    quoted_at = booked.start - hours(24)
    assert rules.cancellation_quote(booked, quoted_at).refund_credits == 3

    # When the member confirms one second after it closed
    with pytest.raises(QuoteChanged) as raised:
        rules.plan_cancel(CALLERS["member"], booked, quoted_at + SECOND, None, 3)

    # Then the cancel is refused with the new amount in words, rather than not refunded
    assert (raised.value.code, raised.value.status) == ("QUOTE_CHANGED", 409)
    assert raised.value.detail == (
        "The refund has changed since it was quoted: canceling now gives back 0 credits, not 3."
    )


def test_a_quote_that_grew_is_refused_too_so_the_person_sees_what_they_confirm() -> None:
    booked = session(start=NOW + hours(72), credits=3)

    with pytest.raises(QuoteChanged):
        rules.plan_cancel(CALLERS["coach"], booked, NOW, None, 0)


def test_asking_again_after_a_refunded_cancel_promises_nothing_more() -> None:
    # Given a session canceled inside the free window, its 3 credits already back
    gone = canceled(session(start=NOW + hours(72), credits=3), at=NOW - hours(1), refunded=True)

    # When a client asks for a quote on it all the same
    quote = rules.cancellation_quote(gone, NOW)

    # Then no credit is promised a second time
    assert quote.refund_credits == 0
