"""The webhook rules: who may manage endpoints, what an endpoint receives, what an answer means,
when to try again and when to give up. Pure, ``now`` passed in.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from coaching.errors import Forbidden, NotFound, WebhookDisabled, WebhookLimitReached
from coaching.events.domain_events import CREDIT_EVENT_TYPES, SESSION_EVENT_TYPES
from coaching.models import Caller, Role
from coaching.webhook_models import (
    Delivery,
    DeliveryState,
    Endpoint,
    EndpointStatus,
    SigningSecret,
)

EVENT_TYPES: tuple[str, ...] = tuple(
    sorted({*SESSION_EVENT_TYPES.values(), *CREDIT_EVENT_TYPES.values()})
)
"""Every domain event type an endpoint may subscribe to."""
ALL_EVENTS = "*"
"""Subscribes to every type, those added later included; alone in its list."""

MAX_ENDPOINTS_PER_ADMIN = 10
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""The wait after each failed attempt: the first attempt and seven retries, about 28 hours."""
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)

DISABLE_AFTER = timedelta(days=5)
"""An endpoint none of whose attempts succeeded for this long is disabled."""
OLD_SECRET_SIGNS_FOR = timedelta(hours=24)
"""After a rotation, the replaced secret signs beside the new one this long."""


# --- who -------------------------------------------------------------------------------------


def require_manager(caller: Caller) -> None:
    """Admins and support manage webhooks; everyone else is refused outright."""
    if caller.role not in (Role.ADMIN, Role.SUPPORT):
        raise Forbidden("Only admins and support manage webhooks.")


def may_see(caller: Caller, endpoint: Endpoint) -> bool:
    """An admin sees the endpoints they created; support sees all."""
    return caller.role is Role.SUPPORT or (
        caller.role is Role.ADMIN and endpoint.owner_id == caller.id
    )


def require_visible(caller: Caller, endpoint: Endpoint | None) -> Endpoint:
    """Someone else's endpoint answers 404, exactly as one that does not exist."""
    require_manager(caller)
    if endpoint is None or not may_see(caller, endpoint):
        raise NotFound("No such webhook.")
    return endpoint


def require_room(count: int) -> None:
    """An admin may add an endpoint while they have fewer than the limit."""
    if count >= MAX_ENDPOINTS_PER_ADMIN:
        raise WebhookLimitReached(
            f"An admin may have at most {MAX_ENDPOINTS_PER_ADMIN} webhook endpoints; "
            "delete one first."
        )


def require_enabled(endpoint: Endpoint) -> None:
    if endpoint.status is not EndpointStatus.ENABLED:
        raise WebhookDisabled("The endpoint is disabled: enable it first.")


# --- what an endpoint receives -----------------------------------------------------------------


def subscribed_types(event_types: list[str]) -> list[str]:
    """The types as kept: known ones, each once, in the order given; ``*`` alone."""
    kept = list(dict.fromkeys(event_types))
    unknown = [t for t in kept if t != ALL_EVENTS and t not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"must be domain event types (unknown: {', '.join(unknown)})")
    if ALL_EVENTS in kept and len(kept) > 1:
        raise ValueError('must hold "*" alone, as it stands for every type')
    if not kept:
        raise ValueError('must name at least one event type, or "*"')
    return kept


def wants(endpoint: Endpoint, event_type: str) -> bool:
    """An enabled endpoint receives the types it subscribed to (all of them for ``*``)."""
    return endpoint.status is EndpointStatus.ENABLED and (
        ALL_EVENTS in endpoint.event_types or event_type in endpoint.event_types
    )


# --- secrets ------------------------------------------------------------------------------------


def signing_secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the replaced one until it expires."""
    return [s.value for s in endpoint.secrets if s.expires_at is None or now < s.expires_at]


def rotated(endpoint: Endpoint, new_secret: str, now: datetime) -> list[SigningSecret]:
    """The new secret, and the one it replaces, signing beside it for a day. A secret replaced
    before stops signing now: an endpoint signs with two secrets at most."""
    current = endpoint.secrets[0].value
    return [
        SigningSecret(value=new_secret),
        SigningSecret(value=current, expires_at=now + OLD_SECRET_SIGNS_FOR),
    ]


# --- what an answer means -----------------------------------------------------------------------


class Verdict(StrEnum):
    DELIVERED = "DELIVERED"
    GONE = "GONE"
    FAILED = "FAILED"


def verdict(status: int | None) -> Verdict:
    """2xx is delivered; 410 Gone disables the endpoint; anything else (a redirect included,
    which is never followed, and no answer at all) is a failed attempt."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    return Verdict.FAILED


@dataclass(frozen=True)
class AfterAttempt:
    """What a delivery becomes after an attempt."""

    state: DeliveryState
    next_attempt_at: datetime | None


def after_attempt(delivery: Delivery, status: int | None, now: datetime) -> AfterAttempt:
    """The delivery's state once an attempt (its ``attempts``-th) answered ``status``."""
    found = verdict(status)
    if found is Verdict.DELIVERED:
        return AfterAttempt(DeliveryState.DELIVERED, None)
    if found is Verdict.GONE or delivery.final_attempt or delivery.attempts >= MAX_ATTEMPTS:
        return AfterAttempt(DeliveryState.FAILED, None)
    return AfterAttempt(DeliveryState.PENDING, now + RETRY_DELAYS[delivery.attempts - 1])


def failing_too_long(failing_since: datetime, now: datetime) -> bool:
    """Five days without a successful attempt disables the endpoint."""
    return now - failing_since >= DISABLE_AFTER
