"""A rollback for moto's ``TransactWriteItems`` that keeps the table and its stream.

moto 5 makes a transaction atomic by deep-copying every table the transaction names before it
starts and, when an operation fails, putting the copies in place of the tables. Two things go
wrong with that in a long-running stack:

- the copy replaces the table object, stream shard and all, while a stream reader holds shard
  iterators on the old shard: after the first refused transaction it reads a table nobody
  writes to any more, and no change after it reaches the notify function;
- every transaction, accepted or refused, copies whole tables (the stream's records with them),
  so each one costs time and garbage in proportion to everything the table has ever seen.

``install()`` changes both, keeping what DynamoDB promises (a refused transaction changes no
item and emits no stream record; the ``CancellationReasons`` are moto's own, unchanged):

- moto's own ``transact_write_items`` still does all the checking and writing, but its
  ``copy.deepcopy`` of a table hands back the table itself, so its "rollback" puts each table
  back where it already is;
- before the call, the wrapper copies only the items the transaction names (one per
  operation) and notes how long each touched table's stream is; when the call raises, it puts
  those items back (or removes the ones that were absent) and drops the stream records the
  call appended. Nothing can read in between: the local moto server lets one request in at a
  time (``local.moto_server``), and in-process ``mock_aws`` tests do not race.

Two more things grow without bound in a long-running moto, both fixed here for DynamoDB:

- moto keeps every model instance it ever made in a class-level list, for its dashboard: every
  version of every item, every stream record, every shard iterator a poller asked for. The
  DynamoDB and streams models stop being tracked (nothing but the dashboard reads the lists);
- every ``GetRecords`` call makes a new shard iterator and moto keeps them all; DynamoDB expires
  an iterator 15 minutes after it is handed out, and so does the patched moto (real time: an
  iterator's lifetime is a lease, not a date the functions' clock should move).
"""

import copy
import importlib
import time
from dataclasses import dataclass
from typing import Any

from moto.core.model_instances import model_data
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import StreamRecord, Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

ITERATOR_LIFETIME_SECONDS = 15 * 60

_PATCHED = "_coaching_local_rollback"


@dataclass
class _ItemBefore:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None
    """A copy of the item as it was, or None when there was none."""
    had_range_bucket: bool
    """For a table with a range key: whether ``table.items`` had this hash key at all."""


@dataclass
class _StreamBefore:
    records: list[StreamRecord]
    length: int


class _CopyKeepingTables:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: a table deep-copies to
    itself (the wrapper restores what the transaction touched), anything else as usual."""

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key(backend: DynamoDBBackend, entry: Any) -> tuple[Table, DynamoType, DynamoType | None]:
    (kind, operation), *_ = entry.items()
    table: Table = backend.get_table(operation["TableName"])
    key = operation["Item"] if kind == "Put" else operation["Key"]
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return table, hash_key, range_key


def _before(
    backend: DynamoDBBackend, transact_items: Any
) -> tuple[list[_ItemBefore], list[_StreamBefore]]:
    items: list[_ItemBefore] = []
    streams: dict[int, _StreamBefore] = {}
    for entry in transact_items if isinstance(transact_items, list) else []:
        try:
            table, hash_key, range_key = _key(backend, entry)
        except Exception:  # noqa: S112 (moto refuses an operation it cannot key, writing nothing)
            continue
        stored: Any = table.items  # {hash: item}, or {hash: {range: item}} with a range key
        current: Item | None
        if range_key is None:
            current = stored.get(hash_key)
            had_bucket = False
        else:
            bucket = stored.get(hash_key)
            current = bucket.get(range_key) if bucket is not None else None
            had_bucket = bucket is not None
        items.append(_ItemBefore(table, hash_key, range_key, copy.deepcopy(current), had_bucket))
        shard = table.stream_shard
        if shard is not None and id(table) not in streams:
            streams[id(table)] = _StreamBefore(shard.items, len(shard.items))
    return items, list(streams.values())


def _restore(items: list[_ItemBefore], streams: list[_StreamBefore]) -> None:
    # Backwards, so that an item named twice (which moto refuses) ends as it was first seen.
    for before in reversed(items):
        stored: Any = before.table.items
        if before.range_key is None:
            if before.item is None:
                stored.pop(before.hash_key, None)
            else:
                stored[before.hash_key] = before.item
            continue
        if before.item is not None:
            stored[before.hash_key][before.range_key] = before.item
            continue
        bucket = stored.get(before.hash_key)
        if bucket is not None:
            bucket.pop(before.range_key, None)
            if not bucket and not before.had_range_bucket:
                del stored[before.hash_key]
    for stream in streams:
        del stream.records[stream.length :]


class _NotTracked(list[Any]):
    """An ``instances_tracked`` list that keeps nothing."""

    def append(self, _: Any) -> None:
        return None


def _untrack_dynamodb_models() -> None:
    for service in ("dynamodb", "dynamodbstreams"):
        for model in model_data[service].values():
            model.instances_tracked = _NotTracked()  # type: ignore[attr-defined]


def _expire_shard_iterators() -> None:
    original = DynamoDBStreamsBackend.get_records

    def get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> Any:
        answer = original(self, iterator_arn, limit)
        now = time.monotonic()
        handed_out: dict[str, float] = self.__dict__.setdefault("_handed_out", {})
        handed_out[answer["NextShardIterator"]] = now
        for arn, at in list(handed_out.items()):  # oldest first: stop at the first still valid
            if now - at <= ITERATOR_LIFETIME_SECONDS:
                break
            del handed_out[arn]
            self.shard_iterators.pop(arn, None)
        return answer

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]


ITEM_SIZE_LIMIT = 405000
"""moto's limit (``LimitedSizeDict``): DynamoDB's 400 KB, measured between 409 and 410 KB."""


def _build_items_checking_size_once() -> None:
    def item_init(
        self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
    ) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        typed = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in typed.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict(typed)  # dict.update: no check per key; later sets check

    Item.__init__ = item_init  # type: ignore[method-assign]


def install() -> None:
    """Patch moto in this process (idempotent)."""
    if getattr(DynamoDBBackend.transact_write_items, _PATCHED, False):
        return
    _build_items_checking_size_once()
    _untrack_dynamodb_models()
    _expire_shard_iterators()
    models: Any = importlib.import_module("moto.dynamodb.models")
    models.copy = _CopyKeepingTables()
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: Any) -> None:
        items, streams = _before(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            _restore(items, streams)
            raise

    setattr(transact_write_items, _PATCHED, True)
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
