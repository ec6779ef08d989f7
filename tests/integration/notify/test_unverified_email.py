"""An address whose token says ``email_verified: false`` is never written down, so never mailed.

The session stores the member's and coach's contact details from their tokens when it is booked
and when the service is created; here both happen through the HTTP API, then the stream reaches
the notify function.
"""

from datetime import timedelta
from typing import Any

from coaching import clock
from local.lambda_runtime import jwt_claims
from tests.api_client import Api
from tests.builders import World, coach, member
from tests.integration.notify.conftest import Notify
from tests.integration.notify.steps import deliver, only


def _slot() -> str:
    at = clock.now() + timedelta(hours=72)
    return at.replace(minute=0, second=0, microsecond=0).isoformat()


def test_a_member_with_an_unverified_address_gets_no_email(
    api: Api, world: World, notify: Notify
) -> None:
    ann, cho = member("Ann"), coach("Cho")
    world.fund(ann, 10)
    created = api.post(
        cho, "/services", {"name": "Coaching", "session_types": [{"minutes": 60, "credits": 3}]}
    )
    service: dict[str, Any] = created.json
    unverified = jwt_claims(ann) | {"email_verified": "false"}

    booked = api.post(
        None,
        "/sessions",
        {
            "service_id": service["id"],
            "session_type_id": service["session_types"][0]["id"],
            "start": _slot(),
        },
        claims=unverified,
    )
    mails = deliver(notify)

    assert created.status == 201 and booked.status == 201, booked.text
    stored = notify.store.get_session(booked.json["id"])
    assert stored is not None and stored.member.email is None  # never written down
    assert notify.sent_to(ann.email) == []
    assert "booked a session with you" in only(mails, cho).readable  # the coach is still told
    assert len(mails) == 1


def test_a_coach_with_an_unverified_address_gets_no_email(
    api: Api, world: World, notify: Notify
) -> None:
    ann, cho = member("Ann"), coach("Cho")
    world.fund(ann, 10)
    unverified = jwt_claims(cho) | {"email_verified": False}
    created = api.post(
        None,
        "/services",
        {"name": "Coaching", "session_types": [{"minutes": 60, "credits": 3}]},
        claims=unverified,
    )
    service: dict[str, Any] = created.json

    booked = api.post(
        ann,
        "/sessions",
        {
            "service_id": service["id"],
            "session_type_id": service["session_types"][0]["id"],
            "start": _slot(),
        },
    )
    mails = deliver(notify)

    assert created.status == 201 and booked.status == 201, booked.text
    assert notify.sent_to(cho.email) == []
    only(mails, ann)
    assert len(mails) == 1
