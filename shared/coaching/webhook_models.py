"""What webhooks store: an admin's endpoints and one delivery per event and endpoint.

Beside the domain's ``models`` and below ``storage``, which keeps them; what the webhooks do with
them is ``coaching.events.webhooks``.
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from coaching.models import Identifier, Model, UtcDatetime

DELIVERIES_KEPT = timedelta(days=30)
"""Delivery records are deleted (DynamoDB's TTL) this long after their event."""


class EndpointStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class DisabledReason(StrEnum):
    GONE = "GONE"
    """The receiver answered 410 Gone: it asked us to stop."""
    FAILING = "FAILING"
    """No attempt succeeded for five days."""


class SigningSecret(Model):
    value: str
    """``whsec_`` and the base64 of the key's bytes, as Standard Webhooks writes secrets."""
    expires_at: UtcDatetime | None = None
    """None for the current secret; a replaced one signs beside it until then."""


class Endpoint(Model):
    id: Identifier
    owner_id: Identifier
    """The admin who created it: they see and manage it (support sees every endpoint)."""
    owner_email: str | None = None
    """Where a disabled endpoint is reported, as the owner's token gave it at creation. Never
    shown, never logged."""
    url: str
    event_types: list[str]
    description: str | None = None
    status: EndpointStatus
    secrets: Annotated[list[SigningSecret], Field(min_length=1, max_length=2)]
    """The current secret first, then the one it replaced while that still signs."""
    created_at: UtcDatetime
    version: int = 1
    """Raised by every change the API makes: each writes on the version it read."""
    failing_since: UtcDatetime | None = None
    """The first failed attempt since the last success: five days of it disables the endpoint."""
    disabled_at: UtcDatetime | None = None
    disabled_reason: DisabledReason | None = None
    notice: str | None = None
    """Set when the endpoint is disabled, until its owner has been emailed about it (the email's
    claim key): whichever run of the delivery function sees it next sends the email."""


class DeliveryState(StrEnum):
    PENDING = "PENDING"
    """Not delivered yet: being attempted, or waiting for its next attempt."""
    DELIVERED = "DELIVERED"
    """The receiver answered 2xx."""
    FAILED = "FAILED"
    """Given up: the schedule's attempts are spent, the receiver answered 410, or the endpoint
    was disabled or deleted while a retry waited."""


class Delivery(Model):
    id: str
    endpoint_id: Identifier
    event_id: str
    event_type: str
    event_time: UtcDatetime
    payload: str
    """The exact body every attempt sends: ``{type, timestamp, data}``."""
    state: DeliveryState
    attempts: int = 0
    """Attempts made (or under way): counted as each one starts."""
    last_status: int | None = None
    """The receiver's HTTP status at the last attempt; None when it gave none."""
    last_error: str | None = None
    """Why the last attempt got no answer: ``TIMEOUT``, ``CONNECTION_FAILED``, ``TLS_FAILED``,
    ``BAD_RESPONSE``, ``ADDRESS_NOT_ALLOWED``, ``DNS_FAILED``, ``ENDPOINT_DISABLED``,
    ``ENDPOINT_DELETED``."""
    last_attempt_at: UtcDatetime | None = None
    next_attempt_at: UtcDatetime | None = None
    """When the next attempt is due, while one is."""
    final_attempt: bool = False
    """A manual retry of a settled delivery: one attempt, whatever it answers."""
    created_at: UtcDatetime


@dataclass(frozen=True)
class CreatedEndpoint:
    """What creating an endpoint answers: the endpoint and, this once, its secret."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class RotatedSecret:
    """What a rotation answers: the new secret, shown this once."""

    endpoint: Endpoint
    secret: str
