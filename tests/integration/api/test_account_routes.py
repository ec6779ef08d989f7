"""GET and POST /accounts, GET /accounts/{id}, its ledger, and POST /accounts/{id}/grants."""

from typing import Any

import pytest

from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
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
)


def _group(api: Api, boss: Caller, *members: Caller, credits: int = 0) -> str:
    reply = api.post(boss, "/accounts", {"name": "Team", "member_ids": [m.id for m in members]})
    group_id: str = assert_ok(reply, 201)["id"]
    if credits:
        assert_ok(api.post(boss, f"/accounts/{group_id}/grants", {"credits": credits}), 201)
    return group_id


# --- GET /accounts -------------------------------------------------------------------------------


def test_a_member_lists_the_personal_account_and_the_groups_they_belong_to(
    api: Api, given: World
) -> None:
    alice, boss = member(), admin()
    given.fund(alice, 5)
    group_id = _group(api, boss, alice, credits=20)
    _group(api, admin(), member(), credits=7)  # someone else's

    listed = assert_ok(api.get(alice, "/accounts"))["items"]

    assert {(a["id"], a["kind"], a["balance"]) for a in listed} == {
        (personal_account_id(alice.id), "PERSONAL", 5),
        (group_id, "GROUP", 20),
    }


def test_a_new_member_sees_an_empty_personal_account(api: Api, given: World) -> None:
    alice = member()

    listed = assert_ok(api.get(alice, "/accounts"))["items"]

    assert listed == [
        {**listed[0], "id": personal_account_id(alice.id), "kind": "PERSONAL", "balance": 0}
    ]


def test_an_admin_lists_the_groups_they_run(api: Api, given: World) -> None:
    boss = admin()
    group_id = _group(api, boss, member())

    listed = assert_ok(api.get(boss, "/accounts"))["items"]

    assert [a["id"] for a in listed] == [group_id]
    assert assert_ok(api.get(coach(), "/accounts"))["items"] == []


# --- POST /accounts ------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["admin", "support"])
def test_admins_and_support_create_group_accounts(
    api: Api, given: World, store: Storage, by: str
) -> None:
    alice, boss = member(), admin()
    who = boss if by == "admin" else support()

    reply = api.post(
        who, "/accounts", {"name": "Sales", "member_ids": [alice.id], "admin_ids": [boss.id]}
    )

    account = assert_ok(reply, 201)
    assert account["kind"] == "GROUP" and account["name"] == "Sales" and account["balance"] == 0
    assert account["id"] != personal_account_id(alice.id)
    stored = store.get_account(account["id"])
    assert stored is not None and stored.member_ids == [alice.id]
    assert stored.admin_ids == [boss.id]


def test_an_admin_who_names_no_admins_runs_the_account(api: Api, given: World) -> None:
    boss = admin()

    account = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)

    assert_ok(api.post(boss, f"/accounts/{account['id']}/grants", {"credits": 3}), 201)


@pytest.mark.parametrize("who", [member, coach], ids=["member", "coach"])
def test_members_and_coaches_may_not_create_accounts(
    api: Api, given: World, store: Storage, who: Any
) -> None:
    with nothing_changes(store):
        reply = api.post(who(), "/accounts", {"name": "Mine"})

    assert_problem(reply, 403, "FORBIDDEN")


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_creating_with_a_body_that_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    with nothing_changes(store):
        reply = api.post(admin(), "/accounts", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": "Team", "member_ids": "alice"}, "member_ids"),
        ({"name": "Team", "member_ids": ["has space"]}, "member_ids"),
        ({"name": "Team", "balance": 100}, "balance"),
    ],
    ids=[
        "name missing",
        "name empty",
        "name too long",
        "name a number",
        "member_ids not a list",
        "member id malformed",
        "unknown field",
    ],
)
def test_creating_with_an_invalid_body_fails_validation(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    with nothing_changes(store):
        reply = api.post(admin(), "/accounts", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


# --- GET /accounts/{id} and its ledger -----------------------------------------------------------


def test_a_member_reads_their_personal_account_and_its_ledger_newest_first(
    api: Api, given: World
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3))
    account_id = personal_account_id(alice.id)

    account = assert_ok(api.get(alice, f"/accounts/{account_id}"))
    ledger = assert_ok(api.get(alice, f"/accounts/{account_id}/ledger"))

    assert {k: account[k] for k in ("id", "kind", "balance")} == {
        "id": account_id,
        "kind": "PERSONAL",
        "balance": 7,
    }
    assert isinstance(account["name"], str)
    assert ledger["next_token"] is None
    debit, grant = ledger["items"]
    assert (debit["kind"], debit["credits"], debit["balance_after"]) == ("DEBIT", -3, 7)
    assert debit["session_id"] == session["id"]
    assert debit["actor"] == {"id": alice.id, "role": "member"}
    assert (grant["kind"], grant["credits"], grant["balance_after"]) == ("GRANT", 10, 10)
    for entry in ledger["items"]:
        assert {"id", "kind", "credits", "balance_after", "actor", "at"} <= entry.keys()


def test_the_ledger_pages_with_next_token(api: Api, given: World) -> None:
    alice = member()
    for credits in (1, 2, 3):
        given.fund(alice, credits)
    path = f"/accounts/{personal_account_id(alice.id)}/ledger"

    first = assert_ok(api.get(alice, path, query={"limit": "2"}))
    second = assert_ok(
        api.get(alice, path, query={"limit": "2", "next_token": first["next_token"]})
    )

    assert [e["credits"] for e in first["items"]] == [3, 2]
    assert [e["credits"] for e in second["items"]] == [1]
    assert second["next_token"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"next_token": "zz"}, "next_token")],
    ids=["limit 0", "limit 101", "forged token"],
)
def test_an_invalid_ledger_query_fails_validation(
    api: Api, given: World, query: dict[str, str], field: str
) -> None:
    alice = member()
    given.fund(alice, 1)

    reply = api.get(alice, f"/accounts/{personal_account_id(alice.id)}/ledger", query=query)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


@pytest.mark.parametrize("suffix", ["", "/ledger"], ids=["account", "ledger"])
def test_group_members_its_admins_and_support_read_a_group_account(
    api: Api, given: World, suffix: str
) -> None:
    alice, boss = member(), admin()
    group_id = _group(api, boss, alice, credits=9)

    for who in (alice, boss, support()):
        reply = api.get(who, f"/accounts/{group_id}{suffix}")
        assert reply.status == 200, (who.role, reply.text)
    assert assert_ok(api.get(alice, f"/accounts/{group_id}"))["balance"] == 9


@pytest.mark.parametrize("suffix", ["", "/ledger"], ids=["account", "ledger"])
def test_anyone_else_is_told_the_account_does_not_exist(
    api: Api, given: World, suffix: str
) -> None:
    alice, boss = member(), admin()
    given.fund(alice, 3)
    group_id = _group(api, boss, alice, credits=9)

    for account_id, outsiders in (
        (group_id, (member(), coach(), admin())),
        (personal_account_id(alice.id), (member(), coach(), boss)),
        ("group-no-such-account", (support(),)),
    ):
        for who in outsiders:
            assert_problem(api.get(who, f"/accounts/{account_id}{suffix}"), 404, "NOT_FOUND")


# --- POST /accounts/{id}/grants ------------------------------------------------------------------


@pytest.mark.parametrize("by", ["admin", "support"])
def test_its_admins_and_support_grant_credits(
    api: Api, given: World, store: Storage, by: str
) -> None:
    boss = admin()
    group_id = _group(api, boss, member())
    who = boss if by == "admin" else support()

    reply = api.post(who, f"/accounts/{group_id}/grants", {"credits": 25, "note": "Q3 budget"})

    entry = assert_ok(reply, 201)
    assert (entry["kind"], entry["credits"], entry["balance_after"]) == ("GRANT", 25, 25)
    assert entry["actor"] == {"id": who.id, "role": who.role.value}
    assert entry["note"] == "Q3 budget"
    assert balance(store, group_id) == 25
    assert entry_kinds(store, group_id) == ["GRANT"]


def test_support_funds_a_members_personal_account(api: Api, given: World, store: Storage) -> None:
    alice = member()

    entry = assert_ok(
        api.post(support(), f"/accounts/{personal_account_id(alice.id)}/grants", {"credits": 4}),
        201,
    )

    assert entry["balance_after"] == 4
    assert balance(store, personal_account_id(alice.id)) == 4


def test_a_group_member_may_not_grant_to_the_group(api: Api, given: World, store: Storage) -> None:
    alice, boss = member(), admin()
    group_id = _group(api, boss, alice)

    with nothing_changes(store):
        reply = api.post(alice, f"/accounts/{group_id}/grants", {"credits": 5})

    assert_problem(reply, 403, "FORBIDDEN")


def test_a_member_may_not_grant_to_their_own_account(
    api: Api, given: World, store: Storage
) -> None:
    alice = member()
    given.fund(alice, 1)

    with nothing_changes(store):
        reply = api.post(alice, f"/accounts/{personal_account_id(alice.id)}/grants", {"credits": 5})

    assert_problem(reply, 403, "FORBIDDEN")


def test_grants_to_accounts_one_cannot_see_are_not_found(
    api: Api, given: World, store: Storage
) -> None:
    alice, boss = member(), admin()
    group_id = _group(api, boss, alice)

    with nothing_changes(store):
        other_admin = api.post(admin(), f"/accounts/{group_id}/grants", {"credits": 5})
        to_personal = api.post(
            boss, f"/accounts/{personal_account_id(alice.id)}/grants", {"credits": 5}
        )
        by_coach = api.post(coach(), f"/accounts/{group_id}/grants", {"credits": 5})
        unknown = api.post(support(), "/accounts/group-no-such-account/grants", {"credits": 5})

    for reply in (other_admin, to_personal, by_coach, unknown):
        assert_problem(reply, 404, "NOT_FOUND")


@pytest.mark.parametrize("raw", NOT_AN_OBJECT.values(), ids=NOT_AN_OBJECT.keys())
def test_a_grant_whose_body_is_not_a_json_object_is_malformed(
    api: Api, given: World, store: Storage, raw: str
) -> None:
    boss = admin()
    group_id = _group(api, boss)

    with nothing_changes(store):
        reply = api.post(boss, f"/accounts/{group_id}/grants", raw_body=raw)

    assert_problem(reply, 400, "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "credits"),
        ({"credits": 0}, "credits"),
        ({"credits": -5}, "credits"),
        ({"credits": 100_001}, "credits"),
        ({"credits": "ten"}, "credits"),
        ({"credits": "10"}, "credits"),
        ({"credits": 2.5}, "credits"),
        ({"credits": 5, "note": "n" * 501}, "note"),
        ({"credits": 5, "kind": "ADJUSTMENT"}, "kind"),
    ],
    ids=[
        "credits missing",
        "zero",
        "negative",
        "too many",
        "a word",
        "a numeric string",
        "a fraction",
        "note too long",
        "unknown field",
    ],
)
def test_an_invalid_grant_fails_validation_and_moves_nothing(
    api: Api, given: World, store: Storage, body: dict[str, Any], field: str
) -> None:
    boss = admin()
    group_id = _group(api, boss)

    with nothing_changes(store):
        reply = api.post(boss, f"/accounts/{group_id}/grants", body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)
