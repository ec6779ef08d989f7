"""Each index of the sessions table projects what the queries on it read, on the template's
tables (moto honours projections: a keys-only index answers with keys only).

- ByMember and ByCoach project whole sessions: a listing shows each session whole, and its
  filter reads ``status`` and ``start_at``. A session read through them equals the session.
- Due projects keys only: the sweep reads the due sessions whole, by key, so what it acts on
  is the whole current session, whatever fields the model has.
"""

from datetime import timedelta
from typing import Literal

import boto3

from coaching import operations
from coaching.models import Session
from tests.builders import World, coach, member

HOUR = timedelta(hours=1)


def _everything_about_sessions(world: World) -> tuple[list[Session], list[Session]]:
    """Sessions that fill every optional field between them: a late reschedule request, a
    cancel with a reason and a refund, a booking request; and the ones that ended."""
    alice, the_coach = member(), coach()
    world.fund(alice, 30)
    plain = world.service(by=the_coach, late_reschedule_requires_approval=True)
    reviewed = world.service(by=the_coach, requires_approval=True)
    asked = world.book(alice, plain, in_hours=10)
    asked, _ = operations.reschedule(
        world.store, alice, asked.id, asked.start + 3 * HOUR, "Train strike", world.now
    )
    canceled = world.book(alice, plain, in_hours=48)
    canceled = operations.cancel(world.store, alice, canceled.id, "Ill", world.now)
    requested = world.book(alice, reviewed, in_hours=72)
    ended = world.book(alice, plain, in_hours=1)
    return [asked, requested], [ended, canceled]


def test_listings_read_whole_sessions_from_by_member_and_by_coach(world: World) -> None:
    upcoming, past = _everything_about_sessions(world)
    later = world.now + 2 * HOUR
    member_id, coach_id = upcoming[0].member.id, upcoming[0].coach.id

    readers: list[tuple[Literal["member", "coach"], str]] = [
        ("member", member_id),
        ("coach", coach_id),
    ]
    for role, who in readers:
        listed_upcoming, _ = world.store.sessions_of(role, who, "upcoming", later, 100, None)
        listed_past, _ = world.store.sessions_of(role, who, "past", later, 100, None)

        # Each listed session is the stored session, field for field
        assert sorted(listed_upcoming, key=lambda s: s.id) == sorted(
            (world.store.get_session(s.id) for s in upcoming), key=lambda s: s.id
        )
        assert sorted(listed_past, key=lambda s: s.id) == sorted(
            (world.store.get_session(s.id) for s in past), key=lambda s: s.id
        )


def test_the_due_index_holds_keys_and_the_sweep_reads_whole_sessions(world: World) -> None:
    upcoming, past = _everything_about_sessions(world)
    look_at = world.now + 100 * HOUR  # everything still active is due by then
    client = boto3.client("dynamodb", region_name="us-east-1")

    # The index answers with the table's and its own keys, nothing more
    entries = [
        entry
        for partition in world.store.due_partitions()
        for entry in client.query(
            TableName=world.store.sessions_table,
            IndexName="Due",
            KeyConditionExpression="due_pk = :d",
            ExpressionAttributeValues={":d": {"S": partition}},
        )["Items"]
    ]
    sessions = [entry for entry in entries if entry["sk"]["S"] == "SESSION"]
    assert len(sessions) == 3  # the ended one, the one asked to move and the request
    # (the rest: reminders records of scheduled sessions whose reminders are still to come)
    assert {entry["sk"]["S"] for entry in entries} <= {"SESSION", "REMINDERS"}
    assert all(set(entry) == {"pk", "sk", "due_pk", "due_at"} for entry in entries)

    # ... and the sweep's page gives the whole stored sessions
    read = [
        session
        for partition in world.store.due_partitions()
        for session in world.store.due_page(partition, look_at, 100).sessions
    ]
    assert sorted(read, key=lambda s: s.id) == sorted(
        (world.store.get_session(s.id) for s in [*upcoming, past[0]]), key=lambda s: s.id
    )
    assert any(s.reschedule_request is not None for s in read)
