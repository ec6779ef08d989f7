"""POST /sessions/{id}/reschedule and /reschedule-request/approve and /decline."""

from datetime import timedelta, timezone
from typing import Any

import pytest

from coaching import clock, operations
from coaching.models import Caller, personal_account_id
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
    nothing_changes,
    parse,
    slot_in,
)


def _booked(
    api: Api, given: World, *, hours: float = 72, late_needs_approval: bool = False
) -> tuple[Caller, Caller, dict[str, Any]]:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    service = given.service(
        by=carol, credits=3, late_reschedule_requires_approval=late_needs_approval
    )
    return alice, carol, book(api, alice, service, hours=hours)


def _pending(api: Api, given: World) -> tuple[Caller, Caller, dict[str, Any], str]:
    """A session 12 hours out whose member asked, late, to move it; the coach must answer."""
    alice, carol, session = _booked(api, given, hours=12, late_needs_approval=True)
    asked = parse(session["start"]) + timedelta(hours=3)
    # Set up with the operation itself, so that these tests of the answer routes do not
    # depend on the 202 answer of POST .../reschedule, which has a test of its own.
    _, mode = operations.reschedule(given.store, alice, session["id"], asked, None, clock.now())
    assert mode == "REQUEST"
    return alice, carol, session, iso(asked)


# --- POST /sessions/{id}/reschedule ----------------------------------------------------------


@pytest.mark.parametrize("by", ["member", "coach", "support"])
def test_a_reschedule_moves_the_session_and_keeps_its_credits(
    api: Api, given: World, store: Storage, by: str
) -> None:
    alice, carol, session = _booked(api, given)
    who = {"member": alice, "coach": carol, "support": support()}[by]
    new_start = slot_in(96)

    reply = api.post(who, f"/sessions/{session['id']}/reschedule", {"start": iso(new_start)})

    moved = assert_ok(reply)
    assert moved["id"] == session["id"] and moved["status"] == "SCHEDULED"
    assert parse(moved["start"]) == new_start
    assert parse(moved["end"]) == new_start + timedelta(minutes=60)
    assert moved["credits"] == 3 and moved["account_id"] == session["account_id"]
    # a move the member did not make keeps their free cancellation until the new start
    kept = by != "member"
    assert parse(moved["policy"]["refundable_until"]) == (
        new_start if kept else new_start - timedelta(hours=24)
    )
    assert moved["policy"]["kept_after_move"] is kept
    event = moved["history"][-1]
    assert event["kind"] == "RESCHEDULED"
    assert parse(event["previous_start"]) == parse(session["start"])
    assert balance(store, personal_account_id(alice.id)) == 7
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT"]


def test_a_move_to_an_overlapping_time_of_its_own_is_allowed(api: Api, given: World) -> None:
    alice, _, session = _booked(api, given)
    half_hour_later = parse(session["start"]) + timedelta(minutes=30)

    reply = api.post(
        alice, f"/sessions/{session['id']}/reschedule", {"start": iso(half_hour_later)}
    )

    assert parse(assert_ok(reply)["start"]) == half_hour_later


def test_the_old_time_is_free_again_after_a_move(api: Api, given: World) -> None:
    alice, _carol, session = _booked(api, given)
    service = given.store.get_service(session["service"]["id"])
    assert service is not None
    bob = member()
    given.fund(bob, 10)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(96))}))

    reply = api.post(bob, "/sessions", book_body(service, parse(session["start"])))

    assert reply.status == 201, reply.text


def test_a_coach_moves_a_session_inside_the_window(api: Api, given: World) -> None:
    _, carol, session = _booked(api, given, hours=12)

    reply = api.post(carol, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(30))})

    assert assert_ok(reply)["status"] == "SCHEDULED"


def test_a_late_member_move_waits_for_the_coach_where_the_service_asks_so(
    api: Api, given: World, store: Storage
) -> None:
    alice, _, session = _booked(api, given, hours=12, late_needs_approval=True)
    asked = parse(session["start"]) + timedelta(hours=3)

    reply = api.post(
        alice, f"/sessions/{session['id']}/reschedule", {"start": iso(asked), "reason": "Flight"}
    )

    assert reply.status == 202, reply.text
    body = reply.json
    assert parse(body["reschedule_request"]["start"]) == asked
    assert body["reschedule_request"]["reason"] == "Flight"
    assert parse(body["session"]["start"]) == parse(session["start"])  # not moved yet
    assert body["session"]["reschedule_request"] is not None
    assert balance(store, personal_account_id(alice.id)) == 7


def test_a_late_member_move_is_refused_where_the_service_does_not_allow_it(
    api: Api, given: World, store: Storage
) -> None:
    alice, _, session = _booked(api, given, hours=12)

    with nothing_changes(store):
        reply = api.post(
            alice, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(36))}
        )

    assert_problem(reply, 409, "RESCHEDULE_WINDOW_CLOSED")


def test_a_time_the_coach_already_has_is_taken(api: Api, given: World, store: Storage) -> None:
    alice, carol, session = _booked(api, given)
    service = given.store.get_service(session["service"]["id"])
    assert service is not None
    bob = member()
    given.fund(bob, 10)
    taken = slot_in(96)
    assert_ok(api.post(bob, "/sessions", book_body(service, taken)), 201)

    with nothing_changes(store):
        exact = api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(taken)})
        overlap = api.post(
            carol,
            f"/sessions/{session['id']}/reschedule",
            {"start": iso(taken - timedelta(minutes=45))},
        )

    assert_problem(exact, 409, "SLOT_TAKEN")
    assert_problem(overlap, 409, "SLOT_TAKEN")


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_body_that_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    alice, _, session = _booked(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/reschedule", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


INVALID = {
    "start missing": ({}, "start"),
    "start not a time": ({"start": "soon"}, "start"),
    "start without an offset": ({"start": "NAIVE"}, "start"),
    "start in the past": ({"start": "PAST"}, "start"),
    "start off the 15-minute grid": ({"start": "UNALIGNED"}, "start"),
    "start the current time": ({"start": "SAME"}, "start"),
    "reason too long": ({"start": "LATER", "reason": "x" * 501}, "reason"),
    "reason a number": ({"start": "LATER", "reason": 7}, "reason"),
    "unknown field": ({"start": "LATER", "notify": False}, "notify"),
}


@pytest.mark.parametrize(("body", "field"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_body_fails_validation_and_moves_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    alice, _, session = _booked(api, given)
    current = parse(session["start"])
    later = slot_in(96)
    start = {
        "NAIVE": later.replace(tzinfo=None).isoformat(),
        "PAST": iso(slot_in(-1)),
        "UNALIGNED": iso(later.replace(minute=10)),
        "SAME": iso(current),
        "LATER": iso(later),
    }
    if isinstance(body.get("start"), str) and body["start"] in start:
        body = {**body, "start": start[body["start"]]}

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/reschedule", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_a_session_that_is_not_theirs_is_not_found(api: Api, given: World, store: Storage) -> None:
    _, _, session = _booked(api, given)
    body = {"start": iso(slot_in(96))}

    with nothing_changes(store):
        replies = [
            api.post(who, f"/sessions/{session['id']}/reschedule", body)
            for who in (member(), coach(), admin())
        ]
        unknown = api.post(support(), "/sessions/no-such-session/reschedule", body)

    for reply in [*replies, unknown]:
        assert_problem(reply, 404, "NOT_FOUND")


def test_a_canceled_session_cannot_be_moved(api: Api, given: World, store: Storage) -> None:
    alice, carol, session = _booked(api, given)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    with nothing_changes(store):
        by_member = api.post(
            alice, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(96))}
        )
        by_coach = api.post(
            carol, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(96))}
        )

    assert_problem(by_member, 409, "SESSION_NOT_UPCOMING")
    assert_problem(by_coach, 409, "SESSION_NOT_UPCOMING")


def test_a_started_session_cannot_be_moved(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    _, carol, session = _booked(api, given, hours=2)
    travel.advance(2 * 3600 + 60)

    with nothing_changes(store):
        reply = api.post(
            carol, f"/sessions/{session['id']}/reschedule", {"start": iso(slot_in(48))}
        )

    assert_problem(reply, 409, "SESSION_NOT_UPCOMING")


# --- POST /sessions/{id}/reschedule-request/approve and /decline ------------------------------


@pytest.mark.parametrize("by", ["coach", "support"])
def test_approving_a_reschedule_request_moves_the_session(api: Api, given: World, by: str) -> None:
    _alice, carol, session, asked = _pending(api, given)
    who = carol if by == "coach" else support()

    reply = api.post(who, f"/sessions/{session['id']}/reschedule-request/approve")

    moved = assert_ok(reply)
    assert parse(moved["start"]) == parse(asked)
    assert moved["reschedule_request"] is None
    assert moved["history"][-1]["kind"] == "RESCHEDULE_APPROVED"
    assert parse(moved["history"][-1]["previous_start"]) == parse(session["start"])
    assert moved["credits"] == 3


@pytest.mark.parametrize("by", ["coach", "support"])
def test_declining_a_reschedule_request_keeps_the_time_and_frees_the_asked_one(
    api: Api, given: World, by: str
) -> None:
    _, carol, session, asked = _pending(api, given)
    who = carol if by == "coach" else support()
    service = given.store.get_service(session["service"]["id"])
    assert service is not None
    bob = member()
    given.fund(bob, 10)
    held = api.post(bob, "/sessions", book_body(service, parse(asked)))
    assert_problem(held, 409, "SLOT_TAKEN")  # held while the coach decides

    reply = api.post(who, f"/sessions/{session['id']}/reschedule-request/decline")

    kept = assert_ok(reply)
    assert parse(kept["start"]) == parse(session["start"])
    assert kept["reschedule_request"] is None
    assert kept["history"][-1]["kind"] == "RESCHEDULE_DECLINED"
    assert api.post(bob, "/sessions", book_body(service, parse(asked))).status == 201


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_the_member_may_not_answer_their_own_reschedule_request(
    api: Api, given: World, store: Storage, answer: str
) -> None:
    alice, _, session, _ = _pending(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/reschedule-request/{answer}")

    assert_problem(reply, 403, "FORBIDDEN")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_a_reschedule_request_is_not_found_by_strangers(
    api: Api, given: World, store: Storage, answer: str
) -> None:
    _, _, session, _ = _pending(api, given)

    with nothing_changes(store):
        replies = [
            api.post(who, f"/sessions/{session['id']}/reschedule-request/{answer}")
            for who in (member(), coach(), admin())
        ]
        unknown = api.post(support(), f"/sessions/no-such-session/reschedule-request/{answer}")

    for reply in [*replies, unknown]:
        assert_problem(reply, 404, "NOT_FOUND")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_answering_when_nothing_is_pending_is_refused(
    api: Api, given: World, store: Storage, answer: str
) -> None:
    _, carol, plain = _booked(api, given)
    _, other_coach, answered, _ = _pending(api, given)
    assert_ok(api.post(other_coach, f"/sessions/{answered['id']}/reschedule-request/approve"))

    with nothing_changes(store):
        never_asked = api.post(carol, f"/sessions/{plain['id']}/reschedule-request/{answer}")
        already = api.post(other_coach, f"/sessions/{answered['id']}/reschedule-request/{answer}")

    assert_problem(never_asked, 409, "NOT_PENDING")
    assert_problem(already, 409, "NOT_PENDING")


@pytest.mark.parametrize("answer", ["approve", "decline"])
def test_a_reschedule_request_past_its_deadline_can_no_longer_be_answered(
    api: Api, given: World, store: Storage, answer: str, travel: TimeTravel
) -> None:
    _, carol, session, _ = _pending(api, given)
    travel.advance(13 * 3600)  # past the session's start, where every request ends

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session['id']}/reschedule-request/{answer}")

    assert_problem(reply, 409, "NOT_PENDING")


@pytest.mark.parametrize("by", ["member", "coach"])
def test_a_move_given_with_another_offset_is_answered_and_kept_in_utc(
    api: Api, given: World, by: str
) -> None:
    alice, carol, session = _booked(api, given)
    who = {"member": alice, "coach": carol}[by]
    target = parse(session["start"]) + timedelta(days=1)
    tokyo = target.astimezone(timezone(timedelta(hours=9))).isoformat()

    moved = api.post(who, f"/sessions/{session['id']}/reschedule", {"start": tokyo})
    read = api.get(who, f"/sessions/{session['id']}")

    assert_ok(moved, 200)
    in_utc = target.strftime("%Y-%m-%dT%H:%M:%SZ")
    for answer in (moved.json, read.json):
        assert (answer["start"], answer["history"][-1]["start"]) == (in_utc, in_utc)
        assert answer["end"].endswith("Z")
