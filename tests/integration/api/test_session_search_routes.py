"""GET /sessions for support (?member_id=, ?member_email=, ?coach_id=, ?account_id=), for a group's
admins (?account_id=), and the status filter for everyone.

Support starts the refund-exception path from a member: it lists that member's sessions (or a
coach's), with the same views, filter and paging as the owner's own list.
"""

from typing import Any

import pytest

from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import assert_ok, assert_problem, book, nothing_changes, snapshot


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


# --- ?member_email= (support) ----------------------------------------------------------------


def test_support_finds_a_member_s_sessions_by_the_address_they_booked_with(
    api: Api, given: World
) -> None:
    alice, bob = member(), member()
    given.fund(alice, 20)
    given.fund(bob, 20)
    service = given.service()
    first = book(api, alice, service, hours=72)
    second = book(api, alice, service, hours=96)
    book(api, bob, service, hours=120)
    assert alice.email is not None

    for spelled in (alice.email, alice.email.upper(), f"  {alice.email.title()}  ".strip()):
        assert _ids(api, support(), member_email=spelled) == [first["id"], second["id"]]
    assert _ids(api, support(), member_email="nobody@example.com") == []


def test_the_sessions_of_every_member_who_used_an_address_come_in_pages(
    api: Api, given: World
) -> None:
    shared = "family@example.com"
    parent, child = (
        member().model_copy(update={"email": shared}),
        member().model_copy(update={"email": shared.upper()}),
    )
    service = given.service()
    booked = []
    for offset, who in enumerate(sorted((parent, child), key=lambda m: m.id)):
        given.fund(who, 20)
        booked += [book(api, who, service, hours=h + offset)["id"] for h in (72, 96)]
    helpdesk = support()

    pages, token = [], None
    while True:
        query = {"member_email": shared, "limit": "3"} | ({"next_token": token} if token else {})
        page = assert_ok(api.get(helpdesk, "/sessions", query=query))
        pages.append([s["id"] for s in page["items"]])
        token = page["next_token"]
        if token is None:
            break

    assert [len(p) for p in pages] == [3, 1]
    assert [s for page in pages for s in page] == booked


def test_no_key_or_item_holds_the_address_itself(api: Api, given: World, store: Storage) -> None:
    alice = member()
    given.fund(alice, 20)
    book(api, alice, given.service(), hours=72)
    assert alice.email is not None

    items = snapshot(store)[store.sessions_table]
    lookups = [i for i in items if i["entity"] == {"S": "MEMBER_EMAIL"}]

    assert [i["member_id"]["S"] for i in lookups] == [alice.id]
    assert alice.email not in str(lookups) and "@" not in str(lookups)


@pytest.mark.parametrize("value", ["not an address", "a@b@c", "x" * 255 + "@e.com"])
def test_support_gives_an_address_or_is_refused(api: Api, given: World, value: str) -> None:
    reply = api.get(support(), "/sessions", query={"member_email": value})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="member_email")


def test_only_support_finds_sessions_by_address(api: Api, given: World) -> None:
    alice = member()
    assert_problem(
        api.get(alice, "/sessions", query={"member_email": str(alice.email)}), 403, "FORBIDDEN"
    )


# --- ?account_id= (a group's admins, support) ---------------------------------------------------


def _group_with_sessions(api: Api, given: World) -> tuple[Any, Any, str, list[str], str]:
    """A group run by an admin, a member who booked two sessions on it and one personally."""
    boss, alice = admin(), member()
    group = assert_ok(
        api.post(boss, "/accounts", {"name": "Acme team", "member_ids": [alice.id]}), 201
    )
    assert_ok(api.post(boss, f"/accounts/{group['id']}/grants", {"credits": 20}), 201)
    given.fund(alice, 20)
    service = given.service()
    on_group = [book(api, alice, service, hours=h, account_id=group["id"])["id"] for h in (72, 96)]
    personal = book(api, alice, service, hours=120)["id"]
    return boss, alice, group["id"], on_group, personal


def test_a_group_s_admin_lists_the_sessions_their_group_paid_for(api: Api, given: World) -> None:
    boss, alice, group_id, on_group, personal = _group_with_sessions(api, given)
    assert_ok(api.post(alice, f"/sessions/{on_group[0]}/cancel", {}))

    upcoming = _ids(api, boss, account_id=group_id)
    past = _ids(api, boss, account_id=group_id, view="past")

    assert upcoming == on_group[1:] and past == on_group[:1]
    assert personal not in upcoming + past
    assert _ids(api, support(), account_id=group_id) == on_group[1:]


def test_a_group_s_admin_reads_a_session_it_paid_for_and_may_do_nothing_to_it(
    api: Api, given: World, store: Storage
) -> None:
    boss, _, _, on_group, personal = _group_with_sessions(api, given)

    shown = assert_ok(api.get(boss, f"/sessions/{on_group[0]}"))

    assert shown["id"] == on_group[0]
    assert not any(shown["actions"].values()) and shown["rebook"] is None
    assert_problem(api.get(boss, f"/sessions/{personal}"), 404, "NOT_FOUND")
    with nothing_changes(store):
        for action in ("cancel", "refund", "reschedule"):
            reply = api.post(boss, f"/sessions/{on_group[0]}/{action}", {})
            assert reply.status in (404, 422), (action, reply.text)
        assert_problem(api.get(boss, f"/sessions/{on_group[0]}/cancellation"), 404, "NOT_FOUND")


def test_nobody_else_reads_a_group_s_sessions(api: Api, given: World) -> None:
    _, alice, group_id, on_group, _ = _group_with_sessions(api, given)
    stranger = admin()

    assert_problem(api.get(stranger, "/sessions", query={"account_id": group_id}), 404, "NOT_FOUND")
    assert_problem(api.get(stranger, f"/sessions/{on_group[0]}"), 404, "NOT_FOUND")
    assert_problem(api.get(alice, "/sessions", query={"account_id": group_id}), 403, "FORBIDDEN")
    assert_problem(
        api.get(stranger, "/sessions", query={"account_id": f"personal-{alice.id}"}),
        404,
        "NOT_FOUND",
    )


def test_an_admin_names_the_group_whose_sessions_to_list(api: Api, given: World) -> None:
    assert_problem(api.get(admin(), "/sessions"), 403, "FORBIDDEN")


def test_support_names_one_whose_sessions_to_list(api: Api, given: World) -> None:
    reply = api.get(support(), "/sessions", query={"member_id": "m-1", "account_id": "group-1"})

    document = assert_problem(reply, 422, "VALIDATION_FAILED")
    assert {e["field"] for e in document["errors"]} == {"member_id", "account_id"}


def test_support_must_name_a_member_or_a_coach(api: Api, given: World) -> None:
    reply = api.get(support(), "/sessions", query={"view": "past"})

    document = assert_problem(reply, 422, "VALIDATION_FAILED", field="member_id")
    assert {e["field"] for e in document["errors"]} == {"member_id", "coach_id"}


@pytest.mark.parametrize("who", [member, coach, admin], ids=["member", "coach", "admin"])
@pytest.mark.parametrize("name", ["member_id", "coach_id", "member_email"])
def test_only_support_may_name_whose_sessions(
    api: Api, given: World, store: Storage, who: object, name: str
) -> None:
    caller = who()  # type: ignore[operator]

    with nothing_changes(store):
        value = f"{caller.id}@example.com" if name == "member_email" else caller.id
        reply = api.get(caller, "/sessions", query={name: value})

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
