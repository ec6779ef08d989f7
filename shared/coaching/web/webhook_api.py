"""The webhook routes' bodies and answers (docs/api.md, "Webhooks").

A signing secret is shown twice in an endpoint's life: in the answer that creates it and in the
answer that rotates it. Every other answer leaves secrets out, and so does every listing.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from coaching.events.webhooks import rules
from coaching.web.api import Body, View
from coaching.webhook_models import (
    CreatedEndpoint,
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointStatus,
    RotatedSecret,
)

SUBSCRIBABLE = [*rules.EVENT_TYPES, rules.ALL_EVENTS]

EventType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"enum": SUBSCRIBABLE},
        description='A domain event type, or "*" (alone) for every type.',
    ),
]


def _subscribed(types: list[str]) -> list[str]:
    return rules.subscribed_types(types)


class CreateWebhookBody(Body):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=rules.MAX_URL_LENGTH,
            description=(
                "An https URL whose host resolves to public addresses only; no user name, "
                "password or fragment."
            ),
        ),
    ]
    event_types: Annotated[
        list[EventType],
        Field(min_length=1, max_length=len(SUBSCRIBABLE)),
        AfterValidator(_subscribed),
    ]
    description: Annotated[str, Field(max_length=rules.MAX_DESCRIPTION_LENGTH)] | None = None


class NoFieldsBody(Body):
    """Enabling, rotating a secret and retrying take no fields; any field sent is refused rather
    than silently dropped (the body may be left out)."""


class WebhookView(View):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: EndpointStatus
    created_at: datetime
    failing_since: datetime | None
    """The first failed attempt since the last success; null while attempts succeed."""
    disabled_at: datetime | None
    disabled_reason: DisabledReason | None
    """``GONE`` (the receiver answered 410) or ``FAILING`` (five days without a success)."""


def webhook_view(endpoint: Endpoint) -> WebhookView:
    return WebhookView(
        **endpoint.model_dump(
            include={
                "id",
                "url",
                "event_types",
                "description",
                "status",
                "created_at",
                "failing_since",
                "disabled_at",
                "disabled_reason",
            }
        )
    )


class CreatedWebhookView(WebhookView):
    secret: Annotated[
        str,
        Field(description="`whsec_` and base64: the signing secret, shown only in this answer."),
    ]


class WebhookList(View):
    items: list[WebhookView]
    next_token: str | None


class SecretView(View):
    secret: Annotated[
        str,
        Field(
            description=(
                "The new signing secret, shown only in this answer. The one it replaces signs "
                "beside it for 24 hours."
            )
        ),
    ]


class DeliveryView(View):
    id: str
    event_id: str
    event_type: str
    state: DeliveryState
    attempts: int
    last_status: int | None
    """The receiver's HTTP status at the last attempt; null when it gave none."""
    last_error: str | None
    """Why the last attempt got no answer, such as ``TIMEOUT`` or ``ADDRESS_NOT_ALLOWED``."""
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


def delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView(
        **delivery.model_dump(
            include={
                "id",
                "event_id",
                "event_type",
                "state",
                "attempts",
                "last_status",
                "last_error",
                "last_attempt_at",
                "next_attempt_at",
                "created_at",
            }
        )
    )


class DeliveryList(View):
    items: list[DeliveryView]
    next_token: str | None


def answer_for(result: object) -> tuple[int, BaseModel] | None:
    """The status and body a webhook write answers with (see ``coaching.web.api.answer_for``)."""
    if isinstance(result, CreatedEndpoint):
        view = webhook_view(result.endpoint)
        return 201, CreatedWebhookView(**view.model_dump(), secret=result.secret)
    if isinstance(result, RotatedSecret):
        return 200, SecretView(secret=result.secret)
    if isinstance(result, Endpoint):
        return 200, webhook_view(result)
    if isinstance(result, Delivery):
        return 202, delivery_view(result)
    return None
