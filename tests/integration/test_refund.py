"""Refunds: the coach's or support's exception, full or partial, always to the paying account."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from coaching import operations
from coaching.errors import (
    Forbidden,
    NotFound,
    NothingToRefund,
    SessionStillUpcoming,
    ValidationFailed,
)
from coaching.models import (
    Caller,
    EntryKind,
    RefundStatus,
    Service,
    Session,
    SessionStatus,
    personal_account_id,
)
from tests.builders import World, admin, coach, member, support
from tests.integration.steps import stored

HOUR = timedelta(hours=1)


def _late_cancel(world: World, credits: int = 3) -> tuple[Caller, Caller, Service, Session]:
    """Alice canceled five hours before the start, inside the 24-hour window: nothing came back."""
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, credits=credits, window_hours=24)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=5)
    canceled = operations.cancel(world.store, alice, session.id, "Sick", world.now)
    assert canceled.refund.status is RefundStatus.NONE
    assert world.balance(personal_account_id(alice.id)) == 10 - credits
    return alice, the_coach, service, canceled


def test_the_coach_refunds_a_late_cancel_in_full(world: World) -> None:
    # Given Alice's late cancel kept her 3 credits spent
    alice, the_coach, _, session = _late_cancel(world, credits=3)
    later = world.now + HOUR

    # When the coach refunds without naming an amount
    refunded = operations.refund(world.store, the_coach, session.id, None, "Get well", later)

    # Then every credit goes back, as an exception, to the account she booked from
    assert refunded.status is SessionStatus.CANCELED
    assert refunded.refund.status is RefundStatus.EXCEPTION
    assert refunded.refund.credits == 3
    assert refunded.refund.refunded_at == later
    assert refunded.refundable_credits == 0
    assert refunded.history[-1].kind == "REFUNDED"
    assert refunded.history[-1].credits == 3
    assert refunded.history[-1].by == the_coach.actor
    account = personal_account_id(alice.id)
    assert world.balance(account) == 10
    newest = world.entries(account)[0]
    assert newest.kind is EntryKind.REFUND
    assert newest.credits == 3
    assert newest.session_id == session.id
    assert newest.actor == the_coach.actor
    assert newest.note == "Get well"
    assert newest.at == later
    world.assert_ledger_consistent(account)
    assert stored(world, session.id) == refunded


def test_a_partial_refund_then_the_rest(world: World) -> None:
    alice, the_coach, _, session = _late_cancel(world, credits=5)
    account = personal_account_id(alice.id)

    part = operations.refund(world.store, the_coach, session.id, 2, None, world.now + HOUR)

    assert part.refund.status is RefundStatus.PARTIAL
    assert part.refund.credits == 2
    assert part.refundable_credits == 3
    assert world.balance(account) == 7
    world.assert_ledger_consistent(account)

    rest = operations.refund(world.store, the_coach, session.id, None, None, world.now + 2 * HOUR)

    assert rest.refund.status is RefundStatus.EXCEPTION
    assert rest.refund.credits == 5
    assert rest.refundable_credits == 0
    assert world.balance(account) == 10
    assert [(e.kind, e.credits) for e in world.entries(account)[:2]] == [
        (EntryKind.REFUND, 3),
        (EntryKind.REFUND, 2),
    ]
    world.assert_ledger_consistent(account)


def test_partial_refunds_that_add_up_to_the_price_are_a_full_exception(world: World) -> None:
    alice, the_coach, _, session = _late_cancel(world, credits=4)

    operations.refund(world.store, the_coach, session.id, 1, None, world.now + HOUR)
    last = operations.refund(world.store, the_coach, session.id, 3, None, world.now + HOUR)

    assert last.refund.status is RefundStatus.EXCEPTION
    assert world.balance(personal_account_id(alice.id)) == 10


@pytest.mark.parametrize("asked", [4, 100])
def test_a_refund_above_what_remains_is_refused(world: World, asked: int) -> None:
    alice, the_coach, _, session = _late_cancel(world, credits=5)
    part = operations.refund(world.store, the_coach, session.id, 2, None, world.now + HOUR)

    with pytest.raises(ValidationFailed) as refused:
        operations.refund(world.store, the_coach, session.id, asked, None, world.now + HOUR)

    assert [e.field for e in refused.value.errors] == ["credits"]
    assert stored(world, session.id) == part
    assert world.balance(personal_account_id(alice.id)) == 7
    world.assert_ledger_consistent(personal_account_id(alice.id))


@pytest.mark.parametrize("asked", [0, -1])
def test_a_refund_of_less_than_one_credit_is_refused(world: World, asked: int) -> None:
    alice, the_coach, _, session = _late_cancel(world, credits=3)

    with pytest.raises(ValidationFailed):
        operations.refund(world.store, the_coach, session.id, asked, None, world.now + HOUR)

    assert stored(world, session.id) == session
    assert world.balance(personal_account_id(alice.id)) == 7


def test_nothing_left_after_a_full_refund(world: World) -> None:
    alice, the_coach, _, session = _late_cancel(world)
    refunded = operations.refund(world.store, the_coach, session.id, None, None, world.now)

    with pytest.raises(NothingToRefund):
        operations.refund(world.store, the_coach, session.id, None, None, world.now + HOUR)
    with pytest.raises(NothingToRefund):
        operations.refund(world.store, support(), session.id, 1, None, world.now + HOUR)

    assert stored(world, session.id) == refunded
    assert world.balance(personal_account_id(alice.id)) == 10
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_nothing_left_after_an_automatic_refund(world: World) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    operations.cancel(world.store, alice, session.id, None, world.now)

    with pytest.raises(NothingToRefund):
        operations.refund(world.store, the_coach, session.id, None, None, world.now)

    assert world.balance(personal_account_id(alice.id)) == 10
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_nothing_to_refund_on_a_declined_request(world: World) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, credits=3, requires_approval=True)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    operations.answer_booking(world.store, the_coach, session.id, False, world.now)

    with pytest.raises(NothingToRefund):
        operations.refund(world.store, the_coach, session.id, None, None, world.now)


def test_an_upcoming_session_cannot_be_refunded(world: World) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    with pytest.raises(SessionStillUpcoming):
        operations.refund(world.store, the_coach, session.id, None, None, world.now)
    with pytest.raises(SessionStillUpcoming):
        operations.refund(world.store, support(), session.id, 1, None, session.start - HOUR)

    assert stored(world, session.id) == session
    assert world.balance(personal_account_id(alice.id)) == 7


def test_the_member_cannot_refund_herself(world: World) -> None:
    alice, _, _, session = _late_cancel(world)

    with pytest.raises(Forbidden):
        operations.refund(world.store, alice, session.id, None, None, world.now)

    assert stored(world, session.id) == session
    assert world.balance(personal_account_id(alice.id)) == 7


@pytest.mark.parametrize("stranger", [coach, member, admin])
def test_strangers_do_not_see_the_session(world: World, stranger: Callable[[], Caller]) -> None:
    alice, _, _, session = _late_cancel(world)
    who = stranger()

    with pytest.raises(NotFound):
        operations.refund(world.store, who, session.id, None, None, world.now)

    assert world.balance(personal_account_id(alice.id)) == 7


def test_support_refunds_a_completed_session_of_any_coach(world: World) -> None:
    # Given a session that took place and was completed by the sweep
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    assert operations.sweep_session(world.store, session, session.end) == "COMPLETE"
    helpdesk = support()

    # When support grants an exception
    refunded = operations.refund(
        world.store, helpdesk, session.id, 2, "Coach was late", session.end + HOUR
    )

    # Then the credits go back and the session stays completed
    assert refunded.status is SessionStatus.COMPLETED
    assert refunded.refund.status is RefundStatus.PARTIAL
    account = personal_account_id(alice.id)
    assert world.balance(account) == 9
    assert world.entries(account)[0].actor == helpdesk.actor
    world.assert_ledger_consistent(account)


def test_the_coach_refunds_a_session_that_has_ended(world: World) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    refunded = operations.refund(world.store, the_coach, session.id, None, None, session.end)

    assert refunded.refund.status is RefundStatus.EXCEPTION
    assert world.balance(personal_account_id(alice.id)) == 10
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_a_refund_goes_back_to_the_group_account_booked_from(world: World) -> None:
    # Given Alice booked from her team's pool and canceled late
    alice, the_coach, boss = member(), coach(), admin()
    group = operations.create_group_account(
        world.store, boss, name="Team", member_ids=[alice.id], admin_ids=[], now=world.now
    )
    world.fund(alice, 10, account_id=group.id)
    world.fund(alice, 4)  # her personal credits, which the refund must not touch
    service = world.service(by=the_coach, credits=3)
    session = world.book(alice, service, in_hours=5, account_id=group.id)
    assert session.account_id == group.id
    operations.cancel(world.store, alice, session.id, None, world.now)
    assert world.balance(group.id) == 7

    # When the coach refunds it
    operations.refund(world.store, the_coach, session.id, None, None, world.now + HOUR)

    # Then the pool gets the credits back, and her personal account is untouched
    assert world.balance(group.id) == 10
    assert world.entries(group.id)[0].kind is EntryKind.REFUND
    assert world.balance(personal_account_id(alice.id)) == 4
    assert [e.kind for e in world.entries(personal_account_id(alice.id))] == [EntryKind.GRANT]
    world.assert_ledger_consistent(group.id)
    world.assert_ledger_consistent(personal_account_id(alice.id))
