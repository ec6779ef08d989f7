"""POST /sessions/{id}/no-show: who did not turn up, and the credits a coach's absence returns."""

from datetime import timedelta
from typing import Any

import pytest

from coaching import clock, operations
from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, coach, member, support

from .api_steps import (
    assert_ok,
    assert_problem,
    balance,
    book,
    entry_kinds,
    listed_ids,
    nothing_changes,
    parse,
    status_of,
)
from .api_steps import travel as steps_travel

DAY = 24 * 3600


def _started(
    api: Api, given: World, credits: int = 3, **service: Any
) -> tuple[Caller, Caller, dict[str, Any]]:
    """A 60-minute session booked two hours out, and the clock moved to its first minute."""
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=credits, **service), hours=2)
    steps_travel().set(parse(session["start"]))
    return alice, carol, session


def test_the_coach_marks_the_member_absent_and_nothing_comes_back(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _started(api, given)

    marked = assert_ok(api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}))

    assert marked["status"] == "NO_SHOW"
    assert marked["no_show"] == {
        "party": "MEMBER",
        "marked_by": {"id": carol.id, "role": "coach"},
        "marked_at": marked["no_show"]["marked_at"],
    }
    assert abs((parse(marked["no_show"]["marked_at"]) - clock.now()).total_seconds()) < 60
    assert marked["history"][-1]["kind"] == "NO_SHOW"
    assert marked["history"][-1]["party"] == "MEMBER"
    assert marked["refund"]["status"] == "NONE"
    assert marked["view"] == "past"
    # though its hour is not over, it lists with the past ones
    assert session["id"] in listed_ids(api, alice, "past")
    assert session["id"] not in listed_ids(api, carol, "upcoming")
    assert balance(store, personal_account_id(alice.id)) == 7
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT"]


def test_support_marks_the_coach_absent_and_every_credit_comes_back_in_the_same_step(
    api: Api, given: World, store: Storage
) -> None:
    alice, _, session = _started(api, given)
    steps_travel().advance(2 * 3600)  # over now

    marked = assert_ok(
        api.post(support(), f"/sessions/{session['id']}/no-show", {"party": "COACH"})
    )

    assert marked["status"] == "NO_SHOW" and marked["no_show"]["party"] == "COACH"
    assert marked["refund"]["status"] == "AUTOMATIC" and marked["refund"]["credits"] == 3
    assert marked["history"][-1]["credits"] == 3
    assert balance(store, personal_account_id(alice.id)) == 10
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT", "REFUND"]
    given.assert_ledger_consistent(personal_account_id(alice.id))


def test_a_coach_no_show_returns_only_what_was_not_refunded_already(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _started(api, given, credits=5)
    steps_travel().advance(2 * 3600)
    assert_ok(api.post(carol, f"/sessions/{session['id']}/refund", {"credits": 2}))

    marked = assert_ok(
        api.post(support(), f"/sessions/{session['id']}/no-show", {"party": "COACH"})
    )

    assert marked["refund"]["credits"] == 5
    assert balance(store, personal_account_id(alice.id)) == 10
    # and nothing is left to refund by hand
    assert_problem(
        api.post(support(), f"/sessions/{session['id']}/refund", {}), 409, "NOTHING_TO_REFUND"
    )


def test_a_member_no_show_can_still_be_refunded_as_an_exception(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _started(api, given)
    assert_ok(api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}))

    refunded = assert_ok(api.post(support(), f"/sessions/{session['id']}/refund", {}))

    assert refunded["status"] == "NO_SHOW" and refunded["refund"]["credits"] == 3
    assert balance(store, personal_account_id(alice.id)) == 10


def test_the_coach_records_their_own_absence_and_the_member_gets_every_credit_back(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _started(api, given)

    marked = assert_ok(api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "COACH"}))

    assert marked["no_show"]["party"] == "COACH"
    assert marked["no_show"]["marked_by"] == {"id": carol.id, "role": "coach"}
    assert marked["refund"]["status"] == "AUTOMATIC" and marked["refund"]["credits"] == 3
    assert balance(store, personal_account_id(alice.id)) == 10
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "DEBIT", "REFUND"]
    given.assert_ledger_consistent(personal_account_id(alice.id))


def test_a_member_cannot_mark_anyone_and_strangers_see_nothing(
    api: Api, given: World, store: Storage
) -> None:
    alice, _, session = _started(api, given)
    path = f"/sessions/{session['id']}/no-show"

    with nothing_changes(store):
        assert_problem(api.post(alice, path, {"party": "MEMBER"}), 403, "FORBIDDEN")
        assert_problem(api.post(alice, path, {"party": "COACH"}), 403, "FORBIDDEN")
        assert_problem(api.post(member(), path, {"party": "MEMBER"}), 404, "NOT_FOUND")
        assert_problem(api.post(coach(), path, {"party": "MEMBER"}), 404, "NOT_FOUND")


def test_before_the_start_it_is_still_upcoming_to_the_second(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol), hours=2)
    steps_travel().set(parse(session["start"]) - timedelta(seconds=1))

    with nothing_changes(store):
        assert_problem(
            api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}),
            409,
            "SESSION_STILL_UPCOMING",
        )
    steps_travel().advance(1)
    assert_ok(api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}))


def test_until_seven_days_after_the_end_and_the_sweep_in_between_changes_nothing(
    api: Api, given: World, store: Storage
) -> None:
    _, carol, session = _started(api, given)
    # The sweep completes the session once it is over; it can still be marked a week on.
    steps_travel().advance(3600 + 7 * DAY)
    stored = store.get_session(session["id"])
    assert stored is not None
    assert operations.sweep_session(store, stored, clock.now()) == "COMPLETE"
    steps_travel().advance(1)

    with nothing_changes(store):
        assert_problem(
            api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}),
            409,
            "SESSION_NOT_UPCOMING",
        )


def test_a_completed_session_is_marked_and_the_sweep_leaves_it_alone(
    api: Api, given: World, store: Storage
) -> None:
    _, carol, session = _started(api, given)
    steps_travel().advance(2 * 3600)
    stored = store.get_session(session["id"])
    assert stored is not None
    assert operations.sweep_session(store, stored, clock.now()) == "COMPLETE"

    marked = assert_ok(api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}))
    now_stored = store.get_session(session["id"])
    assert now_stored is not None

    assert marked["status"] == "NO_SHOW"
    assert operations.sweep_session(store, now_stored, clock.now() + timedelta(days=30)) is None
    assert status_of(store, session["id"]) == "NO_SHOW"


@pytest.mark.parametrize("party", ["MEMBER", "COACH"])
def test_a_session_is_marked_once(api: Api, given: World, store: Storage, party: str) -> None:
    _, _, session = _started(api, given)
    path = f"/sessions/{session['id']}/no-show"
    assert_ok(api.post(support(), path, {"party": party}))

    with nothing_changes(store):
        for again in ("MEMBER", "COACH"):
            refused = assert_problem(
                api.post(support(), path, {"party": again}), 409, "NO_SHOW_ALREADY_MARKED"
            )
            absent = "the member" if party == "MEMBER" else "the coach"
            assert refused["title"] == "No-show already marked"
            assert refused["detail"] == f"This session is already marked: {absent} did not attend."


def test_a_canceled_session_cannot_be_marked(api: Api, given: World, store: Storage) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol), hours=2)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    steps_travel().advance(3 * 3600)

    with nothing_changes(store):
        assert_problem(
            api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}),
            409,
            "SESSION_NOT_UPCOMING",
        )


@pytest.mark.parametrize(
    "body", [None, {}, {"party": "member"}, {"party": "BOTH"}, {"party": "MEMBER", "x": 1}]
)
def test_party_is_required_and_must_be_one_of_the_two(
    api: Api, given: World, store: Storage, body: Any
) -> None:
    _, carol, session = _started(api, given)

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session['id']}/no-show", body)

    if body is None:  # as for a move: a route whose body is required needs an object
        assert_problem(reply, 400, "MALFORMED_REQUEST")
    else:
        assert_problem(reply, 422, "VALIDATION_FAILED")


def test_the_detail_offers_marking_to_staff_only_once_it_started(api: Api, given: World) -> None:
    alice, carol, session = _started(api, given)

    def offered(who: Caller) -> bool:
        detail = assert_ok(api.get(who, f"/sessions/{session['id']}"))
        return bool(detail["actions"]["can_mark_no_show"])

    assert (offered(alice), offered(carol), offered(support())) == (False, True, True)
    assert_ok(api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"}))
    assert offered(carol) is False
