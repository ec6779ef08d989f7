"""The queue delivers at least once: a message that comes back makes no second delivery record
and no second request; a batch whose work died comes back and finishes it; a bad message fails
alone; a session's events go out in order."""

import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from coaching import clock, runtime
from coaching.events.webhooks import messages
from coaching.storage.keys import delivery_id
from coaching.webhook_models import Delivery, DeliveryState
from local.lambda_runtime import load_handler
from tests.integration.api.api_steps import travel

from .conftest import Webhooks


def test_a_redelivered_event_makes_one_record_and_one_request_per_endpoint(
    webhooks: Webhooks,
) -> None:
    first, second = webhooks.subscribe(), webhooks.subscribe()
    event = webhooks.event("s1", "session.booked", 1)

    # the same message twice in one batch, then again in a later batch (a new receipt)
    webhooks.deliver(event, event)
    webhooks.deliver(event)

    assert len(webhooks.receiver.wait_for(2)) == 2
    for created in (first, second):
        (delivery,) = webhooks.deliveries(created.endpoint)
        assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 1
    time.sleep(0.2)
    assert len(webhooks.receiver.received) == 2


def test_a_first_attempt_whose_invocation_died_is_made_when_the_event_comes_back(
    webhooks: Webhooks,
) -> None:
    # Given an invocation that put the delivery, claimed, and died before attempting it
    created = webhooks.subscribe()
    event = webhooks.event("s1", "session.booked", 1)
    read = messages.read(event)
    assert isinstance(read, messages.BusEvent)
    orphan = Delivery(
        id=delivery_id(read.event_id, read.time, read.number),
        endpoint_id=created.endpoint.id,
        event_id=read.event_id,
        event_type=read.type,
        event_time=read.time,
        payload=messages.payload(read),
        state=DeliveryState.PENDING,
        attempts=1,
        created_at=clock.now(),
    )
    lease_until = time.time() + 4  # long enough for a loaded machine's first try below
    assert webhooks.store.create_delivery(orphan, "dead-invocation", lease_until) is None

    # When the queue brings the event back while that lease still runs, nothing is sent ...
    webhooks.deliver(event)
    assert webhooks.receiver.received == []
    # ... and once it has run out, the attempt is made
    time.sleep(max(0.0, lease_until - time.time()) + 0.1)
    webhooks.deliver(event)

    (received,) = webhooks.receiver.wait_for(1)
    assert received.json["data"] == read.data
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 2


def test_an_unreadable_message_fails_alone(webhooks: Webhooks) -> None:
    webhooks.subscribe()

    answer = webhooks.deliver(
        '{"not": "an event"}',
        webhooks.event("s1", "session.booked", 1),
        "not json",
        message_ids=["bad-1", "good", "bad-2"],
    )

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": "bad-1"}, {"itemIdentifier": "bad-2"}]
    }
    assert len(webhooks.receiver.wait_for(1)) == 1


def test_a_sessions_events_go_to_an_endpoint_in_order_whatever_the_batch_order(
    webhooks: Webhooks,
) -> None:
    webhooks.subscribe(event_types=["session.booked", "session.rescheduled", "session.canceled"])

    webhooks.deliver(
        webhooks.event("s1", "session.canceled", 3),
        webhooks.event("s2", "session.booked", 1),
        webhooks.event("s1", "session.booked", 1),
        webhooks.event("s1", "session.rescheduled", 2),
    )

    received = webhooks.receiver.wait_for(4)
    s1 = [r.json["data"]["version"] for r in received if r.json["data"]["session_id"] == "s1"]
    assert s1 == [1, 2, 3]


def test_work_that_does_not_fit_in_the_time_left_is_handed_back(webhooks: Webhooks) -> None:
    webhooks.subscribe()

    # 12 s left: room for one wave of attempts (11 s) and nothing to spare for recording
    answer = webhooks.invoke(
        {
            "Records": [
                {
                    "messageId": "m1",
                    "receiptHandle": "h1",
                    "body": webhooks.event("s1", "session.booked", 1),
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks",
                    "awsRegion": "us-east-1",
                }
            ]
        },
        timeout=12.0,
    )

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert webhooks.receiver.received == []


def _dynamodb_failing_updates() -> Callable[[], None]:
    """DynamoDB answering every UpdateItem with a 500 (the functions' own client, as
    ``local.faults`` hooks it); the function returned stops it."""

    def fail(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "failing"}}, "UpdateItem"
        )

    events = runtime.dynamodb().meta.events
    events.register("before-call.dynamodb.UpdateItem", fail, unique_id="failing-updates")
    return lambda: events.unregister("before-call.dynamodb.UpdateItem", unique_id="failing-updates")


def test_an_outcome_that_cannot_be_written_hands_its_message_back(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.deliver(webhooks.event("s0", "session.booked", 1))  # the function is warm
    stop = _dynamodb_failing_updates()
    try:
        answer = webhooks.deliver(webhooks.event("s1", "session.booked", 1), message_ids=["m1"])
    finally:
        stop()

    # the request went out, but its outcome was not written: the queue brings the event back
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert len(webhooks.receiver.wait_for(2)) == 2
    waiting = [
        d for d in webhooks.deliveries(created.endpoint) if d.event_id.startswith("session:s1")
    ]
    assert [(d.state, d.attempts) for d in waiting] == [(DeliveryState.PENDING, 1)]


def test_a_scheduled_run_that_cannot_write_an_outcome_fails_so_the_alarm_fires(
    webhooks: Webhooks,
) -> None:
    webhooks.subscribe()
    webhooks.receiver.answer(500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    travel().advance(6)
    handler = load_handler("functions/deliver/", "app.handler")
    not_recorded = sys.modules[handler.__module__].OutcomesNotRecorded

    def fail_outcomes(params: dict[str, Any], **_: Any) -> None:
        if "REMOVE lease_owner" in params["UpdateExpression"]:  # an outcome, not a claim
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "Update")

    events = runtime.dynamodb().meta.events
    events.register("before-parameter-build.dynamodb.UpdateItem", fail_outcomes, unique_id="f")
    try:
        with pytest.raises(not_recorded):
            webhooks.run_schedule()
    finally:
        events.unregister("before-parameter-build.dynamodb.UpdateItem", unique_id="f")

    # the retry was made; its lease runs out and a later run records the one after it
    assert len(webhooks.receiver.wait_for(2)) == 2
