"""POST /services/{id}/retire and GET /services?include_retired: a coach stops offering a service;
what was booked goes on under its own policy."""

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

OFFERED = {"name": "Career coaching", "session_types": [{"minutes": 60, "credits": 3}]}


def _offer(api: Api, who: Any, name: str = "Career coaching") -> dict[str, Any]:
    service: dict[str, Any] = assert_ok(api.post(who, "/services", {**OFFERED, "name": name}), 201)
    return service


def _offer_later(api: Api, who: Any, name: str) -> dict[str, Any]:
    """Offered a second after the last: services list oldest first, to the second."""
    travel().advance(1)
    return _offer(api, who, name)


def _booking(service: dict[str, Any], hours: float) -> dict[str, Any]:
    return {"service_id": service["id"], "session_type_id": "t1", "start": iso(slot_in(hours))}


def test_a_retired_service_takes_no_bookings_and_offers_no_free_times(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = coach(), member()
    given.fund(alice, 10)
    service = _offer(api, carol)
    every_day = [{"day": d, "start": "00:00", "end": "24:00"} for d in WEEKDAYS]
    assert_ok(api.call(carol, "PUT", "/coaches/me/availability", {"weekly": every_day}))
    travel().advance(600)

    retired = assert_ok(api.post(carol, f"/services/{service['id']}/retire"))
    with nothing_changes(store):
        refused = api.post(alice, "/sessions", _booking(service, 72))
    times = api.get(
        alice,
        f"/services/{service['id']}/slots",
        query={
            "session_type_id": "t1",
            "from": iso(clock.now()),
            "to": iso(clock.now() + timedelta(days=3)),
        },
    )

    assert parse(retired["retired_at"]) == clock.now().replace(microsecond=0)
    assert retired["updated_at"] == retired["retired_at"]
    assert_problem(refused, 409, "SERVICE_RETIRED")
    assert assert_ok(times)["items"] == []
    assert assert_ok(api.get(alice, f"/services/{service['id']}")) == retired


def test_sessions_booked_before_go_on_under_their_own_policy(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = coach(), member()
    given.fund(alice, 10)
    service = _offer(api, carol)
    kept = assert_ok(api.post(alice, "/sessions", _booking(service, 72)), 201)
    moved = assert_ok(api.post(alice, "/sessions", _booking(service, 96)), 201)
    late = assert_ok(api.post(alice, "/sessions", _booking(service, 120)), 201)
    assert_ok(api.post(carol, f"/services/{service['id']}/retire"))

    canceled = assert_ok(api.post(alice, f"/sessions/{kept['id']}/cancel", {"reason": "Moving"}))
    rescheduled = assert_ok(
        api.post(alice, f"/sessions/{moved['id']}/reschedule", {"start": iso(slot_in(100))})
    )
    travel().advance(121 * 3600)  # the last session is over
    refunded = assert_ok(api.post(carol, f"/sessions/{late['id']}/refund", {}))

    assert canceled["status"] == "CANCELED" and canceled["refund"]["credits"] == 3
    assert parse(rescheduled["start"]) == slot_in(100 - 121)  # the clock moved since
    assert refunded["refund"]["credits"] == 3
    assert balance(store, f"personal-{alice.id}") == 10 - 9 + 3 + 3


def test_retired_services_are_listed_only_when_asked_for(api: Api, given: World) -> None:
    carol = coach()
    first, second, third = (_offer_later(api, carol, name) for name in ("First", "Second", "Third"))
    assert_ok(api.post(support(), f"/services/{second['id']}/retire"))

    offered = assert_ok(api.get(member(), "/services", query={"coach_id": carol.id}))
    everything = assert_ok(
        api.get(
            member(),
            "/services",
            query={"coach_id": carol.id, "include_retired": "true", "limit": "2"},
        )
    )
    rest = assert_ok(
        api.get(
            member(),
            "/services",
            query={
                "coach_id": carol.id,
                "include_retired": "true",
                "next_token": everything["next_token"],
            },
        )
    )

    assert [s["id"] for s in offered["items"]] == [first["id"], third["id"]]
    assert [s["id"] for s in everything["items"] + rest["items"]] == [
        first["id"],
        second["id"],
        third["id"],
    ]
    assert [s["retired_at"] is not None for s in everything["items"]] == [False, True]


def test_a_retired_service_is_not_retired_again(api: Api, given: World, store: Storage) -> None:
    carol = coach()
    service = _offer(api, carol)
    assert_ok(api.post(carol, f"/services/{service['id']}/retire"))

    with nothing_changes(store):
        again = api.post(carol, f"/services/{service['id']}/retire")

    assert_problem(again, 409, "SERVICE_RETIRED")


@pytest.mark.parametrize(
    "who", [member, admin, coach], ids=["a member", "an admin", "another coach"]
)
def test_only_its_coach_and_support_retire_a_service(
    api: Api, given: World, store: Storage, who: Any
) -> None:
    service = _offer(api, coach())

    with nothing_changes(store):
        reply = api.post(who(), f"/services/{service['id']}/retire")

    assert_problem(reply, 403, "FORBIDDEN")


def test_retiring_takes_no_fields(api: Api, given: World, store: Storage) -> None:
    carol = coach()
    service = _offer(api, carol)

    with nothing_changes(store):
        reply = api.post(carol, f"/services/{service['id']}/retire", {"reason": "Sabbatical"})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="reason")


def test_an_unknown_service_is_not_found(api: Api, given: World) -> None:
    assert_problem(api.post(coach(), "/services/nope/retire"), 404, "NOT_FOUND")


def test_a_retirement_retried_with_its_key_answers_the_same(api: Api, given: World) -> None:
    carol = coach()
    service = _offer(api, carol)
    key = {"Idempotency-Key": "retire-1"}

    first = api.post(carol, f"/services/{service['id']}/retire", {}, headers=key)
    again = api.post(carol, f"/services/{service['id']}/retire", {}, headers=key)

    assert assert_ok(first)["retired_at"] is not None
    assert (again.status, again.text) == (first.status, first.text)
