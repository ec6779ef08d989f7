"""GET /sessions for support (?member_id= / ?coach_id=) and the status filter for everyone.

Support starts the refund-exception path from a member: it lists that member's sessions (or a
coach's), with the same views, filter and paging as the owner's own list.
"""

import pytest

from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import assert_ok, assert_problem, book, nothing_changes


def _ids(api: Api, who: object, **query: str) -> list[str]:
    reply = api.get(who, "/sessions", query={"limit": "100", **query})  # type: ignore[arg-type]
    return [s["id"] for s in assert_ok(reply)["items"]]


def test_support_lists_a_member_s_sessions_with_every_coach(api: Api, given: World) -> None:
    alice, bob, carol, dave = member(), member(), coach(), coach()
    given.fund(alice, 20)
    given.fund(bob, 20)
    with_carol = book(api, alice, given.service(by=carol), hours=72)
    with_dave = book(api, alice, given.service(by=dave), hours=96)
    book(api, bob, given.service(by=carol), hours=120)

    listed = _ids(api, support(), member_id=alice.id)

    assert listed == [with_carol["id"], with_dave["id"]]


def test_support_sees_canceled_sessions_under_past_to_refund_them(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 20)
    session = book(api, alice, given.service(), hours=12)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    helpdesk = support()

    past = assert_ok(api.get(helpdesk, "/sessions", query={"member_id": alice.id, "view": "past"}))

    [shown] = past["items"]
    assert shown["id"] == session["id"] and shown["status"] == "CANCELED"
    assert shown["actions"]["can_refund"] is True  # the exception path starts here
    assert _ids(api, helpdesk, member_id=alice.id) == []


def test_support_lists_a_coach_s_sessions(api: Api, given: World) -> None:
    alice, bob, carol = member(), member(), coach()
    service = given.service(by=carol)
    given.fund(alice, 20)
    given.fund(bob, 20)
    first = book(api, alice, service, hours=72)
    second = book(api, bob, service, hours=96)
    book(api, alice, given.service(), hours=120)  # another coach's

    assert _ids(api, support(), coach_id=carol.id) == [first["id"], second["id"]]


def test_support_naming_both_gets_that_member_s_sessions_with_that_coach(
    api: Api, given: World
) -> None:
    alice, carol, dave = member(), coach(), coach()
    given.fund(alice, 20)
    with_carol = book(api, alice, given.service(by=carol), hours=72)
    book(api, alice, given.service(by=dave), hours=96)

    assert _ids(api, support(), member_id=alice.id, coach_id=carol.id) == [with_carol["id"]]


def test_support_pages_through_a_member_s_sessions(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 20)
    service = given.service()
    booked = [book(api, alice, service, hours=h)["id"] for h in (72, 96, 120)]
    helpdesk = support()

    first = assert_ok(api.get(helpdesk, "/sessions", query={"member_id": alice.id, "limit": "2"}))
    rest = assert_ok(
        api.get(
            helpdesk,
            "/sessions",
            query={"member_id": alice.id, "limit": "2", "next_token": first["next_token"]},
        )
    )

    assert [s["id"] for s in first["items"]] == booked[:2]
    assert [s["id"] for s in rest["items"]] == booked[2:]
    assert rest["next_token"] is None


def test_support_must_name_a_member_or_a_coach(api: Api, given: World) -> None:
    reply = api.get(support(), "/sessions", query={"view": "past"})

    document = assert_problem(reply, 422, "VALIDATION_FAILED", field="member_id")
    assert {e["field"] for e in document["errors"]} == {"member_id", "coach_id"}


@pytest.mark.parametrize("who", [member, coach, admin], ids=["member", "coach", "admin"])
@pytest.mark.parametrize("name", ["member_id", "coach_id"])
def test_only_support_may_name_whose_sessions(
    api: Api, given: World, store: Storage, who: object, name: str
) -> None:
    caller = who()  # type: ignore[operator]

    with nothing_changes(store):
        reply = api.get(caller, "/sessions", query={name: caller.id})

    assert_problem(reply, 403, "FORBIDDEN")


@pytest.mark.parametrize("value", ["", "x" * 129])
def test_an_empty_or_overlong_id_is_refused(api: Api, given: World, value: str) -> None:
    reply = api.get(support(), "/sessions", query={"member_id": value})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="member_id")


# --- status=A,B ----------------------------------------------------------------------------------


def test_a_coach_s_requests_to_answer_tab(api: Api, given: World) -> None:
    alice, bob, carol = member(), member(), coach()
    given.fund(alice, 20)
    given.fund(bob, 20)
    reviewed = given.service(by=carol, requires_approval=True)
    direct = given.service(by=carol)
    request = book(api, alice, reviewed, hours=72)
    book(api, bob, direct, hours=96)
    answered = book(api, bob, reviewed, hours=120)
    assert_ok(api.post(carol, f"/sessions/{answered['id']}/approve"))

    assert _ids(api, carol, status="REQUESTED") == [request["id"]]
    assert len(_ids(api, carol, status="REQUESTED,SCHEDULED")) == 3


def test_a_member_filters_past_sessions_by_status(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 20)
    service = given.service()
    canceled = book(api, alice, service, hours=72)
    book(api, alice, service, hours=96)
    assert_ok(api.post(alice, f"/sessions/{canceled['id']}/cancel", {}))

    assert _ids(api, alice, view="past", status="CANCELED") == [canceled["id"]]
    assert _ids(api, alice, view="past", status="COMPLETED") == []
    assert _ids(api, alice, view="upcoming", status="CANCELED") == []


def test_support_filters_a_member_s_sessions_by_status(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 20)
    service = given.service()
    canceled = book(api, alice, service, hours=72)
    book(api, alice, service, hours=96)
    assert_ok(api.post(alice, f"/sessions/{canceled['id']}/cancel", {}))

    listed = _ids(api, support(), member_id=alice.id, view="past", status="CANCELED")

    assert listed == [canceled["id"]]


@pytest.mark.parametrize("value", ["", "BOOKED", "REQUESTED,", "requested", "REQUESTED,NOPE"])
def test_an_unknown_status_is_refused(api: Api, given: World, value: str) -> None:
    reply = api.get(coach(), "/sessions", query={"status": value})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="status")
