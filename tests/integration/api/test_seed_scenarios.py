"""The help page (seed/cancel-session.txt), scenario by scenario, through the real handlers.

Every step is an HTTP call a client would make; storage is read only to check the ledger.
"""

import json
from datetime import timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
from local.routes import http_routes
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    assert_ok,
    balance,
    book,
    book_body,
    entries,
    entry_kinds,
    header,
    iso,
    listed_ids,
    parse,
    slot_in,
)


def _accounts(api: Api, given: World, alice: Caller) -> tuple[str, str]:
    """Alice's personal account and a group account she belongs to, 10 credits each."""
    boss = admin()
    given.fund(alice, 10)
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team", "member_ids": [alice.id]}), 201)
    assert_ok(api.post(boss, f"/accounts/{group['id']}/grants", {"credits": 10}), 201)
    return personal_account_id(alice.id), group["id"]


@pytest.mark.parametrize("paid_from", ["personal", "group"])
def test_a_member_cancels_inside_the_window_and_the_credits_go_back_where_they_came_from(
    api: Api, given: World, store: Storage, paid_from: str
) -> None:
    # Given Alice booked a 3-credit session three days out, from one of her two accounts
    alice, carol = member(), coach()
    personal, group = _accounts(api, given, alice)
    paying, other = (personal, group) if paid_from == "personal" else (group, personal)
    service = given.service(by=carol, credits=3, window_hours=24)
    session = book(api, alice, service, hours=72, account_id=paying)
    assert balance(store, paying) == 7

    # When the dialog asks whether a cancel is refundable, and she confirms with a reason
    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))
    canceled = assert_ok(
        api.post(alice, f"/sessions/{session['id']}/cancel", {"reason": "Off sick"})
    )

    # Then the dialog said so, and the credits are back in the account she booked from
    assert quote["refundable"] is True and quote["refund_credits"] == 3
    assert canceled["refund"]["status"] == "AUTOMATIC" and canceled["refund"]["credits"] == 3
    assert balance(store, paying) == 10
    refund = entries(store, paying)[0]  # newest first
    assert (refund.kind.value, refund.credits, refund.session_id) == ("REFUND", 3, session["id"])
    assert balance(store, other) == 10 and entry_kinds(store, other) == ["GRANT"]
    # and her coach reads the reason on the session record
    seen_by_coach = assert_ok(api.get(carol, f"/sessions/{session['id']}"))
    assert seen_by_coach["cancellation"]["reason"] == "Off sick"
    assert seen_by_coach["cancellation"]["canceled_by"] == {"id": alice.id, "role": "member"}


def test_a_member_cancels_outside_the_window_the_cancel_goes_through_non_refundable(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3, window_hours=24), hours=72)
    travel.advance(60 * 3600)  # now 12 hours or less before the start

    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))
    canceled = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    assert quote["refundable"] is False and quote["refund_credits"] == 0
    assert canceled["status"] == "CANCELED"
    assert canceled["cancellation"]["refundable"] is False
    assert canceled["refund"]["status"] == "NONE" and canceled["refund"]["credits"] == 0
    assert balance(store, personal_account_id(alice.id)) == 7
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT"]
    assert listed_ids(api, alice, "past") == [session["id"]]


def test_the_session_detail_carries_what_the_canceled_banner_needs(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3))
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {"reason": "Conflict"}))

    detail = assert_ok(api.get(alice, f"/sessions/{session['id']}"))

    assert detail["status"] == "CANCELED" and detail["view"] == "past"
    cancellation = detail["cancellation"]
    assert cancellation["canceled_by"] == {"id": alice.id, "role": "member"}
    assert cancellation["reason"] == "Conflict"
    assert parse(cancellation["canceled_at"]) <= clock.now()
    assert detail["refund"]["status"] == "AUTOMATIC"
    assert detail["actions"]["can_cancel"] is False
    assert detail["actions"]["can_reschedule"] is False
    assert detail["actions"]["can_rebook"] is True
    # the policy the detail page shows under "Cancellation and Reschedule Policy"
    assert detail["policy"]["window_hours"] == 24
    assert parse(detail["policy"]["refundable_until"]) == parse(detail["start"]) - timedelta(
        hours=24
    )


def test_canceled_sessions_list_under_past_with_status_canceled_for_member_and_coach(
    api: Api, given: World
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    service = given.service(by=carol, credits=3)
    canceled = book(api, alice, service, hours=72)
    kept = book(api, alice, service, hours=96)
    assert_ok(api.post(carol, f"/sessions/{canceled['id']}/cancel", {}))

    for who in (alice, carol):
        past = assert_ok(api.get(who, "/sessions", query={"view": "past"}))["items"]
        assert [(s["id"], s["status"]) for s in past] == [(canceled["id"], "CANCELED")]
        assert listed_ids(api, who, "upcoming") == [kept["id"]]


def test_a_coach_cancels_with_a_reason_and_the_member_reads_it(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=72)

    assert_ok(
        api.post(carol, f"/sessions/{session['id']}/cancel", {"reason": "Urgent schedule clash"})
    )
    detail = assert_ok(api.get(alice, f"/sessions/{session['id']}"))

    assert detail["status"] == "CANCELED"
    assert detail["cancellation"]["reason"] == "Urgent schedule clash"
    assert detail["cancellation"]["canceled_by"] == {"id": carol.id, "role": "coach"}
    assert detail["cancellation"]["refundable"] is True
    assert detail["refund"]["status"] == "AUTOMATIC"  # the same rule holds when the coach cancels
    assert balance(store, personal_account_id(alice.id)) == 10
    assert session["id"] in listed_ids(api, alice, "past")
    assert detail["actions"]["can_rebook"] is True


def test_after_a_late_coach_cancel_the_coach_chooses_to_refund(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=72)
    travel.advance(60 * 3600)
    late = assert_ok(api.post(carol, f"/sessions/{session['id']}/cancel", {"reason": "Ill"}))
    assert late["cancellation"]["refundable"] is False
    assert balance(store, personal_account_id(alice.id)) == 7
    assert assert_ok(api.get(carol, f"/sessions/{session['id']}"))["actions"]["can_refund"] is True

    refunded = assert_ok(api.post(carol, f"/sessions/{session['id']}/refund", {}))

    assert refunded["refund"]["status"] == "EXCEPTION" and refunded["refund"]["credits"] == 3
    assert balance(store, personal_account_id(alice.id)) == 10
    seen_by_member = assert_ok(api.get(alice, f"/sessions/{session['id']}"))
    assert seen_by_member["refund"]["status"] == "EXCEPTION"
    assert seen_by_member["actions"]["can_refund"] is False  # members never refund


def test_support_grants_an_exception_refund_to_the_account_booked_from(
    api: Api, given: World, store: Storage
) -> None:
    alice = member()
    personal, group = _accounts(api, given, alice)
    session = book(api, alice, given.service(credits=3), hours=12, account_id=group)
    late = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    assert late["cancellation"]["refundable"] is False
    helpdesk = support()

    refunded = assert_ok(
        api.post(helpdesk, f"/sessions/{session['id']}/refund", {"note": "Ticket 4711"})
    )

    assert refunded["refund"]["status"] == "EXCEPTION" and refunded["refund"]["credits"] == 3
    assert balance(store, group) == 10 and balance(store, personal) == 10
    refund = entries(store, group)[0]
    assert refund.kind.value == "REFUND" and refund.credits == 3
    assert refund.actor is not None and refund.actor.id == helpdesk.id
    assert refund.note == "Ticket 4711" and refund.session_id == session["id"]


def test_schedule_session_on_a_canceled_session_books_again_with_the_same_coach(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=72)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    rebook = assert_ok(api.get(alice, f"/sessions/{session['id']}"))["rebook"]
    again = api.post(
        alice,
        "/sessions",
        {
            "service_id": rebook["service_id"],
            "session_type_id": rebook["session_type_id"],
            "start": session["start"],  # the canceled session gave its time back
        },
    )

    assert rebook["coach_id"] == carol.id
    booked = assert_ok(again, 201)
    assert booked["id"] != session["id"]
    assert booked["coach"]["id"] == carol.id and booked["status"] == "SCHEDULED"
    assert balance(store, personal_account_id(alice.id)) == 7
    assert listed_ids(api, alice, "upcoming") == [booked["id"]]


def test_reschedule_keeps_the_booking_and_its_credits_and_history_keeps_the_old_time(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=72)
    ledger_before = entry_kinds(store, personal_account_id(alice.id))
    new_start = slot_in(120)

    moved = assert_ok(
        api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(new_start)})
    )
    detail = assert_ok(api.get(carol, f"/sessions/{session['id']}"))

    assert moved["id"] == session["id"] and detail["id"] == session["id"]
    assert parse(detail["start"]) == new_start and detail["status"] == "SCHEDULED"
    assert detail["credits"] == 3 and detail["account_id"] == session["account_id"]
    assert balance(store, personal_account_id(alice.id)) == 7
    assert entry_kinds(store, personal_account_id(alice.id)) == ledger_before
    rescheduled = [e for e in detail["history"] if e["kind"] == "RESCHEDULED"]
    assert len(rescheduled) == 1
    assert parse(rescheduled[0]["previous_start"]) == parse(session["start"])
    assert parse(rescheduled[0]["start"]) == new_start
    assert listed_ids(api, alice, "upcoming") == [session["id"]]
    # the free window follows the new time
    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))
    assert parse(quote["refundable_until"]) == new_start - timedelta(hours=24)


def test_the_old_time_of_a_rescheduled_session_can_be_booked_by_someone_else(
    api: Api, given: World
) -> None:
    alice, bob = member(), member()
    given.fund(alice, 10)
    given.fund(bob, 10)
    service = given.service(credits=3)
    session = book(api, alice, service, hours=72)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(96))}))

    reply = api.post(bob, "/sessions", book_body(service, parse(session["start"])))

    assert reply.status == 201, reply.text


# --- the documents -------------------------------------------------------------------------------

DOCS_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs")}
APP_ROUTES = {("GET", "/app"), ("GET", "/app/{proxy+}")}


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_the_openapi_document_lists_every_route_of_the_template(api: Api) -> None:
    reply = api.get(None, "/openapi.json")

    document = assert_ok(reply)
    assert document["openapi"].startswith("3.")
    template_routes = {(r.method, r.path) for r in http_routes()}
    # the routes that serve the documentation and the web component's files are pages and
    # files, not the JSON API: they do not describe themselves
    assert _documented(document) == template_routes - DOCS_ROUTES - APP_ROUTES


def test_the_docs_page_is_html_and_reads_the_same_document(api: Api) -> None:
    page = api.get(None, "/docs")
    spec = assert_ok(api.get(None, "/openapi.json"))

    assert page.status == 200
    assert header(page, "Content-Type").startswith("text/html")
    assert "<html" in page.text.lower() and "swagger" in page.text.lower()
    # The page embeds the very document /openapi.json serves, errors as problems included.
    for path in spec["paths"]:
        assert json.dumps(path) in page.text
    assert '"application/problem+json"' in page.text
    every_operation = [op for ops in spec["paths"].values() for op in ops.values()]
    assert all("default" in op["responses"] for op in every_operation)
