"""A coach changes what they set up, against `make run`'s stack: the window grows, a price rises, a
session type is retired; a member books under the new rules while an older booking keeps the old
ones; members find the coach by name; a group gains a new hire."""

from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import RunningStack

MEMBER, COACH, ADMIN = "demo-member", "demo-coach", "demo-admin"


def _free_starts(
    stack: RunningStack, token: str, service_id: str, hours: tuple[int, int], count: int
) -> list[str]:
    """``count`` of the hour's free times between ``hours`` from now, each an hour or more after
    the one before: inside the coach's working hours whatever the time of day the test runs."""
    now = datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])
    window = {
        "session_type_id": "t1",
        "from": (now + timedelta(hours=hours[0])).isoformat(),
        "to": (now + timedelta(hours=hours[1])).isoformat(),
    }
    free = stack.call("GET", f"/services/{service_id}/slots", token, params=window).json()
    picked: list[datetime] = []
    for item in free["items"]:
        start = datetime.fromisoformat(item["start"])
        if not picked or start >= picked[-1] + timedelta(hours=1):
            picked.append(start)
    assert len(picked) >= count, f"the coach's hours leave {len(picked)} hours free: {free}"
    return [start.isoformat() for start in picked[:count]]


def _book(stack: RunningStack, token: str, service_id: str, type_id: str, start: str) -> Any:
    return stack.call(
        "POST",
        "/sessions",
        token,
        json={"service_id": service_id, "session_type_id": type_id, "start": start},
    )


def test_a_coach_edits_the_window_and_retires_a_type_and_bookings_follow_the_rules_of_their_day(
    stack: RunningStack,
) -> None:
    member = stack.token(MEMBER, "member")
    coach = stack.token(COACH, "coach", "--name", "Colin Coach")
    service_id = stack.seeded["service_id"]
    service = stack.call("GET", f"/services/{service_id}", member).json()
    assert service["cancellation_window_hours"] == 24
    assert [(t["id"], t["credits"]) for t in service["session_types"]] == [("t1", 3), ("t2", 2)]

    # Three free hours 30 to 46 hours ahead (the coach's night is at most 10 hours long): outside
    # a 24-hour window, inside a 48-hour one.
    first, second, third = _free_starts(stack, member, service_id, (30, 46), 3)

    # Booked under the old rules: outside the 24-hour window, so refundable.
    older = _book(stack, member, service_id, "t1", first)
    assert older.status_code == 201, older.text

    # The coach moves to a 48-hour window, raises the hour's price and retires the half hour.
    edited = stack.call(
        "PATCH",
        f"/services/{service_id}",
        coach,
        headers={"Content-Type": "application/merge-patch+json"},
        json={
            "cancellation_window_hours": 48,
            "session_types": {"change": [{"id": "t1", "credits": 4}], "retire": ["t2"]},
        },
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["cancellation_window_hours"] == 48
    assert [t["id"] for t in edited.json()["retired_session_types"]] == ["t2"]

    # The member books the same hour a little later under the new rules ...
    newer = _book(stack, member, service_id, "t1", second)
    retired = _book(stack, member, service_id, "t2", third)
    assert newer.status_code == 201, newer.text
    assert newer.json()["credits"] == 4 and newer.json()["policy"]["window_hours"] == 48
    assert retired.status_code == 409 and retired.json()["code"] == "SESSION_TYPE_RETIRED"

    # ... while the older booking keeps its own: 3 credits, and a refund if canceled now.
    old_quote = stack.call("GET", f"/sessions/{older.json()['id']}/cancellation", member).json()
    new_quote = stack.call("GET", f"/sessions/{newer.json()['id']}/cancellation", member).json()
    assert old_quote["window_hours"] == 24 and old_quote["refund_credits"] == 3
    assert new_quote["window_hours"] == 48 and new_quote["refundable"] is False
    canceled = stack.call("POST", f"/sessions/{older.json()['id']}/cancel", member, json={})
    assert canceled.json()["refund"]["credits"] == 3

    # The retired type offers no free times; the hour still does.
    now = datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])
    window = {"from": now.isoformat(), "to": (now + timedelta(days=7)).isoformat()}
    slots = f"/services/{service_id}/slots"
    gone = stack.call("GET", slots, member, params={"session_type_id": "t2", **window})
    kept = stack.call("GET", slots, member, params={"session_type_id": "t1", **window})
    assert gone.json()["items"] == [] and kept.json()["items"]

    # Members find the coach by the start of their name, without an address.
    found = stack.call("GET", "/coaches", member, params={"q": "colin"}).json()
    assert [c["id"] for c in found["items"]] == [COACH]
    assert {"id": service_id, "name": service["name"]} in found["items"][0]["services"]
    assert "@" not in str(found)


def test_an_admin_adds_a_new_hire_to_the_pool_and_the_change_is_recorded(
    stack: RunningStack,
) -> None:
    admin = stack.token(ADMIN, "admin")
    hire = stack.token("new-hire", "member", "--name", "Nina Newhire")
    group_id = stack.seeded["group_account_id"]

    changed = stack.call(
        "PATCH", f"/accounts/{group_id}", admin, json={"add_members": ["new-hire"]}
    )
    on_group = stack.call(
        "POST",
        "/sessions",
        hire,
        json={
            "service_id": stack.seeded["service_id"],
            "session_type_id": "t1",
            "start": _free_starts(stack, hire, stack.seeded["service_id"], (52, 76), 1)[0],
            "account_id": group_id,
        },
    )
    changes = stack.call("GET", f"/accounts/{group_id}/changes", admin).json()

    assert changed.status_code == 200, changed.text
    assert "new-hire" in changed.json()["member_ids"]
    assert on_group.status_code == 201, on_group.text
    assert on_group.json()["account"]["id"] == group_id
    assert changes["items"][0]["added_members"] == ["new-hire"]
    assert changes["items"][0]["by"] == {"id": ADMIN, "role": "admin"}
