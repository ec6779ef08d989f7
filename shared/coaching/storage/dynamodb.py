"""The requests every store makes: reads, paged queries and the one transaction.

Items are written and read through ``codec`` (typed values); the tokens a listing gives out are
``page_tokens``.

Every change is one ``TransactWriteItems``: the session item (condition: the version we read),
the slot claims it takes or frees, and when credits move, the account (condition: the version
we read, so the balance we computed from is the balance it has) with the ledger entry numbered
after it (condition: that number is free). A second refund, a negative balance or a lost update
would each need a condition to pass on a state that no longer exists. ``Table._write`` also adds
the request's Idempotency-Key record to that same transaction (see ``receipts``).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from coaching.errors import (
    CoachDayFull,
    KeyAlreadyUsed,
    MemberLimitReached,
    RecordTooLarge,
    SlotTaken,
    StaleRead,
    StorageFailed,
    StorageUnavailable,
    TransientConflict,
)
from coaching.settings import Settings
from coaching.storage import receipts
from coaching.storage.codec import from_item, to_item
from coaching.storage.page_tokens import decode_token, encode_token
from coaching.storage.receipts import Answer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef
else:
    DynamoDBClient = Any
    TransactWriteItemTypeDef = dict

T = TypeVar("T")

_BUSY_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
"""DynamoDB busy or failing for now: a later try of the same request may pass (so may any 5xx)."""


class ConditionFailed(StorageFailed):
    """A conditional write of one item found it not as its condition asked. The store that
    wrote it says what that means; ``item`` is the item as DynamoDB returned it, if it did."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("ConditionalCheckFailedException")
        self.item = item


def storage_failure(error: ClientError | BotoCoreError) -> StorageFailed | RecordTooLarge:
    """The project's error for what botocore raised on a request that is not a transaction
    (``meaning_of`` reads a refused transaction's reasons first)."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return StorageUnavailable(type(error).__name__)  # not reached, or no answer in time
    if not isinstance(error, ClientError):
        return StorageFailed(type(error).__name__)  # e.g. a request the client would not send
    code = str(error.response.get("Error", {}).get("Code", "") or "ClientError")
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(cast(dict[str, Any], error.response).get("Item"))
    if code == "ValidationException" and _about_size(error.response.get("Error", {})):
        return _too_large()
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _BUSY_CODES or status >= 500:
        return StorageUnavailable(code)
    return StorageFailed(code)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Around every DynamoDB call: what botocore raises leaves storage as the project's error."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise storage_failure(error) from error


Tag = Literal[
    "session",
    "slot-claim",
    "slot-release",
    "account",
    "entry",
    "membership",
    "new",
    "receipt",
    "hours",
    "email",
    "history",
    "day-count",
    "member-count",
    "service",
    "directory",
    "change",
    "reminders",
    "lot",
    "notice",
    "webhook",
    "webhook-owner",
    "delivery",
]


@dataclass
class Transaction:
    items: list["TransactWriteItemTypeDef"] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)

    def add(self, tag: Tag, item: "TransactWriteItemTypeDef") -> None:
        self.items.append(item)
        self.tags.append(tag)


def put(table: str, values: Mapping[str, Any], condition: str | None) -> "TransactWriteItemTypeDef":
    return put_item(table, to_item(values), condition)


def put_item(table: str, item: dict[str, Any], condition: str | None) -> "TransactWriteItemTypeDef":
    request: dict[str, Any] = {"TableName": table, "Item": item}
    if condition:
        request["ConditionExpression"] = condition
    return {"Put": request}  # type: ignore[typeddict-item]


@dataclass
class DueEntries:
    """The keys one page of a ``Due`` index named, where the next page starts, and its cost."""

    keys: list[dict[str, Any]]
    next_key: dict[str, Any] | None
    items_read: int
    capacity_units: float


class Table:
    """The client, the table names, and the requests the stores built on it share."""

    def __init__(self, client: "DynamoDBClient", settings: Settings) -> None:
        self._db = client
        self.settings = settings
        self.sessions_table = settings.sessions_table
        self.ledger_table = settings.ledger_table

    def _get(self, table: str, key: Mapping[str, str]) -> dict[str, Any] | None:
        with aws_errors():
            response = self._db.get_item(TableName=table, Key=to_item(key), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else from_item(item)

    def _batch_get(self, wanted: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            table: {"Keys": keys, "ConsistentRead": True} for table, keys in wanted.items()
        }
        items: list[dict[str, Any]] = []
        while request:
            with aws_errors():
                response = self._db.batch_get_item(RequestItems=request)
            for table_items in response.get("Responses", {}).values():
                items += [from_item(i) for i in table_items]
            # Keys DynamoDB did not get to this time (throttling, size) are asked for again.
            request = dict(response.get("UnprocessedKeys") or {})
        return items

    def _due_entries(
        self, table: str, partition: str, due_by: str, limit: int, after: Mapping[str, Any] | None
    ) -> "DueEntries":
        """One page of one partition of a table's sparse ``Due`` index (keys only), oldest due
        first, up to ``due_by``: the sessions' sweep and the lots' both read it this way."""
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": "Due",
            "KeyConditionExpression": "due_pk = :d AND due_at <= :now",
            "ExpressionAttributeValues": {":d": {"S": partition}, ":now": {"S": due_by}},
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after:
            kwargs["ExclusiveStartKey"] = after
        with aws_errors():
            response = self._db.query(**kwargs)
        entries = response.get("Items", [])
        return DueEntries(
            keys=[{"pk": e["pk"], "sk": e["sk"]} for e in entries],
            next_key=response.get("LastEvaluatedKey"),
            items_read=response.get("ScannedCount", len(entries)),
            capacity_units=float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
        )

    def _query(
        self,
        table: str,
        *,
        index: str | None,
        key_condition: str,
        names: dict[str, str] | None,
        values: dict[str, Any],
        forward: bool,
        limit: int,
        token: str | None,
        token_keys: Mapping[str, str],
        key_names: set[str],
        read: Callable[[dict[str, Any]], T | None],
    ) -> tuple[list[T], str | None]:
        """One page of up to ``limit`` items as ``read`` makes them, and the next page's token.

        ``read`` returns None for an item the page leaves out; the query reads on while that
        thins the page. Each request asks for no more items than the page still lacks, so the
        next page starts right after the last item read, kept or not.
        """
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if token:
            kwargs["ExclusiveStartKey"] = decode_token(token, token_keys, key_names)
        items: list[T] = []
        while True:
            kwargs["Limit"] = limit - len(items)
            with aws_errors():
                response = self._db.query(**kwargs)
            for item in response.get("Items", []):
                kept = read(from_item(item))
                if kept is not None:
                    items.append(kept)
            last = response.get("LastEvaluatedKey")
            if last is None:
                return items, None
            if len(items) >= limit:
                return items, encode_token(last)
            kwargs["ExclusiveStartKey"] = last

    def _read_items(
        self, table: str, keys: Sequence[dict[str, Any]]
    ) -> tuple[dict[tuple[str, str], dict[str, Any]], float]:
        """Whole items by key (strongly consistent), by ``(pk, sk)``, and the read units spent."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        units = 0.0
        for start in range(0, len(keys), 100):  # BatchGetItem takes 100 keys at most
            request: dict[str, Any] = {
                table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}
            }
            while request:
                with aws_errors():
                    response = self._db.batch_get_item(
                        RequestItems=request, ReturnConsumedCapacity="TOTAL"
                    )
                for item in response.get("Responses", {}).get(table, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = item
                units += sum(
                    float(c.get("CapacityUnits", 0.0)) for c in response.get("ConsumedCapacity", [])
                )
                # Keys DynamoDB did not get to this time (throttling, size) are asked for again.
                request = dict(response.get("UnprocessedKeys") or {})
        return found, units

    def _write(self, tx: Transaction, result: object) -> None:
        """Run the transaction; turn a refusal into what it means for the caller.

        ``result`` is what the change produced (the session, entry, account or service). When
        the request carries an Idempotency-Key, its record and the answer made from ``result``
        are written in this same transaction.
        """
        receipt = receipts.current()
        answer = None
        if receipt is not None:
            if receipt.answer is not None:
                raise RuntimeError("a request with an Idempotency-Key commits one change only")
            answer = receipt.present(result)
            tx.add("receipt", self._receipt_put(receipt, answer))
        try:
            self._db.transact_write_items(TransactItems=tx.items)
        except ClientError as error:
            raise meaning_of(error, tx.tags) from error
        except BotoCoreError as error:
            raise storage_failure(error) from error
        if receipt is not None:
            receipt.answer = answer

    def _receipt_put(self, receipt: receipts.Receipt, answer: Answer) -> "TransactWriteItemTypeDef":
        values = {
            "id": receipt.record_id,
            "fingerprint": receipt.fingerprint,
            "status": answer.status,
            "body": answer.body,
            "content_type": answer.content_type,
            "expiration": int(receipt.expires_at.timestamp()),  # the table's TTL attribute
        }
        request = put(
            self.settings.idempotency_table,
            values,
            # A key may be reused once its record has expired, even before TTL deletes it.
            "attribute_not_exists(id) OR expiration <= :now",
        )
        request["Put"]["ExpressionAttributeValues"] = {
            ":now": {"N": str(int(receipt.now.timestamp()))}
        }
        return request


def _too_large() -> RecordTooLarge:
    return RecordTooLarge(
        "The change would make a record larger than the service can keep; nothing changed."
    )


def _about_size(detail: Mapping[str, Any]) -> bool:
    """Whether DynamoDB's refusal is about an item's size. Its message is only looked at for
    that, never kept: it can quote the request's values."""
    return "size" in str(detail.get("Message", "")).lower()


def meaning_of(error: ClientError, tags: Sequence[Tag]) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    if code in (
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
    ):
        return TransientConflict(code)
    if code != "TransactionCanceledException":
        return storage_failure(error)
    return _cancellation_meaning(error, tags)


def _cancellation_meaning(error: ClientError, tags: Sequence[Tag]) -> Exception:
    """A canceled transaction: what its items' reasons say, in the order they matter."""
    reasons = error.response.get("CancellationReasons", [])
    codes = [r.get("Code", "None") for r in reasons]
    if any(
        c in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")
        for c in codes
    ):
        return TransientConflict(",".join(codes))
    if any(c == "ValidationError" and _about_size(r) for c, r in zip(codes, reasons, strict=False)):
        return _too_large()
    failed = [tag for tag, c in zip(tags, codes, strict=False) if c == "ConditionalCheckFailed"]
    if failed:
        return _failed_conditions(failed)
    # e.g. an item DynamoDB would not take
    return StorageFailed(f"TransactionCanceledException:{','.join(codes)}")


def _failed_conditions(failed: list[Tag]) -> Exception:
    """What the items whose conditions failed mean, the first that applies."""
    if "receipt" in failed:
        # The same key committed first (a retry racing its original): its answer is the answer.
        return KeyAlreadyUsed()
    if "session" in failed or "service" in failed:
        # The session changed under us: a slot that looks taken may be held by its own newer
        # version. Or the service did (a booking is made under one version of it). Read again
        # and decide again; a slot truly taken is found on the retry.
        return StaleRead(",".join(failed))
    if "hours" in failed:
        # The coach's booking rules changed under us: read them again and decide again.
        return StaleRead("hours")
    if "slot-claim" in failed:
        return SlotTaken("The coach already has a session at that time.")
    if "day-count" in failed:
        return CoachDayFull("The coach's day is full; choose another day.")
    if "member-count" in failed:
        return MemberLimitReached(
            "You hold as many upcoming sessions of this service as it allows; book again once "
            "one is over or canceled."
        )
    return StaleRead(",".join(failed))
