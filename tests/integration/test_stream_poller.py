"""The local stack's stream poller gives up on a batch as Lambda's event source mapping does:
after its retries the batch goes to the on-failure queue, by that queue's URL, and is dropped;
one that cannot be sent anywhere is logged and dropped after a few tries, never replayed.

The function it feeds is a stand-in that always fails (the poller's own collaborator, not AWS);
the stream, the table and the queue are the embedded AWS the local stack runs on.
"""

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local import aws as embedded
from local.aws import EmbeddedAws
from local.streams import SEND_TRIES, StreamPoller
from local.template import Function
from tests.builders import unique


class AlwaysFailing:
    """A Lambda service whose one function raises on every batch, counting the batches."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        self.batches.append(len(event["Records"]))
        raise RuntimeError("the function failed")


@pytest.fixture(scope="module")
def local_aws() -> Iterator[EmbeddedAws]:
    aws = embedded.start(prefix=unique("poller") + "-")  # moto's state is the process's
    yield aws
    aws.server.stop()


def _poller(local_aws: EmbeddedAws, lambdas: AlwaysFailing, queue: str) -> StreamPoller:
    settings = {
        "Stream": {"Fn::GetAtt": "SessionsTable.StreamArn"},
        "BatchSize": 25,
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": f"{queue}.Arn"}}},
    }
    function = Function(
        name="NotifyFunction",
        code_uri="functions/notify/",
        handler="app.handler",
        timeout=30.0,
        events={},
    )
    return StreamPoller(local_aws, lambdas, function, settings)  # type: ignore[arg-type]


def _write_a_session_item(local_aws: EmbeddedAws, name: str) -> None:
    local_aws.client("dynamodb").put_item(
        TableName=local_aws.physical["SessionsTable"],
        Item={"pk": {"S": f"SESSION#{name}"}, "sk": {"S": "SESSION"}},
    )


def _messages(local_aws: EmbeddedAws, queue: str) -> list[dict[str, Any]]:
    sqs = local_aws.client("sqs")
    found = sqs.receive_message(QueueUrl=local_aws.physical[queue], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_a_batch_that_keeps_failing_goes_to_the_queue_once_and_is_dropped(
    local_aws: EmbeddedAws,
) -> None:
    lambdas = AlwaysFailing()
    poller = _poller(local_aws, lambdas, "NotifyDeadLetterQueue")
    poller.drain()  # start after whatever the stream held
    lambdas.batches.clear()
    _messages(local_aws, "NotifyDeadLetterQueue")

    _write_a_session_item(local_aws, "doomed")
    poller.drain()
    poller.drain()  # a batch that was given up on is not delivered again

    assert lambdas.batches == [1, 1]  # the first try and its one retry, then no more
    [message] = _messages(local_aws, "NotifyDeadLetterQueue")
    info = message["DDBStreamBatchInfo"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["batchSize"] == 1
    assert info["streamArn"] == local_aws.stream_arns["SessionsTable"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"]


def test_a_batch_whose_queue_is_gone_is_logged_and_dropped_after_a_few_tries(
    local_aws: EmbeddedAws, caplog: pytest.LogCaptureFixture
) -> None:
    lambdas = AlwaysFailing()
    poller = _poller(local_aws, lambdas, "PublishDeadLetterQueue")
    poller.drain()
    lambdas.batches.clear()
    local_aws.client("sqs").delete_queue(QueueUrl=local_aws.physical["PublishDeadLetterQueue"])

    _write_a_session_item(local_aws, "unsendable")
    with caplog.at_level(logging.WARNING, logger="local.streams"):
        poller.drain()
        poller.drain()

    assert lambdas.batches == [1, 1]
    refused = [r for r in caplog.records if "refused try" in r.getMessage()]
    assert len(refused) == SEND_TRIES
    [dropped] = [r for r in caplog.records if "dropped unsent" in r.getMessage()]
    assert '"batchSize": 1' in dropped.getMessage()
