"""Threads racing one session or one account against the serialized moto server.

Each race starts its threads together on a barrier and is repeated for several rounds, so that
both "read before the other wrote" and "read after" interleavings happen. The server lets one
request into moto at a time (see local/moto_server.py), so what these tests prove is
that our conditions hold when a handler loses between its read and its write, not DynamoDB's
isolation. Whatever the interleaving, the outcome must be one a serial order could give.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest

from coaching import operations, rules
from coaching.errors import (
    DomainError,
    InsufficientCredits,
    NothingToRefund,
    NotPending,
    SessionNotUpcoming,
    SlotTaken,
    ValidationFailed,
)
from coaching.models import (
    Availability,
    Caller,
    EntryKind,
    LedgerEntry,
    RefundStatus,
    Service,
    Session,
    SessionStatus,
    personal_account_id,
)
from coaching.storage import Storage
from tests.builders import World, admin, coach, member, support
from tests.racing import race

pytestmark = pytest.mark.race

ROUNDS = 5


# --- helpers ---------------------------------------------------------------------------------


def split(results: Sequence[Any]) -> tuple[list[Any], list[BaseException]]:
    """Winners and losers; anything but a domain error fails the test right here."""
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)
    ]
    assert not unexpected, f"unexpected exceptions: {unexpected!r}"
    return (
        [r for r in results if not isinstance(r, BaseException)],
        [r for r in results if isinstance(r, BaseException)],
    )


def assert_errors(losers: Sequence[BaseException], *kinds: type[DomainError]) -> None:
    wrong = [e for e in losers if not isinstance(e, kinds)]
    assert not wrong, f"losers should get {[k.__name__ for k in kinds]}, got {wrong!r}"


def session_entries(world: World, account_id: str, session_id: str) -> list[LedgerEntry]:
    return [e for e in world.entries(account_id) if e.session_id == session_id]


def returned(world: World, session: Session) -> int:
    """Credits that came back to the paying account for this session, from the ledger."""
    return sum(
        e.credits
        for e in session_entries(world, session.account_id, session.id)
        if e.kind in (EntryKind.REFUND, EntryKind.RELEASE)
    )


def slots(start: datetime, minutes: int) -> list[datetime]:
    return rules.slots_between(start, start + timedelta(minutes=minutes))


def holders(store: Storage, coach_id: str, times: Sequence[datetime]) -> set[str | None]:
    return {store.slot_holder(coach_id, t) for t in times}


def current(store: Storage, session_id: str) -> Session:
    found = store.get_session(session_id)
    assert found is not None
    return found


def assert_holds_exactly(store: Storage, session: Session) -> None:
    """An active session holds each slot of its time (and of a pending move), nobody else's."""
    held = set(slots(session.start, session.session_type.minutes))
    if session.reschedule_request is not None:
        request = session.reschedule_request
        held |= set(rules.slots_between(request.start, request.end))
    for slot in held:
        assert store.slot_holder(session.coach.id, slot) == session.id, slot


def book_at(world: World, who: Caller, service: Service, start: datetime) -> Session:
    return operations.book(
        world.store,
        who,
        service_id=service.id,
        session_type_id=service.session_types[0].id,
        start=start,
        account_id=None,
        timezone=None,
        now=world.now,
    )


def at(world: World, hours: float) -> datetime:
    return (world.now + timedelta(hours=hours)).replace(minute=0, second=0)


# --- cancels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("in_hours", "refunded"), [(72, 3), (5, 0)])
def test_racing_cancels_of_one_session_cancel_it_once(
    server_world: World, in_hours: int, refunded: int
) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3)
        world.fund(alice, 10)
        session = world.book(alice, service, in_hours=in_hours)
        helpdesk = support()

        results = race(
            *(
                partial(operations.cancel, store, who, session.id, "race", world.now)
                for who in (alice, coaching, helpdesk, alice)
            )
        )

        winners, losers = split(results)
        assert len(winners) == 1, results
        assert_errors(losers, SessionNotUpcoming)
        final = current(store, session.id)
        assert final.status is SessionStatus.CANCELED
        assert final.refund.credits == refunded == returned(world, final)
        assert sum(e.kind is EntryKind.REFUND for e in world.entries(session.account_id)) == (
            1 if refunded else 0
        )
        assert world.balance(session.account_id) == 7 + refunded
        assert holders(store, service.coach_id, slots(session.start, 60)) == {None}
        world.assert_ledger_consistent(session.account_id)


@pytest.mark.parametrize("mover", ["coach moves it", "member asks to move it late"])
def test_a_cancel_racing_a_reschedule_leaves_no_slot_held(server_world: World, mover: str) -> None:
    world, store = server_world, server_world.store
    late = mover.startswith("member")
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3, late_reschedule_requires_approval=True)
        world.fund(alice, 10)
        # Outside the window a member's move waits as a request that holds the new time too.
        session = world.book(alice, service, in_hours=5 if late else 72)
        new_start = session.start + timedelta(hours=3)
        canceler, moving = (coaching, alice) if late else (alice, coaching)

        results = race(
            partial(operations.cancel, store, canceler, session.id, None, world.now),
            partial(operations.reschedule, store, moving, session.id, new_start, None, world.now),
        )

        canceled, moved = results
        split(results)
        assert isinstance(canceled, Session), results  # a move never stops a cancel
        assert isinstance(moved, tuple | SessionNotUpcoming), results
        if isinstance(moved, tuple):
            assert moved[1] == ("REQUEST" if late else "DIRECT")
        final = current(store, session.id)
        assert final.status is SessionStatus.CANCELED
        assert final.reschedule_request is None
        expected_refund = 0 if late else 3
        assert final.refund.credits == expected_refund == returned(world, final)
        times = slots(session.start, 60) + slots(new_start, 60)
        assert holders(store, service.coach_id, times) == {None}, "a slot outlived its session"
        world.assert_ledger_consistent(session.account_id)


# --- refunds ---------------------------------------------------------------------------------


def test_racing_full_refunds_after_a_late_cancel_refund_once(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3)
        world.fund(alice, 10)
        session = world.book(alice, service, in_hours=5)
        operations.cancel(store, alice, session.id, None, world.now)
        later = world.now + timedelta(minutes=5)

        results = race(
            *(
                partial(operations.refund, store, who, session.id, None, "sorry", later)
                for who in (coaching, support(), coaching)
            )
        )

        winners, losers = split(results)
        assert len(winners) == 1, results
        assert_errors(losers, NothingToRefund)
        final = current(store, session.id)
        assert final.refund.credits == 3 == returned(world, final)
        assert final.refund.status is RefundStatus.EXCEPTION
        assert [e.credits for e in session_entries(world, session.account_id, session.id)] == [
            3,
            -3,
        ]
        assert world.balance(session.account_id) == 10
        world.assert_ledger_consistent(session.account_id)


def test_racing_partial_refunds_never_give_back_more_than_was_paid(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3)
        world.fund(alice, 10)
        session = world.book(alice, service, in_hours=5)
        operations.cancel(store, alice, session.id, None, world.now)
        later = world.now + timedelta(minutes=5)
        amounts = (2, 2, None)

        results = race(
            *(
                partial(operations.refund, store, who, session.id, credits, None, later)
                for credits, who in zip(amounts, (coaching, support(), support()), strict=True)
            )
        )

        winners, losers = split(results)
        assert winners, results
        assert_errors(losers, NothingToRefund, ValidationFailed)
        final = current(store, session.id)
        refunds = [
            e.credits
            for e in session_entries(world, session.account_id, session.id)
            if e.kind is EntryKind.REFUND
        ]
        assert len(refunds) == len(winners)
        assert sum(refunds) == final.refund.credits <= 3
        assert world.balance(session.account_id) == 7 + final.refund.credits
        world.assert_ledger_consistent(session.account_id)


# --- bookings and debits ---------------------------------------------------------------------


def test_racing_bookings_of_one_slot_have_one_winner(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        service = world.service(credits=3)
        people = [member() for _ in range(4)]
        for who in people:
            world.fund(who, 10)
        start = at(world, 48)

        results = race(*(partial(book_at, world, who, service, start) for who in people))

        winners, losers = split(results)
        assert len(winners) == 1, results
        assert_errors(losers, SlotTaken)
        winner = winners[0]
        assert holders(store, service.coach_id, slots(start, 60)) == {winner.id}
        for who in people:
            account = personal_account_id(who.id)
            paid = who.id == winner.member.id
            assert world.balance(account) == (7 if paid else 10)
            assert [e.kind for e in world.entries(account)] == (
                [EntryKind.DEBIT, EntryKind.GRANT] if paid else [EntryKind.GRANT]
            )
            world.assert_ledger_consistent(account)


def test_racing_debits_from_one_account_never_overdraw_it(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice = member()
        service = world.service(credits=3)
        world.fund(alice, 10)  # enough for three bookings, not for five
        starts = [at(world, 48 + 2 * n) for n in range(5)]

        results = race(*(partial(book_at, world, alice, service, s) for s in starts))

        winners, losers = split(results)
        assert len(winners) == 3, results
        assert len(losers) == 2, results
        assert_errors(losers, InsufficientCredits)
        account = personal_account_id(alice.id)
        debits = [e for e in world.entries(account) if e.kind is EntryKind.DEBIT]
        assert sorted(e.session_id for e in debits) == sorted(w.id for w in winners)
        assert world.balance(account) == 1
        won = {w.start for w in winners}
        for start in starts:
            expected = {w.id for w in winners if w.start == start} if start in won else {None}
            assert holders(store, service.coach_id, slots(start, 60)) == expected
        world.assert_ledger_consistent(account)


@pytest.mark.parametrize("funded", [5, 2], ids=["enough before the grant", "one credit short"])
def test_a_grant_racing_a_booking_is_never_lost(server_world: World, funded: int) -> None:
    """With enough credits both write, so one loses at the account's version and tries again;
    one credit short, the booking passes only if it reads after the grant landed."""
    world, store = server_world, server_world.store
    for n in range(ROUNDS):
        alice = member()
        service = world.service(credits=3)
        world.fund(alice, funded)
        account = personal_account_id(alice.id)

        results = race(
            partial(operations.grant, store, support(), account, 5, "top-up", world.now),
            partial(book_at, world, alice, service, at(world, 48 + n)),
        )

        granted, booking = results
        split(results)
        assert isinstance(granted, LedgerEntry), results  # a grant is never refused
        assert isinstance(booking, Session if funded >= 3 else Session | InsufficientCredits)
        paid = isinstance(booking, Session)
        assert world.balance(account) == funded + 5 - (3 if paid else 0)
        kinds = sorted(e.kind for e in world.entries(account))
        assert kinds == sorted([EntryKind.GRANT, EntryKind.GRANT] + [EntryKind.DEBIT] * paid)
        world.assert_ledger_consistent(account)


@pytest.mark.parametrize("kind", ["personal", "group"])
def test_first_grants_to_a_new_account_all_land(server_world: World, kind: str) -> None:
    """The first entry of an account is a put conditioned on version 0; racing first grants
    must all land, one after another, none overwriting another."""
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        boss, alice = admin(), member()
        if kind == "group":
            group = operations.create_group_account(
                store, boss, name="Team", member_ids=[alice.id], admin_ids=[boss.id], now=world.now
            )
            account, granters = group.id, [boss, support(), boss]
        else:
            account, granters = personal_account_id(alice.id), [support(), support(), support()]

        results = race(
            *(
                partial(operations.grant, store, who, account, credits, None, world.now)
                for who, credits in zip(granters, (1, 2, 4), strict=True)
            )
        )

        winners, _ = split(results)
        assert len(winners) == 3, results
        assert sorted(e.seq for e in winners) == [1, 2, 3]
        assert world.balance(account) == 7
        world.assert_ledger_consistent(account)


# --- booking requests ------------------------------------------------------------------------


def test_decline_cancel_and_expiry_racing_release_a_request_once(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3, requires_approval=True, request_ttl_hours=6)
        world.fund(alice, 10)
        request = world.book(alice, service, in_hours=72)
        assert request.request_expires_at is not None
        deadline = request.request_expires_at
        just_before = deadline - timedelta(seconds=1)

        results = race(
            partial(operations.answer_booking, store, coaching, request.id, False, just_before),
            partial(operations.cancel, store, alice, request.id, None, just_before),
            partial(operations.sweep_session, store, request, deadline),
            partial(operations.sweep_session, store, request, deadline),
        )

        split(results)
        declined, canceled, *sweeps = results
        won = [
            isinstance(declined, Session),
            isinstance(canceled, Session),
            *(s == "EXPIRE_BOOKING" for s in sweeps),
        ]
        assert sum(won) == 1, results
        assert isinstance(declined, Session | NotPending), results
        assert isinstance(canceled, Session | SessionNotUpcoming), results
        assert all(s in ("EXPIRE_BOOKING", None) for s in sweeps), results
        final = current(store, request.id)
        assert final.status in (
            SessionStatus.DECLINED,
            SessionStatus.CANCELED,
            SessionStatus.EXPIRED,
        )
        releases = [
            e
            for e in session_entries(world, request.account_id, request.id)
            if e.kind is EntryKind.RELEASE
        ]
        assert [e.credits for e in releases] == [3]
        assert final.refund.credits == 3
        assert world.balance(request.account_id) == 10
        assert holders(store, service.coach_id, slots(request.start, 60)) == {None}
        world.assert_ledger_consistent(request.account_id)


def test_approve_racing_decline_has_one_answer(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3, requires_approval=True)
        world.fund(alice, 10)
        request = world.book(alice, service, in_hours=72)

        results = race(
            partial(operations.answer_booking, store, coaching, request.id, True, world.now),
            partial(operations.answer_booking, store, support(), request.id, False, world.now),
        )

        winners, losers = split(results)
        assert len(winners) == 1, results
        assert_errors(losers, NotPending)
        final = current(store, request.id)
        if final.status is SessionStatus.SCHEDULED:
            assert world.balance(request.account_id) == 7
            assert_holds_exactly(store, final)
        else:
            assert final.status is SessionStatus.DECLINED
            assert world.balance(request.account_id) == 10
            assert holders(store, service.coach_id, slots(request.start, 60)) == {None}
        world.assert_ledger_consistent(request.account_id)


# --- reschedules -----------------------------------------------------------------------------


def test_two_sessions_moved_into_one_free_slot_have_one_winner(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, bob, coaching = member(), member(), coach()
        service = world.service(by=coaching, credits=3)
        world.fund(alice, 10)
        world.fund(bob, 10)
        first = world.book(alice, service, in_hours=72)
        second = world.book(bob, service, in_hours=74)
        target = at(world, 80)

        results = race(
            partial(operations.reschedule, store, coaching, first.id, target, None, world.now),
            partial(operations.reschedule, store, support(), second.id, target, None, world.now),
        )

        winners, losers = split(results)
        assert len(winners) == 1, results
        assert_errors(losers, SlotTaken)
        moved = winners[0][0]
        stayed = second if moved.id == first.id else first
        assert holders(store, coaching.id, slots(target, 60)) == {moved.id}
        original = first if moved.id == first.id else second
        assert holders(store, coaching.id, slots(original.start, 60)) == {None}
        assert current(store, stayed.id).start == stayed.start
        assert_holds_exactly(store, current(store, stayed.id))
        for session in (first, second):
            assert world.balance(session.account_id) == 7
            world.assert_ledger_consistent(session.account_id)


def test_answers_to_a_move_racing_its_expiry_have_one_outcome(server_world: World) -> None:
    world, store = server_world, server_world.store
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3, late_reschedule_requires_approval=True)
        world.fund(alice, 10)
        session = world.book(alice, service, in_hours=5)  # inside the window: a move waits
        asked = session.start + timedelta(hours=3)
        pending, mode = operations.reschedule(store, alice, session.id, asked, None, world.now)
        assert mode == "REQUEST" and pending.reschedule_request is not None
        deadline = pending.reschedule_request.expires_at
        just_before = deadline - timedelta(seconds=1)

        results = race(
            partial(operations.answer_reschedule, store, coaching, session.id, True, just_before),
            partial(operations.answer_reschedule, store, support(), session.id, False, just_before),
            partial(operations.sweep_session, store, pending, deadline),
        )

        split(results)
        approved, declined, swept = results
        won = [isinstance(approved, Session), isinstance(declined, Session), swept is not None]
        assert sum(won) == 1, results
        assert isinstance(approved, Session | NotPending), results
        assert isinstance(declined, Session | NotPending), results
        assert swept in ("EXPIRE_RESCHEDULE", None), results
        final = current(store, session.id)
        assert final.reschedule_request is None
        assert final.start == (asked if isinstance(approved, Session) else session.start)
        assert_holds_exactly(store, final)
        other = session.start if final.start == asked else asked
        assert holders(store, coaching.id, slots(other, 60)) == {None}
        assert world.balance(session.account_id) == 7
        world.assert_ledger_consistent(session.account_id)


def test_two_moves_of_one_session_to_overlapping_times_both_land(server_world: World) -> None:
    """Coach and support move the same session; the times overlap each other, not the original.

    In any serial order both moves succeed (the second one moves it again), so neither may be
    told the slot is taken: the only holder of the overlap is the session being moved.
    """
    world, store = server_world, server_world.store
    outcomes: list[list[Any]] = []
    for _ in range(ROUNDS):
        alice, coaching = member(), coach()
        service = world.service(by=coaching, credits=3)
        world.fund(alice, 10)
        session = world.book(alice, service, in_hours=72)
        one = session.start + timedelta(hours=2)  # 2:00-3:00 after the original start
        two = session.start + timedelta(hours=1, minutes=30)  # overlaps `one` by 30 minutes

        results = race(
            partial(operations.reschedule, store, coaching, session.id, one, None, world.now),
            partial(operations.reschedule, store, support(), session.id, two, None, world.now),
        )

        split(results)
        outcomes.append(results)
        final = current(store, session.id)
        assert final.start in (one, two)
        assert_holds_exactly(store, final)
        stale = set(slots(one, 60) + slots(two, 60) + slots(session.start, 60))
        stale -= set(slots(final.start, 60))
        assert holders(store, coaching.id, sorted(stale)) == {None}
    refused = [r for results in outcomes for r in results if isinstance(r, BaseException)]
    assert not refused, f"a move was refused although a serial order accepts both: {refused!r}"


def test_a_move_that_lost_to_another_move_is_decided_again(
    server_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving of the test above, replayed without threads so that it always happens.

    Support reads the session, the coach moves it, then support's write lands on what it read.
    """
    world, store = server_world, server_world.store
    alice, coaching = member(), coach()
    service = world.service(by=coaching, credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    one = session.start + timedelta(hours=2)
    two = session.start + timedelta(hours=1, minutes=30)
    read_before_the_coach = current(store, session.id)
    operations.reschedule(store, coaching, session.id, one, None, world.now)
    reads = iter([read_before_the_coach])
    real_read = store.session_and_hours

    def stale_first(sid: str) -> tuple[Session | None, Availability | None]:
        found, hours = real_read(sid)
        return next(reads, None) or found, hours

    monkeypatch.setattr(store, "session_and_hours", stale_first)

    moved, mode = operations.reschedule(store, support(), session.id, two, None, world.now)

    assert (moved.start, mode) == (two, "DIRECT")
    assert_holds_exactly(store, current(store, session.id))
    stale = sorted(set(slots(one, 60) + slots(session.start, 60)) - set(slots(two, 60)))
    assert holders(store, coaching.id, stale) == {None}
