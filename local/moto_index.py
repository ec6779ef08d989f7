"""Queries in moto that read the partition they name, not the whole table.

moto 5 answers every ``Query`` (of a table or of one of its indexes) from ``Table.all_items``:
every item of the table, sorted by primary key, of which it keeps those whose keys match. At
100,000 items that is over a second per query whatever the query names, and the sweep makes one
per shard of the Due index (33 of them): it ran out of its timeout in the bench, where DynamoDB
reads only the index entries it returns.

``install()`` keeps moto's own ``Table.query`` (key conditions, ``begins_with`` and ``between``,
order and ``ScanIndexForward``, ``Limit``, ``ExclusiveStartKey`` and ``LastEvaluatedKey``,
``ScannedCount``, the filter, the index's projection, every error) and changes only the list
it starts from: while a query runs, ``all_items`` of the queried table hands it the items of
the partition the key condition names, in the order ``all_items`` would have listed them:

- a query of the table: the items under its partition key (moto's own dict of them);
- a query of an index: the items whose values of the index's partition key attributes equal the
  key condition's, from a map of the index's partitions kept on the table (``_Partitions``).

moto then checks every condition on those items as it would have on all of them, so an item
the map lists wrongly is still dropped; the map only has to list every item moto would keep,
which it does by holding each item under its current partition key values. A query this module
cannot narrow (no condition on the index's partition key) gets every item, as before.

Keeping the maps fresh: a map is built from all items on the first query of its index, and
rebuilt if the index's partition key changes (``UpdateTable``). From then on, every write brings
the entries of the item it wrote up to date: ``Table.put_item`` and ``Table.delete_item``
(through which every put and delete of moto goes: PutItem, BatchWriteItem, transactions, PartiQL,
imports), ``DynamoDBBackend.update_item`` (which changes the stored item in place) and
``TransactWriteItems`` (whose refusal puts items back, ``local.moto_patch``). A table created
anew (or restored) starts without maps. moto never deletes expired items itself (TTL is only a
setting in moto), so expiry needs nothing here.

``tests/integration/test_moto_index.py`` runs random writes and queries and compares each answer
with moto's own (``unindexed()``).
"""

import inspect
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import SecondaryIndex, Table

from local import moto_patch

_PATCHED = "_coaching_local_index"
_MAPS = "_coaching_partitions"
"""The attribute of a moto ``Table`` holding its indexes' maps, by index name."""

PrimaryKey = tuple[DynamoType, DynamoType | None]

_ANY_PARTITION = object()
"""Where an item goes whose key values cannot be hashed (a list or a map, which DynamoDB would
refuse as a key but moto stores): listed for every query of the index, and moto decides."""

_NARROWED: ContextVar[tuple[Table, list[Item]] | None] = ContextVar(
    "moto_index_narrowed", default=None
)
_UNINDEXED: ContextVar[bool] = ContextVar("moto_index_unindexed", default=False)


@contextmanager
def unindexed() -> Iterator[None]:
    """Queries made inside answer from all items, exactly as unpatched moto does (the maps are
    still kept up to date by the writes made meanwhile)."""
    token = _UNINDEXED.set(True)
    try:
        yield
    finally:
        _UNINDEXED.reset(token)


def _partition_attrs(index: SecondaryIndex) -> tuple[str, ...]:
    return tuple(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")


def _stored(table: Table, key: PrimaryKey) -> Item | None:
    """The item under ``key`` now, without adding an empty bucket to moto's defaultdict."""
    hash_key, range_key = key
    found: Any = table.items.get(hash_key)
    if found is None or table.range_key_attr is None:
        return found  # type: ignore[no-any-return]
    return found.get(range_key)  # type: ignore[no-any-return]


def _all_items_order(item: Item) -> Any:
    """``Table.all_items``'s sort key, as moto writes it."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


@dataclass
class _Partitions:
    """One index's partitions: which items (by primary key) hold which partition key values."""

    attrs: tuple[str, ...]
    members: dict[Hashable, dict[PrimaryKey, None]] = field(default_factory=dict)
    """Partition key values (a tuple of DynamoType) -> the primary keys of its items, in order."""
    placed: dict[PrimaryKey, Hashable] = field(default_factory=dict)

    @classmethod
    def of(cls, table: Table, attrs: tuple[str, ...]) -> "_Partitions":
        partitions = cls(attrs)
        stored: Any = table.items  # {hash: item}, or {hash: {range: item}} with a range key
        for found in stored.values():
            for item in found.values() if table.range_key_attr else [found]:
                partitions.place((item.hash_key, item.range_key), item)
        return partitions

    def _partition(self, item: Item | None) -> Hashable | None:
        if item is None:
            return None
        values = tuple(item.attrs.get(name) for name in self.attrs)
        if any(v is None for v in values):
            return None  # not in the index (a sparse index leaves such items out)
        try:
            hash(values)
        except TypeError:
            return _ANY_PARTITION
        return values

    def place(self, key: PrimaryKey, item: Item | None) -> None:
        """File the item now under ``key`` (None: there is none) where its values say."""
        before = self.placed.pop(key, None)
        if before is not None:
            members = self.members[before]
            del members[key]
            if not members:
                del self.members[before]
        now = self._partition(item)
        if now is not None:
            self.members.setdefault(now, {})[key] = None
            self.placed[key] = now

    def items(self, table: Table, values: tuple[DynamoType, ...]) -> list[Item]:
        keys = [*self.members.get(values, ()), *self.members.get(_ANY_PARTITION, ())]
        return [item for item in (_stored(table, k) for k in keys) if item is not None]


def _maps(table: Table) -> dict[str, _Partitions]:
    maps: dict[str, _Partitions] = table.__dict__.setdefault(_MAPS, {})
    return maps


def _index_partitions(table: Table, index: SecondaryIndex) -> _Partitions:
    attrs = _partition_attrs(index)
    maps = _maps(table)
    found = maps.get(index.name)
    if found is None or found.attrs != attrs:
        found = maps[index.name] = _Partitions.of(table, attrs)
    return found


def _candidates(table: Table, query: Mapping[str, Any]) -> list[Item] | None:
    """The items the query can match, in ``all_items`` order; None: all items."""
    index_name = query.get("index_name")
    if not index_name:
        hash_key = query.get("hash_key")
        if hash_key is None:
            return None
        found: Any = table.items.get(hash_key)
        if found is None:
            items: list[Item] = []
        elif table.range_key_attr is None:
            items = [found]
        else:
            items = list(found.values())
    else:
        index = next((i for i in table.all_indexes() if i.name == index_name), None)
        if index is None:
            return None  # moto answers with its own error
        conditions = dict(query.get("hash_key_conditions") or [])
        partitions = _index_partitions(table, index)
        if not partitions.attrs or set(conditions) != set(partitions.attrs):
            return None
        items = partitions.items(table, tuple(conditions[name] for name in partitions.attrs))
    return sorted(items, key=_all_items_order)


def _written(table: Table, key: PrimaryKey | None) -> None:
    """Bring the maps' entries for the item under ``key`` up to date."""
    maps = table.__dict__.get(_MAPS)
    if not maps or key is None:
        return
    if table.range_key_attr is None:
        key = (key[0], None)
    item = _stored(table, key)
    for partitions in maps.values():
        partitions.place(key, item)


def _named_key(table: Table, attrs: Any) -> PrimaryKey | None:
    """The primary key a request's ``Key`` (or ``Item``) names; None when it names none."""
    if not isinstance(attrs, Mapping) or not isinstance(attrs.get(table.hash_key_attr), dict):
        return None
    range_value = attrs.get(table.range_key_attr) if table.range_key_attr else None
    range_key = DynamoType(range_value) if isinstance(range_value, dict) else None
    return DynamoType(attrs[table.hash_key_attr]), range_key


def _transaction_keys(backend: DynamoDBBackend, transact_items: Any) -> list[tuple[Table, Any]]:
    named: list[tuple[Table, Any]] = []
    for entry in transact_items if isinstance(transact_items, list) else []:
        for kind, operation in entry.items() if isinstance(entry, dict) else ():
            if not isinstance(operation, dict):
                continue
            table = backend.tables.get(str(operation.get("TableName")))
            if table is not None:
                named.append((table, operation.get("Item" if kind == "Put" else "Key")))
    return named


def _narrow_all_items() -> None:
    original = Table.all_items

    def all_items(self: Table) -> list[Item]:
        narrowed = _NARROWED.get()
        if narrowed is not None and narrowed[0] is self:
            return list(narrowed[1])
        return original(self)

    Table.all_items = all_items  # type: ignore[method-assign]


def _narrow_queries() -> None:
    original = Table.query
    signature = inspect.signature(original)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        if _UNINDEXED.get():
            return original(self, *args, **kwargs)
        candidates = _candidates(self, signature.bind(self, *args, **kwargs).arguments)
        if candidates is None:
            return original(self, *args, **kwargs)
        token = _NARROWED.set((self, candidates))
        try:
            return original(self, *args, **kwargs)
        finally:
            _NARROWED.reset(token)

    setattr(query, _PATCHED, True)
    Table.query = query  # type: ignore[method-assign]


def _follow_writes() -> None:
    put_item, delete_item = Table.put_item, Table.delete_item
    update_item, transact = DynamoDBBackend.update_item, DynamoDBBackend.transact_write_items

    def table_put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
        item = put_item(self, *args, **kwargs)  # moto writes last: a refusal wrote nothing
        _written(self, (item.hash_key, item.range_key))
        return item

    def table_delete_item(
        self: Table, hash_key: DynamoType, range_key: DynamoType | None
    ) -> Item | None:
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            _written(self, (hash_key, range_key))

    def backend_update_item(
        self: DynamoDBBackend, table_name: str, key: Any, *args: Any, **kwargs: Any
    ) -> Item:
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:  # also on failure: moto may have created or changed the item before it
            table = self.tables.get(table_name)
            if table is not None:
                _written(table, _named_key(table, key))

    def transact_write_items(self: DynamoDBBackend, transact_items: Any) -> None:
        try:
            transact(self, transact_items)
        finally:  # a refused transaction's items were put back as they were
            for table, attrs in _transaction_keys(self, transact_items):
                _written(table, _named_key(table, attrs))

    Table.put_item = table_put_item  # type: ignore[method-assign]
    Table.delete_item = table_delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = backend_update_item  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def install() -> None:
    """Patch moto in this process (idempotent), after ``local.moto_patch``: its rollback of a
    refused transaction must run inside the wrapper that brings the maps up to date."""
    moto_patch.install()
    if getattr(Table.query, _PATCHED, False):
        return
    _follow_writes()
    _narrow_all_items()
    _narrow_queries()
