"""POST /sessions, and POST /sessions/{id}/approve and /decline (booking requests).

Each refusal is a problem document with its stable code, and leaves storage as it was.
"""

from datetime import timedelta
from typing import Any

import pytest

from coaching.models import personal_account_id
from coaching.storage import Storage
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    NOT_AN_OBJECT,
    assert_ok,
    assert_problem,
    balance,
    book,
    book_body,
    entry_kinds,
    iso,
    listed_ids,
    nothing_changes,
    parse,
    slot_in,
    status_of,
)

# --- POST /sessions ----------------------------------------------------------------------------


def test_booking_debits_the_personal_account_by_default(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    service = given.service(by=carol, minutes=60, credits=3)
    given.fund(alice, 10)
    start = slot_in(72)

    reply = api.post(alice, "/sessions", book_body(service, start))

    session = assert_ok(reply, 201)
    assert session["status"] == "SCHEDULED"
    assert session["member"]["id"] == alice.id and session["coach"]["id"] == carol.id
    assert session["service"]["id"] == service.id
    assert parse(session["start"]) == start
    assert parse(session["end"]) == start + timedelta(minutes=60)
    assert session["credits"] == 3
    assert session["account_id"] == personal_account_id(alice.id)
    assert session["policy"]["window_hours"] == 24
    assert session["cancellation"] is None and session["reschedule_request"] is None
    assert balance(store, personal_account_id(alice.id)) == 7
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT"]
    assert store.get_session(session["id"]) is not None


def test_booking_from_a_group_account_debits_that_account(
    api: Api, given: World, store: Storage
) -> None:
    alice, boss = member(), admin()
    group = api.post(boss, "/accounts", {"name": "Team", "member_ids": [alice.id]})
    group_id = assert_ok(group, 201)["id"]
    assert_ok(api.post(boss, f"/accounts/{group_id}/grants", {"credits": 10}), 201)
    service = given.service(credits=4)

    session = book(api, alice, service, account_id=group_id)

    assert session["account_id"] == group_id
    assert balance(store, group_id) == 6
    assert entry_kinds(store, personal_account_id(alice.id)) == []


def test_booking_with_a_coach_who_reviews_requests_waits_as_a_request(
    api: Api, given: World, store: Storage
) -> None:
    alice = member()
    service = given.service(credits=3, requires_approval=True)
    given.fund(alice, 10)

    session = book(api, alice, service)

    assert session["status"] == "REQUESTED"
    assert session["request_expires_at"] is not None
    assert balance(store, personal_account_id(alice.id)) == 7  # held while the coach decides


def test_booking_keeps_the_time_zone_it_was_given(api: Api, given: World) -> None:
    alice = member(tz="Europe/London")
    service = given.service()
    given.fund(alice, 10)

    reply = api.post(alice, "/sessions", book_body(service, slot_in(72), timezone="Asia/Tokyo"))

    assert assert_ok(reply, 201)["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_booking_with_a_body_that_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    alice = member()
    given.fund(alice, 10)

    with nothing_changes(store):
        reply = api.post(alice, "/sessions", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


def test_booking_without_a_body_is_malformed(api: Api, given: World, store: Storage) -> None:
    with nothing_changes(store):
        reply = api.post(member(), "/sessions")

    assert_problem(reply, 400, "MALFORMED_REQUEST")


_MISSING = object()

# name: (field, value); a callable value is computed when the test runs, against the clock
INVALID_BOOKINGS: dict[str, tuple[str, Any]] = {
    "service_id missing": ("service_id", _MISSING),
    "session_type_id missing": ("session_type_id", _MISSING),
    "start missing": ("start", _MISSING),
    "service_id not a string": ("service_id", 42),
    "start not a time": ("start", "next tuesday"),
    "start a number": ("start", 1_900_000_000),
    "start without an offset": ("start", lambda: slot_in(72).replace(tzinfo=None).isoformat()),
    "start in the past": ("start", lambda: iso(slot_in(-2))),
    "start just gone": ("start", lambda: iso(slot_in(0, minutes=-15))),
    "start off the 15-minute grid": ("start", lambda: iso(slot_in(72).replace(minute=7))),
    "start with seconds": ("start", lambda: iso(slot_in(72).replace(second=30))),
    "unknown session type": ("session_type_id", "t99"),
    "unknown time zone": ("timezone", "Mars/Olympus_Mons"),
    "account_id not a string": ("account_id", ["personal"]),
    "unknown field": ("discount", 100),
}


@pytest.mark.parametrize(("field", "value"), INVALID_BOOKINGS.values(), ids=INVALID_BOOKINGS.keys())
def test_booking_with_an_invalid_field_fails_validation_and_debits_nothing(
    api: Api, given: World, store: Storage, field: str, value: Any
) -> None:
    alice = member()
    service = given.service(credits=3)
    given.fund(alice, 10)
    body = book_body(service, slot_in(72))
    if value is _MISSING:
        del body[field]
    else:
        body[field] = value() if callable(value) else value

    with nothing_changes(store):
        reply = api.post(alice, "/sessions", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)
    assert listed_ids(api, alice, "upcoming") == []


def test_booking_an_unknown_service_is_not_found(api: Api, given: World, store: Storage) -> None:
    alice = member()
    given.fund(alice, 10)
    body = {"service_id": "no-such-service", "session_type_id": "t1", "start": iso(slot_in(72))}

    with nothing_changes(store):
        reply = api.post(alice, "/sessions", body)

    assert_problem(reply, 404, "NOT_FOUND")


def test_booking_from_an_account_the_member_does_not_belong_to_is_not_found(
    api: Api, given: World, store: Storage
) -> None:
    alice, bob, boss = member(), member(), admin()
    group = assert_ok(
        api.post(boss, "/accounts", {"name": "Bob's team", "member_ids": [bob.id]}), 201
    )
    assert_ok(api.post(boss, f"/accounts/{group['id']}/grants", {"credits": 10}), 201)
    service = given.service()

    with nothing_changes(store):
        others_group = api.post(alice, "/sessions", book_body(service, slot_in(72), group["id"]))
        others_personal = api.post(
            alice, "/sessions", book_body(service, slot_in(72), personal_account_id(bob.id))
        )
        missing = api.post(alice, "/sessions", book_body(service, slot_in(72), "group-nope"))

    assert_problem(others_group, 404, "NOT_FOUND")
    assert_problem(others_personal, 404, "NOT_FOUND")
    assert_problem(missing, 404, "NOT_FOUND")


@pytest.mark.parametrize("who", [coach, support, admin], ids=["coach", "support", "admin"])
def test_only_members_book(api: Api, given: World, store: Storage, who: Any) -> None:
    service = given.service()

    with nothing_changes(store):
        reply = api.post(who(), "/sessions", book_body(service, slot_in(72)))

    assert_problem(reply, 403, "FORBIDDEN")


def test_booking_more_than_the_balance_is_refused_and_claims_no_slot(
    api: Api, given: World, store: Storage
) -> None:
    alice, bob = member(), member()
    service = given.service(credits=3)
    given.fund(alice, 2)
    given.fund(bob, 3)
    start = slot_in(72)

    with nothing_changes(store):
        reply = api.post(alice, "/sessions", book_body(service, start))

    assert_problem(reply, 409, "INSUFFICIENT_CREDITS")
    assert balance(store, personal_account_id(alice.id)) == 2
    # the time was not held by the refused booking
    assert api.post(bob, "/sessions", book_body(service, start)).status == 201


def test_an_empty_personal_account_cannot_pay(api: Api, given: World, store: Storage) -> None:
    service = given.service(credits=1)

    with nothing_changes(store):
        reply = api.post(member(), "/sessions", book_body(service, slot_in(72)))

    assert_problem(reply, 409, "INSUFFICIENT_CREDITS")


@pytest.mark.parametrize("offset_minutes", [0, 30, -45], ids=["same", "later-half", "earlier"])
def test_a_time_overlapping_the_coachs_session_is_taken(
    api: Api, given: World, store: Storage, offset_minutes: int
) -> None:
    alice, bob = member(), member()
    service = given.service(minutes=60, credits=3)
    given.fund(alice, 10)
    given.fund(bob, 10)
    start = slot_in(72)
    assert_ok(api.post(alice, "/sessions", book_body(service, start)), 201)
    overlapping = start + timedelta(minutes=offset_minutes)

    with nothing_changes(store):
        reply = api.post(bob, "/sessions", book_body(service, overlapping))

    assert_problem(reply, 409, "SLOT_TAKEN")
    assert balance(store, personal_account_id(bob.id)) == 10


def test_back_to_back_sessions_do_not_overlap(api: Api, given: World) -> None:
    alice, bob = member(), member()
    service = given.service(minutes=60)
    given.fund(alice, 10)
    given.fund(bob, 10)
    start = slot_in(72)
    assert_ok(api.post(alice, "/sessions", book_body(service, start)), 201)

    after = api.post(bob, "/sessions", book_body(service, start + timedelta(minutes=60)))

    assert after.status == 201, after.text


# --- POST /sessions/{id}/approve and /decline --------------------------------------------------


def _requested(api: Api, given: World) -> tuple[Any, Any, dict[str, Any]]:
    alice, carol = member(), coach()
    service = given.service(by=carol, credits=3, requires_approval=True)
    given.fund(alice, 10)
    return alice, carol, book(api, alice, service)


@pytest.mark.parametrize("by", ["coach", "support"])
def test_the_coach_or_support_approves_a_booking_request(
    api: Api, given: World, store: Storage, by: str
) -> None:
    alice, carol, session = _requested(api, given)
    who = carol if by == "coach" else support()

    reply = api.post(who, f"/sessions/{session['id']}/approve")

    approved = assert_ok(reply)
    assert approved["status"] == "SCHEDULED" and approved["request_expires_at"] is None
    assert approved["history"][-1]["kind"] == "APPROVED"
    assert status_of(store, session["id"]) == "SCHEDULED"
    assert balance(store, personal_account_id(alice.id)) == 7


@pytest.mark.parametrize("by", ["coach", "support"])
def test_declining_a_booking_request_releases_the_held_credits(
    api: Api, given: World, store: Storage, by: str
) -> None:
    alice, carol, session = _requested(api, given)
    who = carol if by == "coach" else support()

    reply = api.post(who, f"/sessions/{session['id']}/decline")

    declined = assert_ok(reply)
    assert declined["status"] == "DECLINED"
    assert balance(store, personal_account_id(alice.id)) == 10
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT", "RELEASE"]
    assert session["id"] in listed_ids(api, alice, "past")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_the_member_may_not_answer_their_own_request(
    api: Api, given: World, store: Storage, answer: str
) -> None:
    alice, _, session = _requested(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/{answer}")

    assert_problem(reply, 403, "FORBIDDEN")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_a_request_is_not_found_by_another_coach_or_under_an_unknown_id(
    api: Api, given: World, store: Storage, answer: str
) -> None:
    _, _, session = _requested(api, given)

    with nothing_changes(store):
        other = api.post(coach(), f"/sessions/{session['id']}/{answer}")
        unknown = api.post(support(), f"/sessions/no-such-session/{answer}")

    assert_problem(other, 404, "NOT_FOUND")
    assert_problem(unknown, 404, "NOT_FOUND")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_answering_what_is_not_a_pending_request_is_refused(
    api: Api, given: World, store: Storage, answer: str
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    scheduled = book(api, alice, given.service(by=carol))
    _, requester_coach, requested = _requested(api, given)
    assert_ok(api.post(requester_coach, f"/sessions/{requested['id']}/decline"))

    with nothing_changes(store):
        on_scheduled = api.post(carol, f"/sessions/{scheduled['id']}/{answer}")
        on_declined = api.post(requester_coach, f"/sessions/{requested['id']}/{answer}")

    assert_problem(on_scheduled, 409, "NOT_PENDING")
    assert_problem(on_declined, 409, "NOT_PENDING")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_a_request_past_its_deadline_can_no_longer_be_answered(
    api: Api, given: World, store: Storage, answer: str, travel: TimeTravel
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    service = given.service(by=carol, requires_approval=True, request_ttl_hours=1)
    session = book(api, alice, service, hours=72)
    travel.advance(2 * 3600)

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session['id']}/{answer}")

    assert_problem(reply, 409, "NOT_PENDING")
