"""Sessions of 25 and 50 minutes against the local stack, as a client books them over HTTP.

A session holds its coach until its end rounded up to the next quarter hour: what the calendar
offers next is the first boundary after the real end, and a cancel gives all of it back.
"""

from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import RunningStack


def _now(stack: RunningStack) -> datetime:
    return datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])


def _ten_oclock(stack: RunningStack, days: int) -> datetime:
    return (_now(stack) + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)


def _funded_member(stack: RunningStack, sub: str) -> str:
    support = stack.token("held-support", "support")
    granted = stack.call("POST", f"/accounts/personal-{sub}/grants", support, json={"credits": 10})
    assert granted.status_code == 201, granted.text
    return stack.token(sub, "member")


def _short_sessions(stack: RunningStack, coach_sub: str) -> dict[int, tuple[str, str]]:
    """A coach's service of 25- and 50-minute sessions: minutes -> (service id, type id)."""
    coach = stack.token(coach_sub, "coach")
    created = stack.call(
        "POST",
        "/services",
        coach,
        json={
            "name": "Short sessions",
            "session_types": [{"minutes": 25, "credits": 1}, {"minutes": 50, "credits": 2}],
        },
    )
    assert created.status_code == 201, created.text
    service = created.json()
    return {t["minutes"]: (service["id"], t["id"]) for t in service["session_types"]}


def _book(
    stack: RunningStack, token: str, kind: tuple[str, str], start: datetime
) -> tuple[int, Any]:
    answer = stack.call(
        "POST",
        "/sessions",
        token,
        json={"service_id": kind[0], "session_type_id": kind[1], "start": start.isoformat()},
    )
    return answer.status_code, answer.json()


def test_a_50_minute_session_at_10_leaves_11_bookable_and_not_10_45(stack: RunningStack) -> None:
    kinds = _short_sessions(stack, "held-coach-50")
    maya, noor = _funded_member(stack, "held-maya"), _funded_member(stack, "held-noor")
    ten = _ten_oclock(stack, days=3)

    status, first = _book(stack, maya, kinds[50], ten)
    assert status == 201, first
    assert datetime.fromisoformat(first["end"]) == ten + timedelta(minutes=50)

    status, refused = _book(stack, noor, kinds[50], ten + timedelta(minutes=45))
    assert (status, refused["code"]) == (409, "SLOT_TAKEN")
    status, second = _book(stack, noor, kinds[50], ten + timedelta(hours=1))
    assert status == 201, second

    # Once canceled, the first session's last, partly used quarter hour is free again too
    canceled = stack.call("POST", f"/sessions/{first['id']}/cancel", maya, json={})
    assert canceled.status_code == 200, canceled.text
    status, third = _book(stack, maya, kinds[25], ten + timedelta(minutes=30))
    assert status == 201, third


def test_a_25_minute_session_at_10_leaves_10_30_bookable_and_not_10_15(
    stack: RunningStack,
) -> None:
    kinds = _short_sessions(stack, "held-coach-25")
    maya, noor = _funded_member(stack, "held-maya-2"), _funded_member(stack, "held-noor-2")
    ten = _ten_oclock(stack, days=4)

    status, first = _book(stack, maya, kinds[25], ten)
    assert status == 201, first
    assert datetime.fromisoformat(first["end"]) == ten + timedelta(minutes=25)

    status, refused = _book(stack, noor, kinds[25], ten + timedelta(minutes=15))
    assert (status, refused["code"]) == (409, "SLOT_TAKEN")
    status, second = _book(stack, noor, kinds[25], ten + timedelta(minutes=30))
    assert status == 201, second

    # Moved away, the session lets go of both its quarter hours
    moved = stack.call(
        "POST",
        f"/sessions/{first['id']}/reschedule",
        maya,
        json={"start": (ten + timedelta(hours=4)).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    status, third = _book(stack, noor, kinds[25], ten)
    assert status == 201, third


def test_a_start_off_the_grid_is_refused_naming_start(stack: RunningStack) -> None:
    kinds = _short_sessions(stack, "held-coach-grid")
    maya = _funded_member(stack, "held-maya-3")

    status, refused = _book(
        stack, maya, kinds[50], _ten_oclock(stack, days=3) + timedelta(minutes=5)
    )

    assert (status, refused["code"]) == (422, "VALIDATION_FAILED")
    assert [e["field"] for e in refused["errors"]] == ["start"]
