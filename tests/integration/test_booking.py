"""Booking through the policy layer against moto: the debit, the slot, and what is refused."""

import pytest

from coaching.errors import InsufficientCredits, SlotTaken
from coaching.models import EntryKind, SessionStatus, personal_account_id
from tests.builders import World, member


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
