"""Booking and cancelling through the policy layer against moto."""

from datetime import timedelta

import pytest

from coaching import operations
from coaching.errors import InsufficientCredits, SessionNotUpcoming, SlotTaken
from coaching.models import EntryKind, RefundStatus, SessionStatus, personal_account_id
from tests.builders import World, coach, member


def test_booking_debits_the_account_and_claims_the_slot(world: World) -> None:
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 10)

    session = world.book(alice, service)

    account = personal_account_id(alice.id)
    assert session.status is SessionStatus.SCHEDULED
    assert world.balance(account) == 7
    assert [e.kind for e in world.entries(account)] == [EntryKind.DEBIT, EntryKind.GRANT]
    assert world.store.slot_holder(service.coach_id, session.start) == session.id
    world.assert_ledger_consistent(account)


def test_a_taken_slot_is_refused_and_nothing_moves(world: World) -> None:
    alice, bob = member(), member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    world.fund(bob, 10)
    world.book(alice, service)

    with pytest.raises(SlotTaken):
        world.book(bob, service)

    assert world.balance(personal_account_id(bob.id)) == 10
    world.assert_ledger_consistent(personal_account_id(bob.id))


def test_booking_without_enough_credits_is_refused(world: World) -> None:
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 2)

    with pytest.raises(InsufficientCredits):
        world.book(alice, service)

    assert world.balance(personal_account_id(alice.id)) == 2


def test_cancel_inside_the_window_refunds_in_the_same_step(world: World) -> None:
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    canceled = operations.cancel(world.store, alice, session.id, "Sick", world.now)

    assert canceled.status is SessionStatus.CANCELED
    assert canceled.cancellation is not None and canceled.cancellation.refundable
    assert canceled.refund.status is RefundStatus.AUTOMATIC
    assert canceled.refund.credits == 3
    assert world.balance(personal_account_id(alice.id)) == 10
    assert world.store.slot_holder(service.coach_id, session.start) is None
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_cancel_outside_the_window_keeps_the_credits_spent(world: World) -> None:
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=5)

    canceled = operations.cancel(world.store, alice, session.id, None, world.now)

    assert canceled.cancellation is not None and not canceled.cancellation.refundable
    assert canceled.refund.status is RefundStatus.NONE
    assert world.balance(personal_account_id(alice.id)) == 7


def test_a_second_cancel_is_refused_and_refunds_nothing(world: World) -> None:
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service)
    operations.cancel(world.store, alice, session.id, None, world.now)

    with pytest.raises(SessionNotUpcoming):
        operations.cancel(world.store, alice, session.id, None, world.now + timedelta(seconds=1))

    assert world.balance(personal_account_id(alice.id)) == 10
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_the_coach_can_book_the_freed_slot_again(world: World) -> None:
    alice, bob = member(), member()
    service = world.service(by=coach(), credits=3)
    world.fund(alice, 10)
    world.fund(bob, 10)
    first = world.book(alice, service)
    operations.cancel(world.store, alice, first.id, None, world.now)

    second = world.book(bob, service)

    assert second.start == first.start
