"""POST /services and GET /services/{id}."""

from typing import Any

import pytest

from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import NOT_AN_OBJECT, assert_ok, assert_problem, nothing_changes

VALID = {"name": "Career coaching", "session_types": [{"minutes": 45, "credits": 2}]}


def test_a_coach_offers_a_service_with_the_default_policy(
    api: Api, given: World, store: Storage
) -> None:
    carol = coach()

    reply = api.post(carol, "/services", VALID)

    service = assert_ok(reply, 201)
    assert service["coach_id"] == carol.id and service["name"] == "Career coaching"
    assert isinstance(service["id"], str) and service["id"]
    [session_type] = service["session_types"]
    assert session_type["minutes"] == 45 and session_type["credits"] == 2
    assert isinstance(session_type["id"], str) and session_type["id"]
    assert service["cancellation_window_hours"] == 24
    assert service["requires_approval"] is False
    assert service["request_ttl_hours"] == 48
    assert store.get_service(service["id"]) is not None


def test_a_service_keeps_the_policy_it_was_given(api: Api, given: World) -> None:
    body = {
        "name": "Executive coaching",
        "session_types": [{"minutes": 30, "credits": 1}, {"minutes": 90, "credits": 4}],
        "cancellation_window_hours": 48,
        "requires_approval": True,
        "request_ttl_hours": 12,
    }

    service = assert_ok(api.post(coach(), "/services", body), 201)

    assert [(t["minutes"], t["credits"]) for t in service["session_types"]] == [(30, 1), (90, 4)]
    assert len({t["id"] for t in service["session_types"]}) == 2
    assert service["cancellation_window_hours"] == 48
    assert service["requires_approval"] is True and service["request_ttl_hours"] == 12


@pytest.mark.parametrize("who", [member, support, admin], ids=["member", "support", "admin"])
def test_only_coaches_offer_services(api: Api, given: World, store: Storage, who: Any) -> None:
    with nothing_changes(store):
        reply = api.post(who(), "/services", VALID)

    assert_problem(reply, 403, "FORBIDDEN")


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_body_that_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    with nothing_changes(store):
        reply = api.post(coach(), "/services", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


def _types(**changes: Any) -> dict[str, Any]:
    return {**VALID, "session_types": [{"minutes": 60, "credits": 3, **changes}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session_types": VALID["session_types"]}, "name"),
        ({"name": "X"}, "session_types"),
        ({**VALID, "session_types": []}, "session_types"),
        (_types(minutes=9), "minutes"),
        (_types(minutes=0), "minutes"),
        (_types(minutes=255), "minutes"),
        (_types(credits=0), "credits"),
        (_types(credits="three"), "credits"),
        ({**VALID, "cancellation_window_hours": -1}, "cancellation_window_hours"),
        ({**VALID, "cancellation_window_hours": 721}, "cancellation_window_hours"),
        ({**VALID, "request_ttl_hours": 0}, "request_ttl_hours"),
        ({**VALID, "requires_approval": "maybe"}, "requires_approval"),
        ({**VALID, "requires_approval": "yes"}, "requires_approval"),
        ({**VALID, "coach_id": "someone-else"}, "coach_id"),
    ],
    ids=[
        "name missing",
        "session types missing",
        "no session types",
        "shorter than ten minutes",
        "zero minutes",
        "longer than four hours",
        "free session",
        "credits a word",
        "negative window",
        "window over 30 days",
        "request ttl 0",
        "requires_approval a word",
        "requires_approval a yes string",
        "unknown field",
    ],
)
def test_an_invalid_service_fails_validation(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    with nothing_changes(store):
        reply = api.post(coach(), "/services", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


@pytest.mark.parametrize("who", [member, coach, support, admin])
def test_anyone_signed_in_reads_a_service(api: Api, given: World, who: Any) -> None:
    carol = coach()
    created = assert_ok(api.post(carol, "/services", VALID), 201)

    service = assert_ok(api.get(who(), f"/services/{created['id']}"))

    assert service == created


def test_an_unknown_service_is_not_found(api: Api, given: World) -> None:
    assert_problem(api.get(member(), "/services/no-such-service"), 404, "NOT_FOUND")
