"""Session types of any length, and the coach's time they hold, over HTTP.

A session type lasts any whole number of minutes from 10 to 240. A session holds its coach from
its start to its end rounded up to the next 15-minute boundary, while its ``end`` stays the real
one. Every way a session lets go of its time (cancel, move, a declined or lapsed request) must
free exactly the slots it took: a claim left behind would block the coach's calendar for good.
"""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import Caller, Service
from coaching.storage import Storage
from local.lambda_runtime import ROOT, LambdaContext, load_handler
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, coach, member, support

from .api_steps import assert_ok, assert_problem, book_body, iso, nothing_changes, parse

SWEEP_EVENT: dict[str, Any] = json.loads((ROOT / "events" / "sweep.json").read_text())


def ten_oclock(days: int = 3) -> datetime:
    """10:00 UTC some days after the handlers' now: far outside a 24-hour window."""
    return (clock.now() + timedelta(days=days)).replace(hour=10, minute=0, second=0)


def at(ten: datetime, hour: int, minute: int) -> datetime:
    return ten.replace(hour=hour, minute=minute)


def claims(store: Storage, coach_id: str) -> dict[datetime, str]:
    """Every slot claim of the coach's calendar in the table, and the session holding it."""
    found: dict[datetime, str] = {}
    prefix = f"SLOT#{coach_id}#"
    kwargs: dict[str, Any] = {"TableName": store.sessions_table, "ConsistentRead": True}
    while True:
        page = store._db.scan(**kwargs)
        for item in page.get("Items", []):
            key = item["pk"]["S"]
            if key.startswith(prefix):
                found[parse(key.removeprefix(prefix))] = item["session_id"]["S"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def quarter_hours(start: datetime, count: int) -> set[datetime]:
    return {start + timedelta(minutes=15 * n) for n in range(count)}


def book_at(api: Api, who: Caller, service: Service, start: datetime) -> dict[str, Any]:
    session: dict[str, Any] = assert_ok(api.post(who, "/sessions", book_body(service, start)), 201)
    return session


def sweep_now(api: Api) -> None:
    handler = load_handler("functions/sweep/", "app.handler")
    handler(SWEEP_EVENT, LambdaContext(function_name="SweepFunction", timeout_seconds=120.0))


# --- services offer any length from 10 to 240 minutes ------------------------------------------


def test_a_coach_offers_25_and_50_minute_sessions(api: Api) -> None:
    body = {
        "name": "Short sessions",
        "session_types": [{"minutes": 25, "credits": 1}, {"minutes": 50, "credits": 2}],
    }

    created = assert_ok(api.post(coach(), "/services", body), 201)

    assert [t["minutes"] for t in created["session_types"]] == [25, 50]
    shown = assert_ok(api.get(member(), f"/services/{created['id']}"))
    assert [t["minutes"] for t in shown["session_types"]] == [25, 50]


@pytest.mark.parametrize("minutes", [10, 11, 37, 239, 240])
def test_any_whole_number_of_minutes_from_10_to_240_is_offered(api: Api, minutes: int) -> None:
    body = {"name": "Any length", "session_types": [{"minutes": minutes, "credits": 1}]}

    created = assert_ok(api.post(coach(), "/services", body), 201)

    assert created["session_types"][0]["minutes"] == minutes


@pytest.mark.parametrize("minutes", [0, 9, 241, 1.5])
def test_a_length_outside_10_to_240_minutes_is_refused(
    api: Api, store: Storage, minutes: float
) -> None:
    body = {"name": "Bad length", "session_types": [{"minutes": minutes, "credits": 1}]}

    with nothing_changes(store):
        reply = api.post(coach(), "/services", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field="minutes")


def test_the_openapi_document_states_the_lengths_and_the_held_time(api: Api) -> None:
    document = assert_ok(api.get(None, "/openapi.json"))
    schemas = document["components"]["schemas"]

    minutes = schemas["SessionTypeBody"]["properties"]["minutes"]

    assert (minutes["minimum"], minutes["maximum"]) == (10, 240)
    assert "rounded up to the next 15-minute boundary" in minutes["description"]


# --- what a session holds ------------------------------------------------------------------------


def test_a_50_minute_session_at_10_leaves_11_bookable_and_not_10_45(
    api: Api, given: World, store: Storage
) -> None:
    alice, bob, carol = member(), member(), coach()
    service = given.service(by=carol, minutes=50, credits=1)
    given.fund(alice, 5)
    given.fund(bob, 5)
    ten = ten_oclock()

    first = book_at(api, alice, service, ten)

    # its end is the real end; its hold runs to 11:00
    assert parse(first["end"]) == at(ten, 10, 50)
    assert claims(store, carol.id) == dict.fromkeys(quarter_hours(ten, 4), first["id"])
    with nothing_changes(store):
        taken = api.post(bob, "/sessions", book_body(service, at(ten, 10, 45)))
    assert_problem(taken, 409, "SLOT_TAKEN")
    second = book_at(api, bob, service, at(ten, 11, 0))
    assert parse(second["start"]) == at(ten, 11, 0)


def test_a_25_minute_session_at_10_leaves_10_30_bookable_and_not_10_15(
    api: Api, given: World, store: Storage
) -> None:
    alice, bob, carol = member(), member(), coach()
    service = given.service(by=carol, minutes=25, credits=1)
    given.fund(alice, 5)
    given.fund(bob, 5)
    ten = ten_oclock()

    first = book_at(api, alice, service, ten)

    assert parse(first["end"]) == at(ten, 10, 25)
    assert claims(store, carol.id) == dict.fromkeys(quarter_hours(ten, 2), first["id"])
    with nothing_changes(store):
        taken = api.post(bob, "/sessions", book_body(service, at(ten, 10, 15)))
    assert_problem(taken, 409, "SLOT_TAKEN")
    book_at(api, bob, service, at(ten, 10, 30))


@pytest.mark.parametrize("minute", [5, 10, 50])
def test_a_start_off_the_15_minute_grid_is_refused_whatever_the_length(
    api: Api, given: World, store: Storage, minute: int
) -> None:
    alice = member()
    service = given.service(minutes=50, credits=1)
    given.fund(alice, 5)

    with nothing_changes(store):
        reply = api.post(alice, "/sessions", book_body(service, at(ten_oclock(), 10, minute)))

    assert_problem(reply, 422, "VALIDATION_FAILED", field="start")


# --- letting go: exactly the rounded slots, no claim left behind -------------------------------


def test_a_cancel_frees_every_slot_the_session_held(api: Api, given: World, store: Storage) -> None:
    alice, bob, carol = member(), member(), coach()
    service = given.service(by=carol, minutes=50, credits=1)
    given.fund(alice, 5)
    given.fund(bob, 5)
    ten = ten_oclock()
    session = book_at(api, alice, service, ten)

    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    assert claims(store, carol.id) == {}
    # the last, partly used quarter hour is free too
    later = book_at(api, bob, service, at(ten, 10, 45))
    assert claims(store, carol.id) == dict.fromkeys(quarter_hours(at(ten, 10, 45), 4), later["id"])


def test_a_move_takes_the_new_rounded_slots_and_frees_the_old_ones(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    service = given.service(by=carol, minutes=25, credits=1)
    given.fund(alice, 5)
    ten = ten_oclock()
    session = book_at(api, alice, service, ten)

    moved = assert_ok(
        api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(at(ten, 14, 15))})
    )

    assert (parse(moved["start"]), parse(moved["end"])) == (at(ten, 14, 15), at(ten, 14, 40))
    assert claims(store, carol.id) == dict.fromkeys(quarter_hours(at(ten, 14, 15), 2), moved["id"])


def test_a_move_overlapping_its_own_time_keeps_the_shared_slots(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    service = given.service(by=carol, minutes=50, credits=1)
    given.fund(alice, 5)
    ten = ten_oclock()
    session = book_at(api, alice, service, ten)

    assert_ok(
        api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(at(ten, 10, 30))})
    )

    # 10:30 to 11:20 holds 10:30 to 11:30; 10:00 and 10:15 are free again
    assert claims(store, carol.id) == dict.fromkeys(
        quarter_hours(at(ten, 10, 30), 4), session["id"]
    )


def _late_move_request(
    api: Api, given: World, carol: Caller, minutes: int
) -> tuple[Caller, dict[str, Any], datetime]:
    """A session whose member asks to move it inside the window (the coach must approve)."""
    alice = member()
    service = given.service(
        by=carol,
        minutes=minutes,
        credits=1,
        window_hours=24 * 30,
        late_reschedule_requires_approval=True,
        request_ttl_hours=1,
    )
    given.fund(alice, 5)
    ten = ten_oclock()
    session = book_at(api, alice, service, ten)
    reply = api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(at(ten, 15, 0))})
    assert reply.status == 202, reply.text
    return alice, session, ten


def test_a_reschedule_request_holds_both_times_rounded_until_it_is_answered(
    api: Api, given: World, store: Storage
) -> None:
    carol = coach()
    _, session, ten = _late_move_request(api, given, carol, minutes=50)

    assert claims(store, carol.id) == dict.fromkeys(
        quarter_hours(ten, 4) | quarter_hours(at(ten, 15, 0), 4), session["id"]
    )


@pytest.mark.parametrize(
    ("answer", "kept"), [("approve", (15, 0)), ("decline", (10, 0))], ids=["approved", "declined"]
)
def test_an_answered_reschedule_request_keeps_only_the_chosen_time(
    api: Api, given: World, store: Storage, answer: str, kept: tuple[int, int]
) -> None:
    carol = coach()
    _, session, ten = _late_move_request(api, given, carol, minutes=25)

    assert_ok(api.post(carol, f"/sessions/{session['id']}/reschedule-request/{answer}"))

    assert claims(store, carol.id) == dict.fromkeys(quarter_hours(at(ten, *kept), 2), session["id"])


def test_a_lapsed_reschedule_request_lets_go_of_the_asked_time(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    carol = coach()
    _, session, ten = _late_move_request(api, given, carol, minutes=50)

    travel.advance(2 * 3600)
    sweep_now(api)

    detail = assert_ok(api.get(carol, f"/sessions/{session['id']}"))
    assert detail["reschedule_request"] is None
    assert claims(store, carol.id) == dict.fromkeys(quarter_hours(ten, 4), session["id"])


@pytest.mark.parametrize("ending", ["declined", "withdrawn", "expired"])
def test_a_booking_request_that_never_happens_frees_its_rounded_slots(
    api: Api, given: World, store: Storage, ending: str, travel: TimeTravel
) -> None:
    alice, carol = member(), coach()
    service = given.service(
        by=carol, minutes=50, credits=1, requires_approval=True, request_ttl_hours=1
    )
    given.fund(alice, 5)
    session = book_at(api, alice, service, ten_oclock())
    assert session["status"] == "REQUESTED"
    assert len(claims(store, carol.id)) == 4

    if ending == "declined":
        assert_ok(api.post(carol, f"/sessions/{session['id']}/decline", {}))
    elif ending == "withdrawn":
        assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    else:
        travel.advance(2 * 3600)
        sweep_now(api)

    assert claims(store, carol.id) == {}
    status = assert_ok(api.get(support(), f"/sessions/{session['id']}"))["status"]
    assert status == {"declined": "DECLINED", "withdrawn": "CANCELED", "expired": "EXPIRED"}[ending]
