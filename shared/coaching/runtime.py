"""The AWS clients and stores a function uses, built once per cold start on first use.

Nothing here runs at import time, so importing a handler never touches AWS; endpoints come from
boto3's own configuration (``AWS_ENDPOINT_URL`` in the local stack).
"""

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from coaching.settings import Settings
from coaching.storage import Storage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sesv2.client import SESV2Client
    from mypy_boto3_sqs.client import SQSClient

    from coaching.notifier import Notifier

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=20)
_SES_CONFIG = Config(
    # The notifier retries SES itself, with backoff bounded by its lease: no hidden retries here.
    retries={"mode": "standard", "max_attempts": 1},
    connect_timeout=3,
    read_timeout=5,
)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def dynamodb() -> "DynamoDBClient":
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def storage() -> Storage:
    return Storage(dynamodb(), settings())


@cache
def ses() -> "SESV2Client":
    return boto3.client("sesv2", config=_SES_CONFIG)


@cache
def sqs() -> "SQSClient":
    return boto3.client("sqs", config=_CONFIG)


@cache
def notifier() -> "Notifier":
    from coaching.notifier import Notifier
    from coaching.storage.email_claims import EmailClaims

    config = settings()
    if not config.dead_letter_queue_url:
        raise RuntimeError("DEAD_LETTER_QUEUE_URL is not set: refused emails would be lost")
    return Notifier(
        ses=ses(),
        sqs=sqs(),
        claims=EmailClaims(dynamodb(), config.emails_table),
        sender=config.sender_email,
        configuration_set=config.ses_configuration_set or None,
        dead_letter_queue_url=config.dead_letter_queue_url,
        base_url=config.app_base_url,
    )


def reset() -> None:
    """Forget the cached clients and settings (tests and the local stack change them)."""
    for cached in (settings, dynamodb, storage, ses, sqs, notifier):
        cached.cache_clear()
