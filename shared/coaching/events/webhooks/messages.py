"""What the webhook queue carries, and the body each delivery sends. Pure, no I/O.

Two kinds of message reach the delivery function through the queue:

- a domain event, exactly as the bus's rule put it there (EventBridge's envelope: ``id``,
  ``detail-type``, ``source``, ``time``, ``detail``);
- a retry, ``{"retry": {"webhook_id", "delivery_id"}}``: put there by the delivery function
  itself, delayed, for a retry due within the queue's longest delay, and by
  ``POST /webhooks/{id}/deliveries/{delivery_id}/retry``.

The body a receiver gets is ``{type, timestamp, data}``: the event's type, its time, and its
detail as published on the bus, which holds ids, times and amounts only (``domain_events``).
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coaching.events.domain_events import SOURCE
from coaching.storage.keys import iso


@dataclass(frozen=True)
class BusEvent:
    event_id: str
    """The domain event's own id: the ``webhook-id`` of every attempt to deliver it."""
    type: str
    time: datetime
    data: dict[str, Any]

    @property
    def number(self) -> int:
        """Its place among its kind: a session's version, a ledger entry's number; else 0."""
        for name in ("version", "seq"):
            value = self.data.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
        return 0

    @property
    def order(self) -> tuple[str, int, datetime]:
        """Where the event goes in a batch: a session's events by version, others by time."""
        return (str(self.data.get("session_id") or ""), self.number, self.time)


@dataclass(frozen=True)
class RetryRequest:
    webhook_id: str
    delivery_id: str


def read(body: str) -> BusEvent | RetryRequest:
    """A queue message's body; ``ValueError`` for one that is neither kind."""
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    retry = message.get("retry")
    if isinstance(retry, dict):
        webhook_id, delivery_id = retry.get("webhook_id"), retry.get("delivery_id")
        if not isinstance(webhook_id, str) or not isinstance(delivery_id, str):
            raise ValueError("a retry names a webhook and a delivery")
        return RetryRequest(webhook_id=webhook_id, delivery_id=delivery_id)
    detail, kind, time = message.get("detail"), message.get("detail-type"), message.get("time")
    if message.get("source") != SOURCE or not isinstance(detail, dict):
        raise ValueError("not a domain event")
    event_id = detail.get("event_id")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str):
        raise ValueError("a domain event has a type and an event_id")
    moment = datetime.fromisoformat(str(time).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("an event's time carries its offset")
    return BusEvent(event_id=event_id, type=kind, time=moment, data=detail)


def retry_body(webhook_id: str, delivery_id: str) -> str:
    return json.dumps({"retry": {"webhook_id": webhook_id, "delivery_id": delivery_id}})


def payload(event: BusEvent) -> str:
    """The exact body every attempt of the event's deliveries sends."""
    return json.dumps(
        {"type": event.type, "timestamp": iso(event.time), "data": event.data},
        separators=(",", ":"),
        ensure_ascii=False,
    )
