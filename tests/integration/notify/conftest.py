"""Fixtures of the notify tests: moto's DynamoDB (with its stream), SES and SQS, and the handler.

Stream events are built from real stream records: the tests change sessions through
``coaching.operations`` on moto's table, read the table's stream with ``dynamodbstreams`` and
wrap the records in the event shape Lambda gives the function.
"""

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from botocore.config import Config
from icalendar import Calendar
from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
from moto.ses.models import RawMessage, ses_backends

from coaching import runtime
from coaching.storage import Storage
from coaching.storage.email_claims import EmailClaims
from local.lambda_runtime import LambdaContext, load_handler
from local.streams import lambda_record
from tests.builders import link_secret

SENDER = "sessions@example.com"
BASE_URL = "https://app.example.test"
REGION = "us-east-1"


@dataclass
class Sent:
    """One email moto's SES accepted, its MIME message read back."""

    to: list[str]
    subject: str
    text: str
    html: str
    attachments: list[tuple[str, str, str]]
    """(filename, content type, content) of each attachment."""
    source: str
    message_id: str

    @property
    def readable(self) -> str:
        """The HTML body with its entities decoded, to look for facts in."""
        return html.unescape(self.html)

    def calendar(self) -> Calendar:
        """The one calendar attachment, parsed by the iCalendar library."""
        [content] = [c for _, kind, c in self.attachments if kind == "text/calendar"]
        return Calendar.from_ical(content)


def read_sent(message: RawMessage) -> Sent:
    mime = message_from_string(message.raw_data, policy=policy.default)
    assert isinstance(mime, EmailMessage)
    text, markup = mime.get_body(("plain",)), mime.get_body(("html",))
    assert text is not None and markup is not None
    return Sent(
        to=[address.addr_spec for address in mime["To"].addresses],
        subject=str(mime["Subject"]),
        # Mail clients read CRLF line ends as the lines they end.
        text=text.get_content().replace("\r\n", "\n"),
        html=markup.get_content().replace("\r\n", "\n"),
        attachments=[
            (part.get_filename() or "", part.get_content_type(), part.get_content())
            for part in mime.iter_attachments()
        ],
        source=message.source,
        message_id=message.id,
    )


@dataclass
class Stream:
    """Reads the sessions table's stream from where the last read stopped."""

    arn: str
    _client: Any
    _iterator: str | None = None

    def records(self) -> list[dict[str, Any]]:
        if self._iterator is None:
            description = self._client.describe_stream(StreamArn=self.arn)["StreamDescription"]
            self._iterator = self._client.get_shard_iterator(
                StreamArn=self.arn,
                ShardId=description["Shards"][0]["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        response = self._client.get_records(ShardIterator=self._iterator)
        self._iterator = response["NextShardIterator"]
        return [lambda_record(record, self.arn) for record in response["Records"]]

    def event(self) -> dict[str, Any]:
        """Everything written since the last read, as one Lambda event."""
        return {"Records": self.records()}


@dataclass
class Notify:
    """The notify function in process, with moto behind it."""

    store: Storage
    stream: Stream
    queue_url: str
    claims: EmailClaims

    def invoke(self, event: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        handler = load_handler("functions/notify/", "app.handler")
        answer: dict[str, Any] = handler(event, LambdaContext("NotifyFunction", timeout))
        return answer

    @property
    def sent(self) -> list[Sent]:
        return [read_sent(m) for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]

    def sent_to(self, address: str | None) -> list[Sent]:
        assert address is not None
        return [mail for mail in self.sent if address in mail.to]

    def dead_letters(self) -> list[dict[str, Any]]:
        client = boto3.client("sqs", region_name=REGION)
        found: list[dict[str, Any]] = []
        while True:
            response = client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = response.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                client.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Totals of the EMF metrics the handler printed."""
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                values = values if isinstance(values, list) else [values]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals


@pytest.fixture
def notify(store: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Notify]:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="notify-dlq")["QueueUrl"]
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    for name, value in {
        "SESSIONS_TABLE": store.sessions_table,
        "LEDGER_TABLE": store.ledger_table,
        "IDEMPOTENCY_TABLE": store.settings.idempotency_table,
        "EMAILS_TABLE": store.settings.emails_table,
        "SENDER_EMAIL": SENDER,
        "SES_CONFIGURATION_SET": "",
        "APP_BASE_URL": BASE_URL,
        "DEAD_LETTER_QUEUE_URL": queue_url,
        "MANAGE_LINK_SECRET": link_secret(),
    }.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    arn = dynamodb.describe_table(TableName=store.sessions_table)["Table"]["LatestStreamArn"]
    # botocore sends stream calls to account-based endpoints that moto does not route.
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    yield Notify(
        store=store,
        stream=Stream(arn=arn, _client=streams),
        queue_url=queue_url,
        claims=EmailClaims(dynamodb, store.settings.emails_table),
    )
    runtime.reset()
