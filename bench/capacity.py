"""DynamoDB's capacity rules, applied to the items a request read and wrote.

moto answers ``ReturnConsumedCapacity`` with fixed placeholders (1.0 for a write or a Query, 0.5
for a read whatever the item's size, nothing at all for a transaction), so the bench computes
capacity itself from the items, the way DynamoDB bills on-demand tables:

- item size: each attribute's name in UTF-8 plus its value (a string's UTF-8 bytes, a number's
  significant digits / 2 + 1, 1 byte for a boolean or null, 3 bytes plus 1 per element for a
  list or map);
- a read: 1 RCU per 4 KB (at least 1) when strongly consistent, half that when eventually
  consistent (every global secondary index read); a Query sums the items it read (before any
  filter) and rounds the sum up once;
- a write: 1 WCU per 1 KB (at least 1) of the larger of the item before and after; a write
  whose condition fails is billed the same; in a ``TransactWriteItems`` every item costs twice;
- index writes: a write that puts an item into a global secondary index, changes its entry
  there or takes it out costs 1 WCU per KB of the entry (the table's keys, the index's keys
  and the projected attributes: the whole item for ALL); 2 writes when an index key changes
  (the old entry out, the new one in); none when the entry is the same before and after. They
  are counted once, not doubled inside transactions.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Item = Mapping[str, Any]


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (``{"S": ...}`` form)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in content)
    if kind == "NS":
        return sum(number_size(str(n)) for n in content)
    if kind == "BS":
        return sum(len(b) for b in content)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in content)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def number_size(text: str) -> int:
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0")
    return (max(1, len(digits)) + 1) // 2 + 1


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(n_bytes: int, *, consistent: bool) -> float:
    whole = max(1, math.ceil(n_bytes / 4096))
    return float(whole) if consistent else whole / 2


def write_units(n_bytes: int) -> float:
    return float(max(1, math.ceil(n_bytes / 1024)))


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: tuple[str, ...] | None = None
    """The non-key attributes the index holds: None for ALL, () for KEYS_ONLY."""
    table_keys: tuple[str, ...] = ()

    def entry(self, item: Item) -> Item:
        """What of ``item`` the index holds: its keys, the table's and the projected."""
        if self.projection is None:
            return item
        kept = {*self.keys, *self.table_keys, *self.projection}
        return {name: value for name, value in item.items() if name in kept}

    def holds(self, item: Item | None) -> bool:
        return item is not None and all(k in item for k in self.keys)


@dataclass
class Capacity:
    read: float = 0.0
    write: float = 0.0
    index_write: float = 0.0
    """Of ``write``: the share spent keeping global secondary indexes up to date."""

    def __iadd__(self, other: "Capacity") -> "Capacity":
        self.read += other.read
        self.write += other.write
        self.index_write += other.index_write
        return self


def index_partition_writes(
    index: Index, before: Item | None, after: Item | None
) -> list[tuple[str, float]]:
    """The (partition key value, WCU) writes one index takes when an item goes from ``before``
    to ``after``. An index whose entry does not change is not written: with a keys-only or
    small projection, most updates of the table item cost the index nothing."""
    partition = index.keys[0]

    def put(item: Item) -> tuple[str, float]:
        entry = index.entry(item)
        return str(next(iter(item[partition].values()))), write_units(item_size(entry))

    if index.holds(before) and index.holds(after):
        assert before is not None and after is not None
        if any(before[k] != after[k] for k in index.keys):
            return [put(before), put(after)]  # the old entry out, the new one in
        if index.entry(before) != index.entry(after):
            return [put(after)]
        return []
    if index.holds(before):
        assert before is not None
        return [put(before)]
    if index.holds(after):
        assert after is not None
        return [put(after)]
    return []


def index_writes(indexes: list[Index], before: Item | None, after: Item | None) -> float:
    """WCU spent on the indexes when an item goes from ``before`` to ``after``."""
    return sum(
        units for index in indexes for _, units in index_partition_writes(index, before, after)
    )


def item_write(
    indexes: list[Index], before: Item | None, after: Item | None, *, transactional: bool
) -> Capacity:
    """One item written (put, updated or deleted) from ``before`` to ``after``."""
    base = write_units(max(item_size(before), item_size(after)))
    on_indexes = index_writes(indexes, before, after)
    return Capacity(write=base * (2 if transactional else 1) + on_indexes, index_write=on_indexes)
