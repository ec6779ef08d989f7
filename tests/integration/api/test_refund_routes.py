"""POST /sessions/{id}/refund: the coach's or support's refund of what did not come back."""

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
    entries,
    entry_kinds,
    nothing_changes,
)


def _late_canceled(api: Api, given: World, credits: int = 4) -> tuple[Caller, Caller, str]:
    """A session the member canceled 12 hours before the start: nothing came back."""
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=credits), hours=12)
    canceled = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    assert canceled["cancellation"]["refundable"] is False
    return alice, carol, session["id"]


@pytest.mark.parametrize("by", ["coach", "support"])
def test_a_refund_without_a_body_gives_back_everything_not_yet_refunded(
    api: Api, given: World, store: Storage, by: str
) -> None:
    alice, carol, session_id = _late_canceled(api, given)
    who = carol if by == "coach" else support()

    reply = api.post(who, f"/sessions/{session_id}/refund")

    refunded = assert_ok(reply)
    assert refunded["refund"]["status"] == "EXCEPTION" and refunded["refund"]["credits"] == 4
    assert refunded["refund"]["refunded_at"] is not None
    assert refunded["history"][-1]["kind"] == "REFUNDED"
    assert balance(store, personal_account_id(alice.id)) == 10
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT", "REFUND"]


def test_a_partial_refund_then_the_rest(api: Api, given: World, store: Storage) -> None:
    alice, carol, session_id = _late_canceled(api, given, credits=4)

    first = assert_ok(
        api.post(carol, f"/sessions/{session_id}/refund", {"credits": 1, "note": "Goodwill"})
    )
    rest = assert_ok(api.post(support(), f"/sessions/{session_id}/refund", {}))

    assert first["refund"] == {**first["refund"], "status": "PARTIAL", "credits": 1}
    assert rest["refund"]["status"] == "EXCEPTION" and rest["refund"]["credits"] == 4
    assert balance(store, personal_account_id(alice.id)) == 10
    newest = entries(store, personal_account_id(alice.id))
    notes = {(e.credits, e.note) for e in newest if e.kind.value == "REFUND"}
    assert notes == {(1, "Goodwill"), (3, None)}
    history = api.get(alice, f"/sessions/{session_id}").json["history"]
    assert [(e["credits"], e["reason"]) for e in history if e["kind"] == "REFUNDED"] == [
        (1, "Goodwill"),
        (3, None),
    ]


def test_a_session_that_started_can_be_refunded_by_its_coach(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=2)
    travel.advance(3 * 3600)

    refunded = assert_ok(api.post(carol, f"/sessions/{session['id']}/refund", {}))

    assert refunded["refund"]["status"] == "EXCEPTION"
    assert balance(store, personal_account_id(alice.id)) == 10


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_body_that_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    _, carol, session_id = _late_canceled(api, given)

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session_id}/refund", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credits": 0}, "credits"),
        ({"credits": -2}, "credits"),
        ({"credits": 5}, "credits"),  # more than the 4 paid
        ({"credits": "all"}, "credits"),
        ({"credits": 1.5}, "credits"),
        ({"note": "n" * 501}, "note"),
        ({"credits": 1, "to_account": "personal-x"}, "to_account"),
    ],
    ids=[
        "zero",
        "negative",
        "more than paid",
        "not a number",
        "fraction",
        "note too long",
        "unknown field",
    ],
)
def test_an_invalid_refund_fails_validation_and_moves_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    _, carol, session_id = _late_canceled(api, given, credits=4)

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session_id}/refund", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_more_than_what_is_left_after_a_partial_refund_fails_validation(
    api: Api, given: World, store: Storage
) -> None:
    _, carol, session_id = _late_canceled(api, given, credits=4)
    assert_ok(api.post(carol, f"/sessions/{session_id}/refund", {"credits": 3}))

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session_id}/refund", {"credits": 2})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="credits")


def test_the_member_may_not_refund(api: Api, given: World, store: Storage) -> None:
    alice, _, session_id = _late_canceled(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session_id}/refund", {})

    assert_problem(reply, 403, "FORBIDDEN")


def test_a_session_that_is_not_theirs_is_not_found(api: Api, given: World, store: Storage) -> None:
    _, _, session_id = _late_canceled(api, given)

    with nothing_changes(store):
        replies = [
            api.post(who, f"/sessions/{session_id}/refund", {})
            for who in (member(), coach(), admin())
        ]
        unknown = api.post(support(), "/sessions/no-such-session/refund", {})

    for reply in [*replies, unknown]:
        assert_problem(reply, 404, "NOT_FOUND")


def test_nothing_to_refund_after_an_automatic_refund(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=72)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session['id']}/refund", {})

    assert_problem(reply, 409, "NOTHING_TO_REFUND")


def test_nothing_to_refund_after_a_full_refund(api: Api, given: World, store: Storage) -> None:
    alice, carol, session_id = _late_canceled(api, given)
    assert_ok(api.post(carol, f"/sessions/{session_id}/refund", {}))

    with nothing_changes(store):
        again = api.post(support(), f"/sessions/{session_id}/refund", {"credits": 1})

    assert_problem(again, 409, "NOTHING_TO_REFUND")
    assert balance(store, personal_account_id(alice.id)) == 10


def test_an_upcoming_session_is_canceled_not_refunded(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=72)

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session['id']}/refund", {})

    assert_problem(reply, 409, "SESSION_STILL_UPCOMING")
