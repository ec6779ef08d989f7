"""What the sweep does to each kind of stale session, with ``now`` passed in.

Booking requests past their deadline expire and their held credits come back (a RELEASE entry in
the same transaction); reschedule requests past their deadline expire and the session keeps its
time and slots; sessions whose end has passed complete and list as past. A rerun finds nothing.
"""

import logging
from datetime import timedelta

import boto3
import pytest

from coaching import operations, rules, sweep
from coaching.models import EntryKind, RefundStatus, SessionStatus
from coaching.storage import Storage
from tests.builders import World
from tests.integration.steps import free, held_by, stored
from tests.integration.sweep.timeline import (
    CREDITS,
    FUNDS,
    Booked,
    booked_on,
    booking_request,
    copies,
    events,
    fresh,
    late_reschedule_request,
    plenty,
    session_at,
    stale,
    sweep_at,
)

SECOND = timedelta(seconds=1)


def entries_of(world: World, booked: Booked) -> list[tuple[EntryKind, int]]:
    """The account's ledger, oldest first, as (kind, credits)."""
    return [(e.kind, e.credits) for e in sorted(world.entries(booked.account), key=lambda e: e.seq)]


def test_a_booking_request_past_its_deadline_expires_and_its_credits_return(world: World) -> None:
    # Given a booking request nobody answered, holding 3 of the member's 10 credits
    request = booking_request(world, ttl_hours=6)
    deadline = request.session.request_expires_at
    assert deadline == world.now + timedelta(hours=6)
    assert world.balance(request.account) == FUNDS - CREDITS

    # When the sweep runs a second before the deadline, and then at it
    early = sweep.run(world.store, deadline - SECOND, plenty)
    result = sweep.run(world.store, deadline, plenty)

    # Then the early sweep found nothing due and the one at the deadline expired the request
    assert early.changed == 0 and early.items_read == 0 and early.finished
    assert (result.expired_bookings, result.changed, result.failed) == (1, 1, 0)
    assert result.finished
    expired = stored(world, request.session.id)
    assert expired.status is SessionStatus.EXPIRED
    assert expired.request_expires_at is None
    assert expired.refund.status is RefundStatus.AUTOMATIC
    assert (expired.refund.credits, expired.refund.refunded_at) == (CREDITS, deadline)
    last = expired.history[-1]
    assert (last.kind, last.at, last.by, last.credits) == ("EXPIRED", deadline, None, CREDITS)
    # ... and the credits came back with a RELEASE entry, the coach's time is free again
    assert entries_of(world, request) == [
        (EntryKind.GRANT, FUNDS),
        (EntryKind.DEBIT, -CREDITS),
        (EntryKind.RELEASE, CREDITS),
    ]
    release = world.entries(request.account)[0]
    assert (release.session_id, release.at, release.actor) == (expired.id, deadline, None)
    assert world.balance(request.account) == FUNDS
    assert free(world, request.service.coach_id, expired.start, expired.end)
    assert rules.due_at(expired) is None
    world.assert_ledger_consistent(request.account)


def test_a_reschedule_request_past_its_deadline_expires_and_the_session_keeps_its_time(
    world: World,
) -> None:
    # Given a session in ten hours whose member asked, late, to move it three hours later
    asked = late_reschedule_request(world, 10, ttl_hours=2)
    request = asked.session.reschedule_request
    assert request is not None and request.expires_at == world.now + timedelta(hours=2)
    at = sweep_at(world)

    # When the sweep runs after the request's deadline, before the session
    result = sweep.run(world.store, at, plenty)

    # Then the request expired; the session keeps its time and its slots, and is still upcoming
    assert (result.expired_reschedules, result.changed, result.failed) == (1, 1, 0)
    kept = stored(world, asked.session.id)
    assert kept.status is SessionStatus.SCHEDULED
    assert (kept.start, kept.end) == (asked.session.start, asked.session.end)
    assert kept.reschedule_request is None
    last = kept.history[-1]
    # dated when it lapsed, as readers were shown it before the sweep came
    assert (last.kind, last.at, last.by, last.start) == (
        "RESCHEDULE_EXPIRED",
        request.expires_at,
        None,
        request.start,
    )
    assert held_by(world, kept, kept.start, kept.end)
    assert free(world, kept.coach.id, request.start, request.end)
    assert rules.is_upcoming(kept, at)
    # ... no credit moved
    assert entries_of(world, asked) == [(EntryKind.GRANT, FUNDS), (EntryKind.DEBIT, -CREDITS)]
    world.assert_ledger_consistent(asked.account)
    # ... and the sweep comes back for it when it ends, not before
    assert rules.due_at(kept) == kept.end
    assert sweep.run(world.store, kept.end - SECOND, plenty).changed == 0


def test_a_session_whose_end_has_passed_completes_and_lists_as_past(world: World) -> None:
    # Given a session from +2h to +2h30
    ended = session_at(world, 2)
    end = ended.session.end

    # When the sweep runs at its end
    result = sweep.run(world.store, end, plenty)

    # Then it is completed, with no credit moved, and the member's list shows it as past
    assert (result.completed, result.changed, result.failed) == (1, 1, 0)
    completed = stored(world, ended.session.id)
    assert completed.status is SessionStatus.COMPLETED
    assert (completed.history[-1].kind, completed.history[-1].at) == ("COMPLETED", end)
    assert completed.refund.credits == 0
    assert entries_of(world, ended) == [(EntryKind.GRANT, FUNDS), (EntryKind.DEBIT, -CREDITS)]
    world.assert_ledger_consistent(ended.account)
    past, _ = world.store.sessions_of("member", ended.who.id, "past", end, 10, None)
    upcoming, _ = world.store.sessions_of("member", ended.who.id, "upcoming", end, 10, None)
    assert [s.id for s in past] == [completed.id] and upcoming == []


def test_a_request_that_expired_on_a_session_since_ended_expires_then_completes_in_one_run(
    world: World,
) -> None:
    # Given a session from +4h to +4h30 with a late request to move it that expired at +2h,
    # and a sweep that comes only at +7h
    both = late_reschedule_request(world, 4, ttl_hours=2)
    request = both.session.reschedule_request
    assert request is not None

    # When the sweep runs
    result = sweep.run(world.store, sweep_at(world), plenty)

    # Then one run does both, in order: the request expires, then the session completes
    assert (result.expired_reschedules, result.completed, result.failed) == (1, 1, 0)
    assert result.finished
    done = stored(world, both.session.id)
    assert [e.kind for e in done.history[-2:]] == ["RESCHEDULE_EXPIRED", "COMPLETED"]
    assert (done.status, done.start) == (SessionStatus.COMPLETED, both.session.start)
    assert free(world, done.coach.id, request.start, request.end)
    world.assert_ledger_consistent(both.account)


def test_an_expired_booking_request_keeps_no_reschedule_request_pending(world: World) -> None:
    """A request the coach never answered, whose member also asked late to move it.

    Fails until ``operations.sweep_session`` clears ``reschedule_request`` when it expires a
    booking (as ``cancel`` does): the slots of the asked-for time are freed, but the expired
    session still shows a move waiting for the coach.
    """
    # Given a booking request in ten hours, and its member's late request to move it
    offered = world.service(
        credits=CREDITS,
        requires_approval=True,
        request_ttl_hours=6,
        late_reschedule_requires_approval=True,
    )
    booked = booked_on(world, offered, in_hours=10)
    later = booked.session.start + timedelta(hours=3)
    asked, mode = operations.reschedule(
        world.store, booked.who, booked.session.id, later, None, world.now
    )
    assert (asked.status, mode) == (SessionStatus.REQUESTED, "REQUEST")

    # When the sweep runs after the booking request's deadline
    result = sweep.run(world.store, sweep_at(world), plenty)

    # Then the booking expired, its credits and both times were given back...
    assert result.expired_bookings == 1
    expired = stored(world, asked.id)
    assert expired.status is SessionStatus.EXPIRED
    assert world.balance(booked.account) == FUNDS
    assert free(world, expired.coach.id, expired.start, expired.end)
    assert free(world, expired.coach.id, later, later + timedelta(hours=1))
    # ... and no move is shown as waiting on a session that will never take place
    assert expired.reschedule_request is None


def test_every_stale_session_changes_once_fresh_ones_not_at_all_and_a_rerun_finds_nothing(
    world: World,
) -> None:
    # Given one stale session of each kind among fresh ones (in the Due index and not)
    due = stale(world)
    untouched = fresh(world)
    before = {b.session.id: stored(world, b.session.id) for b in untouched}
    at = sweep_at(world)

    # When the sweep runs, and runs again
    first = sweep.run(world.store, at, plenty)
    again = sweep.run(world.store, at, plenty)

    # Then the first did each thing once and the second found nothing to read or do
    assert first.model_dump(include={"expired_bookings", "expired_reschedules", "completed"}) == {
        "expired_bookings": 1,
        "expired_reschedules": 2,
        "completed": 2,
    }
    assert (first.unchanged, first.failed, first.finished) == (0, 0, True)
    assert (again.changed, again.items_read, again.finished) == (0, 0, True)
    for booked in due.all:
        after = stored(world, booked.session.id)
        assert (
            events(after, "EXPIRED")
            + events(after, "RESCHEDULE_EXPIRED")
            + events(after, "COMPLETED")
        ) == (2 if booked is due.asked_and_ended else 1)
        world.assert_ledger_consistent(booked.account)
    for booked in untouched:
        assert stored(world, booked.session.id) == before[booked.session.id]
    assert world.balance(due.request.account) == FUNDS
    for booked in (due.asked, due.ended, due.asked_and_ended):
        assert world.balance(booked.account) == FUNDS - CREDITS


# --- failures --------------------------------------------------------------------------------


def _request_paid_from_a_missing_account(world: World) -> Booked:
    """A booking request whose paying account is gone, so releasing its credits fails."""
    request = booking_request(world)
    broken = request.session.model_copy(
        update={
            "id": f"{request.session.id}-broken",
            "account_id": "group-deleted-by-hand",
            "member": request.session.member.model_copy(
                update={"name": "Zelda Quince", "email": "zelda.quince@example.com"}
            ),
        }
    )
    world.store.save_session(before=None, after=broken)
    return Booked(request.who, request.service, broken)


def _unreadable_due_item(world: World, like: Booked) -> str:
    """A due item that no longer reads as a session (a status nobody knows, an email in it)."""
    [item] = copies(world, [like], 1)
    corrupt = f"SESSION#{item.id}"
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=world.store.sessions_table,
        Key={"pk": {"S": corrupt}, "sk": {"S": "SESSION"}},
        UpdateExpression="SET #s = :lost, due_at = :long_ago, #m.email = :email",
        ExpressionAttributeNames={"#s": "status", "#m": "member"},
        ExpressionAttributeValues={
            ":lost": {"S": "ARCHIVED"},
            ":long_ago": {"S": "2000-01-01T00:00:00Z"},
            ":email": {"S": "zelda.quince@example.com"},
        },
    )
    return corrupt


def test_one_failing_session_does_not_stop_the_sweep_of_the_others(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Given stale sessions, one whose account is gone and one due item that is not a session
    due = stale(world)
    broken = _request_paid_from_a_missing_account(world)
    corrupt = _unreadable_due_item(world, due.ended)
    caplog.set_level(logging.INFO)

    # When the sweep runs
    result = sweep.run(world.store, sweep_at(world), plenty)

    # Then everything else was swept (the broken copy's healthy original too), the two failures
    # were counted, and the run says so
    assert (result.expired_bookings, result.expired_reschedules, result.completed) == (2, 2, 2)
    assert (result.failed, result.finished, result.ok) == (2, True, False)
    with pytest.raises(sweep.SweepFailed, match="2 stale sessions"):
        result.raise_for_failures()
    assert stored(world, broken.session.id).status is SessionStatus.REQUESTED
    # ... each failure was logged by its key, type and code, without personal data
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    logged = {getattr(r, "session_id", None) or getattr(r, "pk", None): r for r in failures}
    assert set(logged) == {broken.session.id, corrupt}
    assert logged[broken.session.id].__dict__["error"] == "NotFound"
    assert logged[broken.session.id].__dict__["code"] == "NOT_FOUND"
    assert logged[broken.session.id].__dict__["raised_at"].startswith("operations.py:")
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "zelda" not in everything.lower()

    # ... and a rerun tries the failed ones again without touching the rest
    rerun = sweep.run(world.store, sweep_at(world), plenty)
    assert (rerun.changed, rerun.failed) == (0, 2)


def test_a_sweep_that_cannot_read_the_index_stops_and_says_so(world: World) -> None:
    # Given a store whose sessions table is gone
    due = booking_request(world)
    settings = world.store.settings.model_copy(update={"sessions_table": "NoSuchTable"})
    missing = Storage(boto3.client("dynamodb", region_name="us-east-1"), settings)

    # When the sweep runs against it
    result = sweep.run(missing, sweep_at(world), plenty)

    # Then it could read no partition, reported the failure and changed nothing
    assert (result.query_failed, result.finished, result.pages, result.ok) == (
        True,
        False,
        0,
        False,
    )
    with pytest.raises(sweep.SweepFailed, match="Due index could not be read"):
        result.raise_for_failures()
    assert stored(world, due.session.id).status is SessionStatus.REQUESTED
