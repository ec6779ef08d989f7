"""Rescheduling: direct moves, late moves that wait for the coach, and every refusal."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from coaching import operations
from coaching.errors import (
    Forbidden,
    NotFound,
    NotPending,
    RescheduleWindowClosed,
    SessionNotUpcoming,
    SlotTaken,
    ValidationFailed,
)
from coaching.models import (
    Caller,
    EntryKind,
    Service,
    Session,
    SessionStatus,
    personal_account_id,
)
from coaching.rules import slots_between
from tests.builders import World, coach, member, support
from tests.integration.steps import end_of, free, held_by, reschedule, stored

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


# --- the member, inside the free period ------------------------------------------------------


def test_member_moves_a_session_inside_the_free_period(world: World) -> None:
    # Given Alice's 60-minute session three days out, paid 3 of her 10 credits
    alice = member()
    service = world.service(credits=3, window_hours=24)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    new_start = session.start + 24 * HOUR

    # When she moves it a day later, well before the window closes
    moved, mode = reschedule(world, alice, session, new_start, world.now)

    # Then it moves at once, keeping the booking and its credits
    assert mode == "DIRECT"
    assert moved.id == session.id
    assert moved.status is SessionStatus.SCHEDULED
    assert (moved.start, moved.end) == (new_start, new_start + 60 * MINUTE)
    assert moved.credits == 3
    assert moved.policy.refundable_until == new_start - 24 * HOUR
    assert moved.reschedule_request is None
    # and the old time is kept in its history
    event = moved.history[-1]
    assert event.kind == "RESCHEDULED"
    assert event.previous_start == session.start
    assert event.start == new_start
    assert event.by == alice.actor
    assert moved.history[0].start == session.start
    # and the coach's calendar follows: the old time is free, the new one is the session's
    assert free(world, service.coach_id, session.start, session.end)
    assert held_by(world, moved, moved.start, moved.end)
    # and no credit moved
    account = personal_account_id(alice.id)
    assert world.balance(account) == 7
    assert [e.kind for e in world.entries(account)] == [EntryKind.DEBIT, EntryKind.GRANT]
    world.assert_ledger_consistent(account)
    assert stored(world, session.id) == moved


def test_the_freed_time_can_be_booked_by_someone_else(world: World) -> None:
    alice, bob = member(), member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    world.fund(bob, 10)
    session = world.book(alice, service, in_hours=72)
    reschedule(world, alice, session, session.start + 2 * HOUR, world.now)

    bobs = world.book(bob, service, in_hours=72)

    assert bobs.start == session.start
    assert held_by(world, bobs, bobs.start, bobs.end)


def test_member_may_still_move_at_the_last_second_of_the_free_period(world: World) -> None:
    alice = member()
    service = world.service(window_hours=24)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    last_second = session.policy.refundable_until

    moved, mode = reschedule(world, alice, session, session.start + HOUR, last_second)

    assert mode == "DIRECT"
    assert moved.start == session.start + HOUR


def test_member_inside_the_window_is_refused_and_nothing_changes(world: World) -> None:
    # Given a service without late-move approval, and Alice one second into the window
    alice = member()
    service = world.service(window_hours=24, late_reschedule_requires_approval=False)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    late = session.policy.refundable_until + timedelta(seconds=1)

    # When she tries to move the session
    with pytest.raises(RescheduleWindowClosed):
        reschedule(world, alice, session, session.start + 2 * HOUR, late)

    # Then the session, its slots and her credits are as they were
    assert stored(world, session.id) == session
    assert held_by(world, session, session.start, session.end)
    assert free(world, service.coach_id, session.start + 2 * HOUR, session.end + 2 * HOUR)
    assert world.balance(personal_account_id(alice.id)) == 7


# --- the member, late, where the coach approves late moves -----------------------------------


def _late_move_setup(
    world: World, ttl_hours: int = 48
) -> tuple[Caller, Caller, Service, Session, datetime]:
    """Alice's session in three days, with a service whose coach reviews late moves; the
    moment returned is 12 hours before the start, well inside the 24-hour window."""
    alice, the_coach = member(), coach()
    service = world.service(
        by=the_coach,
        credits=3,
        window_hours=24,
        late_reschedule_requires_approval=True,
        request_ttl_hours=ttl_hours,
    )
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    return alice, the_coach, service, session, session.start - 12 * HOUR


def test_a_late_member_move_waits_for_the_coach_and_holds_both_times(world: World) -> None:
    # Given Alice inside the window of a service whose coach reviews late moves
    alice, _, _, session, late = _late_move_setup(world)
    wanted = session.start + 3 * HOUR

    # When she asks to move the session
    pending, mode = operations.reschedule(
        world.store, alice, session.id, wanted, "Train delayed", late
    )

    # Then the session keeps its time and waits with a request
    assert mode == "REQUEST"
    assert pending.status is SessionStatus.SCHEDULED
    assert (pending.start, pending.end) == (session.start, session.end)
    assert pending.policy == session.policy
    request = pending.reschedule_request
    assert request is not None
    assert (request.start, request.end) == (wanted, wanted + 60 * MINUTE)
    assert request.requested_by == alice.actor
    assert request.requested_at == late
    assert request.reason == "Train delayed"
    # it expires an hour before the session at the latest, so both sides hear in time
    assert request.expires_at == session.start - HOUR
    assert pending.history[-1].reason == "Train delayed"
    assert pending.history[-1].kind == "RESCHEDULE_REQUESTED"
    assert pending.history[-1].previous_start == session.start
    # and both the current and the asked-for time are held, so approving cannot fail
    assert held_by(world, pending, session.start, session.end)
    assert held_by(world, pending, request.start, request.end)
    assert world.balance(personal_account_id(alice.id)) == 7
    assert stored(world, session.id) == pending


def test_a_held_requested_time_cannot_be_booked_by_another_member(world: World) -> None:
    alice, _, service, session, late = _late_move_setup(world)
    reschedule(world, alice, session, session.start + 3 * HOUR, late)
    bob = member()
    world.fund(bob, 10)

    with pytest.raises(SlotTaken):
        operations.book(
            world.store,
            bob,
            service_id=service.id,
            session_type_id=service.session_types[0].id,
            start=session.start + 3 * HOUR,
            account_id=None,
            timezone=None,
            now=late,
        )

    assert world.balance(personal_account_id(bob.id)) == 10


def test_the_coach_approves_a_late_move(world: World) -> None:
    alice, the_coach, service, session, late = _late_move_setup(world)
    wanted = session.start + 3 * HOUR
    reschedule(world, alice, session, wanted, late)

    approved = operations.answer_reschedule(world.store, the_coach, session.id, True, late + HOUR)

    assert approved.status is SessionStatus.SCHEDULED
    assert (approved.start, approved.end) == (wanted, wanted + 60 * MINUTE)
    assert approved.reschedule_request is None
    assert approved.policy.refundable_until == wanted - 24 * HOUR
    event = approved.history[-1]
    assert event.kind == "RESCHEDULE_APPROVED"
    assert (event.previous_start, event.start) == (session.start, wanted)
    assert event.by == the_coach.actor
    assert free(world, service.coach_id, session.start, session.end)
    assert held_by(world, approved, wanted, approved.end)
    assert world.balance(personal_account_id(alice.id)) == 7
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_support_may_approve_a_late_move(world: World) -> None:
    alice, _, _, session, late = _late_move_setup(world)
    reschedule(world, alice, session, session.start + 3 * HOUR, late)

    approved = operations.answer_reschedule(world.store, support(), session.id, True, late)

    assert approved.start == session.start + 3 * HOUR


def test_the_coach_declines_a_late_move(world: World) -> None:
    alice, the_coach, service, session, late = _late_move_setup(world)
    wanted = session.start + 3 * HOUR
    reschedule(world, alice, session, wanted, late)

    declined = operations.answer_reschedule(world.store, the_coach, session.id, False, late + HOUR)

    assert declined.status is SessionStatus.SCHEDULED
    assert (declined.start, declined.end) == (session.start, session.end)
    assert declined.reschedule_request is None
    assert declined.history[-1].kind == "RESCHEDULE_DECLINED"
    assert declined.history[-1].start == wanted
    assert held_by(world, declined, session.start, session.end)
    assert free(world, service.coach_id, wanted, wanted + 60 * MINUTE)
    assert world.balance(personal_account_id(alice.id)) == 7


def test_a_second_request_replaces_the_first_and_frees_its_time(world: World) -> None:
    alice, _, service, session, late = _late_move_setup(world)
    first, second = session.start + 3 * HOUR, session.start + 6 * HOUR
    reschedule(world, alice, session, first, late)

    replaced, mode = reschedule(world, alice, stored(world, session.id), second, late + HOUR)

    assert mode == "REQUEST"
    assert replaced.reschedule_request is not None
    assert replaced.reschedule_request.start == second
    assert replaced.start == session.start
    assert free(world, service.coach_id, first, first + 60 * MINUTE)
    assert held_by(world, replaced, second, second + 60 * MINUTE)
    assert held_by(world, replaced, session.start, session.end)


def test_a_second_request_overlapping_the_first_keeps_the_shared_slots(world: World) -> None:
    alice, _, service, session, late = _late_move_setup(world)
    first = session.start + 3 * HOUR
    second = first + 30 * MINUTE
    reschedule(world, alice, session, first, late)

    replaced, _ = reschedule(world, alice, session, second, late + HOUR)

    assert free(world, service.coach_id, first, second)
    assert held_by(world, replaced, second, second + 60 * MINUTE)


def test_the_member_cannot_answer_her_own_request(world: World) -> None:
    alice, _, _, session, late = _late_move_setup(world)
    pending, _ = reschedule(world, alice, session, session.start + 3 * HOUR, late)

    with pytest.raises(Forbidden):
        operations.answer_reschedule(world.store, alice, session.id, True, late)

    assert stored(world, session.id) == pending


def test_another_coach_cannot_see_the_request(world: World) -> None:
    alice, _, _, session, late = _late_move_setup(world)
    reschedule(world, alice, session, session.start + 3 * HOUR, late)

    with pytest.raises(NotFound):
        operations.answer_reschedule(world.store, coach(), session.id, False, late)


@pytest.mark.parametrize("approve", [True, False])
def test_answering_when_nothing_waits_is_refused(world: World, approve: bool) -> None:
    _, the_coach, _, session, late = _late_move_setup(world)

    with pytest.raises(NotPending):
        operations.answer_reschedule(world.store, the_coach, session.id, approve, late)

    assert stored(world, session.id) == session


@pytest.mark.parametrize("approve", [True, False])
def test_answering_an_expired_request_is_refused(world: World, approve: bool) -> None:
    alice, the_coach, _, session, late = _late_move_setup(world, ttl_hours=2)
    wanted = session.start + 3 * HOUR
    pending, _ = reschedule(world, alice, session, wanted, late)
    assert pending.reschedule_request is not None
    assert pending.reschedule_request.expires_at == late + 2 * HOUR

    with pytest.raises(NotPending):
        operations.answer_reschedule(world.store, the_coach, session.id, approve, late + 2 * HOUR)

    assert stored(world, session.id) == pending
    assert held_by(world, pending, session.start, session.end)


def test_a_request_for_an_earlier_time_cannot_be_approved_once_that_time_has_passed(
    world: World,
) -> None:
    # Given Alice, 12 hours before her session, asks to move it 10 hours earlier
    alice, the_coach, _, session, late = _late_move_setup(world)
    wanted = session.start - 10 * HOUR
    pending, mode = reschedule(world, alice, session, wanted, late)
    assert mode == "REQUEST"

    # When the coach approves an hour after the asked-for time has passed
    after_wanted = wanted + HOUR
    with pytest.raises(NotPending):
        operations.answer_reschedule(world.store, the_coach, session.id, True, after_wanted)

    # Then the session was not moved into the past: it keeps its time and its slots
    assert stored(world, session.id).start == session.start
    assert held_by(world, pending, session.start, session.end)


# --- coach and support ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coach", "support"])
def test_coach_and_support_move_a_session_at_any_time_while_upcoming(
    world: World, who: str
) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, credits=3, window_hours=24)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    actor = the_coach if who == "coach" else support()
    an_hour_before = session.start - HOUR
    new_start = session.start + 2 * HOUR

    moved, mode = reschedule(world, actor, session, new_start, an_hour_before)

    assert mode == "DIRECT"
    assert moved.start == new_start
    assert moved.history[-1].by == actor.actor
    assert free(world, service.coach_id, session.start, session.end)
    assert held_by(world, moved, moved.start, moved.end)
    assert world.balance(personal_account_id(alice.id)) == 7


def test_a_coachs_direct_move_clears_a_pending_request_and_its_time(world: World) -> None:
    alice, the_coach, service, session, late = _late_move_setup(world)
    asked = session.start + 3 * HOUR
    reschedule(world, alice, session, asked, late)
    chosen = session.start + 6 * HOUR

    moved, mode = reschedule(world, the_coach, session, chosen, late + HOUR)

    assert mode == "DIRECT"
    assert moved.reschedule_request is None
    assert moved.start == chosen
    assert free(world, service.coach_id, session.start, session.end)
    assert free(world, service.coach_id, asked, asked + 60 * MINUTE)
    assert held_by(world, moved, chosen, moved.end)


def test_the_coach_cannot_move_a_session_that_has_started(world: World) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    with pytest.raises(SessionNotUpcoming):
        reschedule(world, the_coach, session, session.start + 3 * HOUR, session.start)

    assert stored(world, session.id) == session


# --- the calendar ---------------------------------------------------------------------------


def test_moving_onto_a_taken_time_is_refused_and_nothing_changes(world: World) -> None:
    # Given Alice's and Bob's sessions with the same coach, a day apart
    alice, bob = member(), member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    world.fund(bob, 10)
    alices = world.book(alice, service, in_hours=72)
    bobs = world.book(bob, service, in_hours=96)

    # When Alice tries to move hers onto Bob's time
    with pytest.raises(SlotTaken):
        reschedule(world, alice, alices, bobs.start, world.now)

    # Then both sessions and all slots are as they were
    assert stored(world, alices.id) == alices
    assert stored(world, bobs.id) == bobs
    assert held_by(world, alices, alices.start, alices.end)
    assert held_by(world, bobs, bobs.start, bobs.end)
    assert world.balance(personal_account_id(alice.id)) == 7
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_a_partly_overlapping_move_claims_none_of_the_free_slots(world: World) -> None:
    alice, bob = member(), member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    world.fund(bob, 10)
    alices = world.book(alice, service, in_hours=72)
    bobs = world.book(bob, service, in_hours=96)
    overlapping = bobs.start - 30 * MINUTE  # its first half is free, its second half Bob's

    with pytest.raises(SlotTaken):
        reschedule(world, alice, alices, overlapping, world.now)

    assert free(world, service.coach_id, overlapping, bobs.start)
    assert held_by(world, bobs, bobs.start, bobs.end)
    assert stored(world, alices.id) == alices


def test_a_late_request_for_a_taken_time_is_refused_and_records_nothing(world: World) -> None:
    alice, _, service, session, late = _late_move_setup(world)
    bob = member()
    world.fund(bob, 10)
    bobs = world.book(bob, service, in_hours=96)

    with pytest.raises(SlotTaken):
        reschedule(world, alice, session, bobs.start, late)

    assert stored(world, session.id) == session
    assert held_by(world, bobs, bobs.start, bobs.end)


@pytest.mark.parametrize("shift_minutes", [15, -15, 45])
def test_a_move_overlapping_its_own_time_works(world: World, shift_minutes: int) -> None:
    alice = member()
    service = world.service(minutes=60)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    new_start = session.start + timedelta(minutes=shift_minutes)

    moved, _ = reschedule(world, alice, session, new_start, world.now)

    assert (moved.start, moved.end) == (new_start, end_of(session, new_start))
    assert held_by(world, moved, moved.start, moved.end)
    # the slots it no longer covers are free; the ones it still covers stay its own
    left_behind = set(slots_between(session.start, session.end)) - set(
        slots_between(moved.start, moved.end)
    )
    assert left_behind
    assert [world.store.slot_holder(service.coach_id, s) for s in sorted(left_behind)] == [
        None
    ] * len(left_behind)


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["member", "coach"])
def test_a_canceled_session_cannot_be_moved(world: World, who: str) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    canceled = operations.cancel(world.store, alice, session.id, None, world.now)

    with pytest.raises(SessionNotUpcoming):
        reschedule(
            world, alice if who == "member" else the_coach, session, session.start + HOUR, world.now
        )

    assert stored(world, session.id) == canceled
    assert free(world, service.coach_id, session.start, session.end + HOUR)
    assert world.balance(personal_account_id(alice.id)) == 10


def test_a_completed_session_cannot_be_moved(world: World) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    operations.sweep_session(world.store, session, session.end)

    with pytest.raises(SessionNotUpcoming):
        reschedule(world, the_coach, session, session.end + 24 * HOUR, session.end + HOUR)


@pytest.mark.parametrize(
    ("label", "offset"),
    [
        ("not on a 15-minute boundary", timedelta(hours=2, minutes=10)),
        ("seconds past a boundary", timedelta(hours=2, seconds=30)),
        ("in the past", -timedelta(hours=100)),
        ("the session's own time", timedelta(0)),
    ],
)
def test_bad_times_are_refused(world: World, label: str, offset: timedelta) -> None:
    alice = member()
    service = world.service()
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    with pytest.raises(ValidationFailed) as refused:
        reschedule(world, alice, session, session.start + offset, world.now)

    assert [e.field for e in refused.value.errors] == ["start"], label
    assert stored(world, session.id) == session


def test_a_time_equal_to_now_is_not_in_the_future(world: World) -> None:
    the_coach, alice = coach(), member()
    service = world.service(by=the_coach)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    now = world.now + 3 * HOUR  # on a boundary

    with pytest.raises(ValidationFailed):
        reschedule(world, the_coach, session, now, now)


@pytest.mark.parametrize("stranger", [member, coach])
def test_a_stranger_cannot_see_the_session(world: World, stranger: Callable[[], Caller]) -> None:
    alice = member()
    service = world.service()
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    with pytest.raises(NotFound):
        reschedule(world, stranger(), session, session.start + HOUR, world.now)

    assert stored(world, session.id) == session


def test_an_unknown_session_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        operations.reschedule(
            world.store, member(), "no-such-session", world.now + 72 * HOUR, None, world.now
        )
