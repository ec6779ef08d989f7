"""Webhook endpoints for the platform's own systems: subscribe, list, enable, rotate the secret,
read the delivery log and send a delivery again. Admins manage their own; support, all."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from coaching import runtime
from coaching.events.webhooks import operations
from coaching.web import http
from coaching.web.api import PathId
from coaching.web.webhook_api import (
    CreatedWebhookView,
    CreateWebhookBody,
    DeliveryList,
    DeliveryView,
    NoFieldsBody,
    SecretView,
    WebhookList,
    WebhookView,
    delivery_view,
    webhook_view,
)

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)

Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query(max_length=2048)]


@app.post("/webhooks", status_code=201, summary="Subscribe a webhook endpoint", tags=["Webhooks"])
def create(body: Annotated[CreateWebhookBody, Body()]) -> CreatedWebhookView:
    settings = runtime.settings()
    created = operations.create(
        runtime.webhook_store(),
        http.caller(app),
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        now=http.now(app),
        allow_loopback=settings.webhooks_allow_loopback,
    )
    view = webhook_view(created.endpoint)
    return CreatedWebhookView(**view.model_dump(), secret=created.secret)


@app.get("/webhooks", summary="Your webhook endpoints (support: all)", tags=["Webhooks"])
def list_webhooks(limit: Limit = 20, next_token: NextToken = None) -> WebhookList:
    found, token = operations.listed(runtime.webhook_store(), http.caller(app), limit, next_token)
    return WebhookList(items=[webhook_view(e) for e in found], next_token=token)


@app.get("/webhooks/<webhook_id>", summary="A webhook endpoint", tags=["Webhooks"])
def get_webhook(webhook_id: PathId) -> WebhookView:
    return webhook_view(operations.visible(runtime.webhook_store(), http.caller(app), webhook_id))


@app.delete(
    "/webhooks/<webhook_id>",
    summary="Delete a webhook endpoint",
    tags=["Webhooks"],
    responses={204: {"description": "Deleted: it receives no more events", "content": {}}},
)
def delete_webhook(webhook_id: PathId) -> Response[str]:
    operations.delete(runtime.webhook_store(), http.caller(app), webhook_id)
    return Response(status_code=204, body="")


@app.post(
    "/webhooks/<webhook_id>/enable", summary="Enable a webhook endpoint again", tags=["Webhooks"]
)
def enable(
    webhook_id: PathId,
    body: Annotated[NoFieldsBody, Body()] = NoFieldsBody(),  # noqa: B008 (never mutated)
) -> WebhookView:
    endpoint = operations.enable(runtime.webhook_store(), http.caller(app), webhook_id)
    return webhook_view(endpoint)


@app.post(
    "/webhooks/<webhook_id>/rotate-secret",
    summary="A new signing secret; the old one signs beside it for 24 hours",
    tags=["Webhooks"],
)
def rotate_secret(
    webhook_id: PathId,
    body: Annotated[NoFieldsBody, Body()] = NoFieldsBody(),  # noqa: B008 (never mutated)
) -> SecretView:
    rotated = operations.rotate_secret(
        runtime.webhook_store(), http.caller(app), webhook_id, http.now(app)
    )
    return SecretView(secret=rotated.secret)


@app.get(
    "/webhooks/<webhook_id>/deliveries",
    summary="A webhook endpoint's deliveries, newest first",
    tags=["Webhooks"],
)
def deliveries(webhook_id: PathId, limit: Limit = 20, next_token: NextToken = None) -> DeliveryList:
    found, token = operations.deliveries(
        runtime.webhook_store(), http.caller(app), webhook_id, limit, next_token
    )
    return DeliveryList(items=[delivery_view(d) for d in found], next_token=token)


@app.post(
    "/webhooks/<webhook_id>/deliveries/<delivery_id>/retry",
    status_code=202,
    summary="Send a delivery again now",
    tags=["Webhooks"],
)
def retry(
    webhook_id: PathId,
    delivery_id: PathId,
    body: Annotated[NoFieldsBody, Body()] = NoFieldsBody(),  # noqa: B008 (never mutated)
) -> DeliveryView:
    settings = runtime.settings()
    retried = operations.retry(
        runtime.webhook_store(),
        runtime.sqs(),
        settings.webhook_queue_url,
        http.caller(app),
        webhook_id,
        delivery_id,
        http.now(app),
    )
    return delivery_view(retried)


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
