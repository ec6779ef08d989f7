"""Puts domain events on the EventBridge bus. The only EventBridge caller.

``PutEvents`` can accept some entries of a call and refuse others (throttled, an internal
failure), answering 200 either way; any refused entry raises ``NotPublished``, so the stream
record that meant it fails and comes back, and after the retries the template allows its batch
goes to the dead letter queue. The entries accepted before are put again then: each carries its
``event_id`` in its detail, for consumers to drop the repeat.

Logs carry event ids, types and error codes only; the details hold no personal data either.
"""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from coaching.events.domain_events import SOURCE, DomainEvent
from coaching.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
else:
    EventBridgeClient = PutEventsRequestEntryTypeDef = Any

MAX_ENTRIES = 10
"""PutEvents takes at most ten entries a call."""


class NotPublished(Exception):
    """Some events did not reach the bus this time: fail the stream record."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(",".join(codes))
        self.codes = list(codes)


class EventBus:
    def __init__(self, client: "EventBridgeClient", bus_name: str) -> None:
        self._client = client
        self.bus_name = bus_name

    def entry(self, event: DomainEvent) -> "PutEventsRequestEntryTypeDef":
        """The ``PutEvents`` entry for an event."""
        return {
            "EventBusName": self.bus_name,
            "Source": SOURCE,
            "DetailType": event.detail_type,
            "Time": event.time,
            "Detail": json.dumps(event.detail.model_dump(mode="json"), separators=(",", ":")),
        }

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Put every event, in order, a call per ten; raise unless the bus took them all."""
        for start in range(0, len(events), MAX_ENTRIES):
            chunk = events[start : start + MAX_ENTRIES]
            response = self._client.put_events(Entries=[self.entry(e) for e in chunk])
            if response.get("FailedEntryCount", 0):
                codes = [
                    str(result.get("ErrorCode") or "Unknown")
                    for result in response["Entries"]
                    if "ErrorCode" in result
                ]
                logger.warning("events not published", extra={"codes": codes})
                raise NotPublished(codes)
            metrics.add_metric(
                name="DomainEventsPublished", unit=MetricUnit.Count, value=len(chunk)
            )
            for event in chunk:
                logger.info(
                    "event published",
                    extra={"event_id": event.event_id, "detail_type": event.detail_type},
                )
