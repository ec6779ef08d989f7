"""The embedded AWS of the in-process sections: moto's ``mock_aws`` with the template's tables.

The functions build their clients through ``coaching.runtime`` as in Lambda; the bench takes
those very clients (``runtime.dynamodb()``, ``runtime.ses()``) and hooks recorders onto them.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from bench.env import REGION, SENDER, TableSchema, table_schemas, unique
from bench.recorder import Recorder, peek_with, unfiltered_query
from coaching import clock, runtime
from coaching.settings import Settings
from coaching.storage import Storage
from local.template import create_tables

BARE_CONFIG = runtime.CONFIG
"""The functions' DynamoDB client settings, for the bare floor calls."""


@dataclass
class Aws:
    settings: Settings
    store: Storage
    """The functions' own storage (``runtime.storage()``), recorded by ``recorder``."""
    recorder: Recorder
    ses: Recorder
    bare: Any
    """A DynamoDB client of the bench's own, unrecorded: setup, peeks and floor calls."""
    schemas: dict[str, TableSchema]

    @property
    def idempotency_table(self) -> str:
        return self.settings.idempotency_table


def new_settings() -> Settings:
    """Table names of the bench's own, so nothing it writes meets anything else."""
    return Settings(
        sessions_table=unique("BenchSessions"),
        ledger_table=unique("BenchLedger"),
        idempotency_table=unique("BenchIdempotency"),
        emails_table=unique("BenchEmails"),
        webhooks_table=unique("BenchWebhooks"),
        sender_email=SENDER,
        app_base_url="https://app.example.com",
    )


@contextmanager
def tables(*, streams: bool = True, settings: Settings | None = None) -> Iterator[Aws]:
    """Fresh tables in the running ``mock_aws``; the functions' environment points at them."""
    settings = settings or new_settings()
    bare = boto3.client("dynamodb", region_name=REGION, config=BARE_CONFIG)
    create_tables(bare, settings.table_names(), streams=streams)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=unique("bench-notify-dlq"))["QueueUrl"]
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    environment = {
        "SESSIONS_TABLE": settings.sessions_table,
        "LEDGER_TABLE": settings.ledger_table,
        "IDEMPOTENCY_TABLE": settings.idempotency_table,
        "EMAILS_TABLE": settings.emails_table,
        "WEBHOOKS_TABLE": settings.webhooks_table,
        "SENDER_EMAIL": settings.sender_email,
        "SES_CONFIGURATION_SET": "",
        "APP_BASE_URL": settings.app_base_url,
        "DEAD_LETTER_QUEUE_URL": queue_url,
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    runtime.reset()
    previous = clock.set_clock(None)  # the system clock, whatever ran before
    schemas = table_schemas(settings.table_names())
    recorder = Recorder(
        runtime.dynamodb(),
        schemas=schemas,
        peek=peek_with(bare),
        peek_query=unfiltered_query(bare),
    )
    ses = Recorder(runtime.ses(), service="sesv2")
    try:
        yield Aws(
            settings=runtime.settings(),
            store=runtime.storage(),
            recorder=recorder,
            ses=ses,
            bare=bare,
            schemas=schemas,
        )
    finally:
        recorder.close()
        ses.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        runtime.reset()
        clock.set_clock(previous)
