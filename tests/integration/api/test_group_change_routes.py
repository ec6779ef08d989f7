"""PATCH /accounts/{id} and GET /accounts/{id}/changes: a group's name and people change, and
each change is recorded."""

from datetime import timedelta
from typing import Any

import pytest

from coaching import clock
from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    assert_ok,
    assert_problem,
    balance,
    book,
    entry_kinds,
    iso,
    nothing_changes,
    parse,
    travel,
)


def _group(api: Api, boss: Caller, *members: Caller, credits: int = 0) -> str:
    reply = api.post(boss, "/accounts", {"name": "Team", "member_ids": [m.id for m in members]})
    group_id: str = assert_ok(reply, 201)["id"]
    if credits:
        assert_ok(api.post(boss, f"/accounts/{group_id}/grants", {"credits": credits}), 201)
    return group_id


def _change(api: Api, who: Caller | None, group_id: str, body: Any, **kwargs: Any) -> Any:
    return api.call(who, "PATCH", f"/accounts/{group_id}", body, **kwargs)


def _changes(api: Api, who: Caller, group_id: str, **query: str) -> dict[str, Any]:
    found: dict[str, Any] = assert_ok(api.get(who, f"/accounts/{group_id}/changes", query=query))
    return found


# --- people --------------------------------------------------------------------------------------


def test_a_new_hire_added_to_the_pool_books_on_it(api: Api, given: World, store: Storage) -> None:
    boss, hire = admin(), member()
    group_id = _group(api, boss, member(), credits=10)
    service = given.service(credits=3)

    changed = assert_ok(_change(api, boss, group_id, {"add_members": [hire.id]}))
    session = book(api, hire, service, account_id=group_id)

    assert hire.id in changed["member_ids"]
    assert session["account_id"] == group_id
    assert balance(store, group_id) == 7
    assert group_id in [a["id"] for a in assert_ok(api.get(hire, "/accounts"))["items"]]


def test_a_removed_member_can_no_longer_book_on_the_group_but_keeps_their_refunds_to_it(
    api: Api, given: World, store: Storage
) -> None:
    boss, leaver = admin(), member()
    group_id = _group(api, boss, leaver, credits=10)
    service = given.service(credits=3)
    booked = book(api, leaver, service, hours=72, account_id=group_id)

    assert_ok(_change(api, boss, group_id, {"remove_members": [leaver.id]}))
    with nothing_changes(store):
        refused = api.post(
            leaver,
            "/sessions",
            {
                "service_id": service.id,
                "session_type_id": "t1",
                "start": iso(parse(booked["start"]) + timedelta(days=1)),
                "account_id": group_id,
            },
        )
        unseen = api.get(leaver, f"/accounts/{group_id}")
    canceled = assert_ok(api.post(leaver, f"/sessions/{booked['id']}/cancel", {}))

    assert_problem(refused, 404, "NOT_FOUND")  # as for a stranger
    assert_problem(unseen, 404, "NOT_FOUND")
    assert canceled["refund"]["credits"] == 3
    assert balance(store, group_id) == 10  # the refund went back to the group
    assert entry_kinds(store, group_id) == ["GRANT", "DEBIT", "REFUND"]
    assert group_id not in [a["id"] for a in assert_ok(api.get(leaver, "/accounts"))["items"]]


def test_a_removed_member_s_session_is_refunded_to_the_group_by_the_coach(
    api: Api, given: World, store: Storage
) -> None:
    boss, leaver, carol = admin(), member(), coach()
    group_id = _group(api, boss, leaver, credits=10)
    booked = book(api, leaver, given.service(by=carol, credits=3), hours=2, account_id=group_id)
    assert_ok(_change(api, boss, group_id, {"remove_members": [leaver.id]}))
    travel().advance(4 * 3600)  # the session is over

    refunded = assert_ok(api.post(carol, f"/sessions/{booked['id']}/refund", {}))

    assert refunded["refund"]["credits"] == 3
    assert balance(store, group_id) == 10


def test_admins_are_added_and_removed_and_a_group_keeps_at_least_one(
    api: Api, given: World, store: Storage
) -> None:
    boss, deputy = admin(), admin()
    group_id = _group(api, boss)

    handed_over = assert_ok(
        _change(api, boss, group_id, {"add_admins": [deputy.id], "remove_admins": [boss.id]})
    )
    with nothing_changes(store):
        alone = _change(api, deputy, group_id, {"remove_admins": [deputy.id]})
        former = _change(api, boss, group_id, {"name": "Taken back"})

    assert handed_over["admin_ids"] is None  # the answer is shown as to a former admin
    assert assert_ok(api.get(deputy, f"/accounts/{group_id}"))["admin_ids"] == [deputy.id]
    assert_problem(alone, 422, "VALIDATION_FAILED", field="remove_admins")
    assert_problem(former, 404, "NOT_FOUND")  # no longer theirs to see
    grant = api.post(deputy, f"/accounts/{group_id}/grants", {"credits": 5})
    assert_ok(grant, 201)


def test_a_group_is_renamed(api: Api, given: World) -> None:
    boss = admin()
    group_id = _group(api, boss)

    renamed = assert_ok(_change(api, boss, group_id, {"name": "Acme coaching pool"}))

    assert renamed["name"] == "Acme coaching pool"
    assert assert_ok(api.get(boss, f"/accounts/{group_id}"))["name"] == "Acme coaching pool"


def test_a_change_that_changes_nothing_writes_nothing(
    api: Api, given: World, store: Storage
) -> None:
    boss, alice = admin(), member()
    group_id = _group(api, boss, alice)

    with nothing_changes(store):
        reply = _change(
            api,
            boss,
            group_id,
            {"name": "Team", "add_members": [alice.id], "remove_members": ["never-there"]},
        )

    assert assert_ok(reply)["member_ids"] == [alice.id]
    assert _changes(api, boss, group_id)["items"] == []


def test_support_changes_any_group(api: Api, given: World) -> None:
    group_id = _group(api, admin())
    newcomer = member()

    changed = assert_ok(_change(api, support(), group_id, {"add_members": [newcomer.id]}))

    assert changed["member_ids"] == [newcomer.id]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("its member", 403, "FORBIDDEN"),
        ("another group's admin", 404, "NOT_FOUND"),
        ("a stranger", 404, "NOT_FOUND"),
        ("a coach", 404, "NOT_FOUND"),
    ],
)
def test_only_its_admins_and_support_change_a_group(
    api: Api, given: World, store: Storage, who: str, status: int, code: str
) -> None:
    insider = member()
    group_id = _group(api, admin(), insider)
    caller = {
        "its member": insider,
        "another group's admin": admin(),
        "a stranger": member(),
        "a coach": coach(),
    }[who]

    with nothing_changes(store):
        reply = _change(api, caller, group_id, {"add_members": [caller.id]})

    assert_problem(reply, status, code)


def test_a_personal_account_has_no_people_to_change(api: Api, given: World, store: Storage) -> None:
    alice = member()
    given.fund(alice, 5)
    account_id = personal_account_id(alice.id)

    with nothing_changes(store):
        own = _change(api, alice, account_id, {"name": "Mine"})
        helpdesk = _change(api, support(), account_id, {"name": "Mine"})
        stranger = _change(api, member(), account_id, {"name": "Mine"})

    assert_problem(own, 403, "FORBIDDEN")
    assert_problem(helpdesk, 403, "FORBIDDEN")
    assert_problem(stranger, 404, "NOT_FOUND")


def test_an_unknown_account_is_not_found(api: Api, given: World) -> None:
    assert_problem(_change(api, support(), "group-nope", {"name": "X"}), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"add_members": "alice"}, "add_members"),
        ({"add_members": [f"m{n}" for n in range(41)]}, "add_members"),
        ({"add_admins": [f"a{n}" for n in range(6)]}, "add_admins"),
        ({"add_members": ["not an id!"]}, "add_members"),
        ({"add_members": ["x"], "remove_members": ["x"]}, "remove_members"),
        ({"add_admins": ["x"], "remove_admins": ["x"]}, "remove_admins"),
        ({"member_ids": ["x"]}, "member_ids"),
        ({"balance": 100}, "balance"),
    ],
    ids=[
        "null name",
        "empty name",
        "name too long",
        "members not a list",
        "too many members at once",
        "too many admins at once",
        "an id with spaces",
        "adds and removes a member",
        "adds and removes an admin",
        "the roster whole",
        "a balance",
    ],
)
def test_an_invalid_change_fails_validation_and_changes_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    boss = admin()
    group_id = _group(api, boss, member())

    with nothing_changes(store):
        reply = _change(api, boss, group_id, body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_a_group_holds_at_most_fifty_admins(api: Api, given: World, store: Storage) -> None:
    boss = admin()
    reply = api.post(
        boss, "/accounts", {"name": "Big", "admin_ids": [boss.id] + [f"a{n}" for n in range(49)]}
    )
    group_id = assert_ok(reply, 201)["id"]

    with nothing_changes(store):
        refused = _change(api, boss, group_id, {"add_admins": ["one-more"]})

    assert_problem(refused, 422, "VALIDATION_FAILED", field="add_admins")


def test_a_change_retried_with_its_key_is_made_once(api: Api, given: World) -> None:
    boss = admin()
    group_id = _group(api, boss)
    key = {"Idempotency-Key": "hire-1"}

    first = _change(api, boss, group_id, {"add_members": ["hire-1"]}, headers=key)
    again = _change(api, boss, group_id, {"add_members": ["hire-1"]}, headers=key)

    assert assert_ok(first)["member_ids"] == ["hire-1"]
    assert (again.status, again.text) == (first.status, first.text)
    assert len(_changes(api, boss, group_id)["items"]) == 1


# --- the record of changes -----------------------------------------------------------------------


def test_each_change_is_recorded_with_who_when_and_what_newest_first(
    api: Api, given: World
) -> None:
    boss, helpdesk, alice, bob = admin(), support(), member(), member()
    group_id = _group(api, boss, alice)
    first_at = clock.now()
    assert_ok(_change(api, boss, group_id, {"name": "Acme", "add_members": [bob.id]}))
    travel().advance(60)
    assert_ok(
        _change(
            api,
            helpdesk,
            group_id,
            {"remove_members": [alice.id], "add_admins": ["deputy"], "add_members": [bob.id]},
        )
    )

    changes = _changes(api, boss, group_id)

    newest, oldest = changes["items"]
    assert changes["next_token"] is None
    assert oldest == {
        "seq": 1,
        "at": oldest["at"],
        "by": {"id": boss.id, "role": "admin"},
        "name": {"before": "Team", "after": "Acme"},
        "added_members": [bob.id],
        "removed_members": [],
        "added_admins": [],
        "removed_admins": [],
        "refund_grace_days": None,
    }
    assert parse(oldest["at"]) == first_at.replace(microsecond=0)
    assert newest == {
        "seq": 2,
        "at": newest["at"],
        "by": {"id": helpdesk.id, "role": "support"},
        "name": None,
        "added_members": [],  # bob was there already
        "removed_members": [alice.id],
        "added_admins": ["deputy"],
        "removed_admins": [],
        "refund_grace_days": None,
    }
    assert parse(newest["at"]) > parse(oldest["at"])


def test_the_record_is_paged(api: Api, given: World) -> None:
    boss = admin()
    group_id = _group(api, boss)
    for n in range(5):
        assert_ok(_change(api, boss, group_id, {"add_members": [f"m{n}"]}))

    first = _changes(api, boss, group_id, limit="2")
    second = _changes(api, boss, group_id, limit="2", next_token=first["next_token"])
    third = _changes(api, boss, group_id, limit="2", next_token=second["next_token"])

    assert [[c["seq"] for c in p["items"]] for p in (first, second, third)] == [[5, 4], [3, 2], [1]]
    assert third["next_token"] is None


@pytest.mark.parametrize(
    ("who", "status"),
    [("support", 200), ("its member", 403), ("a stranger", 404), ("another admin", 404)],
)
def test_the_record_is_read_by_the_group_s_admins_and_support(
    api: Api, given: World, who: str, status: int
) -> None:
    insider = member()
    group_id = _group(api, admin(), insider)
    caller = {
        "support": support(),
        "its member": insider,
        "a stranger": member(),
        "another admin": admin(),
    }[who]

    reply = api.get(caller, f"/accounts/{group_id}/changes")

    if status == 200:
        assert assert_ok(reply)["items"] == []
    else:
        assert_problem(reply, status, {403: "FORBIDDEN", 404: "NOT_FOUND"}[status])


def test_a_page_token_from_another_group_reads_only_this_one(api: Api, given: World) -> None:
    boss = admin()
    mine, theirs = _group(api, boss), _group(api, boss)
    for n in range(3):
        assert_ok(_change(api, boss, theirs, {"add_members": [f"m{n}"]}))
    assert_ok(_change(api, boss, mine, {"add_members": ["only-here"]}))
    token = _changes(api, boss, theirs, limit="1")["next_token"]

    page = _changes(api, boss, mine, next_token=token)

    assert all(c["added_members"] != ["m0"] for c in page["items"])
