""" "Schedule Session" on a canceled session, as a browser front end on the app's origin does it:
the detail's ``rebook``, the coach's hours, a free time, the booking. Against `make run`'s stack.
"""

from datetime import datetime, timedelta

from tests.e2e.conftest import RunningStack

MEMBER, COACH = "demo-member", "demo-coach"
FRONT_END = "https://app.example.com"  # the origin of AppBaseUrl's default


def _now(stack: RunningStack) -> datetime:
    return datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])


def test_a_browser_on_the_app_s_origin_may_call_the_api(stack: RunningStack) -> None:
    preflight = stack.call(
        "OPTIONS",
        "/sessions",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    member = stack.token(MEMBER, "member")
    listed = stack.call("GET", "/sessions", member, headers={"Origin": FRONT_END})
    elsewhere = stack.call("GET", "/sessions", member, headers={"Origin": "https://other.example"})

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


def test_schedule_session_rebooks_a_canceled_session_through_a_free_time(
    stack: RunningStack,
) -> None:
    member = stack.token(
        MEMBER, "member", "--email", "maya@example.com", "--zoneinfo", "Europe/London"
    )
    canceled_id = stack.seeded["sessions"]["canceled"]
    browser = {"Origin": FRONT_END}

    # The canceled session's banner offers "Schedule Session", with what it needs.
    detail = stack.call("GET", f"/sessions/{canceled_id}", member, headers=browser).json()
    assert detail["status"] == "CANCELED" and detail["actions"]["can_rebook"] is True
    rebook = detail["rebook"]

    # The coach's working hours, and the free times of the same session type this week.
    hours = stack.call("GET", f"/coaches/{rebook['coach_id']}/availability", member).json()
    now = _now(stack)
    query = {
        "session_type_id": rebook["session_type_id"],
        "from": now.isoformat(),
        "to": (now + timedelta(days=7)).isoformat(),
    }
    slots = stack.call("GET", f"/services/{rebook['service_id']}/slots", member, params=query)
    assert slots.status_code == 200, slots.text
    free = slots.json()["items"]
    assert hours["timezone"] == "America/New_York" and hours["weekly"]
    assert free, "the demo coach works weekdays 09:00-17:00 New York time"

    # The member picks the first free time and books it.
    picked = free[0]
    booked = stack.call(
        "POST",
        "/sessions",
        member,
        headers={**browser, "Idempotency-Key": f"rebook-{canceled_id}"},
        json={
            "service_id": rebook["service_id"],
            "session_type_id": rebook["session_type_id"],
            "start": picked["start"],
        },
    )

    assert booked.status_code == 201, booked.text
    session = booked.json()
    assert session["coach"]["id"] == rebook["coach_id"]
    assert session["status"] == "SCHEDULED" and session["id"] != canceled_id
    assert datetime.fromisoformat(session["start"]) == datetime.fromisoformat(picked["start"])
    assert booked.headers["Access-Control-Allow-Origin"] == FRONT_END
    again = stack.call("GET", f"/services/{rebook['service_id']}/slots", member, params=query)
    assert picked not in again.json()["items"]  # the time is the member's now
    upcoming = stack.call("GET", "/sessions", member, params={"view": "upcoming"}).json()
    assert session["id"] in [s["id"] for s in upcoming["items"]]
