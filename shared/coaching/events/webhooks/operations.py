"""What each webhook route does: read, ask the rules, write one transaction.

As ``coaching.operations`` does for sessions: every write is conditioned on what was read (the
endpoint's version, the owner's count, the delivery's state), and a write that lost to another
is read and decided again (``retrying``).
"""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from coaching.errors import NotFound, ValidationFailed
from coaching.events.webhooks import addresses, messages, rules, signing
from coaching.models import Caller, Role
from coaching.observability import logger
from coaching.operations import retrying
from coaching.storage.webhooks import WebhookStore
from coaching.webhook_models import (
    CreatedEndpoint,
    Delivery,
    DeliveryState,
    Endpoint,
    EndpointStatus,
    RotatedSecret,
    SigningSecret,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
else:
    SQSClient = Any


def create(
    store: WebhookStore,
    caller: Caller,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    now: datetime,
    allow_loopback: bool = False,
    lookup: addresses.Lookup | None = None,
) -> CreatedEndpoint:
    """A new endpoint, enabled, owned by the caller, with a fresh secret."""
    rules.require_manager(caller)
    try:
        addresses.destination(url, allow_loopback=allow_loopback, lookup=lookup)
    except addresses.Refused as refused:
        raise ValidationFailed.on("url", refused.reason) from None
    secret = signing.new_secret()
    endpoint = Endpoint(
        id=uuid.uuid4().hex,
        owner_id=caller.id,
        owner_email=caller.email,
        url=url,
        event_types=rules.subscribed_types(event_types),
        description=description,
        status=EndpointStatus.ENABLED,
        secrets=[SigningSecret(value=secret)],
        created_at=now,
    )
    created = CreatedEndpoint(endpoint=endpoint, secret=secret)

    def attempt() -> CreatedEndpoint:
        counted = store.endpoint_count(caller.id)
        rules.require_room(counted)
        store.create_endpoint(endpoint, counted, created)
        return created

    return retrying(attempt)


def listed(
    store: WebhookStore, caller: Caller, limit: int, token: str | None
) -> tuple[list[Endpoint], str | None]:
    """An admin's own endpoints; every endpoint for support."""
    rules.require_manager(caller)
    owner = None if caller.role is Role.SUPPORT else caller.id
    return store.endpoints(owner, limit, token)


def visible(store: WebhookStore, caller: Caller, endpoint_id: str) -> Endpoint:
    return rules.require_visible(caller, store.get_endpoint(endpoint_id))


def delete(store: WebhookStore, caller: Caller, endpoint_id: str) -> None:
    """The endpoint stops receiving events at once; its deliveries age out with the rest."""

    def attempt() -> None:
        store.delete_endpoint(visible(store, caller, endpoint_id))

    retrying(attempt)


def enable(store: WebhookStore, caller: Caller, endpoint_id: str) -> Endpoint:
    """Enabled again, its failing mark cleared; enabling an enabled endpoint changes nothing."""

    def attempt() -> Endpoint:
        before = visible(store, caller, endpoint_id)
        if before.status is EndpointStatus.ENABLED:
            return before
        after = before.model_copy(
            update={
                "status": EndpointStatus.ENABLED,
                "failing_since": None,
                "disabled_at": None,
                "disabled_reason": None,
                "notice": None,
                "version": before.version + 1,
            }
        )
        store.update_endpoint(before, after, after)
        return after

    return retrying(attempt)


def rotate_secret(
    store: WebhookStore, caller: Caller, endpoint_id: str, now: datetime
) -> RotatedSecret:
    """A new secret; the one it replaces signs beside it for a day."""
    secret = signing.new_secret()

    def attempt() -> RotatedSecret:
        before = visible(store, caller, endpoint_id)
        after = before.model_copy(
            update={
                "secrets": rules.rotated(before, secret, now),
                "version": before.version + 1,
            }
        )
        rotated = RotatedSecret(endpoint=after, secret=secret)
        store.update_endpoint(before, after, rotated)
        return rotated

    return retrying(attempt)


def deliveries(
    store: WebhookStore, caller: Caller, endpoint_id: str, limit: int, token: str | None
) -> tuple[list[Delivery], str | None]:
    visible(store, caller, endpoint_id)
    return store.deliveries(endpoint_id, limit, token)


def retry(
    store: WebhookStore,
    sqs: "SQSClient",
    queue_url: str,
    caller: Caller,
    endpoint_id: str,
    delivery_id: str,
    now: datetime,
) -> Delivery:
    """Send a delivery again now: it waits for an attempt due now, which the queue brings to
    the delivery function at once. A delivery still being retried keeps its schedule after
    this attempt; one that was settled gets this one attempt."""

    def attempt() -> Delivery:
        endpoint = visible(store, caller, endpoint_id)
        rules.require_enabled(endpoint)
        before = store.get_delivery(endpoint_id, delivery_id)
        if before is None:
            raise NotFound("No such delivery.")
        after = before.model_copy(
            update={
                "state": DeliveryState.PENDING,
                "next_attempt_at": now,
                "final_attempt": before.final_attempt or before.state is not DeliveryState.PENDING,
            }
        )
        store.retry_now(before, after, after)
        return after

    retried = retrying(attempt)
    try:
        sqs.send_message(
            QueueUrl=queue_url, MessageBody=messages.retry_body(endpoint_id, retried.id)
        )
    except (ClientError, BotoCoreError) as error:
        # It is due now in the Due index: the next scheduled run (within a minute) sends it.
        logger.warning(
            "webhook retry not queued",
            extra={"delivery_id": retried.id, "code": type(error).__name__},
        )
    return retried
