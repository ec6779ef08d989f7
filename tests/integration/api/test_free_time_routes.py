"""GET /services?coach_id=, working hours (PUT /coaches/me/availability, GET
/coaches/{id}/availability) and free times (GET /services/{id}/slots).

Coaches here work in London, where December is UTC, so wall-clock hours read as UTC below; the
rule tests (tests/unit/test_free_times.py) cover other zones and daylight-saving days.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import Caller
from coaching.storage import Storage
from local.time_travel import TimeTravel
from tests.api_client import Api, Reply
from tests.builders import World, coach, member, support

from .api_steps import assert_ok, assert_problem, book_body, iso, nothing_changes, parse

EVERY_DAY_9_TO_12 = [
    {"day": day, "start": "09:00", "end": "12:00"}
    for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
]


def _put_hours(api: Api, who: Caller, body: Any, **kwargs: Any) -> Reply:
    return api.call(who, "PUT", "/coaches/me/availability", body, **kwargs)


def _london_coach(api: Api) -> Caller:
    carol = coach(tz="Europe/London")
    assert_ok(_put_hours(api, carol, {"weekly": EVERY_DAY_9_TO_12}))
    return carol


def _day_after_tomorrow() -> datetime:
    today = clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=2)


def _slots(
    api: Api, who: Caller, service_id: str, start: datetime, end: datetime, type_id: str = "t1"
) -> Reply:
    query = {"session_type_id": type_id, "from": iso(start), "to": iso(end)}
    return api.get(who, f"/services/{service_id}/slots", query=query)


def _starts(reply: Reply) -> list[datetime]:
    return [parse(item["start"]) for item in assert_ok(reply)["items"]]


def _every_15(first: datetime, last: datetime) -> list[datetime]:
    found, at = [], first
    while at <= last:
        found.append(at)
        at += timedelta(minutes=15)
    return found


# --- GET /services?coach_id= ---------------------------------------------------------------------


class Stopped:
    """A clock that does not move: what it reads is the same second, however long a test takes."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_anyone_signed_in_lists_a_coach_s_services_oldest_first(
    api: Api, given: World, travel: TimeTravel
) -> None:
    carol = coach()
    first = assert_ok(
        api.post(
            carol, "/services", {"name": "Intro", "session_types": [{"minutes": 30, "credits": 1}]}
        ),
        201,
    )
    travel.advance(1)  # creation times are whole seconds
    second = assert_ok(
        api.post(
            carol,
            "/services",
            {"name": "Deep dive", "session_types": [{"minutes": 90, "credits": 4}]},
        ),
        201,
    )
    given.service()  # another coach's

    listed = assert_ok(api.get(member(), "/services", query={"coach_id": carol.id}))

    assert [s["id"] for s in listed["items"]] == [first["id"], second["id"]]
    assert listed["items"][0] == first  # the same view as GET /services/{id}
    assert listed["next_token"] is None


def test_services_created_in_the_same_second_list_in_the_order_they_were_created(
    api: Api, given: World
) -> None:
    carol = coach()
    with clock.use_clock(Stopped(clock.now())):  # every one created in the same second
        made = [
            assert_ok(
                api.post(
                    carol,
                    "/services",
                    {"name": f"Service {n}", "session_types": [{"minutes": 30, "credits": 1}]},
                ),
                201,
            )["id"]
            for n in range(8)
        ]

    first = assert_ok(api.get(member(), "/services", query={"coach_id": carol.id, "limit": "5"}))
    rest = assert_ok(
        api.get(
            member(),
            "/services",
            query={"coach_id": carol.id, "limit": "5", "next_token": first["next_token"]},
        )
    )

    assert [s["id"] for s in first["items"] + rest["items"]] == made


def test_a_coach_s_services_come_in_pages(api: Api, given: World) -> None:
    carol = coach()
    made = [given.service(by=carol).id for _ in range(3)]

    first = assert_ok(api.get(member(), "/services", query={"coach_id": carol.id, "limit": "2"}))
    rest = assert_ok(
        api.get(
            member(),
            "/services",
            query={"coach_id": carol.id, "limit": "2", "next_token": first["next_token"]},
        )
    )

    assert sorted([s["id"] for s in first["items"] + rest["items"]]) == sorted(made)
    assert len(first["items"]) == 2 and rest["next_token"] is None


def test_a_coach_without_services_lists_none(api: Api, given: World) -> None:
    assert assert_ok(api.get(member(), "/services", query={"coach_id": "nobody"}))["items"] == []


def test_listing_services_needs_a_coach_id(api: Api, given: World) -> None:
    assert_problem(api.get(member(), "/services"), 422, "VALIDATION_FAILED", field="coach_id")


# --- working hours -------------------------------------------------------------------------------


def test_a_coach_sets_hours_that_anyone_signed_in_reads(api: Api, given: World) -> None:
    carol = coach(tz="America/New_York")
    body = {
        "weekly": [
            {"day": "WED", "start": "13:00", "end": "17:30"},
            {"day": "MON", "start": "09:00", "end": "12:00"},
        ]
    }

    saved = assert_ok(_put_hours(api, carol, body))
    read = assert_ok(api.get(member(), f"/coaches/{carol.id}/availability"))
    own = assert_ok(api.get(carol, "/coaches/me/availability"))

    assert saved["coach_id"] == carol.id
    assert saved["timezone"] == "America/New_York"  # the token's zone, when none is given
    assert [(h["day"], h["start"], h["end"]) for h in saved["weekly"]] == [
        ("MON", "09:00", "12:00"),
        ("WED", "13:00", "17:30"),
    ]
    assert read == saved == own


def test_new_hours_replace_the_old_ones_whole(api: Api, given: World) -> None:
    carol = coach()
    assert_ok(_put_hours(api, carol, {"weekly": EVERY_DAY_9_TO_12}))

    body = {"timezone": "Asia/Tokyo", "weekly": [{"day": "SAT", "start": "10:00", "end": "24:00"}]}
    assert_ok(_put_hours(api, carol, body))
    read = assert_ok(api.get(support(), f"/coaches/{carol.id}/availability"))

    assert read["timezone"] == "Asia/Tokyo"
    assert read["weekly"] == [{"day": "SAT", "start": "10:00", "end": "24:00"}]


def test_hours_not_set_read_as_an_empty_week(api: Api, given: World) -> None:
    read = assert_ok(api.get(member(), "/coaches/never-set/availability"))

    assert read["weekly"] == [] and read["updated_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weekly": [{"day": "MON", "start": "09:10", "end": "12:00"}]}, "start"),
        ({"weekly": [{"day": "MON", "start": "12:00", "end": "09:00"}]}, "weekly"),
        ({"weekly": [{"day": "MON", "start": "09:00", "end": "25:00"}]}, "end"),
        ({"weekly": [{"day": "Monday", "start": "09:00", "end": "12:00"}]}, "day"),
        (
            {
                "weekly": [
                    {"day": "MON", "start": "09:00", "end": "12:00"},
                    {"day": "MON", "start": "11:00", "end": "13:00"},
                ]
            },
            "weekly",
        ),
        ({"weekly": [{"day": "MON", "start": "09:00", "end": "12:00", "note": "x"}]}, "note"),
        ({"timezone": "Mars/Olympus", "weekly": []}, "timezone"),
        ({"timezone": "UTC"}, "weekly"),
        ({"weekly": [], "extra": 1}, "extra"),
    ],
    ids=[
        "off-grid",
        "backwards",
        "past-midnight",
        "day",
        "overlap",
        "unknown",
        "zone",
        "no-week",
        "extra",
    ],
)
def test_bad_hours_are_refused_and_nothing_changes(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    with nothing_changes(store):
        reply = _put_hours(api, coach(), body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_a_retried_put_with_its_key_answers_the_same_and_another_body_is_refused(
    api: Api, given: World
) -> None:
    carol = coach()
    key = {"Idempotency-Key": "hours-1"}
    body = {"weekly": EVERY_DAY_9_TO_12}

    first = _put_hours(api, carol, body, headers=key)
    again = _put_hours(api, carol, body, headers=key)
    other = _put_hours(api, carol, {"weekly": []}, headers=key)

    assert first.status == again.status == 200
    assert again.json == first.json
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")


# --- free times ----------------------------------------------------------------------------------


def test_free_times_are_the_starts_inside_the_hours_on_the_grid(api: Api, given: World) -> None:
    carol = _london_coach(api)
    service = given.service(by=carol, minutes=60)
    day = _day_after_tomorrow()

    reply = _slots(api, member(), service.id, day, day + timedelta(days=1))

    assert _starts(reply) == _every_15(day + timedelta(hours=9), day + timedelta(hours=11))
    assert all(
        parse(i["end"]) - parse(i["start"]) == timedelta(hours=1) for i in reply.json["items"]
    )


def test_booked_time_is_not_free_and_a_free_time_books(api: Api, given: World) -> None:
    carol = _london_coach(api)
    service = given.service(by=carol, minutes=60)
    alice, bob = member(), member()
    given.fund(alice, 10)
    given.fund(bob, 10)
    day = _day_after_tomorrow()
    ten = day + timedelta(hours=10)
    assert_ok(api.post(alice, "/sessions", book_body(service, ten)), 201)

    free = _starts(_slots(api, bob, service.id, day, day + timedelta(days=1)))
    booked = api.post(bob, "/sessions", book_body(service, free[-1]))
    after = _starts(_slots(api, bob, service.id, day, day + timedelta(days=1)))

    # 60 minutes from 09:15, 09:30 or 09:45 would run into 10:00-11:00; 10:15 to 10:45 start in it.
    assert free == [day + timedelta(hours=9), day + timedelta(hours=11)]
    assert_ok(booked, 201)
    assert after == [day + timedelta(hours=9)]


def test_a_canceled_session_frees_its_time(api: Api, given: World) -> None:
    carol = _london_coach(api)
    service = given.service(by=carol, minutes=60)
    alice = member()
    given.fund(alice, 10)
    day = _day_after_tomorrow()
    session = assert_ok(
        api.post(alice, "/sessions", book_body(service, day + timedelta(hours=10))), 201
    )
    before = _starts(_slots(api, alice, service.id, day, day + timedelta(days=1)))

    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    after = _starts(_slots(api, alice, service.id, day, day + timedelta(days=1)))

    assert day + timedelta(hours=10) not in before
    assert after == _every_15(day + timedelta(hours=9), day + timedelta(hours=11))


def test_a_pending_reschedule_request_holds_both_times(api: Api, given: World) -> None:
    carol = _london_coach(api)
    service = given.service(
        by=carol, minutes=60, window_hours=48, late_reschedule_requires_approval=True
    )
    alice = member()
    given.fund(alice, 10)
    # Tomorrow at 09:00, inside the coach's hours and the 48-hour window
    session = given.book(alice, service, in_hours=24)
    day = _day_after_tomorrow()
    asked = day + timedelta(hours=9)
    moved = api.post(alice, f"/sessions/{session.id}/reschedule", {"start": iso(asked)})
    assert moved.status == 202, moved.text

    free = _starts(_slots(api, alice, service.id, day, day + timedelta(days=1)))

    assert free == _every_15(day + timedelta(hours=10), day + timedelta(hours=11))


def test_a_longer_session_type_has_fewer_starts(api: Api, given: World) -> None:
    carol = _london_coach(api)
    service = assert_ok(
        api.post(
            carol,
            "/services",
            {
                "name": "Two lengths",
                "session_types": [{"minutes": 30, "credits": 1}, {"minutes": 180, "credits": 5}],
            },
        ),
        201,
    )
    short, long = (t["id"] for t in service["session_types"])
    day = _day_after_tomorrow()

    shorts = _starts(_slots(api, member(), service["id"], day, day + timedelta(days=1), short))
    longs = _starts(_slots(api, member(), service["id"], day, day + timedelta(days=1), long))

    assert shorts == _every_15(day + timedelta(hours=9), day + timedelta(hours=11, minutes=30))
    assert longs == [day + timedelta(hours=9)]


def test_times_already_past_are_not_offered(api: Api, given: World) -> None:
    carol = coach(tz="UTC")
    assert_ok(
        _put_hours(
            api,
            carol,
            {
                "weekly": [
                    {"day": d, "start": "00:00", "end": "24:00"}
                    for d in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
                ]
            },
        )
    )
    service = given.service(by=carol, minutes=60)
    now = clock.now()

    found = _starts(
        _slots(api, member(), service.id, now - timedelta(days=1), now + timedelta(hours=2))
    )

    assert found and all(start > now for start in found)
    assert found[0] - now <= timedelta(minutes=15)


def test_a_coach_without_hours_has_no_free_times(api: Api, given: World) -> None:
    service = given.service(by=coach(), minutes=60)
    day = _day_after_tomorrow()

    assert _starts(_slots(api, member(), service.id, day, day + timedelta(days=7))) == []


def test_up_to_31_days_a_call(api: Api, given: World) -> None:
    carol = _london_coach(api)
    service = given.service(by=carol, minutes=60)
    day = _day_after_tomorrow()

    month = _starts(_slots(api, member(), service.id, day, day + timedelta(days=31)))
    too_long = _slots(api, member(), service.id, day, day + timedelta(days=31, minutes=15))

    assert len(month) == 31 * 9
    assert_problem(too_long, 422, "VALIDATION_FAILED", field="to")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"session_type_id": "t1", "to": "2030-01-02T00:00:00Z"}, "from"),
        ({"session_type_id": "t1", "from": "2030-01-01T00:00:00Z"}, "to"),
        ({"from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z"}, "session_type_id"),
        (
            {"session_type_id": "t1", "from": "2030-01-01T00:00:00", "to": "2030-01-02T00:00:00Z"},
            "from",
        ),
        ({"session_type_id": "t1", "from": "soon", "to": "2030-01-02T00:00:00Z"}, "from"),
        (
            {"session_type_id": "t1", "from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
            "to",
        ),
        (
            {"session_type_id": "t9", "from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z"},
            "session_type_id",
        ),
    ],
    ids=["no-from", "no-to", "no-type", "no-offset", "not-a-time", "backwards", "unknown-type"],
)
def test_a_bad_query_is_refused(api: Api, given: World, query: dict[str, str], field: str) -> None:
    service = given.service(minutes=60)

    reply = api.get(member(), f"/services/{service.id}/slots", query=query)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_free_times_of_no_such_service(api: Api, given: World) -> None:
    day = _day_after_tomorrow()

    assert_problem(_slots(api, member(), "nope", day, day + timedelta(days=1)), 404, "NOT_FOUND")


def test_the_openapi_document_offers_the_idempotency_key_on_the_put(api: Api) -> None:
    document = assert_ok(api.get(None, "/openapi.json"))

    operation = document["paths"]["/coaches/me/availability"]["put"]
    names = [p["name"] for p in operation.get("parameters", [])]
    assert "Idempotency-Key" in names
