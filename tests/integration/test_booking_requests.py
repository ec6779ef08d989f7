"""Booking requests the coach answers: approved, declined, withdrawn, or answered too late."""

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from coaching import operations
from coaching.errors import Forbidden, NotFound, NotPending
from coaching.models import (
    EntryKind,
    RefundStatus,
    SessionStatus,
    personal_account_id,
)
from tests.builders import World, coach, member, requested_booking, support
from tests.integration.steps import free, held_by, reschedule, stored

if TYPE_CHECKING:
    pass

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


# --- booking requests -----------------------------------------------------------------------


def test_a_booking_with_a_reviewing_coach_waits_with_credits_held(world: World) -> None:
    # When Alice books a coach who reviews requests first
    alice, _, _, session = requested_booking(world, in_hours=72, ttl_hours=48)

    # Then the session waits as a request, its time held and its credits debited
    assert session.status is SessionStatus.REQUESTED
    assert session.request_expires_at == world.now + 48 * HOUR
    assert session.history[-1].kind == "REQUESTED"
    assert held_by(world, session, session.start, session.end)
    account = personal_account_id(alice.id)
    assert world.balance(account) == 7
    debit = world.entries(account)[0]
    assert (debit.kind, debit.credits, debit.session_id) == (EntryKind.DEBIT, -3, session.id)
    world.assert_ledger_consistent(account)
    assert stored(world, session.id) == session


def test_a_request_never_waits_past_the_start(world: World) -> None:
    _, _, _, session = requested_booking(world, in_hours=10, ttl_hours=48)

    assert session.request_expires_at == session.start


def test_the_coach_approves_a_request(world: World) -> None:
    alice, the_coach, _, session = requested_booking(world)

    approved = operations.answer_booking(world.store, the_coach, session.id, True, world.now + HOUR)

    assert approved.status is SessionStatus.SCHEDULED
    assert approved.request_expires_at is None
    assert approved.history[-1].kind == "APPROVED"
    assert approved.history[-1].by == the_coach.actor
    assert held_by(world, approved, session.start, session.end)
    assert world.balance(personal_account_id(alice.id)) == 7
    assert len(world.entries(personal_account_id(alice.id))) == 2
    world.assert_ledger_consistent(personal_account_id(alice.id))
    assert stored(world, session.id) == approved


def test_support_approves_a_request(world: World) -> None:
    _, _, _, session = requested_booking(world)

    approved = operations.answer_booking(world.store, support(), session.id, True, world.now)

    assert approved.status is SessionStatus.SCHEDULED


def test_the_coach_declines_a_request_and_the_credits_come_back(world: World) -> None:
    alice, the_coach, service, session = requested_booking(world, credits=3)
    later = world.now + HOUR

    declined = operations.answer_booking(world.store, the_coach, session.id, False, later)

    assert declined.status is SessionStatus.DECLINED
    assert declined.request_expires_at is None
    assert declined.refund.status is RefundStatus.AUTOMATIC
    assert declined.refund.credits == 3
    assert declined.history[-1].kind == "DECLINED"
    assert free(world, service.coach_id, session.start, session.end)
    account = personal_account_id(alice.id)
    assert world.balance(account) == 10
    release = world.entries(account)[0]
    assert (release.kind, release.credits, release.session_id) == (
        EntryKind.RELEASE,
        3,
        session.id,
    )
    assert release.actor == the_coach.actor
    assert release.at == later
    world.assert_ledger_consistent(account)


@pytest.mark.parametrize("approve", [True, False])
def test_an_expired_request_cannot_be_answered(world: World, approve: bool) -> None:
    alice, the_coach, _, session = requested_booking(world, ttl_hours=48)
    assert session.request_expires_at is not None

    with pytest.raises(NotPending):
        operations.answer_booking(
            world.store, the_coach, session.id, approve, session.request_expires_at
        )

    assert stored(world, session.id) == session
    assert world.balance(personal_account_id(alice.id)) == 7


def test_a_request_can_be_answered_up_to_the_second_before_it_expires(world: World) -> None:
    _, the_coach, _, session = requested_booking(world, ttl_hours=48)
    assert session.request_expires_at is not None
    last_second = session.request_expires_at - timedelta(seconds=1)

    approved = operations.answer_booking(world.store, the_coach, session.id, True, last_second)

    assert approved.status is SessionStatus.SCHEDULED


@pytest.mark.parametrize("approve", [True, False])
def test_a_scheduled_session_is_not_a_request(world: World, approve: bool) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach)
    world.fund(alice, 10)
    session = world.book(alice, service)

    with pytest.raises(NotPending):
        operations.answer_booking(world.store, the_coach, session.id, approve, world.now)

    assert stored(world, session.id) == session


def test_a_request_cannot_be_answered_twice(world: World) -> None:
    alice, the_coach, _, session = requested_booking(world)
    operations.answer_booking(world.store, the_coach, session.id, False, world.now)

    with pytest.raises(NotPending):
        operations.answer_booking(world.store, the_coach, session.id, False, world.now)

    assert world.balance(personal_account_id(alice.id)) == 10
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_the_member_cannot_approve_her_own_request(world: World) -> None:
    alice, _, _, session = requested_booking(world)

    with pytest.raises(Forbidden):
        operations.answer_booking(world.store, alice, session.id, True, world.now)

    assert stored(world, session.id) == session


def test_another_coach_does_not_see_the_request(world: World) -> None:
    _, _, _, session = requested_booking(world)

    with pytest.raises(NotFound):
        operations.answer_booking(world.store, coach(), session.id, True, world.now)


@pytest.mark.parametrize("hours_before_start", [72, 5, 1])
def test_the_member_withdraws_a_request_and_always_gets_her_credits_back(
    world: World, hours_before_start: int
) -> None:
    # Given a request whose start is near enough that a confirmed session would not be refunded
    alice, _, service, session = requested_booking(world, in_hours=72, credits=3)
    now = session.start - hours_before_start * HOUR
    quote = operations.quote_cancellation(world.store, alice, session.id, now)
    assert quote.refundable and quote.refund_credits == 3

    # When she cancels it
    canceled = operations.cancel(world.store, alice, session.id, None, now)

    # Then the held credits are released whatever the window
    assert canceled.status is SessionStatus.CANCELED
    assert canceled.cancellation is not None and canceled.cancellation.refundable
    assert canceled.refund.status is RefundStatus.AUTOMATIC
    account = personal_account_id(alice.id)
    assert world.balance(account) == 10
    assert world.entries(account)[0].kind is EntryKind.RELEASE
    assert free(world, service.coach_id, session.start, session.end)
    world.assert_ledger_consistent(account)


def test_moving_a_request_earlier_pulls_its_deadline_in(world: World) -> None:
    # Given a request three days out that would wait 48 hours for the coach
    alice, the_coach, _, session = requested_booking(world, in_hours=72, ttl_hours=48)
    new_start = world.now + 30 * HOUR

    # When Alice moves it to 30 hours from now, before that deadline
    reschedule(world, alice, session, new_start, world.now)

    # Then the coach cannot approve it after its new start
    with pytest.raises(NotPending):
        operations.answer_booking(world.store, the_coach, session.id, True, new_start + HOUR)
    # and the request expires at its new start, releasing the held credits
    assert operations.sweep_session(world.store, stored(world, session.id), new_start) == (
        "EXPIRE_BOOKING"
    )
    assert stored(world, session.id).status is SessionStatus.EXPIRED
    assert world.balance(personal_account_id(alice.id)) == 10
    world.assert_ledger_consistent(personal_account_id(alice.id))
