"""Per-service policy over HTTP: refund tiers, the member's move limit, a required cancel
reason; each validated when the service is created and shown on the session's policy."""

from datetime import timedelta
from typing import Any

import pytest

from coaching.models import Caller, Service, personal_account_id
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, coach, member, support

from .api_steps import (
    assert_ok,
    assert_problem,
    balance,
    book,
    iso,
    nothing_changes,
    parse,
    slot_in,
)

TYPES = [{"minutes": 60, "credits": 5}]


def test_a_service_created_without_settings_gets_the_contracts_defaults(api: Api) -> None:
    service = assert_ok(
        api.post(coach(), "/services", {"name": "Plain", "session_types": TYPES}), 201
    )

    assert service["late_reschedule_requires_approval"] is True
    assert service["max_reschedules"] == 5
    assert service["cancel_reason_required"] is False
    assert service["refund_tiers"] == [{"hours_before": 24, "percent": 100}]


def test_a_service_keeps_its_settings_and_a_booking_its_policy(
    api: Api, given: World, store: Storage
) -> None:
    carol, alice = coach(), member()
    body = {
        "name": "Tiered",
        "session_types": TYPES,
        "max_reschedules": 2,
        "cancel_reason_required": True,
        # given out of order: kept longest notice first
        "refund_tiers": [{"hours_before": 2, "percent": 50}, {"hours_before": 24, "percent": 100}],
    }
    created = assert_ok(api.post(carol, "/services", body), 201)
    given.fund(alice, 10)
    service = store.get_service(created["id"])
    assert service is not None

    session = book(api, alice, service)

    tiers = [{"hours_before": 24, "percent": 100}, {"hours_before": 2, "percent": 50}]
    assert created["refund_tiers"] == tiers
    policy = session["policy"]
    assert (policy["max_reschedules"], policy["reschedules_left"]) == (2, 2)
    assert policy["cancel_reason_required"] is True
    assert policy["refund_tiers"] == tiers


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"refund_tiers": [{"hours_before": h, "percent": 10} for h in range(5)]}, "refund_tiers"),
        ({"refund_tiers": []}, "refund_tiers"),
        ({"refund_tiers": [{"hours_before": 24, "percent": 0}]}, "percent"),
        ({"refund_tiers": [{"hours_before": 24, "percent": 101}]}, "percent"),
        ({"refund_tiers": [{"hours_before": -1, "percent": 50}]}, "hours_before"),
        ({"refund_tiers": [{"hours_before": 24, "percent": "50"}]}, "percent"),
        (
            {
                "refund_tiers": [
                    {"hours_before": 24, "percent": 100},
                    {"hours_before": 24, "percent": 50},
                ]
            },
            "refund_tiers",
        ),
        ({"refund_tiers": [{"hours_before": 24}]}, "percent"),
        ({"refund_tiers": [{"hours_before": 24, "percent": 50, "x": 1}]}, "x"),
        ({"max_reschedules": -1}, "max_reschedules"),
        ({"max_reschedules": "2"}, "max_reschedules"),
        ({"cancel_reason_required": "yes"}, "cancel_reason_required"),
        ({"late_reschedule_requires_approval": None}, "late_reschedule_requires_approval"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    api: Api, store: Storage, settings: dict[str, Any], field: str
) -> None:
    with nothing_changes(store):
        reply = api.post(coach(), "/services", {"name": "X", "session_types": TYPES, **settings})

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


# --- refund tiers --------------------------------------------------------------------------------


def _tiered(given: World, carol: Caller) -> Service:
    return given.service(by=carol, credits=5, refund_tiers=[(48, 100), (12, 50)])


def test_a_cancel_in_a_partial_tier_refunds_that_percent_rounded_down(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, _tiered(given, carol), hours=24)
    path = f"/sessions/{session['id']}"

    quote = assert_ok(api.get(alice, f"{path}/cancellation"))
    canceled = assert_ok(api.post(alice, f"{path}/cancel", {}))

    assert (quote["refundable"], quote["refund_percent"], quote["refund_credits"]) == (True, 50, 2)
    assert parse(quote["refundable_until"]) == parse(session["start"]) - timedelta(hours=12)
    assert canceled["refund"]["credits"] == 2 and canceled["cancellation"]["refundable"] is True
    assert balance(store, personal_account_id(alice.id)) == 7
    # the rest may still be given back by hand, never more than was paid
    rest = assert_ok(api.post(carol, f"{path}/refund", {}))
    assert rest["refund"]["credits"] == 5
    assert balance(store, personal_account_id(alice.id)) == 10


def test_the_full_tier_and_no_tier(api: Api, given: World, store: Storage) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 20)
    service = _tiered(given, carol)
    early = book(api, alice, service, hours=72)
    late = book(api, alice, service, hours=6)

    early_quote = assert_ok(api.get(alice, f"/sessions/{early['id']}/cancellation"))
    late_quote = assert_ok(api.get(alice, f"/sessions/{late['id']}/cancellation"))

    assert (early_quote["refund_percent"], early_quote["refund_credits"]) == (100, 5)
    assert (late_quote["refundable"], late_quote["refund_percent"]) == (False, 0)
    assert late_quote["refund_credits"] == 0


# --- the member's move limit ---------------------------------------------------------------------


def test_a_member_moves_as_often_as_allowed_and_then_is_refused(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, max_reschedules=1), hours=72)
    path = f"/sessions/{session['id']}"

    moved = assert_ok(api.post(alice, f"{path}/reschedule", {"start": iso(slot_in(96))}))
    assert (moved["policy"]["reschedules_left"], moved["actions"]["can_reschedule"]) == (0, False)

    with nothing_changes(store):
        assert_problem(
            api.post(alice, f"{path}/reschedule", {"start": iso(slot_in(120))}),
            409,
            "RESCHEDULE_LIMIT_REACHED",
        )
    # The coach's and support's moves are not limited, and do not count.
    by_coach = assert_ok(api.post(carol, f"{path}/reschedule", {"start": iso(slot_in(120))}))
    by_support = assert_ok(api.post(support(), f"{path}/reschedule", {"start": iso(slot_in(144))}))
    assert by_coach["policy"]["reschedules_left"] == by_support["policy"]["reschedules_left"] == 0
    assert by_support["actions"]["can_reschedule"] is True  # support may still move it


def test_a_member_moves_a_session_five_times_by_default_and_no_more(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol), hours=72)
    path = f"/sessions/{session['id']}/reschedule"

    left = []
    for n in range(5):
        moved = assert_ok(api.post(alice, path, {"start": iso(slot_in(96 + n))}))
        left.append(moved["policy"]["reschedules_left"])
    with nothing_changes(store):
        refused = api.post(alice, path, {"start": iso(slot_in(120))})
    by_the_coach = api.post(carol, path, {"start": iso(slot_in(121))})

    assert moved["policy"]["max_reschedules"] == 5
    assert left == [4, 3, 2, 1, 0]
    assert_problem(refused, 409, "RESCHEDULE_LIMIT_REACHED")
    assert_ok(by_the_coach)  # the coach and support are not counted or bound


def test_a_service_raises_the_limit_and_null_means_the_default(api: Api, given: World) -> None:
    carol = coach()
    body = {"name": "Flexible", "session_types": [{"minutes": 60, "credits": 1}]}

    raised = assert_ok(api.post(carol, "/services", {**body, "max_reschedules": 20}), 201)
    defaulted = assert_ok(api.post(carol, "/services", {**body, "max_reschedules": None}), 201)

    assert raised["max_reschedules"] == 20
    assert defaulted["max_reschedules"] == 5


# --- a required reason ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": "  "}])
def test_a_member_must_give_a_reason_where_the_service_asks(
    api: Api, given: World, store: Storage, body: Any
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(cancel_reason_required=True))

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/cancel", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field="reason")


def test_with_a_reason_the_member_cancels_and_the_coach_needs_none(api: Api, given: World) -> None:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    service = given.service(by=carol, cancel_reason_required=True)
    first, second = book(api, alice, service, hours=72), book(api, alice, service, hours=96)

    by_member = assert_ok(api.post(alice, f"/sessions/{first['id']}/cancel", {"reason": "Ill"}))
    by_coach = assert_ok(api.post(carol, f"/sessions/{second['id']}/cancel"))

    assert by_member["cancellation"]["reason"] == "Ill"
    assert by_coach["status"] == "CANCELED"
