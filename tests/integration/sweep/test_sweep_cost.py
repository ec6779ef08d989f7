"""A sweep costs in proportion to the stale sessions, not to the size of the table.

The sweep's own storage here records every DynamoDB call it makes, so the tests see the exact
operations (never a Scan; every Query on the Due index) next to what the result reports.
"""

from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from coaching import sweep
from coaching.storage import Storage
from tests.builders import World
from tests.integration.sweep.timeline import copies, fresh, one_action_each, plenty, sweep_at

FRESH_COPIES = 200


@dataclass
class Calls:
    """Every DynamoDB operation a client made, with its parameters and its answer."""

    made: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.made]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [params for made, params in self.made if made == name]

    def answers_to(self, name: str) -> list[dict[str, Any]]:
        return [answer for made, answer in self.answers if made == name]


def recording(store: Storage) -> tuple[Storage, Calls]:
    """A Storage on the same tables whose client writes down each call."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    calls = Calls()

    def before(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.made.append((model.name, params))

    def after(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        calls.answers.append((model.name, parsed))

    client.meta.events.register("provide-client-params.dynamodb.*", before)
    client.meta.events.register("after-call.dynamodb.*", after)
    return Storage(client, store.settings), calls


def due_index_size(store: Storage) -> int:
    """Every entry of the Due index, due or not, in every partition (counted here, never by
    the sweep)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    paginator = client.get_paginator("query")
    return sum(
        page["Count"]
        for partition in store.due_partitions()
        for page in paginator.paginate(
            TableName=store.sessions_table,
            IndexName="Due",
            KeyConditionExpression="due_pk = :d",
            ExpressionAttributeValues={":d": {"S": partition}},
            Select="COUNT",
        )
    )


def test_among_many_fresh_sessions_the_sweep_reads_only_the_stale_ones(world: World) -> None:
    # Given 5 stale sessions among 204 fresh ones, most of which are in the Due index for later
    stale = one_action_each(world)
    kinds = fresh(world)
    copies(world, kinds, FRESH_COPIES)
    assert due_index_size(world.store) > 150
    store, calls = recording(world.store)

    # When the sweep runs
    result = sweep.run(store, sweep_at(world), plenty)

    # Then it read the 5 stale items' index entries and nothing else: one query per partition
    # of the index, then one more on each shard it changed a session in, to confirm nothing
    # there is due again after its changes
    assert result.changed == len(stale) == 5
    assert result.finished and result.ok
    assert result.items_read == 5
    partitions = world.store.due_partitions()
    changed_shards = {world.store.due_partition(b.session.id) for b in stale}
    assert result.pages == len(partitions) + len(changed_shards)
    # ... using only the Due index: never a Scan, no other index, no query on the ledger
    assert "Scan" not in calls.names()
    queries = calls.of("Query")
    assert len(queries) == result.pages
    assert {(q["TableName"], q["IndexName"]) for q in queries} == {
        (world.store.sessions_table, "Due")
    }
    assert {q["ExpressionAttributeValues"][":d"]["S"] for q in queries} == set(partitions)
    assert all(q["ReturnConsumedCapacity"] == "TOTAL" for q in queries)
    # ... the index holds keys only, so the stale sessions were read whole by key, and only they
    fetched = [
        key["pk"]["S"]
        for batch in calls.of("BatchGetItem")
        for key in batch["RequestItems"][world.store.sessions_table]["Keys"]
    ]
    assert sorted(fetched) == sorted(f"SESSION#{b.session.id}" for b in stale)
    assert all(
        batch["RequestItems"][world.store.sessions_table]["ConsistentRead"]
        for batch in calls.of("BatchGetItem")
    )
    # ... one transaction per change, and the result adds up what DynamoDB reported
    assert len(calls.of("TransactWriteItems")) == 5
    answers = calls.answers_to("Query")
    assert result.items_read == sum(a["ScannedCount"] for a in answers)
    reported = [a["ConsumedCapacity"]["CapacityUnits"] for a in answers] + [
        c["CapacityUnits"] for a in calls.answers_to("BatchGetItem") for c in a["ConsumedCapacity"]
    ]
    assert result.capacity_units == pytest.approx(sum(reported))
    assert result.capacity_units > 0


def test_small_pages_of_a_shard_are_followed_oldest_due_first(one_shard: World) -> None:
    # Given 5 stale sessions due at +1h30, +2h30, +4h, +5h and +6h, in one shard
    world = one_shard
    stale = one_action_each(world)
    store, calls = recording(world.store)

    # When the sweep runs two items a page
    result = sweep.run(store, sweep_at(world), plenty, page_size=2)

    # Then it followed the pages to the end and changed the sessions oldest due first
    assert result.changed == 5 and result.finished
    assert result.items_read == 5
    assert result.pages >= 3
    assert all(q["Limit"] == 2 for q in calls.of("Query"))
    changed = [
        item["Put"]["Item"]["id"]["S"]
        for tx in calls.of("TransactWriteItems")
        for item in tx["TransactItems"]
        if "Put" in item and item["Put"]["Item"]["sk"] == {"S": "SESSION"}
    ]
    assert changed == [b.session.id for b in stale]
