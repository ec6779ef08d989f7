"""The rules added after the first product walk, over the HTTP API: a coach's move keeps the
member's refund; a reschedule request lapses an hour before the start, reads as expired at once,
and can be withdrawn; every reason is kept in the history; the paying account is named on the
session; a session in progress is upcoming and can be neither changed nor refunded.
"""

from datetime import timedelta
from typing import Any

import pytest

from coaching import operations
from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    assert_ok,
    assert_problem,
    balance,
    book,
    iso,
    listed_ids,
    nothing_changes,
    parse,
    slot_in,
)


def _booked(
    api: Api,
    given: World,
    *,
    hours: float = 72,
    late_needs_approval: bool = False,
    requires_approval: bool = False,
) -> tuple[Caller, Caller, dict[str, Any]]:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    service = given.service(
        by=carol,
        credits=3,
        late_reschedule_requires_approval=late_needs_approval,
        requires_approval=requires_approval,
    )
    return alice, carol, book(api, alice, service, hours=hours)


def _asked(api: Api, given: World, *, hours: float = 12) -> tuple[Caller, Caller, dict[str, Any]]:
    """A session ``hours`` out whose member asked, through the API, to move it 3 hours later."""
    alice, carol, session = _booked(api, given, hours=hours, late_needs_approval=True)
    wanted = parse(session["start"]) + timedelta(hours=3)
    reply = api.post(
        alice, f"/sessions/{session['id']}/reschedule", {"start": iso(wanted), "reason": "Train"}
    )
    asked: dict[str, Any] = assert_ok(reply, 202)["session"]
    return alice, carol, asked


# --- a move the member did not make -----------------------------------------------------------


@pytest.mark.parametrize("by", ["coach", "support"])
def test_after_a_coach_moves_a_session_into_the_window_the_member_still_cancels_refunded(
    api: Api, given: World, store: Storage, by: str
) -> None:
    # Given a session three days out, paid with 3 of the member's 10 credits
    alice, carol, session = _booked(api, given)
    mover = carol if by == "coach" else support()
    sooner = slot_in(10)

    # When the coach moves it to ten hours from now, inside the 24-hour window
    moved = assert_ok(
        api.post(mover, f"/sessions/{session['id']}/reschedule", {"start": iso(sooner)})
    )

    # Then the detail, the quote and the cancel all keep the member's refund until the start
    assert parse(moved["policy"]["refundable_until"]) == sooner
    assert moved["policy"]["kept_after_move"] is True
    assert moved["actions"]["can_reschedule"] is True
    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))
    assert (quote["refundable"], quote["refund_credits"]) == (True, 3)
    assert parse(quote["refundable_until"]) == sooner
    canceled = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    assert canceled["refund"]["status"] == "AUTOMATIC"
    assert canceled["cancellation"]["refundable"] is True
    assert balance(store, personal_account_id(alice.id)) == 10


def test_the_members_own_move_into_the_window_still_closes_it(api: Api, given: World) -> None:
    alice, _, session = _booked(api, given, hours=30)
    sooner = slot_in(26)

    moved = assert_ok(
        api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(sooner)})
    )

    assert parse(moved["policy"]["refundable_until"]) == sooner - timedelta(hours=24)
    assert moved["policy"]["kept_after_move"] is False


# --- reschedule requests end in time, and can be withdrawn ------------------------------------


def test_a_request_lapses_an_hour_before_the_session(api: Api, given: World) -> None:
    _, _, asked = _asked(api, given)

    request = asked["reschedule_request"]
    assert parse(request["expires_at"]) == parse(asked["start"]) - timedelta(hours=1)
    assert request["reason"] == "Train"
    assert asked["history"][-1]["reason"] == "Train"


def test_a_request_with_less_than_an_hour_to_go_is_refused(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    alice, _, session = _booked(api, given, hours=2, late_needs_approval=True)
    travel.set(parse(session["start"]) - timedelta(minutes=50))
    later = iso(parse(session["start"]) + timedelta(hours=3))

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/reschedule", {"start": later})

    assert_problem(reply, 409, "RESCHEDULE_WINDOW_CLOSED")


def test_a_request_past_its_deadline_reads_as_expired_before_any_sweep(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    alice, carol, asked = _asked(api, given)
    deadline = parse(asked["reschedule_request"]["expires_at"])

    travel.set(deadline)

    for who in (alice, carol, support()):
        seen = assert_ok(api.get(who, f"/sessions/{asked['id']}"))
        assert seen["reschedule_request"] is None
        assert seen["history"][-1]["kind"] == "RESCHEDULE_EXPIRED"
        assert parse(seen["history"][-1]["at"]) == deadline
    listed = assert_ok(api.get(alice, "/sessions", query={"view": "upcoming"}))["items"]
    assert [s["reschedule_request"] for s in listed if s["id"] == asked["id"]] == [None]
    # nothing was written: the sweep still has it to do
    stored = store.get_session(asked["id"])
    assert stored is not None and stored.reschedule_request is not None


def test_the_member_withdraws_a_request_and_the_session_keeps_its_time(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, asked = _asked(api, given)
    wanted = parse(asked["reschedule_request"]["start"])

    reply = api.post(
        alice,
        f"/sessions/{asked['id']}/reschedule-request/withdraw",
        {"reason": "The old time works after all"},
    )

    after = assert_ok(reply)
    assert after["reschedule_request"] is None
    assert after["start"] == asked["start"]
    event = after["history"][-1]
    assert (event["kind"], event["reason"]) == (
        "RESCHEDULE_WITHDRAWN",
        "The old time works after all",
    )
    assert parse(event["start"]) == wanted
    # the time that was held for the request is free again
    assert store.slot_holder(carol.id, wanted) is None
    again = api.post(alice, f"/sessions/{asked['id']}/reschedule-request/withdraw")
    assert_problem(again, 409, "NOT_PENDING")


def test_only_the_member_may_withdraw_and_strangers_do_not_see_the_session(
    api: Api, given: World, store: Storage
) -> None:
    _, carol, asked = _asked(api, given)
    path = f"/sessions/{asked['id']}/reschedule-request/withdraw"

    with nothing_changes(store):
        for who in (carol, support()):
            assert_problem(api.post(who, path), 403, "FORBIDDEN")
        for who in (member(), coach(), admin()):
            assert_problem(api.post(who, path), 404, "NOT_FOUND")


def test_withdrawing_without_a_request_is_not_pending(api: Api, given: World) -> None:
    alice, _, session = _booked(api, given)

    reply = api.post(alice, f"/sessions/{session['id']}/reschedule-request/withdraw")

    assert_problem(reply, 409, "NOT_PENDING")


# --- every reason is kept -----------------------------------------------------------------------


def test_a_direct_reschedule_keeps_its_reason(api: Api, given: World) -> None:
    _, carol, session = _booked(api, given)

    moved = assert_ok(
        api.post(
            carol,
            f"/sessions/{session['id']}/reschedule",
            {"start": iso(slot_in(96)), "reason": "Conference"},
        )
    )

    assert (moved["history"][-1]["kind"], moved["history"][-1]["reason"]) == (
        "RESCHEDULED",
        "Conference",
    )


def test_a_cancel_keeps_its_reason_in_the_history_too(api: Api, given: World) -> None:
    alice, _, session = _booked(api, given)

    gone = assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {"reason": "Flu"}))

    assert gone["cancellation"]["reason"] == "Flu"
    assert (gone["history"][-1]["kind"], gone["history"][-1]["reason"]) == ("CANCELED", "Flu")
    assert "canceled_by_contact" not in gone["cancellation"]


def test_declining_a_reschedule_request_keeps_the_coachs_reason(api: Api, given: World) -> None:
    _, carol, asked = _asked(api, given)

    reply = api.post(
        carol, f"/sessions/{asked['id']}/reschedule-request/decline", {"reason": "Away"}
    )

    event = assert_ok(reply)["history"][-1]
    assert (event["kind"], event["reason"]) == ("RESCHEDULE_DECLINED", "Away")


def test_declining_a_booking_request_keeps_the_coachs_reason(api: Api, given: World) -> None:
    _, carol, session = _booked(api, given, requires_approval=True)

    reply = api.post(carol, f"/sessions/{session['id']}/decline", {"reason": "Fully booked"})

    declined = assert_ok(reply)
    assert declined["status"] == "DECLINED"
    assert (declined["history"][-1]["kind"], declined["history"][-1]["reason"]) == (
        "DECLINED",
        "Fully booked",
    )


@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        ("/decline", {"reason": "x" * 501}, "reason"),
        ("/decline", {"note": "hi"}, "note"),
        ("/approve", {"reason": "hi"}, "reason"),
    ],
)
def test_answers_to_a_booking_request_refuse_unknown_fields_and_long_reasons(
    api: Api, given: World, store: Storage, suffix: str, body: dict[str, str], field: str
) -> None:
    _, carol, session = _booked(api, given, requires_approval=True)

    with nothing_changes(store):
        reply = api.post(carol, f"/sessions/{session['id']}{suffix}", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        ("decline", {"reason": "x" * 501}, "reason"),
        ("decline", {"note": "hi"}, "note"),
        ("approve", {"reason": "hi"}, "reason"),
        ("withdraw", {"reason": "x" * 501}, "reason"),
        ("withdraw", {"why": "hi"}, "why"),
    ],
)
def test_answers_to_a_reschedule_request_refuse_unknown_fields_and_long_reasons(
    api: Api, given: World, store: Storage, suffix: str, body: dict[str, str], field: str
) -> None:
    alice, carol, asked = _asked(api, given)
    who = alice if suffix == "withdraw" else carol

    with nothing_changes(store):
        reply = api.post(who, f"/sessions/{asked['id']}/reschedule-request/{suffix}", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


# --- the paying account -------------------------------------------------------------------------


def test_a_session_names_the_shared_pool_that_paid_for_it(api: Api, given: World) -> None:
    alice, boss = member(), admin()
    pool = operations.create_group_account(
        given.store, boss, name="Acme team", member_ids=[alice.id], admin_ids=[], now=given.now
    )
    given.fund(alice, 10, account_id=pool.id)

    session = book(api, alice, given.service(), account_id=pool.id)

    assert session["account"] == {"id": pool.id, "kind": "GROUP", "name": "Acme team"}


# --- a session in progress ----------------------------------------------------------------------


def test_a_session_in_progress_is_upcoming_and_frozen_until_it_ends(
    api: Api, given: World, store: Storage, travel: TimeTravel
) -> None:
    alice, carol, session = _booked(api, given, hours=2)
    start, end = parse(session["start"]), parse(session["end"])
    path = f"/sessions/{session['id']}"

    # When the session has started (a quarter of an hour in)
    travel.set(start + timedelta(minutes=15))

    # Then it is listed and shown as upcoming, to both sides
    assert listed_ids(api, alice, "upcoming") == [session["id"]]
    assert listed_ids(api, carol, "upcoming") == [session["id"]]
    assert session["id"] not in listed_ids(api, alice, "past")
    detail = assert_ok(api.get(alice, path))
    assert (detail["view"], detail["status"]) == ("upcoming", "SCHEDULED")
    assert detail["actions"] == {
        "can_cancel": False,
        "can_reschedule": False,
        "can_refund": False,
        "can_rebook": False,
        "can_mark_no_show": False,  # the member's view: only staff mark no-shows
    }
    # and nobody may cancel, move or refund it
    with nothing_changes(store):
        for who in (alice, carol, support()):
            assert_problem(api.post(who, path + "/cancel", {}), 409, "SESSION_NOT_UPCOMING")
            moved = api.post(who, path + "/reschedule", {"start": iso(slot_in(48))})
            assert_problem(moved, 409, "SESSION_NOT_UPCOMING")
        for who in (carol, support()):
            refund = api.post(who, path + "/refund", {})
            assert_problem(refund, 409, "SESSION_STILL_UPCOMING")

    # Once it has ended it is past, and can be refunded
    travel.set(end)
    assert listed_ids(api, alice, "upcoming") == []
    assert listed_ids(api, alice, "past") == [session["id"]]
    assert assert_ok(api.post(carol, path + "/refund", {}))["refund"]["credits"] == 3
