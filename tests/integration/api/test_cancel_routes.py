"""POST /sessions/{id}/cancel: every answer the contract names, and nothing changed on refusal."""

from datetime import timedelta
from typing import Any

import pytest

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
    entry_kinds,
    nothing_changes,
    parse,
    status_of,
)


def _booked(api: Api, given: World, *, hours: float = 72) -> tuple[Caller, Caller, dict[str, Any]]:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    return alice, carol, book(api, alice, given.service(by=carol, credits=3), hours=hours)


@pytest.mark.parametrize("by", ["member", "coach", "support"])
def test_a_cancel_inside_the_window_refunds_whoever_cancels(
    api: Api, given: World, store: Storage, by: str
) -> None:
    alice, carol, session = _booked(api, given)
    who = {"member": alice, "coach": carol, "support": support()}[by]

    reply = api.post(who, f"/sessions/{session['id']}/cancel", {"reason": "Plans changed"})

    canceled = assert_ok(reply)
    assert canceled["status"] == "CANCELED"
    assert canceled["cancellation"]["canceled_by"] == {"id": who.id, "role": who.role.value}
    assert canceled["cancellation"]["reason"] == "Plans changed"
    assert canceled["cancellation"]["refundable"] is True
    assert canceled["refund"]["status"] == "AUTOMATIC" and canceled["refund"]["credits"] == 3
    assert status_of(store, session["id"]) == "CANCELED"
    assert balance(store, personal_account_id(alice.id)) == 10
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT", "REFUND"]


@pytest.mark.parametrize("body", [None, {}, {"reason": None}], ids=["no body", "{}", "null"])
def test_the_reason_is_optional(api: Api, given: World, body: Any) -> None:
    alice, _, session = _booked(api, given)

    canceled = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", body))

    assert canceled["status"] == "CANCELED" and canceled["cancellation"]["reason"] is None


def test_a_reason_of_exactly_500_characters_is_kept(api: Api, given: World) -> None:
    alice, carol, session = _booked(api, given)

    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {"reason": "r" * 500}))

    detail = assert_ok(api.get(carol, f"/sessions/{session['id']}"))
    assert detail["cancellation"]["reason"] == "r" * 500


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_body_that_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    alice, _, session = _booked(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/cancel", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x" * 501}, "reason"),
        ({"reason": 42}, "reason"),
        ({"reason": ["too", "busy"]}, "reason"),
        ({"reason": "ok", "refund": True}, "refund"),
        ({"expected_refund_credits": -1}, "expected_refund_credits"),
        ({"expected_refund_credits": "3"}, "expected_refund_credits"),
        ({"expected_refund_credits": True}, "expected_refund_credits"),
        ({"expected_refund_credits": 10_001}, "expected_refund_credits"),
    ],
    ids=[
        "reason too long",
        "reason a number",
        "reason a list",
        "unknown field",
        "expected refund negative",
        "expected refund a string",
        "expected refund a boolean",
        "expected refund too large",
    ],
)
def test_an_invalid_body_fails_validation_and_cancels_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    alice, _, session = _booked(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/cancel", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)
    assert status_of(store, session["id"]) == "SCHEDULED"


def test_a_session_that_is_not_theirs_is_not_found(api: Api, given: World, store: Storage) -> None:
    _, _, session = _booked(api, given)

    with nothing_changes(store):
        replies = [
            api.post(who, f"/sessions/{session['id']}/cancel", {})
            for who in (member(), coach(), admin())
        ]
        unknown = api.post(support(), "/sessions/no-such-session/cancel", {})

    for reply in [*replies, unknown]:
        assert_problem(reply, 404, "NOT_FOUND")


def test_a_second_cancel_is_refused_and_refunds_nothing_more(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _booked(api, given)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    with nothing_changes(store):
        again = api.post(alice, f"/sessions/{session['id']}/cancel", {})
        by_coach = api.post(carol, f"/sessions/{session['id']}/cancel", {})

    assert_problem(again, 409, "SESSION_NOT_UPCOMING")
    assert_problem(by_coach, 409, "SESSION_NOT_UPCOMING")
    assert balance(store, personal_account_id(alice.id)) == 10
    assert entry_kinds(store, personal_account_id(alice.id)).count("REFUND") == 1


@pytest.mark.parametrize("by", ["member", "coach", "support"])
def test_a_session_that_has_started_cannot_be_canceled(
    api: Api, given: World, store: Storage, by: str, travel: TimeTravel
) -> None:
    alice, carol, session = _booked(api, given, hours=2)
    who = {"member": alice, "coach": carol, "support": support()}[by]
    travel.advance(2 * 3600 + 60)  # just past the start

    with nothing_changes(store):
        reply = api.post(who, f"/sessions/{session['id']}/cancel", {})

    assert_problem(reply, 409, "SESSION_NOT_UPCOMING")
    assert balance(store, personal_account_id(alice.id)) == 7


def test_a_declined_request_cannot_be_canceled(api: Api, given: World, store: Storage) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, requires_approval=True))
    assert_ok(api.post(carol, f"/sessions/{session['id']}/decline"))

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/cancel", {})

    assert_problem(reply, 409, "SESSION_NOT_UPCOMING")


def test_withdrawing_a_booking_request_releases_the_held_credits(
    api: Api, given: World, store: Storage
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3, requires_approval=True), hours=6)

    canceled = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    assert canceled["status"] == "CANCELED" and canceled["cancellation"]["refundable"] is True
    assert balance(store, personal_account_id(alice.id)) == 10


def test_a_cancel_confirming_the_quoted_refund_goes_through(
    api: Api, given: World, store: Storage
) -> None:
    alice, _, session = _booked(api, given)
    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))

    canceled = assert_ok(
        api.post(
            alice,
            f"/sessions/{session['id']}/cancel",
            {"reason": "Ill", "expected_refund_credits": quote["refund_credits"]},
        )
    )

    assert canceled["refund"] == {**canceled["refund"], "status": "AUTOMATIC", "credits": 3}
    assert balance(store, personal_account_id(alice.id)) == 10


def test_a_window_that_closed_after_the_quote_refuses_the_cancel_and_changes_nothing(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    # Given the dialog quoted a full refund a minute before the 24-hour window closed (the
    # clock set there: the grid rounds a start down to the quarter hour, and the clock ticks)
    alice, _, session = _booked(api, given, hours=24.25)
    travel.set(parse(session["policy"]["refundable_until"]) - timedelta(minutes=1))
    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))
    assert quote["refund_credits"] == 3

    # When the member confirms two minutes later, naming the refund they were shown
    travel.advance(120)
    with nothing_changes(store):
        late = api.post(
            alice,
            f"/sessions/{session['id']}/cancel",
            {"expected_refund_credits": 3},
            headers={"Idempotency-Key": "confirm-1"},
        )

    # Then nothing is canceled, and the answer says what a cancel gives back now
    problem = assert_problem(late, 409, "QUOTE_CHANGED")
    assert "gives back 0 credits, not 3" in problem["detail"]
    assert status_of(store, session["id"]) == "SCHEDULED"
    # and once they have seen the new quote, the same key confirms the cancel without a refund
    again = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))
    canceled = assert_ok(
        api.post(
            alice,
            f"/sessions/{session['id']}/cancel",
            {"expected_refund_credits": again["refund_credits"]},
            headers={"Idempotency-Key": "confirm-1"},
        )
    )
    assert again["refund_credits"] == 0
    assert canceled["cancellation"]["refundable"] is False
    assert balance(store, personal_account_id(alice.id)) == 7
