"""Domain events from the sessions and ledger tables' streams, onto the EventBridge bus.

Each stream record is one write of one item: a session's change (what the sessions stream's
filter lets through) or a new grant or expiry in the ledger (the ledger stream's filter). The
policy layer says which events the write means and the event bus puts them. Records are
published in stream order, and once one fails every later record of the batch is failed without
being published: Lambda retries from the first failure, so no session's events overtake one
another.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from coaching import runtime
from coaching.events import domain_events
from coaching.events.domain_events import DomainEvent
from coaching.observability import log_metrics, logger, tracer
from coaching.storage import is_session, session_from_item
from coaching.storage.ledger import entry_from_item, is_entry

processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


class AfterAFailure(Exception):
    """An earlier record of this batch failed: this one waits for it, unpublished."""


def events_of(record: dict[str, Any]) -> list[DomainEvent]:
    change = record.get("dynamodb") or {}
    old, new = change.get("OldImage"), change.get("NewImage")
    if is_session(change.get("Keys", {})):
        return domain_events.session_events(
            session_from_item(old) if old else None, session_from_item(new) if new else None
        )
    if record.get("eventName") == "INSERT" and new and is_entry(new):
        return domain_events.credit_events(entry_from_item(new))
    return []


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    failed = False

    def record_handler(record: DynamoDBRecord) -> None:
        nonlocal failed
        if failed:
            raise AfterAFailure
        try:
            runtime.event_bus().publish(events_of(record.raw_event))
        except Exception:
            failed = True
            raise

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
