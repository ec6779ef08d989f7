"""Fixtures of the delivery tests: the deliver function's real handler against moto (the
webhooks table, the webhook queue, SES and the emails table), endpoints subscribed through the
policy layer, and a receiver on loopback that the handler really POSTs to.

The function runs as ``make run`` runs it: ``WEBHOOKS_ALLOW_LOOPBACK`` on, so that the
receiver on 127.0.0.1 may be subscribed; a test that needs AWS's rule turns it off.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
from moto.ses.models import ses_backends

from coaching import clock, runtime
from coaching.events.webhooks import operations
from coaching.models import Caller
from coaching.storage import Storage
from coaching.storage.webhooks import WebhookStore
from coaching.webhook_models import CreatedEndpoint, Delivery, Endpoint
from local.lambda_runtime import LambdaContext, load_handler
from local.scheduler import scheduled_event
from tests.builders import admin, unique
from tests.integration.notify.conftest import Sent, read_sent
from tests.integration.webhook_steps import Dns, bus_message, session_detail
from tests.webhook_receiver import Receiver

REGION = "us-east-1"
SENDER = "sessions@example.com"


@dataclass
class Webhooks:
    store: WebhookStore
    queue_url: str
    receiver: Receiver
    dns: Dns
    owner: Caller

    # --- given ---------------------------------------------------------------------------------

    def subscribe(
        self, url: str | None = None, event_types: list[str] | None = None, **body: Any
    ) -> CreatedEndpoint:
        return operations.create(
            self.store,
            body.pop("owner", self.owner),
            url=url or self.receiver.url,
            event_types=event_types or ["*"],
            description=body.pop("description", None),
            now=clock.now(),
            allow_loopback=True,
        )

    # --- when ----------------------------------------------------------------------------------

    def invoke(self, event: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        handler = load_handler("functions/deliver/", "app.handler")
        answer: dict[str, Any] = handler(event, LambdaContext("DeliverFunction", timeout))
        return answer

    def deliver(self, *bodies: str, message_ids: list[str] | None = None) -> dict[str, Any]:
        """The handler given these queue messages as one batch, as Lambda's SQS poller would."""
        ids = message_ids or [uuid.uuid4().hex for _ in bodies]
        return self.invoke(
            {"Records": [sqs_record(i, b) for i, b in zip(ids, bodies, strict=True)]}
        )

    def event(self, session_id: str, detail_type: str, version: int) -> str:
        now = clock.now()
        return bus_message(detail_type, session_detail(session_id, version, detail_type, now), now)

    def run_schedule(self) -> dict[str, Any]:
        return self.invoke(scheduled_event("DeliverFunction-schedule"))

    # --- then ----------------------------------------------------------------------------------

    def deliveries(self, endpoint: Endpoint) -> list[Delivery]:
        found, token = self.store.deliveries(endpoint.id, 100, None)
        assert token is None
        return found

    def endpoint(self, endpoint: Endpoint) -> Endpoint:
        current = self.store.get_endpoint(endpoint.id)
        assert current is not None
        return current

    def waiting(self) -> list[tuple[str, str]]:
        """Every delivery in the Due index, due or not."""
        far = clock.now().replace(year=clock.now().year + 1)
        return [key for p in self.store.due_partitions() for key in self.store.due(p, far, 100)]

    def queue(self) -> dict[str, int]:
        """What waits on the webhook queue: messages visible now, and delayed ones."""
        sqs = boto3.client("sqs", region_name=REGION)
        attributes = sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return {
            "visible": int(attributes["ApproximateNumberOfMessages"]),
            "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
        }

    def visible_messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        found: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return found
            for message in got["Messages"]:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    @property
    def emails(self) -> list[Sent]:
        return [read_sent(m) for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    """A queue message as Lambda hands it to a function (``local.queues.lambda_record``'s shape)."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks",
        "awsRegion": REGION,
    }


@pytest.fixture
def webhooks(
    store: Storage,
    receiver: Receiver,
    dns: Dns,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Webhooks]:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=unique("webhooks"))["QueueUrl"]
    dead_letters = sqs.create_queue(QueueName=unique("notify-dlq"))["QueueUrl"]
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    for name, value in {
        "WEBHOOKS_TABLE": store.settings.webhooks_table,
        "WEBHOOK_QUEUE_URL": queue_url,
        "WEBHOOKS_ALLOW_LOOPBACK": "true",
        "EMAILS_TABLE": store.settings.emails_table,
        "SENDER_EMAIL": SENDER,
        "SES_CONFIGURATION_SET": "",
        "APP_BASE_URL": "https://app.example.test",
        "DEAD_LETTER_QUEUE_URL": dead_letters,
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    owner = admin()
    owner = owner.model_copy(update={"email": f"{owner.id}@example.com"})
    yield Webhooks(
        store=WebhookStore(store._db, store.settings),
        queue_url=queue_url,
        receiver=receiver,
        dns=dns,
        owner=owner,
    )
    runtime.reset()
