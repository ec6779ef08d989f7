"""Counts a client's requests through botocore's event hooks; production code is untouched.

A ``Recorder`` registers on one client (the functions' own, from ``coaching.runtime``):

- ``before-parameter-build``: asks DynamoDB for ``ReturnConsumedCapacity=TOTAL`` and notes the
  operation, its tables and, in detail mode, a copy of its parameters and the items it is about
  to change (read beside it through a client of the bench's own);
- ``before-call`` / ``after-call``: how long the request took, and whether it failed.

Detail mode is for counting and capacity only: its extra reads would distort latency, so the
timed runs use a plain recorder, which only notes names and durations.
"""

import copy
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import Capacity, item_size, item_write, read_units
from bench.env import TableSchema

Peek = Callable[[str, Mapping[str, Any]], dict[str, Any] | None]
"""Reads an item (table, key) consistently, outside the recorded client."""

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@dataclass(frozen=True)
class ItemWrite:
    """One item a write changed, as it was and as it is (None: absent), in detail mode."""

    table: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    transactional: bool


@dataclass
class Call:
    service: str
    operation: str
    tables: tuple[str, ...]
    seconds: float
    error: str | None = None
    params: dict[str, Any] | None = None
    capacity: Capacity | None = None
    writes: list[ItemWrite] = field(default_factory=list)

    def touches(self, table: str) -> bool:
        return table in self.tables


@dataclass
class _Target:
    kind: str
    table: str
    key: dict[str, Any]
    item: dict[str, Any] | None
    before: dict[str, Any] | None = None


@dataclass
class Recorder:
    client: Any
    service: str = "dynamodb"
    detail: bool = False
    schemas: Mapping[str, TableSchema] = field(default_factory=dict)
    peek: Peek | None = None
    peek_query: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    """Runs a Query or Scan again without its filter, to see every item it read."""
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        events = self.client.meta.events
        events.register(f"before-parameter-build.{self.service}.*", self._on_params)
        events.register(f"before-call.{self.service}.*", self._on_before_call)
        events.register(f"after-call.{self.service}.*", self._on_after_call)

    def close(self) -> None:
        events = self.client.meta.events
        events.unregister(f"before-parameter-build.{self.service}.*", self._on_params)
        events.unregister(f"before-call.{self.service}.*", self._on_before_call)
        events.unregister(f"after-call.{self.service}.*", self._on_after_call)

    def take(self) -> list[Call]:
        taken, self.calls = self.calls, []
        return taken

    # --- hooks --------------------------------------------------------------------------------

    def _on_params(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        members = model.input_shape.members if model.input_shape is not None else {}
        if "ReturnConsumedCapacity" in members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        state: dict[str, Any] = {"operation": model.name, "tables": _tables(params)}
        if self.detail:
            state["params"] = copy.deepcopy(params)
            if self.service == "dynamodb" and model.name in WRITES:
                state["targets"] = self._targets(model.name, params)
        context["bench"] = state

    def _on_before_call(self, context: dict[str, Any], **_: Any) -> None:
        if "bench" in context:
            context["bench"]["started"] = time.perf_counter()

    def _on_after_call(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        state = context.pop("bench", None)
        if state is None:
            return
        seconds = time.perf_counter() - state.get("started", time.perf_counter())
        error = parsed.get("Error", {}).get("Code") if "Error" in parsed else None
        call = Call(
            service=self.service,
            operation=state["operation"],
            tables=state["tables"],
            seconds=seconds,
            error=error,
            params=state.get("params"),
        )
        if self.detail and self.service == "dynamodb":
            call.capacity = self._capacity(call, state.get("targets", []), parsed)
        self.calls.append(call)

    # --- capacity -----------------------------------------------------------------------------

    def _key(self, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.schemas[table].keys}

    def _targets(self, operation: str, params: Mapping[str, Any]) -> list[_Target]:
        targets: list[_Target] = []
        if operation == "PutItem":
            table = params["TableName"]
            item = params["Item"]
            targets.append(_Target("Put", table, self._key(table, item), item))
        elif operation in ("UpdateItem", "DeleteItem"):
            kind = operation.removesuffix("Item")
            targets.append(_Target(kind, params["TableName"], params["Key"], None))
        elif operation == "TransactWriteItems":
            targets += self._transaction_targets(params)
        elif operation == "BatchWriteItem":
            targets += self._batch_targets(params)
        if self.peek is not None:
            for target in targets:
                target.before = self.peek(target.table, target.key)
        return targets

    def _transaction_targets(self, params: Mapping[str, Any]) -> list[_Target]:
        targets: list[_Target] = []
        for entry in params["TransactItems"]:
            ((kind, body),) = entry.items()
            table = body["TableName"]
            item = body.get("Item")
            key = self._key(table, item) if item is not None else body["Key"]
            targets.append(_Target(kind, table, key, item))
        return targets

    def _batch_targets(self, params: Mapping[str, Any]) -> list[_Target]:
        targets: list[_Target] = []
        for table, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    targets.append(_Target("Put", table, self._key(table, item), item))
                else:
                    key = request["DeleteRequest"]["Key"]
                    targets.append(_Target("Delete", table, key, None))
        return targets

    def _capacity(self, call: Call, targets: list[_Target], parsed: Mapping[str, Any]) -> Capacity:
        if call.operation in WRITES:
            return self._write_capacity(call, targets)
        return self._read_capacity(call, parsed)

    def _write_capacity(self, call: Call, targets: list[_Target]) -> Capacity:
        total = Capacity()
        transactional = call.operation == "TransactWriteItems"
        for target in targets:
            after = self._after(call, target)
            indexes = self.schemas[target.table].indexes
            total += item_write(indexes, target.before, after, transactional=transactional)
            call.writes.append(ItemWrite(target.table, target.before, after, transactional))
        return total

    def _after(self, call: Call, target: _Target) -> dict[str, Any] | None:
        """The item as the write left it: unchanged when the write failed."""
        if call.error is not None:
            return target.before
        if target.kind == "Put":
            return target.item
        if target.kind == "Delete":
            return None
        if target.kind == "Update" and self.peek is not None:
            return self.peek(target.table, target.key)
        return target.before

    def _read_capacity(self, call: Call, parsed: Mapping[str, Any]) -> Capacity:
        total = Capacity()
        params = call.params or {}
        if call.operation == "GetItem":
            consistent = bool(params.get("ConsistentRead"))
            total.read = read_units(item_size(parsed.get("Item")), consistent=consistent)
        elif call.operation in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            items = parsed.get("Items", [])
            unfiltered = "FilterExpression" in params or "ProjectionExpression" in params
            if (unfiltered or params.get("Select") == "COUNT") and self.peek_query is not None:
                items = self.peek_query(params)
            total.read = read_units(sum(item_size(i) for i in items), consistent=consistent)
        elif call.operation == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
                for item in items:
                    total.read += read_units(item_size(item), consistent=consistent)
        elif call.operation == "TransactGetItems":
            for response in parsed.get("Responses", []):
                total.read += 2 * read_units(item_size(response.get("Item")), consistent=True)
        return total


def _tables(params: Mapping[str, Any]) -> tuple[str, ...]:
    if "TableName" in params:
        return (str(params["TableName"]),)
    if "TransactItems" in params:
        names = []
        for entry in params["TransactItems"]:
            ((_, body),) = entry.items()
            names.append(str(body["TableName"]))
        return tuple(dict.fromkeys(names))
    if "RequestItems" in params:
        return tuple(str(t) for t in params["RequestItems"])
    return ()


_NAME = re.compile(r"#[A-Za-z0-9_]+")
_VALUE = re.compile(r":[A-Za-z0-9_]+")


def unfiltered_query(client: Any) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """Runs a recorded Query or Scan again without filter or projection: the items it read."""

    def run(params: dict[str, Any]) -> list[dict[str, Any]]:
        kwargs = {
            k: v
            for k, v in params.items()
            if k
            in (
                "TableName",
                "IndexName",
                "KeyConditionExpression",
                "ExclusiveStartKey",
                "Limit",
                "ScanIndexForward",
                "ConsistentRead",
            )
        }
        expression = params.get("KeyConditionExpression", "")
        names = {
            k: v
            for k, v in params.get("ExpressionAttributeNames", {}).items()
            if k in _NAME.findall(expression)
        }
        values = {
            k: v
            for k, v in params.get("ExpressionAttributeValues", {}).items()
            if k in _VALUE.findall(expression)
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = values
        operation = client.query if expression else client.scan
        items: list[dict[str, Any]] = operation(**kwargs).get("Items", [])
        return items

    return run


def peek_with(client: Any) -> Peek:
    def peek(table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = client.get_item(
            TableName=table, Key=dict(key), ConsistentRead=True
        ).get("Item")
        return item

    return peek


def summarize(calls: list[Call]) -> str:
    """``3 (GetItem 2, TransactWriteItems 1)``."""
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.operation] = counts.get(call.operation, 0) + 1
    inner = ", ".join(f"{short(op)} {n}" for op, n in counts.items())
    return f"{len(calls)} ({inner})" if calls else "0"


def short(operation: str) -> str:
    return {"TransactWriteItems": "TransactWrite", "BatchWriteItem": "BatchWrite"}.get(
        operation, operation
    )


def capacity_of(calls: list[Call]) -> Capacity:
    total = Capacity()
    for call in calls:
        if call.capacity is not None:
            total += call.capacity
    return total
