"""Emails from the sessions and ledger tables' streams: each change tells the people it
concerns, once.

Each stream record is one write of one item. Session writes are turned into notifications by
the policy layer and sent by the notifier; so are the ledger's new notices about credits that
expire (``credit_notices``). A session's reminders record, once the sweep has marked an email
its time owes, sends that reminder or last call (``coaching.reminders``), if it is still true
when read again. Other items (slot claims, services, entries) mean nothing to people and are
skipped here too, in case a mapping's filter ever lets one through. A record whose emails could
not all go out fails on its own (partial batch response), and the stream brings it back; the
emails it did send are not sent again.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from coaching import clock, credit_notices, reminders, runtime
from coaching.mail import notifications
from coaching.mail.notifications import Notification
from coaching.mail.notifier import Deliverable
from coaching.models import Session
from coaching.observability import log_metrics, logger, tracer
from coaching.reminders import Reminders
from coaching.storage import is_session, session_from_item
from coaching.storage.ledger import is_notice, notice_from_item
from coaching.storage.reminders import is_reminders, reminders_from_item

# When every record fails, answer with each of them rather than raise: Lambda retries the same
# records either way, and the invocation is not counted as an error of the function.
processor = BatchProcessor(
    event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
)


def _session(image: dict[str, Any] | None) -> Session | None:
    return session_from_item(image) if image else None


def _reminders(image: dict[str, Any] | None) -> Reminders | None:
    return reminders_from_item(image) if image else None


def record_handler(record: DynamoDBRecord, lambda_context: LambdaContext) -> None:
    change = record.raw_event.get("dynamodb") or {}
    keys, image = change.get("Keys", {}), change.get("NewImage")
    due: Sequence[Deliverable]
    if record.raw_event.get("eventName") == "INSERT" and image and is_notice(image):
        due = _about_credits(image)
    elif is_reminders(keys):
        due = _time_driven(change)
    elif is_session(keys):
        due = _about_a_change(change)
    else:
        return
    runtime.notifier().deliver_all(
        due, time_left=lambda: lambda_context.get_remaining_time_in_millis() / 1000
    )


def _about_credits(image: dict[str, Any]) -> Sequence[Deliverable]:
    """What a ledger's new notice about credits that expire sends to the account's owners."""
    notice = notice_from_item(image)
    logger.info(
        "credit notice",
        extra={"account_id": notice.account_id, "lot": notice.lot, "kind": notice.kind.value},
    )
    return credit_notices.decide(notice)


def _time_driven(change: dict[str, Any]) -> list[Notification]:
    """What a sweep's mark on a reminders record sends, checked against the session now."""
    old, new = _reminders(change.get("OldImage")), _reminders(change.get("NewImage"))
    marked = reminders.fired(old, new)
    if new is None or not marked:
        return []
    session, current = runtime.storage().session_and_reminders(new.session_id)
    due = notifications.of_marks(new, marked, session, current, clock.now())
    logger.info(
        "reminders marked",
        extra={
            "session_id": new.session_id,
            "marked": [d.name for d in marked],
            "kinds": sorted({n.kind.value for n in due}),
        },
    )
    return due


def _about_a_change(change: dict[str, Any]) -> list[Notification]:
    old, new = _session(change.get("OldImage")), _session(change.get("NewImage"))
    due = notifications.decide(
        old, new, current=lambda: runtime.storage().get_session(new.id) if new else None
    )
    if new is not None:
        kinds = sorted({n.kind.value for n in due})
        logger.info(
            "session change", extra={"session_id": new.id, "version": new.version, "kinds": kinds}
        )
    return due


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
