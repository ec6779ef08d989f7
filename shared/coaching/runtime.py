"""The AWS clients and stores a function uses, built once per cold start on first use.

Nothing here runs at import time, so importing a handler never touches AWS; endpoints come from
the SDK's own configuration (``AWS_ENDPOINT_URL`` in the local stack).

The clients are botocore's, the SDK under boto3: ``import boto3`` also loads its resource layer
and s3transfer, which no function uses, and costs about 45 ms of every cold start (``make
bench``). The clients are the same objects boto3 would return.
"""

from functools import cache
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config

from coaching.settings import Settings
from coaching.storage import Storage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_sesv2.client import SESV2Client
    from mypy_boto3_sqs.client import SQSClient

    from coaching.events.event_bus import EventBus
    from coaching.events.webhooks.delivery import Deliverer
    from coaching.link_keys import LinkKeySource
    from coaching.mail.notifier import Notifier
    from coaching.storage.webhooks import WebhookStore

# DynamoDB, SQS and EventBridge answer in milliseconds from inside the region, so a connection
# that takes a second to open or an answer that takes three is stalled, not slow: drop it and
# retry on a fresh one instead of waiting botocore's default 60 s, longer than an API function
# lives (10 s). Standard mode retries throttling, 5xx and connection errors with jittered backoff;
# three attempts leave room for one stall and a retry inside that 10 s. (botocore's
# `max_attempts` counts retries only, the first try excluded; `total_max_attempts` counts all.)
CONFIG = Config(
    connect_timeout=1,
    read_timeout=3,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=20,
)
SES_CONFIG = Config(
    # The notifier retries SES itself, with backoff bounded by its lease: no hidden retries here.
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=2,
    read_timeout=5,
)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def _session() -> botocore.session.Session:
    """One botocore session per process, as boto3's default session: the clients share its
    credentials and its loaded service models."""
    return botocore.session.get_session()


@cache
def dynamodb() -> "DynamoDBClient":
    return cast("DynamoDBClient", _session().create_client("dynamodb", config=CONFIG))


@cache
def storage() -> Storage:
    return Storage(dynamodb(), settings())


@cache
def ses() -> "SESV2Client":
    return cast("SESV2Client", _session().create_client("sesv2", config=SES_CONFIG))


@cache
def sqs() -> "SQSClient":
    return cast("SQSClient", _session().create_client("sqs", config=CONFIG))


@cache
def events() -> "EventBridgeClient":
    return cast("EventBridgeClient", _session().create_client("events", config=CONFIG))


@cache
def secretsmanager() -> "SecretsManagerClient":
    return cast("SecretsManagerClient", _session().create_client("secretsmanager", config=CONFIG))


@cache
def link_keys() -> "LinkKeySource":
    """The keys that sign and check manage links (the notifier, the manage function)."""
    from coaching.link_keys import LinkKeySource

    secret = settings().manage_link_secret
    if not secret:
        raise RuntimeError("MANAGE_LINK_SECRET is not set: manage links could not be signed")
    return LinkKeySource(secretsmanager(), secret)


@cache
def event_bus() -> "EventBus":
    from coaching.events.event_bus import EventBus

    name = settings().event_bus_name
    if not name:
        raise RuntimeError("EVENT_BUS_NAME is not set: the domain events would have nowhere to go")
    return EventBus(events(), name)


@cache
def notifier() -> "Notifier":
    """The notifier of emails about sessions: each member's carries a manage link, signed with
    the key in Secrets Manager (the notify function)."""
    return _notifier(links=link_keys())


@cache
def notice_sender() -> "Notifier":
    """The notifier of emails about no session (an admin's webhook endpoint disabled): they
    carry no manage link, so the delivery function needs no signing key."""
    return _notifier(links=None)


def _notifier(links: "LinkKeySource | None") -> "Notifier":
    from coaching.mail.notifier import Notifier
    from coaching.storage.email_claims import EmailClaims

    config = settings()
    if not config.dead_letter_queue_url:
        raise RuntimeError("DEAD_LETTER_QUEUE_URL is not set: refused emails would be lost")
    return Notifier(
        ses=ses(),
        sqs=sqs,
        claims=EmailClaims(dynamodb(), config.emails_table),
        sender=config.sender_email,
        configuration_set=config.ses_configuration_set or None,
        dead_letter_queue_url=config.dead_letter_queue_url,
        base_url=config.app_base_url,
        links=links,
    )


@cache
def webhook_store() -> "WebhookStore":
    """Webhook endpoints and deliveries: built by the two webhook functions alone."""
    from coaching.storage.webhooks import WebhookStore

    return WebhookStore(dynamodb(), settings())


@cache
def deliverer() -> "Deliverer":
    from coaching.events.webhooks.delivery import Deliverer

    config = settings()
    if not config.webhook_queue_url:
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set: retries due soon would have no queue")
    return Deliverer(
        store=webhook_store(),
        sqs=sqs(),
        queue_url=config.webhook_queue_url,
        notifier=notice_sender,
        allow_loopback=config.webhooks_allow_loopback,
    )


def reset() -> None:
    """Forget the cached clients and settings (tests and the local stack change them)."""
    for cached in (
        settings,
        _session,
        dynamodb,
        storage,
        ses,
        sqs,
        events,
        event_bus,
        secretsmanager,
        link_keys,
        notifier,
        notice_sender,
        webhook_store,
        deliverer,
    ):
        cached.cache_clear()
