"""A delivery that fails is tried again about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later,
then given up; retries due soon come back through the queue, the rest through the schedule."""

import time
from datetime import timedelta
from typing import Any

import boto3

from coaching import clock
from coaching.events.webhooks import messages, operations, rules
from coaching.webhook_models import DeliveryState, DisabledReason
from tests.integration.api.api_steps import travel
from tests.integration.webhook_steps import near

from .conftest import Webhooks

SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]


def test_the_schedule_runs_its_course_then_the_delivery_is_failed(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(*[500] * 8)

    webhooks.deliver(webhooks.event("s1", "session.canceled", 2))
    (delivery,) = webhooks.deliveries(created.endpoint)
    waits = []
    for attempt in range(2, 9):
        assert delivery.state is DeliveryState.PENDING and delivery.next_attempt_at is not None
        assert delivery.last_attempt_at is not None
        waits.append(delivery.next_attempt_at - delivery.last_attempt_at)
        # not due yet: a scheduled run leaves it alone ...
        webhooks.run_schedule()
        assert len(webhooks.receiver.received) == attempt - 1
        # ... and once due, it is tried again
        travel().set(delivery.next_attempt_at)
        webhooks.run_schedule()
        webhooks.receiver.wait_for(attempt)
        (delivery,) = webhooks.deliveries(created.endpoint)
        assert delivery.attempts == attempt

    assert waits == SCHEDULE == list(rules.RETRY_DELAYS)
    assert delivery.state is DeliveryState.FAILED
    assert delivery.next_attempt_at is None and delivery.last_status == 500
    assert webhooks.waiting() == []
    travel().advance(24 * 3600)
    webhooks.run_schedule()
    assert len(webhooks.receiver.received) == 8
    ids = {r.headers["webhook-id"] for r in webhooks.receiver.received}
    assert ids == {"session:s1:2:session.canceled"}


def test_a_retry_due_within_15_minutes_also_comes_back_on_the_queue_delayed(
    webhooks: Webhooks,
) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(500, 503, 502)

    webhooks.deliver(webhooks.event("s1", "session.booked", 1))

    # the first retry (5 s) waits on the queue, delayed; nothing is visible yet
    assert webhooks.queue() == {"visible": 0, "delayed": 1}
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert webhooks.waiting() == [(created.endpoint.id, delivery.id)]
    # When the queue brings it back, on time
    travel().advance(6)
    webhooks.deliver(messages.retry_body(created.endpoint.id, delivery.id))
    # Then it is tried, and the next retry (5 min) waits on the queue too
    webhooks.receiver.wait_for(2)
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.attempts == 2 and delivery.last_status == 503
    assert delivery.next_attempt_at == delivery.last_attempt_at + timedelta(minutes=5)  # type: ignore[operator]
    assert webhooks.queue()["delayed"] == 2
    # ... while the one after that (30 min) is left to the scheduled run
    travel().set(delivery.next_attempt_at)
    webhooks.deliver(messages.retry_body(created.endpoint.id, delivery.id))
    webhooks.receiver.wait_for(3)
    assert webhooks.queue()["delayed"] == 2


def test_a_retry_message_that_arrives_before_its_time_does_nothing(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    (delivery,) = webhooks.deliveries(created.endpoint)

    webhooks.deliver(messages.retry_body(created.endpoint.id, delivery.id))

    assert len(webhooks.receiver.received) == 1
    assert webhooks.deliveries(created.endpoint) == [delivery]


def test_a_retry_that_then_succeeds_clears_the_endpoints_failing_mark(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    assert near(webhooks.endpoint(created.endpoint).failing_since, clock.now())

    travel().advance(5)
    webhooks.run_schedule()

    webhooks.receiver.wait_for(2)
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 2
    assert webhooks.endpoint(created.endpoint).failing_since is None
    assert webhooks.waiting() == []


def test_a_manual_retry_of_a_delivered_event_sends_it_once_more(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    (delivered,) = webhooks.deliveries(created.endpoint)
    retried = operations.retry(
        webhooks.store,
        _sqs(),
        webhooks.queue_url,
        webhooks.owner,
        created.endpoint.id,
        delivered.id,
        clock.now(),
    )
    assert retried.state is DeliveryState.PENDING and retried.final_attempt

    # When the queue brings the retry at once, and the receiver fails this time
    (message,) = webhooks.visible_messages()
    webhooks.receiver.answer(500)
    webhooks.deliver(messages.retry_body(**message["retry"]))

    # Then it was sent again with the same id, and it is failed: one attempt, no schedule
    first, second = webhooks.receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.state is DeliveryState.FAILED and delivery.attempts == 2
    assert delivery.next_attempt_at is None and webhooks.waiting() == []


def test_a_manual_retry_of_a_waiting_delivery_brings_it_forward_and_keeps_its_schedule(
    webhooks: Webhooks,
) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(500, 500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    (waiting,) = webhooks.deliveries(created.endpoint)
    operations.retry(
        webhooks.store,
        _sqs(),
        webhooks.queue_url,
        webhooks.owner,
        created.endpoint.id,
        waiting.id,
        clock.now(),
    )

    webhooks.run_schedule()  # due now: the queue's message or the schedule, whichever is first

    webhooks.receiver.wait_for(2)
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.state is DeliveryState.PENDING and delivery.attempts == 2
    assert delivery.next_attempt_at == delivery.last_attempt_at + timedelta(minutes=5)  # type: ignore[operator]
    # the queue's message, arriving after the schedule made the attempt, finds nothing due
    (message,) = webhooks.visible_messages()
    webhooks.deliver(messages.retry_body(**message["retry"]))
    assert len(webhooks.receiver.received) == 2


def test_a_waiting_retry_is_given_up_once_its_endpoint_is_disabled_or_deleted(
    webhooks: Webhooks,
) -> None:
    disabled, deleted = webhooks.subscribe(), webhooks.subscribe()
    webhooks.receiver.answer(500, 500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    webhooks.store.disable(disabled.endpoint.id, DisabledReason.GONE, clock.now(), "n")
    operations.delete(webhooks.store, webhooks.owner, deleted.endpoint.id)

    travel().advance(5)
    webhooks.run_schedule()

    assert len(webhooks.receiver.received) == 2
    (gave_up,) = webhooks.deliveries(disabled.endpoint)
    assert gave_up.state is DeliveryState.FAILED and gave_up.last_error == "ENDPOINT_DISABLED"
    (orphan,) = webhooks.deliveries(deleted.endpoint)  # kept until its TTL
    assert orphan.state is DeliveryState.FAILED and orphan.last_error == "ENDPOINT_DELETED"
    assert webhooks.waiting() == []


def test_the_scheduled_run_says_what_it_did(webhooks: Webhooks) -> None:
    webhooks.subscribe()
    webhooks.receiver.answer(500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    travel().advance(5)

    report = webhooks.run_schedule()

    assert report["attempted"] == 1 and report["delivered"] == 1
    assert report["failed_attempts"] == 0 and report["failed_messages"] == 0


def test_a_retry_in_flight_elsewhere_is_not_taken_twice(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(500)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    (delivery,) = webhooks.deliveries(created.endpoint)
    travel().advance(5)
    now = clock.now()
    claimed = webhooks.store.claim(
        created.endpoint.id,
        delivery.id,
        owner="another-invocation",
        lease_until=time.time() + 150,
        real_now=time.time(),
        now=now,
        lease_due=now + timedelta(seconds=150),
    )
    assert claimed is not None and claimed.attempts == 2

    webhooks.run_schedule()
    webhooks.deliver(messages.retry_body(created.endpoint.id, delivery.id))

    assert len(webhooks.receiver.received) == 1  # the other invocation's attempt is its own
    assert webhooks.waiting() == [(created.endpoint.id, delivery.id)]


def _sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")
