"""What the webhook queue carries, read; and the body a receiver gets."""

import json
from datetime import UTC, datetime

import pytest

from coaching.events.webhooks import messages
from coaching.events.webhooks.messages import BusEvent, RetryRequest

DETAIL = {"event_id": "session:s1:2:session.canceled", "session_id": "s1", "version": 2}
ENVELOPE = {
    "version": "0",
    "id": "e3b0c442",
    "detail-type": "session.canceled",
    "source": "coaching.sessions",
    "time": "2026-12-01T09:00:00Z",
    "detail": DETAIL,
}


def test_a_domain_event_is_read_from_eventbridges_envelope() -> None:
    event = messages.read(json.dumps(ENVELOPE))

    assert event == BusEvent(
        event_id="session:s1:2:session.canceled",
        type="session.canceled",
        time=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        data=DETAIL,
    )
    assert isinstance(event, BusEvent) and event.number == 2


def test_the_body_is_type_timestamp_and_the_detail_as_published() -> None:
    event = messages.read(json.dumps(ENVELOPE))
    assert isinstance(event, BusEvent)

    body = messages.payload(event)

    assert json.loads(body) == {
        "type": "session.canceled",
        "timestamp": "2026-12-01T09:00:00Z",
        "data": DETAIL,
    }
    assert body == messages.payload(event)  # the same bytes every time


def test_a_retry_names_its_webhook_and_delivery() -> None:
    body = messages.retry_body("w1", "d1")

    assert messages.read(body) == RetryRequest(webhook_id="w1", delivery_id="d1")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"retry": {"webhook_id": "w1"}}),
        json.dumps(ENVELOPE | {"source": "someone.else"}),
        json.dumps(ENVELOPE | {"detail": {"session_id": "s1"}}),
        json.dumps(ENVELOPE | {"time": "2026-12-01T09:00:00"}),
        json.dumps(ENVELOPE | {"time": "yesterday"}),
    ],
)
def test_anything_else_is_unreadable(body: str) -> None:
    with pytest.raises(ValueError, match=r"."):  # JSON's own errors, or ours, each with a reason
        messages.read(body)


def test_a_batch_orders_a_sessions_events_by_version_and_grants_by_number() -> None:
    def event(data: dict[str, object]) -> BusEvent:
        return BusEvent("id", "t", datetime(2026, 12, 1, tzinfo=UTC), data)

    assert (
        event({"session_id": "s", "version": 3}).order
        > event({"session_id": "s", "version": 2}).order
    )
    assert event({"account_id": "a", "seq": 7}).number == 7
    assert event({"version": True}).number == 0
