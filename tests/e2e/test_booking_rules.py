"""A coach's booking rules over the local stack, as a platform's client would use them: the coach
sets hours, takes time off and offers a session type with a buffer; a member books through the
free times, and what they list is exactly what a booking accepts."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.conftest import RunningStack

LISBON = ZoneInfo("Europe/Lisbon")
EVERY_DAY = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def _day_ahead(stack: RunningStack, days: int) -> date:
    now = datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])
    return (now.astimezone(LISBON) + timedelta(days=days)).date()


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    """A wall-clock time in Lisbon on ``day``, in UTC."""
    return datetime.combine(day, time(hh, mm), LISBON).astimezone(UTC)


def _starts(answer: Any) -> list[datetime]:
    return [datetime.fromisoformat(i["start"]) for i in answer.json()["items"]]


def test_a_member_books_through_free_times_that_follow_hours_time_off_and_buffers(
    stack: RunningStack,
) -> None:
    coach = stack.token("rules-ana", "coach")
    support = stack.token("rules-support", "support")
    maya, noor = stack.token("rules-maya", "member"), stack.token("rules-noor", "member")
    for sub in ("rules-maya", "rules-noor"):
        granted = stack.call(
            "POST", f"/accounts/personal-{sub}/grants", support, json={"credits": 10}
        )
        assert granted.status_code == 201, granted.text

    # Ana works 09:00 to 13:00 in Lisbon every day, and her 45-minute sessions keep 15 minutes
    # free after them.
    hours = stack.call(
        "PUT",
        "/coaches/me/availability",
        coach,
        json={
            "timezone": "Europe/Lisbon",
            "weekly": [{"day": d, "start": "09:00", "end": "13:00"} for d in EVERY_DAY],
        },
    )
    assert hours.status_code == 200, hours.text
    created = stack.call(
        "POST",
        "/services",
        coach,
        json={
            "name": "Focused hour",
            "session_types": [{"minutes": 45, "credits": 2, "buffer_after_minutes": 15}],
        },
    )
    assert created.status_code == 201, created.text
    service = created.json()
    kind = {"service_id": service["id"], "session_type_id": service["session_types"][0]["id"]}
    day = _day_ahead(stack, 3)
    window = {
        "session_type_id": kind["session_type_id"],
        "from": _at(day, 0).isoformat(),
        "to": _at(day + timedelta(days=1), 0).isoformat(),
    }
    slots = f"/services/{service['id']}/slots"

    # She is away until 10:30 that morning.
    away = stack.call(
        "POST",
        "/coaches/me/time-off",
        coach,
        json={"start": _at(day, 8).isoformat(), "end": _at(day, 10, 30).isoformat()},
    )
    assert away.status_code == 201, away.text
    assert away.json()["sessions"] == []

    free = stack.call("GET", slots, maya, params=window)
    assert free.status_code == 200, free.text
    quarter = timedelta(minutes=15)
    assert _starts(free) == [_at(day, 10, 30) + n * quarter for n in range(8)]  # 10:30 to 12:15

    # Maya books the first free time.
    first = _starts(free)[0]
    booked = stack.call("POST", "/sessions", maya, json={**kind, "start": first.isoformat()})
    assert booked.status_code == 201, booked.text
    session = booked.json()
    assert session["outside_hours"] is False

    # Her session and its buffer hold 10:30 to 11:30: the free times start again at 11:30, and a
    # booking into the buffer is refused as the free times said.
    after = stack.call("GET", slots, noor, params=window)
    assert _starts(after) == [_at(day, 11, 30) + n * quarter for n in range(4)]
    for start, code in [
        (_at(day, 11, 15), "SLOT_TAKEN"),  # Maya's buffer
        (_at(day, 9, 30), "COACH_UNAVAILABLE"),  # the time off
        (_at(day, 14), "OUTSIDE_WORKING_HOURS"),
    ]:
        refused = stack.call("POST", "/sessions", noor, json={**kind, "start": start.isoformat()})
        assert (refused.status_code, refused.json()["code"]) == (409, code), start
    assert stack.call("GET", "/accounts/personal-rules-noor", noor).json()["balance"] == 10
    listed = stack.call("GET", slots, noor, params=window)
    assert _starts(listed) == _starts(after)
    booked = stack.call(
        "POST", "/sessions", noor, json={**kind, "start": _starts(after)[0].isoformat()}
    )
    assert booked.status_code == 201, booked.text

    # More time off over Maya's session names it and leaves it booked; taking the first stretch
    # back gives the morning back.
    over = stack.call(
        "POST",
        "/coaches/me/time-off",
        coach,
        json={
            "start": _at(day, 10, 30).isoformat(),
            "end": _at(day, 11).isoformat(),
            "reason": "Dentist",
        },
    )
    assert over.status_code == 201, over.text
    assert [s["id"] for s in over.json()["sessions"]] == [session["id"]]
    still = stack.call("GET", f"/sessions/{session['id']}", maya).json()
    assert still["status"] == "SCHEDULED"
    taken_back = stack.call("DELETE", f"/coaches/me/time-off/{away.json()['id']}", coach)
    assert taken_back.status_code == 204, taken_back.text
    morning = _starts(stack.call("GET", slots, maya, params=window))
    # (09:45 would hold its buffer into 10:30, Maya's; Noor holds 11:30 to 12:30)
    assert morning == [_at(day, 9), _at(day, 9, 15), _at(day, 9, 30)]

    # Anyone sees the stretches; only the coach and support see why.
    span = {"from": window["from"], "to": window["to"]}
    seen = stack.call("GET", "/coaches/rules-ana/time-off", maya, params=span).json()["items"]
    assert [(datetime.fromisoformat(o["start"]), o["reason"]) for o in seen] == [
        (_at(day, 10, 30), None)
    ]
    mine = stack.call("GET", "/coaches/me/time-off", coach, params=span).json()["items"]
    assert [o["reason"] for o in mine] == ["Dentist"]
