"""GET /sessions, GET /sessions/{id} and GET /sessions/{id}/cancellation."""

from datetime import timedelta

import pytest

from coaching.storage import Storage
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import assert_ok, assert_problem, book, listed_ids, parse

# --- GET /sessions -------------------------------------------------------------------------------


def test_members_and_coaches_list_their_own_upcoming_sessions_soonest_first(
    api: Api, given: World
) -> None:
    alice, bob, carol = member(), member(), coach()
    service = given.service(by=carol)
    given.fund(alice, 20)
    given.fund(bob, 20)
    later = book(api, alice, service, hours=96)
    sooner = book(api, alice, service, hours=72)
    bobs = book(api, bob, service, hours=120)

    mine = assert_ok(api.get(alice, "/sessions", query={"view": "upcoming"}))
    coached = assert_ok(api.get(carol, "/sessions"))  # upcoming is the default view

    assert [s["id"] for s in mine["items"]] == [sooner["id"], later["id"]]
    assert mine["next_token"] is None
    assert all(s["view"] == "upcoming" for s in mine["items"])
    assert [s["id"] for s in coached["items"]] == [sooner["id"], later["id"], bobs["id"]]
    assert listed_ids(api, coach(), "upcoming") == []
    assert listed_ids(api, alice, "past") == []


def test_a_canceled_session_lists_as_past_with_status_canceled(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service())
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))

    past = assert_ok(api.get(alice, "/sessions", query={"view": "past"}))

    assert [(s["id"], s["status"], s["view"]) for s in past["items"]] == [
        (session["id"], "CANCELED", "past")
    ]
    assert listed_ids(api, alice, "upcoming") == []


def test_a_session_whose_start_has_passed_lists_as_past(
    api: Api, given: World, travel: TimeTravel
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(), hours=2)

    travel.advance(3 * 3600)

    assert listed_ids(api, alice, "past") == [session["id"]]
    assert listed_ids(api, alice, "upcoming") == []


def test_the_list_pages_with_next_token(api: Api, given: World) -> None:
    alice = member()
    service = given.service(credits=1)
    given.fund(alice, 10)
    booked = [book(api, alice, service, hours=h)["id"] for h in (72, 96, 120)]

    first = assert_ok(api.get(alice, "/sessions", query={"limit": "2"}))
    second = assert_ok(
        api.get(alice, "/sessions", query={"limit": "2", "next_token": first["next_token"]})
    )

    assert [s["id"] for s in first["items"]] == booked[:2]
    assert first["next_token"]
    assert [s["id"] for s in second["items"]] == booked[2:]
    assert second["next_token"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"view": "soon"}, "view"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"next_token": "not-a-token"}, "next_token"),
    ],
    ids=["unknown view", "limit 0", "limit 101", "limit not a number", "forged token"],
)
def test_listing_with_an_invalid_query_fails_validation(
    api: Api, given: World, query: dict[str, str], field: str
) -> None:
    reply = api.get(member(), "/sessions", query=query)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_admins_may_not_list_sessions(api: Api, given: World) -> None:
    assert_problem(api.get(admin(), "/sessions"), 403, "FORBIDDEN")


def test_support_must_name_whose_sessions_to_list(api: Api, given: World) -> None:
    # (test_session_search_routes.py covers what support lists when it names someone)
    assert_problem(api.get(support(), "/sessions"), 422, "VALIDATION_FAILED", field="member_id")


# --- GET /sessions/{id} --------------------------------------------------------------------------


def test_the_detail_carries_every_field_of_the_contract(api: Api, given: World) -> None:
    alice, carol = member(), coach()
    service = given.service(by=carol, credits=3, window_hours=24)
    given.fund(alice, 10)
    session = book(api, alice, service)

    detail = assert_ok(api.get(alice, f"/sessions/{session['id']}"))

    contract_fields = {
        *("id", "status", "member", "coach", "service", "session_type", "start", "end"),
        *("timezone", "credits", "account_id", "policy", "cancellation", "refund"),
        *("reschedule_request", "history", "actions", "no_show"),
        # ratified later: what the API already answered
        *("view", "rebook", "request_expires_at"),
        "history_count",
    }
    assert contract_fields <= detail.keys(), contract_fields - detail.keys()
    assert detail["id"] == session["id"] and detail["status"] == "SCHEDULED"
    assert detail["policy"]["window_hours"] == 24
    assert detail["policy"]["late_reschedule_requires_approval"] is False
    assert detail["policy"]["request_ttl_hours"] == 48
    assert detail["view"] == "upcoming" and detail["rebook"] is None
    assert detail["request_expires_at"] is None
    assert parse(detail["policy"]["refundable_until"]) == parse(detail["start"]) - timedelta(
        hours=24
    )
    assert detail["cancellation"] is None and detail["reschedule_request"] is None
    assert detail["no_show"] is None
    # per-service policy: the defaults, as fixed at booking
    assert detail["policy"]["max_reschedules"] == 5
    assert detail["policy"]["reschedules_left"] == 5
    assert detail["policy"]["cancel_reason_required"] is False
    assert detail["policy"]["refund_tiers"] == [{"hours_before": 24, "percent": 100}]
    # refund is always an object, NONE until something is given back
    assert detail["refund"] == {"status": "NONE", "credits": 0, "refunded_at": None}
    assert [e["kind"] for e in detail["history"]] == ["BOOKED"]
    assert detail["history_count"] == 1
    assert detail["actions"] == {
        "can_cancel": True,
        "can_reschedule": True,
        "can_refund": False,
        "can_rebook": False,
        "can_mark_no_show": False,
    }


@pytest.mark.parametrize("viewer", ["member", "coach", "support"])
def test_its_member_its_coach_and_support_see_the_detail(
    api: Api, given: World, viewer: str
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol))
    who = {"member": alice, "coach": carol, "support": support()}[viewer]

    detail = assert_ok(api.get(who, f"/sessions/{session['id']}"))

    assert detail["id"] == session["id"]


@pytest.mark.parametrize("path", ["/sessions/{id}", "/sessions/{id}/cancellation"])
def test_anyone_else_is_told_the_session_does_not_exist(
    api: Api, given: World, store: Storage, path: str
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service())

    missing = api.get(support(), path.format(id="no-such-session"))
    assert_problem(missing, 404, "NOT_FOUND")
    for stranger in (member(), coach(), admin()):
        hidden = api.get(stranger, path.format(id=session["id"]))
        assert_problem(hidden, 404, "NOT_FOUND")
        # the answer for a hidden session gives nothing away that a missing one would not
        assert hidden.json["detail"] == missing.json["detail"]


# --- GET /sessions/{id}/cancellation -------------------------------------------------------------


def test_the_quote_inside_the_window_promises_every_credit_back(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3, window_hours=24), hours=72)

    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))

    assert quote == {
        "refundable": True,
        "refund_credits": 3,
        "refund_percent": 100,
        "refundable_until": quote["refundable_until"],
        "window_hours": 24,
    }
    assert parse(quote["refundable_until"]) == parse(session["start"]) - timedelta(hours=24)


def test_the_quote_outside_the_window_says_nothing_comes_back(
    api: Api, given: World, travel: TimeTravel
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3, window_hours=24), hours=72)
    travel.advance(60 * 3600)  # 12 hours or less before the start

    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))

    assert quote["refundable"] is False and quote["refund_credits"] == 0
    assert quote["window_hours"] == 24


def test_the_quote_follows_the_services_own_window(
    api: Api, given: World, travel: TimeTravel
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3, window_hours=48), hours=72)

    travel.advance(30 * 3600)  # about 41 hours' notice: less than the 48 the service asks
    quote = assert_ok(api.get(alice, f"/sessions/{session['id']}/cancellation"))

    assert quote["window_hours"] == 48
    assert quote["refundable"] is False
