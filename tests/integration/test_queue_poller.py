"""The local stack's queues and rules, read from template.yaml, and its queue poller, which feeds
a queue to its function as Lambda's SQS event source mapping does: batches of the template's
size, messages the function reported as failed (or all of a batch it raised on) left to come
back after the visibility timeout, the rest deleted.

The function is a stand-in that records its batches (the poller's own collaborator, not AWS);
the bus, the rule, the queues and moto's redrive are the embedded AWS the local stack runs on.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local import aws as embedded
from local.aws import EmbeddedAws
from local.queues import QueuePoller
from local.template import Function, load
from tests.builders import unique


class Recording:
    """A Lambda service whose one function reports as failed every message whose body says so
    (or raises, when told to), recording each batch's bodies."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.raise_next = False

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        records = event["Records"]
        self.batches.append([r["body"] for r in records])
        assert all(r["eventSource"] == "aws:sqs" and r["messageId"] for r in records)
        if self.raise_next:
            self.raise_next = False
            raise RuntimeError("the function failed")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in records if "fail" in r["body"]
            ]
        }


@pytest.fixture(scope="module")
def local_aws() -> Iterator[EmbeddedAws]:
    aws = embedded.start(prefix=unique("poller") + "-")  # moto's state is the process's
    yield aws
    aws.server.stop()


def _poller(local_aws: EmbeddedAws, lambdas: Recording) -> QueuePoller:
    settings = load()["Resources"]["DeliverFunction"]["Properties"]["Events"]["Events"]
    function = Function("DeliverFunction", "functions/deliver/", "app.handler", 120.0, {})
    return QueuePoller(local_aws, lambdas, function, settings["Properties"])  # type: ignore[arg-type]


def _counts(local_aws: EmbeddedAws, queue: str) -> tuple[int, int]:
    attributes = local_aws.client("sqs").get_queue_attributes(
        QueueUrl=local_aws.physical[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_queues_get_the_templates_timeout_and_redrive_to_their_local_dead_letter_queue(
    local_aws: EmbeddedAws,
) -> None:
    attributes = local_aws.client("sqs").get_queue_attributes(
        QueueUrl=local_aws.physical["WebhookQueue"], AttributeNames=["All"]
    )["Attributes"]

    assert attributes["VisibilityTimeout"] == "720"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": local_aws.queue_arns["WebhookDeadLetterQueue"],
        "maxReceiveCount": 5,
    }


def test_the_templates_rule_puts_the_buss_domain_events_on_its_queue(
    local_aws: EmbeddedAws,
) -> None:
    lambdas = Recording()
    poller = _poller(local_aws, lambdas)
    poller.drain()
    lambdas.batches.clear()

    local_aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": local_aws.physical["EventBus"],
                "Source": "coaching.sessions",
                "DetailType": "session.booked",
                "Detail": json.dumps({"event_id": "session:s:1:session.booked"}),
            },
            {
                "EventBusName": local_aws.physical["EventBus"],
                "Source": "someone.else",
                "DetailType": "other.thing",
                "Detail": "{}",
            },
        ]
    )
    poller.drain()

    (batch,) = lambdas.batches
    (body,) = [json.loads(b) for b in batch]
    assert body["detail-type"] == "session.booked" and body["source"] == "coaching.sessions"
    assert body["detail"] == {"event_id": "session:s:1:session.booked"}


def test_batches_are_the_templates_size_and_only_failed_messages_stay(
    local_aws: EmbeddedAws,
) -> None:
    lambdas = Recording()
    poller = _poller(local_aws, lambdas)
    poller.drain()
    lambdas.batches.clear()
    # the module's queues are shared: a batch another test left in flight is still there
    before = _counts(local_aws, "WebhookQueue")[1]
    sqs = local_aws.client("sqs")
    url = local_aws.physical["WebhookQueue"]
    for n in range(13):
        sqs.send_message(QueueUrl=url, MessageBody="fail" if n == 4 else f"ok-{n}")

    poller.drain()

    assert sum(len(b) for b in lambdas.batches) == 13
    assert max(len(b) for b in lambdas.batches) <= poller.batch_size == 10
    # the failed one waits out its visibility timeout; the others are gone
    assert _counts(local_aws, "WebhookQueue") == (0, before + 1)


def test_a_batch_the_function_raised_on_is_left_whole(local_aws: EmbeddedAws) -> None:
    lambdas = Recording()
    poller = _poller(local_aws, lambdas)
    poller.drain()
    before = _counts(local_aws, "WebhookQueue")[1]
    sqs = local_aws.client("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=local_aws.physical["WebhookQueue"], MessageBody=f"x-{n}")
    lambdas.raise_next = True

    poller.drain()

    assert _counts(local_aws, "WebhookQueue") == (0, before + 3)
