"""Emails from the sessions and ledger tables' streams: each change tells the people it
concerns, once.

Each stream record is one write of one item. Session writes are turned into notifications by
the policy layer and sent by the notifier; so are the ledger's new notices about credits that
expire (``credit_notices``). Other items (slot claims, services, entries) mean nothing to people
and are skipped here too, in case a mapping's filter ever lets one through. A record whose emails
could not all go out fails on its own (partial batch response), and the stream brings it back;
the emails it did send are not sent again.
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

from coaching import credit_notices, notifications, runtime
from coaching.models import Session
from coaching.observability import log_metrics, logger, tracer
from coaching.storage import is_session, session_from_item
from coaching.storage.ledger import is_notice, notice_from_item

# When every record fails, answer with each of them rather than raise: Lambda retries the same
# records either way, and the invocation is not counted as an error of the function.
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def _session(image: dict[str, Any] | None) -> Session | None:
    return session_from_item(image) if image else None


def _time_left(lambda_context: LambdaContext) -> float:
    return lambda_context.get_remaining_time_in_millis() / 1000


def record_handler(record: DynamoDBRecord, lambda_context: LambdaContext) -> None:
    change = record.raw_event.get("dynamodb") or {}
    image = change.get("NewImage")
    if record.raw_event.get("eventName") == "INSERT" and image and is_notice(image):
        notice = notice_from_item(image)
        logger.info(
            "credit notice",
            extra={"account_id": notice.account_id, "lot": notice.lot, "kind": notice.kind.value},
        )
        runtime.notifier().deliver_all(
            credit_notices.decide(notice), time_left=lambda: _time_left(lambda_context)
        )
        return
    if not is_session(change.get("Keys", {})):
        return
    old, new = _session(change.get("OldImage")), _session(change.get("NewImage"))
    due = notifications.decide(
        old, new, current=lambda: runtime.storage().get_session(new.id) if new else None
    )
    if new is not None:
        kinds = sorted({n.kind.value for n in due})
        logger.info(
            "session change", extra={"session_id": new.id, "version": new.version, "kinds": kinds}
        )
    runtime.notifier().deliver_all(due, time_left=lambda: _time_left(lambda_context))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
