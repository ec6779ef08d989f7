"""moto's queries narrowed to the partition they name (``local.moto_index``) answer exactly as
moto's own: random writes (puts, updates that move an item between partitions or out of a sparse
index, deletes, batches, transactions accepted and refused) interleaved with random queries of
the table and of indexes with each kind of projection, every page compared with moto's answer
from all items (``moto_index.unindexed``).
"""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from local import moto_index
from tests.builders import unique

PATCHED = [
    (Table, "query"),
    (Table, "all_items"),
    (Table, "put_item"),
    (Table, "delete_item"),
    (DynamoDBBackend, "update_item"),
    (DynamoDBBackend, "transact_write_items"),
]

PKS = ["a", "b", "c"]
SKS = ["1", "2", "3", "4", "5"]
OWNERS = ["x", "y"]
SHARDS = [0, 1, 2]
"""Few values, so that writes keep landing on the items and partitions the queries read."""

INDEXES = {
    "ByOwner": ("owner", "at", {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]}),
    "Due": ("shard", "at", {"ProjectionType": "KEYS_ONLY"}),
    "ByOwnerOnly": ("owner", None, {"ProjectionType": "ALL"}),
}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


def _create(client: Any) -> str:
    name = unique("Indexed")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "shard", "AttributeType": "N"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}]
                + ([{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []),
                "Projection": projection,
            }
            for index, (hash_key, range_key, projection) in INDEXES.items()
        ],
    )
    return name


# --- random items, writes and queries ----------------------------------------------------------

keys = st.tuples(st.sampled_from(PKS), st.sampled_from(SKS))
ats = st.sampled_from(["08", "09", "10", "11"])


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    pk, sk = draw(keys)
    item: dict[str, Any] = _key(pk, sk) | {"v": {"N": str(draw(st.integers(0, 9)))}}
    if draw(st.booleans()):
        item["owner"] = _s(draw(st.sampled_from(OWNERS)))
    if draw(st.booleans()):
        item["shard"] = {"N": str(draw(st.sampled_from(SHARDS)))}
    if draw(st.booleans()):
        item["at"] = _s(draw(ats))
    if draw(st.booleans()):
        item["note"] = _s("a note that the index projecting keys only leaves out")
    return item


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    """An update that may move the item to another partition of an index, take it out of the
    sparse ones, or create it; sometimes on a condition that fails."""
    pk, sk = draw(keys)
    update: dict[str, Any] = {"Key": _key(pk, sk)}
    change = draw(st.sampled_from(["owner", "shard", "at", "remove owner", "remove shard", "v"]))
    if change.startswith("remove "):
        update["UpdateExpression"] = f"REMOVE #{change[7:]}"
        update["ExpressionAttributeNames"] = {f"#{change[7:]}": change[7:]}
    else:
        value = {
            "owner": _s(draw(st.sampled_from(OWNERS))),
            "shard": {"N": str(draw(st.sampled_from(SHARDS)))},
            "at": _s(draw(ats)),
            "v": {"N": str(draw(st.integers(0, 9)))},
        }[change]
        update["UpdateExpression"] = f"SET #{change} = :value"
        update["ExpressionAttributeNames"] = {f"#{change}": change}
        update["ExpressionAttributeValues"] = {":value": value}
    if draw(st.integers(0, 3)) == 0:
        update["ConditionExpression"] = "attribute_exists(pk)"
    return update


def _operation(kind: str, value: Any) -> dict[str, Any]:
    """A transaction's operation on table ``{table}`` (filled in when written)."""
    if kind == "Put":
        return {"Put": {"Item": value}}
    if kind == "Delete":
        return {"Delete": {"Key": value}}
    if kind == "Update":
        return {"Update": value}
    return {"ConditionCheck": {"Key": value, "ConditionExpression": "attribute_exists(pk)"}}


transaction_operations = st.one_of(
    items().map(lambda i: _operation("Put", i)),
    keys.map(lambda k: _operation("Delete", _key(*k))),
    updates().map(lambda u: _operation("Update", u)),
    keys.map(lambda k: _operation("ConditionCheck", _key(*k))),
)

writes = st.one_of(
    items().map(lambda i: ("put", i)),
    updates().map(lambda u: ("update", u)),
    keys.map(lambda k: ("delete", _key(*k))),
    st.lists(items(), min_size=1, max_size=5).map(lambda i: ("batch", i)),
    st.lists(transaction_operations, min_size=1, max_size=4).map(lambda o: ("transact", o)),
)


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    index = draw(st.sampled_from([None, *INDEXES]))
    query: dict[str, Any] = {"ScanIndexForward": draw(st.booleans())}
    if draw(st.booleans()):
        query["Limit"] = draw(st.integers(1, 3))
    if index is None:
        query["KeyConditionExpression"] = "pk = :h"
        query["ExpressionAttributeValues"] = {":h": _s(draw(st.sampled_from(PKS)))}
        if draw(st.booleans()):
            query["KeyConditionExpression"] += " AND sk BETWEEN :low AND :high"
            query["ExpressionAttributeValues"] |= {":low": _s("2"), ":high": _s("4")}
        return query
    hash_key, range_key, _ = INDEXES[index]
    query["IndexName"] = index
    query["KeyConditionExpression"] = "#h = :h"
    query["ExpressionAttributeNames"] = {"#h": hash_key}
    if hash_key == "owner":
        value = _s(draw(st.sampled_from(OWNERS)))
    else:
        value = {"N": str(draw(st.sampled_from(SHARDS)))}
    query["ExpressionAttributeValues"] = {":h": value}
    if range_key and draw(st.booleans()):
        query["KeyConditionExpression"] += " AND begins_with(#r, :r)"
        query["ExpressionAttributeNames"]["#r"] = range_key
        query["ExpressionAttributeValues"][":r"] = _s(draw(st.sampled_from(["0", "1"])))
    if index != "Due" and draw(st.booleans()):
        query["FilterExpression"] = "v > :v"
        query["ExpressionAttributeValues"][":v"] = {"N": "4"}
    return query


steps = st.lists(
    st.one_of(writes.map(lambda w: ("write", w)), queries().map(lambda q: ("query", q))),
    min_size=1,
    max_size=30,
)


# --- running them --------------------------------------------------------------------------------


def _write(client: Any, table: str, write: tuple[str, Any]) -> None:
    kind, value = write
    try:
        if kind == "put":
            client.put_item(TableName=table, Item=value)
        elif kind == "update":
            client.update_item(TableName=table, **value)
        elif kind == "delete":
            client.delete_item(TableName=table, Key=value)
        elif kind == "batch":
            unique_keys = {(i["pk"]["S"], i["sk"]["S"]): i for i in value}  # one write per key
            requests = [{"PutRequest": {"Item": i}} for i in unique_keys.values()]
            client.batch_write_item(RequestItems={table: requests})
        else:
            operations = [
                {kind_: dict(op, TableName=table) for kind_, op in o.items()} for o in value
            ]
            client.transact_write_items(TransactItems=operations)
    except ClientError:
        pass  # a failed condition or a transaction naming an item twice: refused, as in DynamoDB


def _pages(client: Any, table: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query, as the client gets them (items, counts, the next key)."""
    pages = []
    start: dict[str, Any] = {}
    while True:
        answer = client.query(TableName=table, **query, **start)
        answer.pop("ResponseMetadata")
        pages.append(answer)
        if "LastEvaluatedKey" not in answer or len(pages) > 20:
            return pages
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """moto with the index, for this module only: the rest of the suite runs moto as the tests
    always have (the bench and the local stack install the index)."""
    before = [(owner, name, owner.__dict__[name]) for owner, name in PATCHED]
    moto_index.install()
    try:
        with mock_aws():
            yield boto3.client("dynamodb", region_name="us-east-1")
    finally:
        for owner, name, original in before:
            setattr(owner, name, original)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_every_answer_equals_motos_own(client: Any, steps: list[tuple[str, Any]]) -> None:
    table = _create(client)
    for kind, step in steps:
        if kind == "write":
            _write(client, table, step)
            continue
        narrowed = _pages(client, table, step)
        with moto_index.unindexed():
            assert narrowed == _pages(client, table, step)


def test_a_query_reads_only_its_partition(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the answers cannot show: moto was handed the partition, not the table."""
    table = _create(client)
    for n in range(40):
        owner = OWNERS[n % 2]
        client.put_item(
            TableName=table,
            Item=_key(PKS[n % 3], f"{n:02}") | {"owner": _s(owner), "at": _s(f"{n:02}")},
        )
    handed: list[int] = []
    candidates = moto_index._candidates

    def spy(table: Table, query: Any) -> Any:
        found = candidates(table, query)
        handed.append(-1 if found is None else len(found))
        return found

    monkeypatch.setattr(moto_index, "_candidates", spy)
    answer = client.query(
        TableName=table,
        IndexName="ByOwner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": _s("x")},
    )
    client.update_item(
        TableName=table,
        Key=_key("a", "00"),
        UpdateExpression="SET #o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": _s("y")},
    )
    table_answer = client.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": _s("b")},
    )
    moved = client.query(
        TableName=table,
        IndexName="ByOwner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": _s("x")},
    )
    assert answer["Count"] == 20 and table_answer["Count"] == 13 and moved["Count"] == 19
    assert handed == [20, 13, 19]


def test_a_refused_transaction_leaves_every_partition_as_it_was(client: Any) -> None:
    """moto writes a transaction's operations one by one and puts the items back when a later
    one fails (``local.moto_patch``): the item moved to another owner is found under its own."""
    table = _create(client)
    client.put_item(TableName=table, Item=_key("a", "1") | {"owner": _s("y"), "at": _s("09")})
    by_owner = {
        "IndexName": "ByOwner",
        "KeyConditionExpression": "#o = :o",
        "ExpressionAttributeNames": {"#o": "owner"},
    }
    built = client.query(TableName=table, **by_owner, ExpressionAttributeValues={":o": _s("y")})
    assert built["Count"] == 1  # and the index's map is built
    moved = {
        "TableName": table,
        "Key": _key("a", "1"),
        "UpdateExpression": "SET #o = :o",
        "ExpressionAttributeNames": {"#o": "owner"},
        "ExpressionAttributeValues": {":o": _s("x")},
    }
    missing = {
        "TableName": table,
        "Key": _key("b", "1"),
        "ConditionExpression": "attribute_exists(pk)",
    }
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[{"Update": moved}, {"ConditionCheck": missing}])

    for owner, count in (("y", 1), ("x", 0)):
        values = {":o": _s(owner)}
        answer = client.query(TableName=table, **by_owner, ExpressionAttributeValues=values)
        with moto_index.unindexed():
            motos = client.query(TableName=table, **by_owner, ExpressionAttributeValues=values)
        assert answer["Count"] == motos["Count"] == count
