"""The sweep of one session (``operations.sweep_session``): what nobody answered expires, what
ended completes, and each at most once; and what is due to it."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from coaching import operations
from coaching.models import (
    EntryKind,
    RefundStatus,
    SessionStatus,
    personal_account_id,
)
from coaching.storage import Storage
from tests.builders import QUIET, World, coach, member, requested_booking
from tests.integration.steps import due, free, held_by, reschedule, stored

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def _due_ids(world: World, now: datetime) -> set[str]:
    return {s.id for s in due(world.store, now)}


# --- the sweep ------------------------------------------------------------------------------


def test_the_sweep_expires_an_unanswered_request_and_releases_its_credits(world: World) -> None:
    alice, _, service, session = requested_booking(world, credits=3)
    assert session.request_expires_at is not None
    deadline = session.request_expires_at

    done = operations.sweep_session(world.store, session, deadline)

    assert done == "EXPIRE_BOOKING"
    expired = stored(world, session.id)
    assert expired.status is SessionStatus.EXPIRED
    assert expired.request_expires_at is None
    assert expired.refund.status is RefundStatus.AUTOMATIC
    assert expired.refund.credits == 3
    assert expired.history[-1].kind == "EXPIRED"
    assert expired.history[-1].by is None
    assert free(world, service.coach_id, session.start, session.end)
    account = personal_account_id(alice.id)
    assert world.balance(account) == 10
    release = world.entries(account)[0]
    assert (release.kind, release.credits, release.session_id) == (
        EntryKind.RELEASE,
        3,
        session.id,
    )
    assert release.actor is None
    assert release.at == deadline
    world.assert_ledger_consistent(account)


def test_the_sweep_expires_an_unanswered_reschedule_request(world: World) -> None:
    # Given Alice asked, late, to move her session; the coach has two hours to answer
    alice, the_coach = member(), coach()
    service = world.service(
        by=the_coach, late_reschedule_requires_approval=True, request_ttl_hours=2
    )
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    late = session.start - 12 * HOUR
    wanted = session.start + 3 * HOUR
    pending, mode = reschedule(world, alice, session, wanted, late)
    assert mode == "REQUEST"

    # When the sweep runs once the request has expired
    done = operations.sweep_session(world.store, pending, late + 2 * HOUR)

    # Then the session keeps its original time and slots, and the asked-for time is free
    assert done == "EXPIRE_RESCHEDULE"
    kept = stored(world, session.id)
    assert kept.status is SessionStatus.SCHEDULED
    assert (kept.start, kept.end) == (session.start, session.end)
    assert kept.policy == session.policy
    assert kept.reschedule_request is None
    assert kept.history[-1].kind == "RESCHEDULE_EXPIRED"
    assert kept.history[-1].start == wanted
    assert held_by(world, kept, session.start, session.end)
    assert free(world, service.coach_id, wanted, wanted + 60 * MINUTE)
    assert world.balance(personal_account_id(alice.id)) == 7
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_the_sweep_completes_a_session_whose_end_has_passed(world: World) -> None:
    alice = member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)

    done = operations.sweep_session(world.store, session, session.end)

    assert done == "COMPLETE"
    completed = stored(world, session.id)
    assert completed.status is SessionStatus.COMPLETED
    assert completed.history[-1].kind == "COMPLETED"
    assert completed.history[-1].by is None
    assert world.balance(personal_account_id(alice.id)) == 7
    world.assert_ledger_consistent(personal_account_id(alice.id))


@pytest.mark.parametrize("kind", ["scheduled", "requested", "canceled", "in-progress"])
def test_the_sweep_does_nothing_when_nothing_is_due(world: World, kind: str) -> None:
    alice, the_coach = member(), coach()
    service = world.service(by=the_coach, requires_approval=kind == "requested")
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    now = world.now + HOUR
    if kind == "canceled":
        session = operations.cancel(world.store, alice, session.id, None, world.now)
        now = session.end + 24 * HOUR
    elif kind == "in-progress":
        now = session.start + 30 * MINUTE

    assert operations.sweep_session(world.store, session, now) is None

    assert stored(world, session.id) == session


def test_a_sweep_run_twice_does_the_work_once(world: World) -> None:
    # Given an expired request, read once by the sweep
    alice, _, _, session = requested_booking(world, credits=3)
    assert session.request_expires_at is not None
    when = session.request_expires_at + HOUR
    (listed,) = due(world.store, when)

    # When the sweep handles it, and then handles the same (now stale) read again,
    # and then a fresh read
    first = operations.sweep_session(world.store, listed, when)
    second = operations.sweep_session(world.store, listed, when)
    third = operations.sweep_session(world.store, stored(world, session.id), when)

    # Then only the first did anything
    assert first == "EXPIRE_BOOKING"
    assert second is None
    assert third is None
    expired = stored(world, session.id)
    assert expired.status is SessionStatus.EXPIRED
    assert [e.kind for e in expired.history].count("EXPIRED") == 1
    account = personal_account_id(alice.id)
    assert world.balance(account) == 10
    assert [e.kind for e in world.entries(account)].count(EntryKind.RELEASE) == 1
    world.assert_ledger_consistent(account)


def test_a_completion_run_twice_completes_once(world: World) -> None:
    alice = member()
    service = world.service()
    world.fund(alice, 10)
    session = world.book(alice, service)

    assert operations.sweep_session(world.store, session, session.end) == "COMPLETE"
    assert operations.sweep_session(world.store, session, session.end + HOUR) is None

    assert [e.kind for e in stored(world, session.id).history] == ["BOOKED", "COMPLETED"]


def test_a_sweep_that_lost_to_an_answer_does_nothing(world: World) -> None:
    # Given the sweep read a request just before the coach approved it in time
    _, the_coach, _, session = requested_booking(world)
    assert session.request_expires_at is not None
    operations.answer_booking(
        world.store, the_coach, session.id, True, session.request_expires_at - MINUTE
    )

    # When the sweep acts on its stale read at the deadline
    done = operations.sweep_session(world.store, session, session.request_expires_at)

    # Then the approval stands
    assert done is None
    assert stored(world, session.id).status is SessionStatus.SCHEDULED


# --- what is due ----------------------------------------------------------------------------


def test_due_sessions_lists_only_what_the_sweep_must_handle(
    store: Storage, dynamodb_client: "DynamoDBClient"
) -> None:
    # Given a Due index of one shard (so that one partition holds every due session),
    world = World(Storage(dynamodb_client, store.settings.model_copy(update={"due_shards": 1})))
    # looking from a moment 50 hours from now:
    # (services that send no reminders: their records are due too, with stories of their own)
    alice, the_coach = member(), coach()
    plain = world.service(by=the_coach, credits=1, **QUIET)  # type: ignore[arg-type]
    reviewed = world.service(
        by=the_coach,
        credits=1,
        requires_approval=True,
        request_ttl_hours=48,
        **QUIET,  # type: ignore[arg-type]
    )
    patient = world.service(
        by=the_coach,
        credits=1,
        requires_approval=True,
        request_ttl_hours=96,
        **QUIET,  # type: ignore[arg-type]
    )
    world.fund(alice, 20)
    ended = world.book(alice, plain, in_hours=10)  # ended 39 hours before
    expired_request = world.book(alice, reviewed, in_hours=72)  # expired 2 hours before
    fresh_request = world.book(alice, patient, in_hours=100)  # expires 46 hours later
    answered = world.book(alice, reviewed, in_hours=80)
    operations.answer_booking(world.store, the_coach, answered.id, True, world.now)
    later = world.book(alice, plain, in_hours=120)
    canceled = world.book(alice, plain, in_hours=20)
    operations.cancel(world.store, alice, canceled.id, None, world.now)
    look_at = world.now + 50 * HOUR

    # When the sweep asks its one shard what is due
    listed = world.store.due_page("DUE#0", look_at, 100)

    # Then only the ended session and the expired request are, oldest due first
    assert [s.id for s in listed.sessions] == [ended.id, expired_request.id]
    assert listed.next_key is None
    assert fresh_request.id not in _due_ids(world, look_at)
    assert later.id not in _due_ids(world, look_at)
    # and one page at a time it resumes where it stopped
    first = world.store.due_page("DUE#0", look_at, 1)
    assert [s.id for s in first.sessions] == [ended.id]
    assert first.next_key is not None
    second = world.store.due_page("DUE#0", look_at, 1, first.next_key)
    assert [s.id for s in second.sessions] == [expired_request.id]


def test_swept_sessions_are_no_longer_due(world: World) -> None:
    alice = member()
    service = world.service(credits=1)
    world.fund(alice, 10)
    sessions = [world.book(alice, service, in_hours=h) for h in (5, 10, 15)]
    look_at = world.now + 24 * HOUR
    assert _due_ids(world, look_at) == {s.id for s in sessions}

    for session in due(world.store, look_at):
        assert operations.sweep_session(world.store, session, look_at) == "COMPLETE"

    assert due(world.store, look_at) == []


def test_an_expired_reschedule_request_is_due_then_its_session_is_due_at_its_end(
    world: World,
) -> None:
    alice = member()
    service = world.service(late_reschedule_requires_approval=True, request_ttl_hours=2)
    world.fund(alice, 10)
    session = world.book(alice, service, in_hours=72)
    late = session.start - 12 * HOUR
    reschedule(world, alice, session, session.start + 3 * HOUR, late)

    assert _due_ids(world, late + HOUR) == set()
    assert _due_ids(world, late + 2 * HOUR) == {session.id}
    operations.sweep_session(world.store, stored(world, session.id), late + 2 * HOUR)
    assert _due_ids(world, late + 2 * HOUR) == set()
    assert _due_ids(world, session.end) == {session.id}
