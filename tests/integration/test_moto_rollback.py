"""moto's rollback of a refused TransactWriteItems, as patched by ``local.moto_patch``.

A refused transaction must leave every item and the table's stream as they were, keep the
very same table object (a stream reader holds iterators on its shard), and copy no table.
"""

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from local.moto_server import SerializedMotoServer
from local.template import create_tables
from tests.builders import unique

REGION = "us-east-1"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _tables(client: Any) -> tuple[str, str]:
    """A sessions table (pk + sk, with a stream) and an emails table (pk only, no stream)."""
    names = {"SessionsTable": unique("Sessions"), "EmailsTable": unique("Emails")}
    create_tables(client, names)
    return names["SessionsTable"], names["EmailsTable"]


def _streams_client(endpoint_url: str | None = None) -> Any:
    # Without an account id in the endpoint, which moto's in-process mock does not route.
    config = Config(account_id_endpoint_mode="disabled")
    return boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=endpoint_url, config=config
    )


def _backend_table(name: str) -> Table:
    table: Table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name]
    return table


def _refused(sessions: str, emails: str) -> list[dict[str, Any]]:
    """Changes an existing item, adds two, deletes one, then fails its last condition."""
    return [
        {
            "Update": {
                "TableName": sessions,
                "Key": {"pk": _s("S#1"), "sk": _s("META")},
                "UpdateExpression": "SET #s = :s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": _s("CANCELED")},
            }
        },
        {"Put": {"TableName": sessions, "Item": {"pk": _s("S#2"), "sk": _s("META")}}},
        {"Put": {"TableName": emails, "Item": {"pk": _s("E#new")}}},
        {"Delete": {"TableName": emails, "Key": {"pk": _s("E#old")}}},
        {
            "ConditionCheck": {
                "TableName": sessions,
                "Key": {"pk": _s("S#3"), "sk": _s("META")},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]


def _records(streams: Any, arn: str, iterator: str) -> tuple[list[dict[str, Any]], str]:
    answer = streams.get_records(ShardIterator=iterator)
    return answer["Records"], answer["NextShardIterator"]


@pytest.fixture
def no_table_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any deep copy of a moto table fails the test."""

    def refuse(self: Table, memo: dict[int, Any]) -> Table:
        raise AssertionError(f"table {self.name} was deep-copied")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)


@pytest.fixture
def client(aws: None) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


@pytest.mark.usefixtures("no_table_copies")
def test_a_refused_transaction_changes_no_item_and_emits_no_record(client: Any) -> None:
    sessions, emails = _tables(client)
    client.put_item(TableName=sessions, Item={"pk": _s("S#1"), "sk": _s("META")})
    client.put_item(TableName=emails, Item={"pk": _s("E#old")})
    table_before = _backend_table(sessions)
    streams = _streams_client()
    arn = client.describe_table(TableName=sessions)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    seen, iterator = _records(streams, arn, iterator)
    assert [r["eventName"] for r in seen] == ["INSERT"]

    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=_refused(sessions, emails))

    reasons = refused.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None"] * 4 + ["ConditionalCheckFailed"]
    assert client.get_item(TableName=sessions, Key={"pk": _s("S#1"), "sk": _s("META")})["Item"] == {
        "pk": _s("S#1"),
        "sk": _s("META"),
    }
    assert "Item" not in client.get_item(
        TableName=sessions, Key={"pk": _s("S#2"), "sk": _s("META")}
    )
    assert "Item" not in client.get_item(TableName=emails, Key={"pk": _s("E#new")})
    assert "Item" in client.get_item(TableName=emails, Key={"pk": _s("E#old")})
    assert client.scan(TableName=sessions)["Count"] == 1
    assert _backend_table(sessions) is table_before
    assert _records(streams, arn, iterator)[0] == []

    # The reader that held its iterator across the refusal sees the next change, and only it.
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": sessions, "Item": {"pk": _s("S#4"), "sk": _s("META")}}}
        ]
    )
    after, _ = _records(streams, arn, iterator)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in after] == [
        ("INSERT", "S#4")
    ]
    assert (
        int(after[0]["dynamodb"]["SequenceNumber"])
        == int(seen[0]["dynamodb"]["SequenceNumber"]) + 1
    )


@pytest.mark.usefixtures("no_table_copies")
def test_a_refused_transaction_keeps_the_condition_failures_old_item(client: Any) -> None:
    sessions, _ = _tables(client)
    client.put_item(
        TableName=sessions, Item={"pk": _s("S#1"), "sk": _s("META"), "status": _s("CANCELED")}
    )
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": sessions,
                        "Key": {"pk": _s("S#1"), "sk": _s("META")},
                        "UpdateExpression": "SET #s = :s",
                        "ConditionExpression": "#s = :scheduled",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":s": _s("CANCELED"),
                            ":scheduled": _s("SCHEDULED"),
                        },
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            ]
        )
    (reason,) = refused.value.response["CancellationReasons"]
    assert reason["Code"] == "ConditionalCheckFailed"
    assert reason["Item"] == {"pk": _s("S#1"), "sk": _s("META"), "status": _s("CANCELED")}


def test_a_transaction_naming_one_item_twice_is_refused_and_undone(client: Any) -> None:
    sessions, _ = _tables(client)
    item = {"pk": _s("S#1"), "sk": _s("META")}
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": sessions, "Item": item}},
                {"Delete": {"TableName": sessions, "Key": item}},
            ]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert client.scan(TableName=sessions)["Count"] == 0
    assert _backend_table(sessions).stream_shard.items == []  # type: ignore[union-attr]


@pytest.mark.usefixtures("no_table_copies")
def test_an_accepted_transaction_copies_no_table(client: Any) -> None:
    sessions, emails = _tables(client)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": sessions, "Item": {"pk": _s("S#1"), "sk": _s("META")}}},
            {"Put": {"TableName": emails, "Item": {"pk": _s("E#1")}}},
        ]
    )
    assert client.scan(TableName=sessions)["Count"] == 1
    assert client.scan(TableName=emails)["Count"] == 1


@pytest.fixture
def server(moto_server: SerializedMotoServer) -> tuple[Any, Any]:
    return (
        boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server.url),
        _streams_client(moto_server.url),
    )


def test_the_stream_flows_after_many_refusals_on_the_moto_server(
    server: tuple[Any, Any],
) -> None:
    client, streams = server
    sessions, emails = _tables(client)
    client.put_item(TableName=sessions, Item={"pk": _s("S#1"), "sk": _s("META")})
    client.put_item(TableName=emails, Item={"pk": _s("E#old")})
    arn = client.describe_table(TableName=sessions)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]

    for n in range(20):
        with pytest.raises(ClientError) as refused:
            client.transact_write_items(TransactItems=_refused(sessions, emails))
        assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
        client.put_item(TableName=sessions, Item={"pk": _s(f"S#new{n}"), "sk": _s("META")})

    delivered: list[str] = []
    while True:
        records, iterator = _records(streams, arn, iterator)
        if not records:
            break
        delivered += [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    assert delivered == [f"S#new{n}" for n in range(20)]
    assert client.scan(TableName=sessions)["Count"] == 21


def test_shard_iterators_expire_and_items_are_not_kept_for_the_dashboard(
    server: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from local import moto_patch

    # A mock_aws test's reset puts moto's tracking lists back; take them away again.
    moto_patch._untrack_dynamodb_models()
    client, streams = server
    sessions, _ = _tables(client)
    arn = client.describe_table(TableName=sessions)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    first = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    client.put_item(TableName=sessions, Item={"pk": _s("S#1"), "sk": _s("META")})
    assert Item.instances_tracked == []  # type: ignore[attr-defined]

    _, second = _records(streams, arn, first)
    monkeypatch.setattr(moto_patch, "ITERATOR_LIFETIME_SECONDS", 0)
    client.put_item(TableName=sessions, Item={"pk": _s("S#2"), "sk": _s("META")})
    records, third = _records(streams, arn, second)

    held = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][REGION].shard_iterators
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["S#2"]
    assert second not in held
    assert third in held


def test_an_item_over_the_size_limit_is_still_refused(client: Any) -> None:
    """moto builds an item checking its size once, not at every attribute: the same limit."""
    sessions, _ = _tables(client)
    key = {"pk": _s("S#big"), "sk": _s("META")}
    overhead = sum(len(name) + len(value["S"]) for name, value in key.items()) + len("a") * 2
    filling = 405_000 - 200_000 - overhead
    at_the_limit = {**key, "a": _s("x" * 200_000), "b": _s("y" * filling)}
    client.put_item(TableName=sessions, Item=at_the_limit)

    over = {**at_the_limit, "b": _s("y" * (filling + 1))}
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        client.put_item(TableName=sessions, Item=over)
    with pytest.raises(ClientError, match="Item size to update has exceeded the maximum allowed"):
        client.update_item(
            TableName=sessions,
            Key=key,
            UpdateExpression="SET c = :c",
            ExpressionAttributeValues={":c": _s("z")},
        )
    stored = client.get_item(TableName=sessions, Key=key)["Item"]
    assert stored == at_the_limit
