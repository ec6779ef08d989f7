"""Writes events/<function>-<event>.json: one API Gateway HTTP API v2 event per template route.

Usable with ``sam local invoke CancelFunction -e events/cancel-cancel.json`` and checked by the
tests, which invoke each one. Run ``python -m local.sample_events`` after adding a route.
"""

import json
from pathlib import Path
from typing import Any

from local import template
from local.lambda_runtime import ROOT, http_event
from local.routes import Route

EVENTS = ROOT / "events"
SESSION_ID = "9d5f0c2ab7e34f01a6c1d2e3f4a5b6c7"
PATH_VALUES = {
    "session_id": SESSION_ID,
    "account_id": "personal-demo-member",
    "service_id": "s1",
    "coach_id": "demo-coach",
    "proxy": "coaching-sessions.js",
    "webhook_id": "5b1f3c9d2e7a4b6c8d0e1f2a3b4c5d6e",
    "delivery_id": "20300115T090000Z-0000000002-3f2a9c1b7d5e4a6f",
}
MEMBER = {
    "sub": "demo-member",
    "cognito:groups": ["member"],
    "email": "maya@example.com",
    "email_verified": True,
    "name": "Maya Member",
    "zoneinfo": "Europe/London",
}
COACH = {
    "sub": "demo-coach",
    "cognito:groups": ["coach"],
    "email": "colin@example.com",
    "email_verified": True,
    "name": "Colin Coach",
    "zoneinfo": "America/New_York",
}
SUPPORT = {"sub": "demo-support", "cognito:groups": ["support"]}
ADMIN = {"sub": "demo-admin", "cognito:groups": ["admin"]}
WEBHOOK_ADMIN = ADMIN | {"email": "ada@example.com", "email_verified": True, "name": "Ada Admin"}
"""An admin whose token carries an address: where a disabled endpoint is reported."""

# Who sends each request, and with what body, in the sample.
SAMPLES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    "POST /sessions": (
        MEMBER,
        {"service_id": "s1", "session_type_id": "t1", "start": "2030-01-15T10:00:00+00:00"},
    ),
    "GET /sessions": (MEMBER, None),
    "GET /sessions/{session_id}": (MEMBER, None),
    "GET /sessions/{session_id}/history": (MEMBER, None),
    "POST /sessions/{session_id}/approve": (COACH, None),
    "POST /sessions/{session_id}/decline": (COACH, {"reason": "Fully booked that week"}),
    "GET /sessions/{session_id}/cancellation": (MEMBER, None),
    "POST /sessions/{session_id}/cancel": (MEMBER, {"reason": "Something came up at work"}),
    "POST /sessions/{session_id}/reschedule": (MEMBER, {"start": "2030-01-16T10:00:00+00:00"}),
    "POST /sessions/{session_id}/reschedule-request/approve": (COACH, None),
    "POST /sessions/{session_id}/reschedule-request/decline": (
        COACH,
        {"reason": "I am away that week"},
    ),
    "POST /sessions/{session_id}/reschedule-request/withdraw": (
        MEMBER,
        {"reason": "The old time works after all"},
    ),
    "POST /sessions/{session_id}/refund": (COACH, {"credits": 2, "note": "Goodwill"}),
    "POST /sessions/{session_id}/no-show": (COACH, {"party": "MEMBER"}),
    "GET /accounts": (MEMBER, None),
    "POST /accounts": (
        SUPPORT,
        {"name": "Acme team", "member_ids": ["demo-member"], "admin_ids": ["demo-admin"]},
    ),
    "GET /accounts/{account_id}": (MEMBER, None),
    "GET /accounts/{account_id}/ledger": (MEMBER, None),
    "PATCH /accounts/{account_id}": (
        ADMIN,
        {"name": "Acme coaching pool", "add_members": ["new-hire"], "remove_members": ["leaver"]},
    ),
    "GET /accounts/{account_id}/changes": (ADMIN, None),
    "POST /accounts/{account_id}/grants": (SUPPORT, {"credits": 10, "note": "Welcome"}),
    "POST /services": (
        COACH,
        {"name": "Career coaching", "session_types": [{"minutes": 60, "credits": 3}]},
    ),
    "GET /services/{service_id}": (MEMBER, None),
    "PATCH /services/{service_id}": (
        COACH,
        {
            "cancellation_window_hours": 48,
            "session_types": {
                "add": [{"minutes": 90, "credits": 4}],
                "change": [{"id": "t1", "credits": 4}],
                "retire": ["t2"],
            },
        },
    ),
    "POST /services/{service_id}/retire": (COACH, None),
    "GET /coaches": (MEMBER, None),
    "GET /services": (MEMBER, None),
    "GET /services/{service_id}/slots": (MEMBER, None),
    "PUT /coaches/me/availability": (
        COACH,
        {
            "timezone": "America/New_York",
            "weekly": [
                {"day": "MON", "start": "09:00", "end": "12:00"},
                {"day": "MON", "start": "13:00", "end": "17:00"},
            ],
        },
    ),
    "GET /coaches/{coach_id}/availability": (MEMBER, None),
    "POST /coaches/me/time-off": (
        COACH,
        {"start": "2030-02-01T00:00:00Z", "end": "2030-02-08T00:00:00Z", "reason": "Holiday"},
    ),
    "GET /coaches/{coach_id}/time-off": (MEMBER, None),
    "DELETE /coaches/me/time-off/{time_off_id}": (COACH, None),
    "POST /webhooks": (
        WEBHOOK_ADMIN,
        {
            # An address, not a name: invoking the sample looks nothing up in DNS.
            "url": "https://93.184.215.14/hooks/coaching",
            "event_types": ["session.booked", "session.canceled"],
            "description": "CRM",
        },
    ),
    "GET /webhooks": (WEBHOOK_ADMIN, None),
    "GET /webhooks/{webhook_id}": (WEBHOOK_ADMIN, None),
    "DELETE /webhooks/{webhook_id}": (WEBHOOK_ADMIN, None),
    "POST /webhooks/{webhook_id}/enable": (WEBHOOK_ADMIN, None),
    "POST /webhooks/{webhook_id}/rotate-secret": (WEBHOOK_ADMIN, None),
    "GET /webhooks/{webhook_id}/deliveries": (WEBHOOK_ADMIN, None),
    "POST /webhooks/{webhook_id}/deliveries/{delivery_id}/retry": (WEBHOOK_ADMIN, None),
    "GET /openapi.json": (None, None),
    "GET /docs": (None, None),
    "GET /app": (None, None),
    "GET /app/{proxy+}": (None, None),
}
QUERIES: dict[str, dict[str, str]] = {
    "GET /coaches/{coach_id}/time-off": {
        "from": "2030-02-01T00:00:00Z",
        "to": "2030-03-01T00:00:00Z",
    },
    "GET /services": {"coach_id": "demo-coach"},
    "GET /coaches": {"q": "col"},
    "GET /services/{service_id}/slots": {
        "session_type_id": "t1",
        "from": "2030-01-14T00:00:00Z",
        "to": "2030-01-21T00:00:00Z",
    },
}


def file_for(route: Route, event_name: str) -> Path:
    function = route.function.removesuffix("Function").lower()
    return EVENTS / f"{function}-{event_name.lower()}.json"


def routes_with_names() -> list[tuple[Route, str]]:
    """Each HTTP route with the name its event has in the template."""
    loaded = template.load()
    found = []
    for name, resource in template.resources(loaded, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            route = Route(
                method=props["Method"].upper(),
                path=props["Path"],
                function=name,
                code_uri="",
                handler="",
                public=False,
                timeout=0,
            )
            found.append((route, event_name))
    return found


def sample(route: Route) -> dict[str, Any]:
    claims, body = SAMPLES[route.key]
    path = route.path
    parameters = {}
    for name, value in PATH_VALUES.items():
        for variable in ("{" + name + "}", "{" + name + "+}"):  # {proxy+}: a greedy variable
            if variable in path:
                path = path.replace(variable, value)
                parameters[name] = value
    event = http_event(
        method=route.method,
        path=path,
        route_key=route.key,
        path_parameters=parameters or None,
        query=QUERIES.get(route.key),
        headers={"content-type": "application/json", "host": "api.example.com"},
        body=None if body is None else json.dumps(body),
        claims=claims,
    )
    # Fixed values, so the files do not change each time they are written.
    event["requestContext"]["requestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    event["requestContext"]["time"] = "15/Jan/2030:09:00:00 +0000"
    event["requestContext"]["timeEpoch"] = 1894698000000
    return event


def main() -> None:
    for route, event_name in routes_with_names():
        file_for(route, event_name).write_text(json.dumps(sample(route), indent=2) + "\n")


if __name__ == "__main__":
    main()
