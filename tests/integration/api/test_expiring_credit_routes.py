"""Credits that expire over HTTP: grants with ``expires_at`` or ``valid_days``, an account's
``lots`` and ``expiring_soon``, entries that name their lots, and the refund grace a group or a
service sets."""

from datetime import timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import personal_account_id
from coaching.storage import Storage
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import assert_ok, assert_problem, iso, nothing_changes, parse, slot_in


def test_an_account_shows_its_lots_soonest_first_and_what_expires_within_the_week(
    api: Api, given: World
) -> None:
    ann, helpdesk = member(), support()
    account = f"/accounts/{personal_account_id(ann.id)}"
    now = clock.now().replace(microsecond=0)

    grants = [
        {"credits": 5},
        {"credits": 2, "valid_days": 30},
        {"credits": 3, "expires_at": iso(now + timedelta(days=2))},
        {"credits": 4, "valid_days": 6, "note": "Spring pack"},
    ]
    entries = [assert_ok(api.post(helpdesk, f"{account}/grants", g), 201) for g in grants]

    # each grant's credits went to a lot of their own (0: the one that never expires)
    moves = [e["lots"] for e in entries]
    assert [[(m["lot"], m["credits"], m["replaces"]) for m in lots] for lots in moves] == [
        [(0, 5, None)],
        [(1, 2, None)],
        [(2, 3, None)],
        [(3, 4, None)],
    ]
    assert moves[0][0]["expires_at"] is None
    assert moves[2][0]["expires_at"] == iso_z(now + timedelta(days=2))
    for lots, days in ((moves[1], 30), (moves[3], 6)):  # counted from the grant, to the second
        assert abs(parse(lots[0]["expires_at"]) - (now + timedelta(days=days))) <= SECONDS
    shown = assert_ok(api.get(ann, account))
    assert shown["balance"] == 14
    assert [(lot["lot"], lot["credits_left"]) for lot in shown["lots"]] == [
        (2, 3),
        (3, 4),
        (1, 2),
        (0, 5),
    ]
    assert shown["expiring_soon"] == {"credits": 7, "expires_at": iso_z(now + timedelta(days=2))}
    assert shown["refund_grace_days"] == 7
    assert "contacts" not in shown


SECONDS = timedelta(seconds=2)
"""The clock ticks on between two requests of a test."""


def iso_z(moment: Any) -> str:
    """A time as the API answers it: UTC, to the second, with a Z."""
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_a_booking_names_the_lots_it_spent_and_a_cancel_the_lots_it_refilled(
    api: Api, given: World
) -> None:
    ann, cho = member(), coach()
    account = f"/accounts/{personal_account_id(ann.id)}"
    assert_ok(api.post(support(), f"{account}/grants", {"credits": 3, "valid_days": 2}), 201)
    assert_ok(api.post(support(), f"{account}/grants", {"credits": 5}), 201)
    service = given.service(cho, credits=2)
    body = {"service_id": service.id, "session_type_id": "t1", "start": iso(slot_in(72))}
    session = assert_ok(api.post(ann, "/sessions", body), 201)

    assert assert_ok(api.post(ann, f"/sessions/{session['id']}/cancel", {}))["refund"]["credits"]

    ledger = assert_ok(api.get(ann, f"{account}/ledger"))["items"]
    assert [(e["kind"], [(m["lot"], m["credits"]) for m in e["lots"]]) for e in ledger] == [
        ("REFUND", [(1, 2)]),
        ("DEBIT", [(1, -2)]),
        ("GRANT", [(0, 5)]),
        ("GRANT", [(1, 3)]),
    ]
    lots = assert_ok(api.get(ann, account))["lots"]
    assert [(lot["lot"], lot["credits_left"]) for lot in lots] == [(1, 3), (0, 5)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credits": 1, "valid_days": 0}, "valid_days"),
        ({"credits": 1, "valid_days": 3651}, "valid_days"),
        ({"credits": 1, "valid_days": "7"}, "valid_days"),
        ({"credits": 1, "valid_days": 1.5}, "valid_days"),
        ({"credits": 1, "valid_days": 2, "expires_at": "2099-01-01T00:00:00Z"}, "valid_days"),
        ({"credits": 1, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"credits": 1, "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
        ({"credits": 1, "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"credits": 1, "expires_at": "soon"}, "expires_at"),
    ],
    ids=[
        "no days",
        "more than ten years",
        "days as text",
        "a fraction of a day",
        "both",
        "in the past",
        "too far",
        "no offset",
        "not a time",
    ],
)
def test_a_grant_with_an_expiry_it_cannot_have_is_refused_and_moves_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    account = f"/accounts/{personal_account_id(member().id)}"

    with nothing_changes(store):
        reply = api.post(support(), f"{account}/grants", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_a_group_sets_its_refund_grace_and_its_changes_record_it(api: Api, given: World) -> None:
    boss = admin()
    created = assert_ok(api.post(boss, "/accounts", {"name": "Team", "refund_grace_days": 3}), 201)
    group = f"/accounts/{created['id']}"
    assert created["refund_grace_days"] == 3

    changed = assert_ok(api.call(boss, "PATCH", group, {"refund_grace_days": 10}))
    assert changed["refund_grace_days"] == 10
    back = assert_ok(api.call(boss, "PATCH", group, {"refund_grace_days": None}))
    assert back["refund_grace_days"] == 7

    changes = assert_ok(api.get(boss, f"{group}/changes"))["items"]
    assert [c["refund_grace_days"] for c in changes] == [
        {"before": 10, "after": None},
        {"before": 3, "after": 10},
    ]
    assert_problem(
        api.call(boss, "PATCH", group, {"refund_grace_days": 0}),
        422,
        "VALIDATION_FAILED",
        field="refund_grace_days",
    )


def test_a_service_sets_the_grace_of_its_sessions_refunds(api: Api, given: World) -> None:
    cho = coach()
    body = {"name": "Sprint", "session_types": [{"minutes": 30, "credits": 1}]}

    made = assert_ok(api.post(cho, "/services", {**body, "refund_grace_days": 2}), 201)
    plain = assert_ok(api.post(cho, "/services", body), 201)

    assert (made["refund_grace_days"], plain["refund_grace_days"]) == (2, None)
    edited = assert_ok(
        api.call(cho, "PATCH", f"/services/{made['id']}", {"refund_grace_days": None})
    )
    assert edited["refund_grace_days"] is None


def test_credits_given_back_after_their_lot_expired_read_as_a_new_lot(
    api: Api, given: World, travel: TimeTravel
) -> None:
    ann, cho = member(), coach()
    account = f"/accounts/{personal_account_id(ann.id)}"
    assert_ok(api.post(support(), f"{account}/grants", {"credits": 2, "valid_days": 1}), 201)
    service = given.service(cho, credits=2)
    body = {"service_id": service.id, "session_type_id": "t1", "start": iso(slot_in(24 * 5))}
    session = assert_ok(api.post(ann, "/sessions", body), 201)
    moved_to = travel.advance(2 * 86400)

    canceled = assert_ok(api.post(ann, f"/sessions/{session['id']}/cancel", {}))
    shown = assert_ok(api.get(ann, account))

    renewed = canceled["history"][-1]["renewed"]
    assert renewed["credits"] == 2
    expected = moved_to.replace(microsecond=0) + timedelta(days=7)
    assert abs(parse(renewed["expires_at"]) - expected) <= timedelta(seconds=1)
    assert [(lot["lot"], lot["credits_left"]) for lot in shown["lots"]] == [(2, 2)]
    assert shown["expiring_soon"]["credits"] == 2
