"""What each function's first request is, for the cold-start section: one typical event per
function and the tables it is served from.

The world is made here, in the bench's own process, through the layer's operations (against
in-process moto): a subject with two upcoming sessions, another whose member cancelled late
(so that its coach may refund), and the stream records of a booking. Then the tables' items,
the queue, the sender's identity and the event bus are written to a file that each probe
process loads into its own moto before its request (``coldstart.PROBE``), so every cold start
serves its request from the same state.

The events are those API Gateway, DynamoDB Streams and EventBridge Scheduler send:

- the HTTP functions get their busiest everyday route, answered with success (a booking,
  a cancel, a move, a refund, the member's account, a service's free times, the API's OpenAPI
  document, the app's page, an admin's webhooks, a session opened from its email's manage link);
- notify and publish get the stream record of a booking (notify writes its claim and emails
  the coach; publish puts the domain event on the bus);
- the two sweeps and deliver get their schedule's event (the sessions' sweep and the credits'
  each read every shard of their Due index; a delivery run has nothing due).
"""

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from bench import stack
from bench.env import REGION, SENDER, Request, http_request_event, is_session_record, unique
from bench.notify import _records, streams_client
from bench.world import on_the_hour, subject
from coaching import clock, manage_links, operations
from coaching.manage_links import LinkKeys
from coaching.models import Caller, Role, personal_account_id
from local.scheduler import scheduled_event
from local.template import table_definitions

ADMIN = Caller(id="bench-admin", role=Role.ADMIN, email="bench-admin@example.com", name="Ada Admin")


@dataclass(frozen=True)
class FirstRequest:
    label: str
    """What the request is, for the table."""
    event: dict[str, Any]
    status: int | None = None
    """The HTTP status it must answer with (None: not an HTTP function)."""


def prepare(folder: Path) -> tuple[Path, dict[str, FirstRequest], dict[str, Any]]:
    """The state file, each function's first request (by logical id), and the baseline's
    call: a ``GetItem`` of a session, the read a session's detail makes."""
    with mock_aws(), stack.tables(streams=True) as aws:
        store, now = aws.store, clock.now()
        booked = subject(store, now, sessions_in_hours=(72, 96))
        late = subject(store, now, sessions_in_hours=(5,))
        operations.cancel(store, late.member, late.session.id, "Ill", now)
        event_bus = unique("bench-bus")
        dead_letters = aws.settings.dead_letter_queue_url
        webhook_queue = boto3.client("sqs", region_name=REGION).create_queue(
            QueueName=unique("bench-webhooks")
        )["QueueUrl"]
        requests = _requests(booked, late, now)
        secret_arn = os.environ["MANAGE_LINK_SECRET"]
        secret = boto3.client("secretsmanager", region_name=REGION).describe_secret(
            SecretId=secret_arn
        )["Name"]
        link_key = boto3.client("secretsmanager", region_name=REGION).get_secret_value(
            SecretId=secret
        )["SecretString"]
        requests["ManageFunction"] = _manage(booked, LinkKeys.from_secret(link_key))
        arn = aws.bare.describe_table(TableName=aws.settings.sessions_table)["Table"][
            "LatestStreamArn"
        ]
        records = [r for r in _records(streams_client(), arn) if is_session_record(r)]
        booking = [r for r in records if r["eventName"] == "INSERT"][:1]
        stream = {"Records": booking}
        requests["NotifyFunction"] = FirstRequest("a booking's stream record", stream)
        requests["PublishFunction"] = FirstRequest("a booking's stream record", stream)
        requests["SweepFunction"] = FirstRequest(
            "its schedule (every Due shard read)", scheduled_event("SweepFunction")
        )
        requests["CreditExpiryFunction"] = FirstRequest(
            "its schedule (every ledger Due shard read)", scheduled_event("CreditExpiryFunction")
        )
        requests["DeliverFunction"] = FirstRequest(
            "its schedule (nothing due)", scheduled_event("DeliverFunction-schedule")
        )
        state = {
            "environment": {
                "SESSIONS_TABLE": aws.settings.sessions_table,
                "LEDGER_TABLE": aws.settings.ledger_table,
                "IDEMPOTENCY_TABLE": aws.settings.idempotency_table,
                "EMAILS_TABLE": aws.settings.emails_table,
                "WEBHOOKS_TABLE": aws.settings.webhooks_table,
                "SENDER_EMAIL": SENDER,
                "SES_CONFIGURATION_SET": "",
                "APP_BASE_URL": aws.settings.app_base_url,
                "DEAD_LETTER_QUEUE_URL": dead_letters,
                "EVENT_BUS_NAME": event_bus,
                "WEBHOOK_QUEUE_URL": webhook_queue,
                "MANAGE_LINK_SECRET": secret,
            },
            "tables": _tables(aws),
            "queues": [url.rsplit("/", 1)[-1] for url in (dead_letters, webhook_queue)],
            "identities": [SENDER],
            "buses": [event_bus],
            "secrets": [{"name": secret, "value": link_key}],
        }
        baseline = {
            "TableName": aws.settings.sessions_table,
            "Key": {"pk": {"S": f"SESSION#{booked.session.id}"}, "sk": {"S": "SESSION"}},
        }
    path = folder / "first-request-state.json"
    path.write_text(json.dumps(state))
    return path, requests, baseline


def _manage(booked: Any, keys: LinkKeys) -> FirstRequest:
    """The member's session, opened from their email's manage link (a bearer token, no JWT)."""
    session = booked.sessions[0]
    token = manage_links.sign(keys, session.id, session.member.id, session.end)
    route, event = http_request_event(Request(None, "GET", "/manage/session"))
    event["headers"]["authorization"] = f"Bearer {token}"
    return FirstRequest(f"a session from its manage link ({route.key})", event, 200)


def _tables(aws: stack.Aws) -> list[dict[str, Any]]:
    """Each table's CreateTable request (the template's) and its items."""
    found = []
    for logical_id, name in aws.settings.table_names().items():
        create = dict(table_definitions()[logical_id]["create"], TableName=name)
        items: list[dict[str, Any]] = []
        pages = aws.bare.get_paginator("scan").paginate(TableName=name)
        for page in pages:
            items += page["Items"]
        found.append({"create": create, "items": items})
    return found


def _requests(booked: Any, late: Any, now: Any) -> dict[str, FirstRequest]:
    def http(label: str, request: Request, status: int) -> FirstRequest:
        route, event = http_request_event(request)
        return FirstRequest(f"{label} ({route.key})", event, status)

    key = unique("bench-first")
    session, moved = booked.sessions
    return {
        "SessionsFunction": http(
            "a booking",
            Request(
                booked.member,
                "POST",
                "/sessions",
                {
                    "service_id": booked.service.id,
                    "session_type_id": booked.service.session_types[0].id,
                    "start": on_the_hour(now + timedelta(hours=120)).isoformat(),
                },
                idempotency_key=key,
            ),
            201,
        ),
        "CancelFunction": http(
            "a cancel",
            Request(
                booked.member,
                "POST",
                f"/sessions/{session.id}/cancel",
                {"reason": "Something came up at work"},
                idempotency_key=key,
            ),
            200,
        ),
        "RescheduleFunction": http(
            "a move",
            Request(
                booked.member,
                "POST",
                f"/sessions/{moved.id}/reschedule",
                {"start": on_the_hour(now + timedelta(hours=144)).isoformat()},
                idempotency_key=key,
            ),
            200,
        ),
        "RefundFunction": http(
            "a refund",
            Request(
                late.coach,
                "POST",
                f"/sessions/{late.session.id}/refund",
                {"note": "Goodwill"},
                idempotency_key=key,
            ),
            200,
        ),
        "AccountsFunction": http(
            "the member's account",
            Request(booked.member, "GET", f"/accounts/{personal_account_id(booked.member.id)}"),
            200,
        ),
        "ServicesFunction": http(
            "a week of free times",
            Request(
                booked.member,
                "GET",
                f"/services/{booked.service.id}/slots",
                query={
                    "session_type_id": booked.service.session_types[0].id,
                    "from": on_the_hour(now + timedelta(days=1)).isoformat(),
                    "to": on_the_hour(now + timedelta(days=8)).isoformat(),
                },
            ),
            200,
        ),
        "DocsFunction": http("the API's document", Request(None, "GET", "/openapi.json"), 200),
        "AppFunction": http("the app's page", Request(None, "GET", "/app"), 200),
        "WebhooksFunction": http("an admin's webhooks", Request(ADMIN, "GET", "/webhooks"), 200),
    }
