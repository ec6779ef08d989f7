"""Cancelling through the policy layer against moto: the refund in the same step, or none."""

from datetime import timedelta

import pytest

from coaching import operations
from coaching.errors import SessionNotUpcoming
from coaching.models import RefundStatus, SessionStatus, personal_account_id
from tests.builders import World, coach, member


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
