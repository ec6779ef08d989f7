"""A session's reminders record (SessionsTable, ``keys.reminders``): what its time still owes.

Written in the transaction of the change that gives the session its time, or deleted in the one
that ends it (``reminders_write``, called by ``SessionStore.save_session``); carried into the
sparse Due index, in the session's own shard, by the time of its next email; marked by the
sweep (``mark_reminders``) on the condition that nobody marked or replaced it since it was read.
Only the sweep and the changes of its session write it.
The record expires (the table's TTL) a week after the session's end.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from coaching import reminders
from coaching.models import Session, SessionStatus
from coaching.reminders import Reminders
from coaching.storage import keys
from coaching.storage.codec import from_item, only_fields, to_item
from coaching.storage.dynamodb import Table, meaning_of, put_item, storage_failure
from coaching.storage.keys import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MARKS_PER_TRANSACTION = 100
"""DynamoDB's most items in one TransactWriteItems."""
RECORD_TTL = timedelta(days=7)
"""How long after the session's end DynamoDB keeps the record (nothing reads it by then)."""


def is_reminders(item_keys: dict[str, Any]) -> bool:
    """Whether a stream record's ``Keys`` name a reminders record."""
    return bool(item_keys.get("sk", {}).get("S") == keys.reminders("")["sk"])


def reminders_item(record: Reminders, *, due_shards: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        **record.model_dump(mode="json"),
        **keys.reminders(record.session_id),
        "entity": "REMINDERS",
        "ttl": int((record.end + RECORD_TTL).timestamp()),
    }
    if record.next_at is not None:
        values |= {
            "due_pk": keys.due_partition(record.session_id, due_shards),
            "due_at": iso(record.next_at),
        }
    return to_item(values)


def reminders_from_item(item: dict[str, Any]) -> Reminders:
    return reminders_from_values(from_item(item))


def reminders_from_values(values: dict[str, Any]) -> Reminders:
    return Reminders.model_validate(only_fields(Reminders, values))


def reminders_write(
    table: str, before: Session | None, after: Session, *, due_shards: int
) -> "TransactWriteItemTypeDef | None":
    """What a change of the session does to its reminders record, in the change's transaction:
    a new time's plan put in place of the old one, the record deleted when the session's time
    ends, or nothing (``reminders.replan``). Planned from the change's own time."""
    if not reminders.replan(before, after):
        return None
    gained = after.events_since(before)
    changed_at = gained[-1].at if gained else after.created_at
    record = reminders.plan(after, changed_at)
    if record is not None:
        return put_item(table, reminders_item(record, due_shards=due_shards), None)
    if before is not None and before.status is SessionStatus.SCHEDULED:
        return {"Delete": {"TableName": table, "Key": to_item(keys.reminders(after.id))}}
    return None


class ReminderStore(Table):
    def reminders_of(self, session_id: str) -> Reminders | None:
        item = self._get(self.sessions_table, keys.reminders(session_id))
        return None if item is None else reminders_from_values(item)

    def mark_reminders(self, marks: Sequence[tuple[Reminders, Reminders]]) -> set[str]:
        """Write the sweep's marks (each record as read, and as marked), up to 100 in one
        transaction, each on the condition that the record is still the one read: no other
        sweep marked it, no change replaced or deleted it. Returns the session ids of those
        that changed since (none of theirs is written), for the sweep to read again.

        One transaction per hundred rather than a request each: at 10,000 reminders a minute
        the sweep makes 100 writes, not 10,000. A transaction refused for some of its items is
        sent again without them (it wrote nothing the first time).
        """
        changed: set[str] = set()
        for start in range(0, len(marks), MARKS_PER_TRANSACTION):
            batch = list(marks[start : start + MARKS_PER_TRANSACTION])
            while batch:
                refused = self._mark(batch)
                if not refused:
                    break
                changed |= refused
                batch = [(b, a) for b, a in batch if b.session_id not in refused]
        return changed

    def _mark(self, batch: list[tuple[Reminders, Reminders]]) -> set[str]:
        """One transaction of marks; the session ids whose condition failed (or that met
        another write at the same moment) when it was refused, else none."""
        items = [
            put_item(
                self.sessions_table,
                reminders_item(after, due_shards=self.settings.due_shards),
                "for_version = :v AND fired_count = :n",
            )
            for _, after in batch
        ]
        for item, (before, _) in zip(items, batch, strict=True):
            item["Put"]["ExpressionAttributeValues"] = {
                ":v": {"N": str(before.for_version)},
                ":n": {"N": str(before.fired_count)},
            }
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            codes = [reason.get("Code", "None") for reason in reasons]
            refused = {
                before.session_id
                for (before, _), code in zip(batch, codes, strict=False)
                if code in ("ConditionalCheckFailed", "TransactionConflict")
            }
            if refused:
                return refused
            raise meaning_of(error, ["reminders"] * len(items)) from error
        except BotoCoreError as error:
            raise storage_failure(error) from error
        return set()
