"""Every change reaches the event bus once, in order, with ids and amounts and nothing personal.

Changes are made through the policy layer on moto's tables; the function reads the tables'
streams as its event source mappings would, and the bus delivers to a queue, as to a consumer.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.stub import Stubber

from coaching import operations, runtime
from coaching.models import personal_account_id
from tests.builders import NOW, World, coach, member, support
from tests.integration.publish.conftest import Publish

EVENTS = Path(__file__).resolve().parents[3] / "events"


def test_a_session_life_is_published_one_event_per_change_in_order(
    world: World, publish: Publish
) -> None:
    # Given Ann funded by support and booked with Cho
    ann, cho = member("Ann"), coach("Cho")
    service = world.service(cho, credits=3)
    world.fund(ann, 10)
    session = world.book(ann, service)

    # When Cho moves it, Ann cancels it inside the free window, and the streams are read
    later = session.start + timedelta(hours=24)
    operations.reschedule(world.store, cho, session.id, later, None, NOW)
    operations.cancel(world.store, ann, session.id, None, NOW + timedelta(hours=1))
    received = publish.publish_new_changes()

    # Then the grant, then the session's three changes, each once and in the order made
    assert [e.detail_type for e in received] == [
        "credits.granted",
        "session.booked",
        "session.rescheduled",
        "session.canceled",
    ]
    assert {e.source for e in received} == {"coaching.sessions"}
    granted, booked, moved, canceled = (e.detail for e in received)
    assert (granted["account_id"], granted["credits"], granted["balance_after"]) == (
        personal_account_id(ann.id),
        10,
        10,
    )
    assert [e["version"] for e in (booked, moved, canceled)] == [1, 2, 3]
    assert len({e.detail["event_id"] for e in received}) == 4
    assert booked["member_id"] == ann.id and booked["coach_id"] == cho.id
    assert booked["start"] == session.start.isoformat().replace("+00:00", "Z")
    assert moved["previous_start"] == booked["start"]
    assert moved["start"] == later.isoformat().replace("+00:00", "Z")
    assert moved["actor"] == {"id": cho.id, "role": "coach"}
    assert (canceled["status"], canceled["refundable"], canceled["credits_returned"]) == (
        "CANCELED",
        True,
        3,
    )
    assert received[-1].time == canceled["occurred_at"]


def test_a_redelivered_record_carries_the_same_event_id(world: World, publish: Publish) -> None:
    # Given a booking's record, published once
    ann = member("Ann")
    world.fund(ann, 10)
    world.book(ann, world.service(coach("Cho")))
    publish.ledger.records()  # the grant is not this test's concern
    event = publish.sessions.event()
    assert publish.invoke(event) == {"batchItemFailures": []}

    # When the stream delivers the same record again (Lambda's at-least-once)
    assert publish.invoke(event) == {"batchItemFailures": []}

    # Then the bus has it twice, under one id a consumer drops the repeat of
    first, second = publish.bus()
    assert first.detail == second.detail
    assert first.detail_type == "session.booked"


def test_no_name_address_reason_or_note_reaches_the_bus(world: World, publish: Publish) -> None:
    ann = member().model_copy(
        update={"name": "Annabel Quixote", "email": "aq@mail.test", "timezone": "Asia/Tokyo"}
    )
    cho = coach().model_copy(update={"name": "Chorale Zebedee", "email": "cz@mail.test"})
    world.fund(ann, 10)
    operations.grant(
        world.store, support(), personal_account_id(ann.id), 5, "Goodwill for Annabel", NOW
    )
    session = world.book(ann, world.service(cho))
    operations.reschedule(
        world.store, ann, session.id, session.start + timedelta(hours=1), "Dentist visit", NOW
    )
    operations.cancel(world.store, cho, session.id, "Family emergency", NOW)

    received = publish.publish_new_changes()

    assert len(received) == 5
    published = json.dumps([e.detail for e in received])
    for personal in (
        "Annabel",
        "Quixote",
        "Chorale",
        "Zebedee",
        "mail.test",
        "Goodwill",
        "Dentist",
        "Family emergency",
        "Asia/Tokyo",
    ):
        assert personal not in published


def test_each_kind_of_change_has_its_event_type(world: World, publish: Publish) -> None:
    # Given requests answered, lapsed, refunded and completed
    ann, cho = member("Ann"), coach("Cho")
    asked = world.service(cho, requires_approval=True, request_ttl_hours=1)
    world.fund(ann, 20)
    publish.publish_new_changes()
    accepted = world.book(ann, asked, in_hours=24)
    declined = world.book(ann, asked, in_hours=48)
    lapsed = world.book(ann, asked, in_hours=72)
    operations.answer_booking(world.store, cho, accepted.id, True, NOW)
    operations.answer_booking(world.store, cho, declined.id, False, NOW, reason="Away")
    operations.sweep_session(world.store, lapsed, NOW + timedelta(hours=2))
    over = accepted.end + timedelta(minutes=5)
    now_accepted = operations.view_session(world.store, cho, accepted.id)
    operations.sweep_session(world.store, now_accepted, over)
    operations.refund(world.store, cho, accepted.id, 1, None, over)

    # When the stream is read
    received = publish.publish_new_changes()

    # Then each change published its own type, per session in the order made
    by_session: dict[str, list[str]] = {}
    for event in received:
        by_session.setdefault(event.detail["session_id"], []).append(event.detail_type)
    assert by_session == {
        accepted.id: [
            "session.requested",
            "session.approved",
            "session.completed",
            "session.refunded",
        ],
        declined.id: ["session.requested", "session.declined"],
        lapsed.id: ["session.requested", "session.expired"],
    }
    refunded = received[-1].detail
    assert (refunded["credits_returned"], refunded["credits_returned_in_total"]) == (1, 1)


def test_a_failed_put_fails_that_record_and_every_later_one_unpublished(
    world: World, publish: Publish
) -> None:
    # Given two changes of one session waiting on the stream
    ann, cho = member("Ann"), coach("Cho")
    world.fund(ann, 10)
    session = world.book(ann, world.service(cho))
    operations.cancel(world.store, ann, session.id, None, NOW)
    publish.ledger.records()
    # (only the session's records, as the mapping's filter lets through)
    event = {
        "Records": [
            r for r in publish.sessions.records() if r["dynamodb"]["Keys"]["sk"] == {"S": "SESSION"}
        ]
    }
    records = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert len(records) == 2

    # When the bus refuses the first put
    with Stubber(runtime.events()) as bus:
        bus.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate"}],
            },
        )
        # (an answer for a second put, which must not be asked for)
        bus.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}]})
        answer = publish.invoke(event)
        with pytest.raises(AssertionError, match="1 responses remaining"):
            bus.assert_no_pending_responses()

    # Then that record and all after it come back, and nothing overtook the failed one
    assert answer == {"batchItemFailures": [{"itemIdentifier": r} for r in records]}
    assert publish.bus() == []

    # And the retry publishes them in order
    assert publish.invoke(event) == {"batchItemFailures": []}
    assert [e.detail_type for e in publish.bus()] == ["session.booked", "session.canceled"]


def test_the_sample_event_publishes_the_grant_and_the_cancel(publish: Publish) -> None:
    event = json.loads(
        (Path(__file__).resolve().parents[3] / "events" / "publish.json").read_text()
    )

    assert publish.invoke(event) == {"batchItemFailures": []}

    granted, canceled = publish.bus()
    assert (granted.detail_type, granted.detail["event_id"]) == (
        "credits.granted",
        "credits:personal-member-ann:1",
    )
    assert canceled.detail_type == "session.canceled"
    assert canceled.detail["actor"] == {"id": "member-ann", "role": "member"}
    assert "Welcome" not in json.dumps(granted.detail)
