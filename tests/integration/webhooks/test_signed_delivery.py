"""Every domain event an endpoint subscribed to reaches it, signed so that a receiver using the
``standardwebhooks`` package's own verifier accepts it, with ids, times and amounts only."""

import json
from datetime import timedelta
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from coaching import clock, credit_expiry, operations
from coaching.events import domain_events
from coaching.events.event_bus import EventBus
from coaching.models import EntryKind, personal_account_id
from coaching.storage import Storage
from coaching.webhook_models import DeliveryState
from tests.builders import World, member, support
from tests.integration.webhook_steps import bus_message

from .conftest import Webhooks


def _envelope(entry: Any) -> str:
    """A ``PutEvents`` entry as the bus's rule puts it on the queue."""
    return bus_message(entry["DetailType"], json.loads(entry["Detail"]), entry["Time"])


def test_a_real_booking_arrives_signed_and_the_packages_verifier_accepts_it(
    webhooks: Webhooks, store: Storage
) -> None:
    # Given an endpoint for bookings, and a member's booking as the publish function puts it
    created = webhooks.subscribe(event_types=["session.booked"])
    world = World(store, now=clock.now())
    maya = member().model_copy(update={"name": "Maya Member"})  # the id says nothing of her
    world.fund(maya, 10)
    session = world.book(maya, world.service())
    (event,) = domain_events.session_events(None, session)
    entry = EventBus(client=None, bus_name="bus").entry(event)  # type: ignore[arg-type]

    # When the bus's rule hands it to the delivery function
    answer = webhooks.deliver(_envelope(entry))

    # Then the receiver got it once, and the package's own verifier accepts it
    assert answer == {"batchItemFailures": []}
    (received,) = webhooks.receiver.wait_for(1)
    verified = Webhook(created.secret).verify(received.body, received.headers)
    assert verified == received.json
    assert received.headers["webhook-id"] == event.event_id
    assert received.headers["webhook-signature"].startswith("v1,")
    assert received.headers["content-type"] == "application/json"
    assert received.path == "/hooks"
    # ... its body is {type, timestamp, data}: the event's type and time, its detail as published
    body = received.json
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "session.booked"
    assert body["timestamp"] == event.time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["data"] == event.detail.model_dump(mode="json")
    assert body["data"]["event_id"] == event.event_id
    # ... with ids, times and amounts only: no name, address or time zone
    text = received.body.decode()
    for personal in ("Maya", "@example.com", "Europe/London", "Leadership coaching"):
        assert personal not in text
    # ... and a receiver with another secret refuses it
    other = webhooks.subscribe(event_types=["credits.granted"]).secret
    try:
        Webhook(other).verify(received.body, received.headers)
    except WebhookVerificationError:
        pass
    else:
        raise AssertionError("a signature under another secret verified")
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.state is DeliveryState.DELIVERED
    assert delivery.attempts == 1 and delivery.last_status == 200
    assert delivery.event_id == event.event_id


def test_endpoints_get_only_the_types_they_subscribed_to(webhooks: Webhooks) -> None:
    cancels = webhooks.subscribe(event_types=["session.canceled"])
    everything = webhooks.subscribe(event_types=["*"])
    grants = webhooks.subscribe(event_types=["credits.granted"])

    webhooks.deliver(
        webhooks.event("s1", "session.booked", 1), webhooks.event("s1", "session.canceled", 2)
    )

    received = webhooks.receiver.wait_for(3)
    assert sorted(r.json["type"] for r in received) == [
        "session.booked",
        "session.canceled",
        "session.canceled",
    ]
    assert [d.event_type for d in webhooks.deliveries(cancels.endpoint)] == ["session.canceled"]
    assert len(webhooks.deliveries(everything.endpoint)) == 2
    assert webhooks.deliveries(grants.endpoint) == []


def test_credits_that_expired_reach_the_endpoints_that_subscribed_to_them(
    webhooks: Webhooks, store: Storage
) -> None:
    # Given endpoints for expiries, for grants, and for everything
    expiries = webhooks.subscribe(event_types=["credits.expired"])
    grants = webhooks.subscribe(event_types=["credits.granted"])
    everything = webhooks.subscribe(event_types=["*"])
    # ... and 3 credits that lapsed unused, taken out by the sweep
    now = clock.now()
    account_id = personal_account_id(member().id)
    operations.grant(store, support(), account_id, 3, None, now, valid_days=1)
    later = now + timedelta(days=1, minutes=1)
    assert credit_expiry.run(store, later, lambda: 60.0).expired_lots == 1
    entries, _ = store.ledger(account_id, 10, None)
    [expiry] = [e for e in entries if e.kind is EntryKind.EXPIRE]
    (event,) = domain_events.credit_events(expiry)
    entry = EventBus(client=None, bus_name="bus").entry(event)  # type: ignore[arg-type]

    # When the bus's rule hands its event to the delivery function
    webhooks.deliver(_envelope(entry))

    # Then the endpoints for expiries and for everything get it, with the lot it names
    received = webhooks.receiver.wait_for(2)
    assert [r.json["type"] for r in received] == ["credits.expired", "credits.expired"]
    data = received[0].json["data"]
    assert (data["account_id"], data["credits"], data["balance_after"]) == (account_id, -3, 0)
    assert (data["lot"], data["event_id"]) == (expiry.lots[0].lot, event.event_id)
    assert [d.event_type for d in webhooks.deliveries(expiries.endpoint)] == ["credits.expired"]
    assert len(webhooks.deliveries(everything.endpoint)) == 1
    assert webhooks.deliveries(grants.endpoint) == []


def test_the_same_event_carries_the_same_webhook_id_to_every_endpoint_and_attempt(
    webhooks: Webhooks,
) -> None:
    webhooks.subscribe()
    webhooks.subscribe()
    webhooks.receiver.answer(200, 500)

    webhooks.deliver(webhooks.event("s1", "session.canceled", 2))

    first = webhooks.receiver.wait_for(2)
    assert {r.headers["webhook-id"] for r in first} == {"session:s1:2:session.canceled"}
    assert first[0].body == first[1].body


def test_after_a_rotation_both_secrets_sign_and_either_one_verifies(webhooks: Webhooks) -> None:
    from coaching.events.webhooks import operations

    created = webhooks.subscribe()
    rotated = operations.rotate_secret(
        webhooks.store, webhooks.owner, created.endpoint.id, clock.now()
    )

    webhooks.deliver(webhooks.event("s1", "session.booked", 1))

    (received,) = webhooks.receiver.wait_for(1)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (created.secret, rotated.secret):
        assert Webhook(secret).verify(received.body, received.headers) == received.json


def test_a_disabled_endpoint_gets_nothing(webhooks: Webhooks) -> None:
    from coaching.webhook_models import DisabledReason

    created = webhooks.subscribe()
    webhooks.store.disable(created.endpoint.id, DisabledReason.GONE, clock.now(), "n")

    assert webhooks.deliver(webhooks.event("s1", "session.booked", 1)) == {"batchItemFailures": []}

    assert webhooks.receiver.received == []
    assert webhooks.deliveries(created.endpoint) == []
