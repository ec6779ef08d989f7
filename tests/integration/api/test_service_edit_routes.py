"""PATCH /services/{id}: a coach changes a service for the bookings made after the change."""

from datetime import timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import WEEKDAYS
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    assert_ok,
    assert_problem,
    balance,
    iso,
    nothing_changes,
    parse,
    slot_in,
    travel,
)

CREATED = {
    "name": "Career coaching",
    "session_types": [{"minutes": 60, "credits": 3}, {"minutes": 30, "credits": 2}],
}


def _offer(api: Api, who: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    service: dict[str, Any] = assert_ok(api.post(who, "/services", body or CREATED), 201)
    return service


def _patch(api: Api, who: Any, service_id: str, body: Any, **kwargs: Any) -> Any:
    return api.call(who, "PATCH", f"/services/{service_id}", body, **kwargs)


def _types(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(t["id"], t["minutes"], t["credits"]) for t in service["session_types"]]


# --- settings ----------------------------------------------------------------------------------


def test_a_coach_lengthens_the_window_and_raises_a_price_and_the_service_shows_it(
    api: Api, given: World
) -> None:
    carol = coach()
    service = _offer(api, carol)
    travel().advance(3600)

    reply = _patch(
        api,
        carol,
        service["id"],
        {
            "cancellation_window_hours": 48,
            "session_types": {"change": [{"id": "t1", "credits": 4}]},
        },
    )

    edited = assert_ok(reply)
    assert edited["cancellation_window_hours"] == 48
    assert _types(edited) == [("t1", 60, 4), ("t2", 30, 2)]
    assert edited["refund_tiers"] == [{"hours_before": 48, "percent": 100}]  # the default follows
    assert parse(edited["updated_at"]) == clock.now().replace(microsecond=0)
    assert parse(edited["updated_at"]) > parse(service["updated_at"])
    assert edited["requires_approval"] is False and edited["name"] == "Career coaching"
    assert assert_ok(api.get(member(), f"/services/{service['id']}")) == edited


def test_a_session_keeps_the_price_and_policy_it_was_booked_under(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = coach(), member()
    given.fund(alice, 20)
    service = _offer(api, carol)
    before = assert_ok(api.post(alice, "/sessions", book_body_for(service, 72)), 201)

    assert_ok(
        _patch(
            api,
            carol,
            service["id"],
            {
                "cancellation_window_hours": 96,
                "cancel_reason_required": True,
                "session_types": {"change": [{"id": "t1", "credits": 5, "minutes": 90}]},
            },
        )
    )
    after = assert_ok(api.post(alice, "/sessions", book_body_for(service, 120)), 201)

    assert (before["credits"], before["session_type"]["minutes"]) == (3, 60)
    assert before["policy"]["window_hours"] == 24
    assert (after["credits"], after["session_type"]["minutes"]) == (5, 90)
    assert after["policy"]["window_hours"] == 96 and after["policy"]["cancel_reason_required"]
    assert balance(store, f"personal-{alice.id}") == 20 - 3 - 5
    # The older booking's own policy still decides: 72 hours ahead is inside its 24-hour window's
    # refund, no reason asked, whatever the service now says.
    canceled = assert_ok(api.post(alice, f"/sessions/{before['id']}/cancel", {}))
    assert canceled["refund"] == {**canceled["refund"], "status": "AUTOMATIC", "credits": 3}
    stored = assert_ok(api.get(alice, f"/sessions/{before['id']}"))
    assert stored["policy"]["window_hours"] == 24


def book_body_for(service: dict[str, Any], hours: float, type_id: str = "t1") -> dict[str, Any]:
    return {"service_id": service["id"], "session_type_id": type_id, "start": iso(slot_in(hours))}


def test_null_puts_a_setting_back_to_its_default_as_a_json_merge_patch(
    api: Api, given: World
) -> None:
    carol = coach()
    service = _offer(
        api,
        carol,
        {
            **CREATED,
            "cancellation_window_hours": 12,
            "max_reschedules": 2,
            "refund_tiers": [
                {"hours_before": 48, "percent": 100},
                {"hours_before": 2, "percent": 50},
            ],
            "late_reschedule_requires_approval": False,
        },
    )

    edited = assert_ok(
        _patch(
            api,
            carol,
            service["id"],
            {
                "max_reschedules": None,
                "refund_tiers": None,
                "cancellation_window_hours": None,
                "late_reschedule_requires_approval": None,
            },
        )
    )

    assert edited["max_reschedules"] == 5
    assert edited["cancellation_window_hours"] == 24
    assert edited["refund_tiers"] == [{"hours_before": 24, "percent": 100}]
    assert edited["late_reschedule_requires_approval"] is True  # the creation default
    assert edited["name"] == service["name"]  # left out: unchanged
    assert _types(edited) == _types(service)


def test_an_edit_that_changes_nothing_writes_nothing(
    api: Api, given: World, store: Storage
) -> None:
    carol = coach()
    service = _offer(api, carol)

    with nothing_changes(store):
        same = _patch(
            api,
            carol,
            service["id"],
            {"name": "Career coaching", "session_types": {"change": [{"id": "t2", "minutes": 30}]}},
        )
        empty = _patch(api, carol, service["id"], {})

    assert assert_ok(same) == service
    assert assert_ok(empty) == service


def test_support_may_edit_a_coachs_service(api: Api, given: World) -> None:
    service = _offer(api, coach())

    edited = assert_ok(_patch(api, support(), service["id"], {"name": "Career mentoring"}))

    assert edited["name"] == "Career mentoring"


@pytest.mark.parametrize(
    "who", [member, admin, coach], ids=["a member", "an admin", "another coach"]
)
def test_only_its_coach_and_support_edit_a_service(
    api: Api, given: World, store: Storage, who: Any
) -> None:
    service = _offer(api, coach())

    with nothing_changes(store):
        reply = _patch(api, who(), service["id"], {"name": "Mine now"})

    assert_problem(reply, 403, "FORBIDDEN")


def test_an_unknown_service_is_not_found(api: Api, given: World) -> None:
    assert_problem(_patch(api, coach(), "no-such-service", {"name": "X"}), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"cancellation_window_hours": -1}, "cancellation_window_hours"),
        ({"cancellation_window_hours": 721}, "cancellation_window_hours"),
        ({"cancellation_window_hours": "48"}, "cancellation_window_hours"),
        ({"request_ttl_hours": 0}, "request_ttl_hours"),
        ({"requires_approval": "yes"}, "requires_approval"),
        ({"max_reschedules": 101}, "max_reschedules"),
        ({"refund_tiers": []}, "refund_tiers"),
        (
            {
                "refund_tiers": [
                    {"hours_before": 24, "percent": 100},
                    {"hours_before": 24, "percent": 50},
                ]
            },
            "refund_tiers",
        ),
        ({"coach_id": "someone-else"}, "coach_id"),
        ({"id": "another-id"}, "id"),
        ({"session_types": [{"minutes": 30, "credits": 1}]}, "session_types"),
        ({"session_types": {"add": [{"minutes": 9, "credits": 1}]}}, "minutes"),
        ({"session_types": {"add": [{"minutes": 30, "credits": 0}]}}, "credits"),
        ({"session_types": {"change": [{"id": "t1", "minutes": 241}]}}, "minutes"),
        ({"session_types": {"change": [{"id": "t1", "credits": None}]}}, "credits"),
        ({"session_types": {"change": [{"minutes": 30}]}}, "id"),
        ({"session_types": {"change": [{"id": "t9", "credits": 1}]}}, "id"),
        ({"session_types": {"retire": ["t9"]}}, "retire"),
        ({"session_types": {"retire": ["t1", "t1"]}}, "retire"),
        ({"session_types": {"retire": ["t1"], "change": [{"id": "t1", "credits": 1}]}}, "id"),
        ({"session_types": {"retire": ["t1", "t2"]}}, "session_types"),
        ({"session_types": {"rename": []}}, "rename"),
    ],
    ids=[
        "empty name",
        "null name",
        "name too long",
        "negative window",
        "window over 30 days",
        "window as text",
        "request ttl 0",
        "requires_approval a word",
        "too many moves",
        "no tiers",
        "two tiers alike",
        "a new coach",
        "a new id",
        "session types as a list",
        "an added type too short",
        "an added type free",
        "a changed type too long",
        "a changed type without credits",
        "a change without an id",
        "a change of an unknown type",
        "retiring an unknown type",
        "retiring a type twice",
        "changing a type it retires",
        "retiring every type",
        "an unknown operation",
    ],
)
def test_an_invalid_edit_fails_validation_as_creation_would_and_changes_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    carol = coach()
    service = _offer(api, carol)

    with nothing_changes(store):
        reply = _patch(api, carol, service["id"], body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_a_service_offers_at_most_twenty_session_types_at_once(
    api: Api, given: World, store: Storage
) -> None:
    carol = coach()
    service = _offer(api, carol)
    more = [{"minutes": 30 + n, "credits": 1} for n in range(18)]
    full = assert_ok(_patch(api, carol, service["id"], {"session_types": {"add": more}}))
    assert len(full["session_types"]) == 20

    with nothing_changes(store):
        reply = _patch(
            api, carol, service["id"], {"session_types": {"add": [{"minutes": 45, "credits": 1}]}}
        )

    assert_problem(reply, 422, "VALIDATION_FAILED", field="session_types")


# --- session types -----------------------------------------------------------------------------


def test_session_type_ids_are_never_given_out_twice(api: Api, given: World) -> None:
    carol = coach()
    service = _offer(api, carol)
    path_body = {"session_types": {"retire": ["t2"], "add": [{"minutes": 45, "credits": 2}]}}

    first = assert_ok(_patch(api, carol, service["id"], path_body))
    second = assert_ok(
        _patch(
            api,
            carol,
            service["id"],
            {"session_types": {"retire": ["t3"], "add": [{"minutes": 50, "credits": 2}]}},
        )
    )

    assert _types(first) == [("t1", 60, 3), ("t3", 45, 2)]
    assert _types(second) == [("t1", 60, 3), ("t4", 50, 2)]
    assert [(t["id"], t["minutes"]) for t in second["retired_session_types"]] == [
        ("t3", 45),
        ("t2", 30),
    ]
    assert all(parse(t["retired_at"]) for t in second["retired_session_types"])


def test_a_service_keeps_its_twenty_latest_retired_types_and_still_never_reuses_an_id(
    api: Api, given: World
) -> None:
    carol = coach()
    service = _offer(api, carol)
    for n in range(21):  # retire the oldest active type and add one, 21 times
        current = assert_ok(api.get(carol, f"/services/{service['id']}"))
        oldest = current["session_types"][0]["id"]
        assert_ok(
            _patch(
                api,
                carol,
                service["id"],
                {"session_types": {"retire": [oldest], "add": [{"minutes": 20 + n, "credits": 1}]}},
            )
        )

    final = assert_ok(api.get(carol, f"/services/{service['id']}"))

    assert [t["id"] for t in final["session_types"]] == ["t22", "t23"]
    retired = [t["id"] for t in final["retired_session_types"]]
    assert retired == [f"t{n}" for n in range(21, 1, -1)]  # t1 dropped off, latest first


def test_a_retired_session_type_takes_no_bookings_and_offers_no_free_times(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = coach(), member()
    given.fund(alice, 10)
    service = _offer(api, carol)
    assert_ok(
        api.call(
            carol,
            "PUT",
            "/coaches/me/availability",
            {"weekly": [{"day": d, "start": "00:00", "end": "24:00"} for d in WEEKDAYS]},
        )
    )
    assert_ok(_patch(api, carol, service["id"], {"session_types": {"retire": ["t2"]}}))
    window = {"from": iso(clock.now()), "to": iso(clock.now() + timedelta(days=2))}

    with nothing_changes(store):
        booked = api.post(alice, "/sessions", book_body_for(service, 72, "t2"))
        unknown = api.post(alice, "/sessions", book_body_for(service, 72, "t7"))
    retired_times = api.get(
        alice, f"/services/{service['id']}/slots", query={"session_type_id": "t2", **window}
    )
    offered_times = api.get(
        alice, f"/services/{service['id']}/slots", query={"session_type_id": "t1", **window}
    )

    assert_problem(booked, 409, "SESSION_TYPE_RETIRED")
    assert_problem(unknown, 422, "VALIDATION_FAILED", field="session_type_id")
    assert assert_ok(retired_times)["items"] == []
    assert assert_ok(offered_times)["items"]


# --- a retired service -------------------------------------------------------------------------


def test_a_retired_service_cannot_be_edited(api: Api, given: World, store: Storage) -> None:
    carol = coach()
    service = _offer(api, carol)
    assert_ok(api.post(carol, f"/services/{service['id']}/retire"))

    with nothing_changes(store):
        reply = _patch(api, carol, service["id"], {"name": "Back again"})

    assert_problem(reply, 409, "SERVICE_RETIRED")


# --- retries -----------------------------------------------------------------------------------


def test_an_edit_retried_with_its_key_adds_its_type_once(api: Api, given: World) -> None:
    carol = coach()
    service = _offer(api, carol)
    body = {"session_types": {"add": [{"minutes": 90, "credits": 5}]}}
    key = {"Idempotency-Key": "add-the-long-one"}

    first = _patch(api, carol, service["id"], body, headers=key)
    again = _patch(api, carol, service["id"], body, headers=key)
    other = _patch(api, carol, service["id"], {"name": "Other"}, headers=key)

    assert _types(assert_ok(first))[-1] == ("t3", 90, 5)
    assert (again.status, again.text) == (first.status, first.text)
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    now = assert_ok(api.get(carol, f"/services/{service['id']}"))
    assert [t["id"] for t in now["session_types"]] == ["t1", "t2", "t3"]
