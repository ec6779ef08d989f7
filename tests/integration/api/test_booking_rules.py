"""What a member sees as free is what they can book: working hours, notice, horizon, buffers,
time off and limits, enforced on booking and on a member's move, and every refusal changing
nothing. The coach and support may move a session outside them; the session then says so.

The suite's clock starts on Tuesday 1 December 2026, 09:00 UTC; the coach here works in London
(UTC in winter) every day from 09:00 to 12:00.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
from local.time_travel import TimeTravel
from tests.api_client import Api, Reply
from tests.builders import World, coach, member, support

from .api_steps import assert_ok, assert_problem, balance, iso, nothing_changes, parse

EVERY_DAY_9_TO_12 = [
    {"day": day, "start": "09:00", "end": "12:00"}
    for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
]


def _day(days: int, hour: int = 0, minute: int = 0) -> datetime:
    """``days`` after today (of the suite's clock), at ``hour``:``minute`` UTC."""
    today = clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour, minutes=minute)


def _coach(api: Api, **hours: Any) -> Caller:
    carol = coach(tz="Europe/London")
    body = {"weekly": EVERY_DAY_9_TO_12, **hours}
    assert_ok(api.call(carol, "PUT", "/coaches/me/availability", body))
    return carol


def _service(api: Api, carol: Caller, **settings: Any) -> dict[str, Any]:
    types = settings.pop("session_types", [{"minutes": 60, "credits": 1}])
    body = {"name": "Rules", "session_types": types, **settings}
    created: dict[str, Any] = assert_ok(api.post(carol, "/services", body), 201)
    return created


def _book(api: Api, who: Caller, service: dict[str, Any], start: datetime) -> Reply:
    body = {
        "service_id": service["id"],
        "session_type_id": service["session_types"][0]["id"],
        "start": iso(start),
    }
    return api.post(who, "/sessions", body)


def _member(given: World, credits: int = 20) -> Caller:
    alice = member()
    given.fund(alice, credits)
    return alice


def _free(api: Api, who: Caller, service: dict[str, Any], start: datetime) -> list[datetime]:
    query = {
        "session_type_id": service["session_types"][0]["id"],
        "from": iso(start),
        "to": iso(start + timedelta(days=1)),
    }
    answer = assert_ok(api.get(who, f"/services/{service['id']}/slots", query=query))
    return [parse(i["start"]) for i in answer["items"]]


def _refused(
    api: Api, store: Storage, who: Caller, service: dict[str, Any], start: datetime, code: str
) -> None:
    with nothing_changes(store):
        assert_problem(_book(api, who, service, start), 409, code)


# --- working hours ------------------------------------------------------------------------------


def test_a_member_books_inside_the_hours_and_is_refused_outside_them(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = _coach(api), _member(given)
    service = _service(api, carol)

    for outside in (_day(2, 3), _day(2, 8, 45), _day(2, 11, 15), _day(2, 13)):
        _refused(api, store, alice, service, outside, "OUTSIDE_WORKING_HOURS")
    booked = _book(api, alice, service, _day(2, 11))

    assert assert_ok(booked, 201)["outside_hours"] is False
    assert balance(store, personal_account_id(alice.id)) == 19


def test_a_coach_who_never_set_hours_is_booked_at_any_time_on_the_grid(
    api: Api, given: World
) -> None:
    carol, alice = coach(), _member(given)
    service = _service(api, carol)

    assert_ok(_book(api, alice, service, _day(2, 3)), 201)


def test_a_member_may_not_move_outside_the_hours_but_the_coach_may_and_it_says_so(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = _coach(api), _member(given)
    session = assert_ok(_book(api, alice, _service(api, carol), _day(3, 9)), 201)
    path = f"/sessions/{session['id']}/reschedule"

    with nothing_changes(store):
        assert_problem(
            api.post(alice, path, {"start": iso(_day(3, 20))}), 409, "OUTSIDE_WORKING_HOURS"
        )
    by_coach = assert_ok(api.post(carol, path, {"start": iso(_day(3, 20))}))
    back = assert_ok(api.post(alice, path, {"start": iso(_day(4, 10))}))
    by_support = assert_ok(api.post(support(), path, {"start": iso(_day(4, 6))}))

    assert by_coach["outside_hours"] is True
    assert back["outside_hours"] is False
    assert by_support["outside_hours"] is True


def test_a_late_move_request_must_ask_for_a_time_inside_the_hours(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = _coach(api), _member(given)
    service = _service(api, carol, late_reschedule_requires_approval=True)
    session = assert_ok(_book(api, alice, service, _day(0, 11)), 201)  # inside its window
    path = f"/sessions/{session['id']}/reschedule"

    with nothing_changes(store):
        refused = api.post(alice, path, {"start": iso(_day(2, 18))})
    asked = api.post(alice, path, {"start": iso(_day(2, 10))})

    assert_problem(refused, 409, "OUTSIDE_WORKING_HOURS")
    assert asked.status == 202, asked.text


# --- notice and horizon -------------------------------------------------------------------------


def test_notice_and_horizon_refuse_too_soon_and_too_far_and_free_times_follow_them(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    carol, alice = _coach(api), _member(given)
    service = _service(api, carol, min_notice_minutes=24 * 60, max_days_ahead=10)
    travel.set(_day(0, 9))

    _refused(api, store, alice, service, _day(0, 11), "TOO_SOON")
    _refused(api, store, alice, service, _day(10, 10), "TOO_FAR_AHEAD")
    tomorrow = _free(api, alice, service, _day(1))
    assert_ok(_book(api, alice, service, _day(1, 9)), 201)  # a day ahead, to the second

    assert tomorrow == [_day(1, 9) + timedelta(minutes=15 * n) for n in range(9)]
    assert _free(api, alice, service, _day(10)) == [_day(10, 9)]  # ten days ahead, no more
    assert _free(api, alice, service, _day(9))[-1] == _day(9, 11)


# --- buffers ------------------------------------------------------------------------------------


def test_a_buffer_is_held_with_the_session_and_rounds_up_to_the_grid(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice, bob = _coach(api), _member(given), _member(given)
    service = _service(
        api,
        carol,
        session_types=[
            {"minutes": 45, "credits": 1, "buffer_before_minutes": 10, "buffer_after_minutes": 20}
        ],
    )
    assert_ok(_book(api, alice, service, _day(2, 10)), 201)  # holds 09:45 to 11:15

    for taken in (_day(2, 9), _day(2, 11)):
        _refused(api, store, bob, service, taken, "SLOT_TAKEN")
    free = _free(api, bob, service, _day(2))

    assert free == []  # 09:00 ends at 09:45+20; 11:15 would end after noon
    assert service["session_types"][0]["buffer_after_minutes"] == 20


# --- time off -----------------------------------------------------------------------------------


def test_time_off_refuses_bookings_lists_what_it_covers_and_can_be_taken_back(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = _coach(api), _member(given)
    service = _service(api, carol)
    inside = assert_ok(_book(api, alice, service, _day(5, 10)), 201)

    off = api.post(
        carol,
        "/coaches/me/time-off",
        {"start": iso(_day(4)), "end": iso(_day(7)), "reason": "Family visit"},
    )
    created = assert_ok(off, 201)
    _refused(api, store, alice, service, _day(6, 9), "COACH_UNAVAILABLE")
    free_during = _free(api, alice, service, _day(6))

    assert [s["id"] for s in created["sessions"]] == [inside["id"]]
    assert created["reason"] == "Family visit"
    assert free_during == []
    path = f"/coaches/{carol.id}/time-off"
    query = {"from": iso(_day(0)), "to": iso(_day(20))}
    seen_by = {
        who: assert_ok(api.get(caller, path, query=query))["items"]
        for who, caller in (("member", alice), ("coach", carol), ("support", support()))
    }
    times_only = {"id": created["id"], "start": created["start"], "end": created["end"]}
    assert seen_by["member"] == [{**times_only, "reason": None}]
    assert seen_by["coach"][0]["reason"] == seen_by["support"][0]["reason"] == "Family visit"

    removed = api.call(carol, "DELETE", f"/coaches/me/time-off/{created['id']}")
    assert removed.status == 204
    assert_ok(_book(api, alice, service, _day(6, 9)), 201)
    assert_problem(
        api.call(carol, "DELETE", f"/coaches/me/time-off/{created['id']}"), 404, "NOT_FOUND"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "end"),
        ({"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}, "end"),
        ({"start": "2030-01-01T00:00:00Z", "end": "2032-01-01T00:00:00Z"}, "end"),
        ({"start": "2030-01-01T00:00:00Z"}, "end"),
    ],
    ids=["ends before it starts", "over already", "longer than a year", "no end"],
)
def test_bad_time_off_is_refused(
    api: Api, given: World, store: Storage, body: dict[str, str], field: str
) -> None:
    carol = _coach(api)

    with nothing_changes(store):
        reply = api.post(carol, "/coaches/me/time-off", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


# --- limits -------------------------------------------------------------------------------------


def test_a_full_day_refuses_another_session_and_drops_out_of_the_free_times(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice, bob = _coach(api, max_sessions_per_day=1), _member(given), _member(given)
    service = _service(api, carol)
    first = assert_ok(_book(api, alice, service, _day(3, 9)), 201)

    _refused(api, store, bob, service, _day(3, 11), "COACH_DAY_FULL")
    assert _free(api, bob, service, _day(3)) == []
    assert len(_free(api, bob, service, _day(4))) == 9

    assert_ok(api.post(alice, f"/sessions/{first['id']}/cancel", {}))  # the day opens again
    assert_ok(_book(api, bob, service, _day(3, 11)), 201)


def test_a_member_holds_at_most_the_upcoming_sessions_the_service_allows(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = _coach(api), _member(given)
    service = _service(api, carol, max_upcoming_per_member=1)
    first = assert_ok(_book(api, alice, service, _day(3, 9)), 201)

    _refused(api, store, alice, service, _day(4, 9), "MEMBER_LIMIT_REACHED")
    assert _free(api, alice, service, _day(4)) == []  # the member's own view
    assert _free(api, _member(given), service, _day(4)) != []  # another member's

    assert_ok(api.post(alice, f"/sessions/{first['id']}/cancel", {}))
    assert_ok(_book(api, alice, service, _day(4, 9)), 201)


def test_the_coach_and_support_move_past_a_full_day(api: Api, given: World, store: Storage) -> None:
    carol, alice, bob = _coach(api, max_sessions_per_day=1), _member(given), _member(given)
    service = _service(api, carol)
    assert_ok(_book(api, alice, service, _day(3, 9)), 201)
    other = assert_ok(_book(api, bob, service, _day(4, 9)), 201)
    path = f"/sessions/{other['id']}/reschedule"

    with nothing_changes(store):
        assert_problem(api.post(bob, path, {"start": iso(_day(3, 11))}), 409, "COACH_DAY_FULL")
    moved = assert_ok(api.post(carol, path, {"start": iso(_day(3, 11))}))

    assert parse(moved["start"]) == _day(3, 11)
