"""Fixtures of the publish tests: moto's tables (both streams), an event bus, and the handler.

What reaches the bus is read the way a consumer would receive it: a rule on the bus matching
every event, with a queue as its target.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config

from coaching import runtime
from coaching.observability import metrics
from coaching.storage import Storage
from local.lambda_runtime import LambdaContext, load_handler
from tests.builders import unique
from tests.integration.notify.conftest import Stream

REGION = "us-east-1"


@dataclass
class Received:
    """One event as the bus delivered it to a rule's target."""

    id: str
    source: str
    detail_type: str
    time: str
    detail: dict[str, Any]


@dataclass
class Publish:
    """The publish function in process, with moto behind it."""

    bus_name: str
    queue_url: str
    sessions: Stream
    ledger: Stream
    received: list[Received] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        handler = load_handler("functions/publish/", "app.handler")
        answer: dict[str, Any] = handler(event, LambdaContext("PublishFunction", 30.0))
        return answer

    def publish_new_changes(self) -> list[Received]:
        """Run each stream's new records through the function, as its own event source
        mapping would (the ledger's first); what reached the bus."""
        before = len(self.bus())
        for stream in (self.ledger, self.sessions):
            answer = self.invoke(stream.event())
            assert answer == {"batchItemFailures": []}
        return self.bus()[before:]

    def bus(self) -> list[Received]:
        """Every event that reached the bus so far, oldest first."""
        client = boto3.client("sqs", region_name=REGION)
        while True:
            messages = client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not messages.get("Messages"):
                return list(self.received)
            for message in messages["Messages"]:
                body = json.loads(message["Body"])
                self.received.append(
                    Received(
                        id=body["id"],
                        source=body["source"],
                        detail_type=body["detail-type"],
                        time=body["time"],
                        detail=body["detail"],
                    )
                )
                client.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def publish(store: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Publish]:
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bus = unique("sessions-bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    queue_url = sqs.create_queue(QueueName=unique("consumer"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="everything", EventBusName=bus_arn, EventPattern='{"source": [{"prefix": ""}]}'
    )
    events.put_targets(
        Rule="everything", EventBusName=bus_arn, Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    for name, value in {
        "SESSIONS_TABLE": store.sessions_table,
        "LEDGER_TABLE": store.ledger_table,
        "EVENT_BUS_NAME": bus,
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    metrics.clear_metrics()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    # botocore sends stream calls to account-based endpoints that moto does not route.
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )

    def stream(table: str) -> Stream:
        arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        return Stream(arn=arn, _client=streams)

    yield Publish(
        bus_name=bus,
        queue_url=queue_url,
        sessions=stream(store.sessions_table),
        ledger=stream(store.ledger_table),
    )
    runtime.reset()
