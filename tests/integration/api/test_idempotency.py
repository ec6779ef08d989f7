"""Idempotency-Key on every POST: a retry returns the first answer and moves no credit twice.

The sequential cases run in process. The concurrent case races threads through the serialized
moto server (in-process moto is not safe under threads, see local/moto_server.py), and
gives each thread its own copy of the handler module, as separate Lambda execution environments
would be: Powertools keeps per-request state on its resolver, which AWS never shares between
two invocations at once.
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from coaching import clock, operations, runtime
from coaching.models import Caller, personal_account_id
from coaching.settings import Settings
from coaching.storage import Storage
from local.faults import Faults, FunctionKilled
from local.moto_server import SerializedMotoServer
from tests.api_client import Api
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    Environment,
    assert_ok,
    assert_problem,
    balance,
    book,
    book_body,
    entry_kinds,
    listed_ids,
    nothing_changes,
    slot_in,
)


@dataclass(frozen=True)
class Move:
    """One POST that moves credits, ready to send: who, where, what, and whose balance."""

    caller: Caller
    path: str
    body: dict[str, Any]
    status: int
    account_id: str
    kind: str
    """The ledger entry kind the POST adds, exactly once."""
    change: int
    """How the account's balance moves, once."""
    other_body: dict[str, Any]
    """A different body for the same POST."""


def _booking(api: Api, given: World) -> Move:
    alice = member()
    service = given.service(credits=3)
    given.fund(alice, 10)
    return Move(
        caller=alice,
        path="/sessions",
        body=book_body(service, slot_in(72)),
        status=201,
        account_id=personal_account_id(alice.id),
        kind="DEBIT",
        change=-3,
        other_body=book_body(service, slot_in(96)),
    )


def _cancel(api: Api, given: World) -> Move:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3))
    return Move(
        caller=alice,
        path=f"/sessions/{session['id']}/cancel",
        body={"reason": "Sick"},
        status=200,
        account_id=personal_account_id(alice.id),
        kind="REFUND",
        change=3,
        other_body={"reason": "Travelling"},
    )


def _refund(api: Api, given: World) -> Move:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=12)
    assert_ok(api.post(alice, f"/sessions/{session['id']}/cancel", {}))
    return Move(
        caller=carol,
        path=f"/sessions/{session['id']}/refund",
        body={"credits": 2},
        status=200,
        account_id=personal_account_id(alice.id),
        kind="REFUND",
        change=2,
        other_body={"credits": 1},
    )


def _grant(api: Api, given: World) -> Move:
    boss = admin()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)
    return Move(
        caller=boss,
        path=f"/accounts/{group['id']}/grants",
        body={"credits": 5},
        status=201,
        account_id=group["id"],
        kind="GRANT",
        change=5,
        other_body={"credits": 6},
    )


MOVES: dict[str, Callable[[Api, World], Move]] = {
    "book": _booking,
    "cancel": _cancel,
    "refund": _refund,
    "grant": _grant,
}


@pytest.mark.parametrize("make", MOVES.values(), ids=MOVES.keys())
def test_a_retry_with_the_same_key_returns_the_first_answer_and_moves_credits_once(
    api: Api, given: World, store: Storage, make: Callable[[Api, World], Move]
) -> None:
    move = make(api, given)
    before = balance(store, move.account_id)
    kinds_before = entry_kinds(store, move.account_id)
    key = {"Idempotency-Key": "retry-1"}

    first = api.post(move.caller, move.path, move.body, headers=key)
    with nothing_changes(store):
        second = api.post(move.caller, move.path, move.body, headers=key)
        third = api.post(move.caller, move.path, move.body, headers=key)

    assert first.status == move.status, first.text
    assert (second.status, second.json) == (first.status, first.json)
    assert (third.status, third.text) == (first.status, first.text)
    assert balance(store, move.account_id) == before + move.change
    assert entry_kinds(store, move.account_id) == [*kinds_before, move.kind]


def test_a_retried_booking_makes_one_session(api: Api, given: World) -> None:
    move = _booking(api, given)
    key = {"Idempotency-Key": "book-once"}

    first = api.post(move.caller, move.path, move.body, headers=key)
    second = api.post(move.caller, move.path, move.body, headers=key)

    assert first.json["id"] == second.json["id"]
    assert listed_ids(api, move.caller, "upcoming") == [first.json["id"]]


@pytest.mark.parametrize("make", MOVES.values(), ids=MOVES.keys())
def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
    api: Api, given: World, store: Storage, make: Callable[[Api, World], Move]
) -> None:
    move = make(api, given)
    key = {"Idempotency-Key": "reused-1"}
    first = api.post(move.caller, move.path, move.body, headers=key)
    assert first.status == move.status, first.text

    with nothing_changes(store):
        reused = api.post(move.caller, move.path, move.other_body, headers=key)

    assert_problem(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    # and the first answer is still what the key returns
    again = api.post(move.caller, move.path, move.body, headers=key)
    assert (again.status, again.text) == (first.status, first.text)


def test_a_refusal_is_not_remembered_so_the_key_can_still_carry_a_valid_request(
    api: Api, given: World, store: Storage
) -> None:
    # Refusals change nothing, so they are not stored: the client may fix its body and send it
    # again with the same key, as it would after a network error.
    alice = member()
    service = given.service(credits=3)
    given.fund(alice, 10)
    key = {"Idempotency-Key": "fixed-after-refusal"}
    bad = api.post(alice, "/sessions", {**book_body(service, slot_in(72)), "extra": 1}, headers=key)
    assert_problem(bad, 422, "VALIDATION_FAILED")

    fixed = api.post(alice, "/sessions", book_body(service, slot_in(72)), headers=key)
    again = api.post(alice, "/sessions", book_body(service, slot_in(72)), headers=key)

    assert fixed.status == 201, fixed.text
    assert (again.status, again.text) == (fixed.status, fixed.text)
    assert balance(store, personal_account_id(alice.id)) == 7


def test_a_refusal_retried_with_its_key_runs_again_once_its_cause_is_gone(
    api: Api, given: World, store: Storage
) -> None:
    alice = member()
    service = given.service(credits=3)
    given.fund(alice, 2)
    body = book_body(service, slot_in(72))
    key = {"Idempotency-Key": "too-poor"}
    first = api.post(alice, "/sessions", body, headers=key)
    assert_problem(first, 409, "INSUFFICIENT_CREDITS")
    given.fund(alice, 5)

    second = api.post(alice, "/sessions", body, headers=key)
    third = api.post(alice, "/sessions", body, headers=key)

    assert second.status == 201, second.text
    assert (third.status, third.text) == (second.status, second.text)
    assert balance(store, personal_account_id(alice.id)) == 4
    assert entry_kinds(store, personal_account_id(alice.id)) == ["GRANT", "GRANT", "DEBIT"]


def test_two_users_with_the_same_key_do_not_collide(api: Api, given: World, store: Storage) -> None:
    alice, bob = member(), member()
    service = given.service(credits=3)
    given.fund(alice, 10)
    given.fund(bob, 10)
    key = {"Idempotency-Key": "shared-key"}

    alices = api.post(alice, "/sessions", book_body(service, slot_in(72)), headers=key)
    bobs = api.post(bob, "/sessions", book_body(service, slot_in(96)), headers=key)

    assert alices.status == 201 and bobs.status == 201, (alices.text, bobs.text)
    assert alices.json["id"] != bobs.json["id"]
    assert bobs.json["member"]["id"] == bob.id
    assert balance(store, personal_account_id(alice.id)) == 7
    assert balance(store, personal_account_id(bob.id)) == 7


def test_two_users_sending_the_same_body_with_the_same_key_both_act(
    api: Api, given: World, store: Storage
) -> None:
    boss = admin()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)
    path = f"/accounts/{group['id']}/grants"
    key = {"Idempotency-Key": "same-everything"}

    by_admin = api.post(boss, path, {"credits": 5}, headers=key)
    by_support = api.post(support(), path, {"credits": 5}, headers=key)

    assert by_admin.status == 201 and by_support.status == 201
    assert by_admin.json["id"] != by_support.json["id"]
    assert balance(store, group["id"]) == 10
    assert entry_kinds(store, group["id"]) == ["GRANT", "GRANT"]


def test_without_a_key_a_repeated_post_acts_twice(api: Api, given: World, store: Storage) -> None:
    boss = admin()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)
    path = f"/accounts/{group['id']}/grants"

    first = api.post(boss, path, {"credits": 5})
    second = api.post(boss, path, {"credits": 5})

    assert first.status == second.status == 201
    assert first.json["id"] != second.json["id"]
    assert balance(store, group["id"]) == 10


INVALID_KEYS = {
    "only spaces": "   ",
    "empty": "",
    "a space inside": "grant 1",
    "a tab inside": "grant\t1",
    "a control character": "grant\x011",
    "not ASCII": "clé-1",
    "256 characters": "k" * 256,
    "64 KB": "k" * 65_536,
}


@pytest.mark.parametrize("key", INVALID_KEYS.values(), ids=INVALID_KEYS.keys())
def test_a_key_that_is_not_1_to_255_visible_characters_is_refused_and_changes_nothing(
    api: Api, store: Storage, key: str
) -> None:
    boss = admin()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)

    with nothing_changes(store):
        refused = api.post(
            boss,
            f"/accounts/{group['id']}/grants",
            {"credits": 5},
            headers={"Idempotency-Key": key},
        )

    document = assert_problem(refused, 400, "IDEMPOTENCY_KEY_INVALID")
    assert "1 to 255 visible ASCII characters" in document["detail"]


@pytest.mark.parametrize("key", ["a", "k" * 255, "~!#$%&'*+-.^_`|0-9azAZ", "  padded  "])
def test_a_key_of_1_to_255_visible_characters_makes_a_retry_safe(
    api: Api, store: Storage, key: str
) -> None:
    boss = admin()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)
    path = f"/accounts/{group['id']}/grants"

    first = api.post(boss, path, {"credits": 5}, headers={"Idempotency-Key": key})
    again = api.post(boss, path, {"credits": 5}, headers={"Idempotency-Key": key.strip()})

    assert first.status == again.status == 201
    assert first.json == again.json
    assert balance(store, group["id"]) == 5


# --- concurrent retries --------------------------------------------------------------------------

THREADS = 8


@pytest.fixture
def on_server(
    server_store: Storage, moto_server: SerializedMotoServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Storage]:
    """The handlers pointed at fresh tables in the serialized moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    for name, field in Settings.model_fields.items():
        if name.endswith("_table"):
            monkeypatch.setenv(str(field.alias), getattr(server_store.settings, name))
    runtime.reset()
    yield server_store
    runtime.reset()


def _race(environments: list[Environment], caller: Caller, body: Any, key: str) -> list[Any]:
    # Clients are built before the race: creating boto3 clients is not thread-safe.
    runtime.storage()
    start = threading.Barrier(len(environments))

    def send(environment: Environment) -> Any:
        start.wait()
        return environment.call(caller, body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=len(environments)) as pool:
        return list(pool.map(send, environments))


@pytest.mark.race
def test_concurrent_retries_of_a_booking_debit_once(on_server: Storage) -> None:
    given = World(on_server, now=clock.now())
    alice = member()
    service = given.service(credits=3)
    given.fund(alice, 10)
    body = book_body(service, slot_in(72))

    replies = _race([Environment("POST", "/sessions") for _ in range(THREADS)], alice, body, "b1")

    assert {r.status for r in replies} == {201}, [r.text for r in replies if r.status != 201]
    assert len({r.text for r in replies}) == 1
    account_id = personal_account_id(alice.id)
    assert balance(on_server, account_id) == 7
    assert entry_kinds(on_server, account_id) == ["GRANT", "DEBIT"]
    sessions, _ = on_server.sessions_of("member", alice.id, "upcoming", clock.now(), 10, None)
    assert [s.id for s in sessions] == [replies[0].json["id"]]


@pytest.mark.race
def test_concurrent_retries_of_a_cancel_refund_once(on_server: Storage) -> None:
    given = World(on_server, now=clock.now())
    alice = member()
    given.fund(alice, 10)
    session = given.book(alice, given.service(credits=3), in_hours=72)
    path = f"/sessions/{session.id}/cancel"

    replies = _race([Environment("POST", path) for _ in range(THREADS)], alice, {}, "c1")

    assert {r.status for r in replies} == {200}, [r.text for r in replies if r.status != 200]
    assert len({r.text for r in replies}) == 1
    account_id = personal_account_id(alice.id)
    assert balance(on_server, account_id) == 10
    assert entry_kinds(on_server, account_id) == ["GRANT", "DEBIT", "REFUND"]
    stored = on_server.get_session(session.id)
    assert stored is not None and stored.status.value == "CANCELED"


@pytest.mark.race
def test_concurrent_retries_of_a_refund_refund_once(on_server: Storage) -> None:
    given = World(on_server, now=clock.now())
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = given.book(alice, given.service(by=carol, credits=3), in_hours=12)
    operations.cancel(on_server, alice, session.id, None, given.now)
    path = f"/sessions/{session.id}/refund"

    replies = _race([Environment("POST", path) for _ in range(THREADS)], carol, {}, "r1")

    assert {r.status for r in replies} == {200}, [r.text for r in replies if r.status != 200]
    assert len({r.text for r in replies}) == 1
    account_id = personal_account_id(alice.id)
    assert balance(on_server, account_id) == 10
    assert entry_kinds(on_server, account_id) == ["GRANT", "DEBIT", "REFUND"]


@pytest.mark.race
@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
def test_concurrent_retries_after_a_crash_at_the_commit_refund_once(
    on_server: Storage, when: Literal["before_commit", "after_commit"]
) -> None:
    given = World(on_server, now=clock.now())
    alice = member()
    given.fund(alice, 10)
    session = given.book(alice, given.service(credits=3), in_hours=72)
    path = f"/sessions/{session.id}/cancel"
    faults = Faults()
    faults.install(runtime.dynamodb())
    faults.arm("cancel", when, 1)
    with pytest.raises(FunctionKilled), faults.running("cancel"):
        Environment("POST", path).call(alice, {}, headers={"Idempotency-Key": "k1"})

    replies = _race([Environment("POST", path) for _ in range(THREADS)], alice, {}, "k1")

    assert {r.status for r in replies} == {200}, [r.text for r in replies if r.status != 200]
    assert len({r.text for r in replies}) == 1
    account_id = personal_account_id(alice.id)
    assert balance(on_server, account_id) == 10
    assert entry_kinds(on_server, account_id) == ["GRANT", "DEBIT", "REFUND"]
    given.assert_ledger_consistent(account_id)


def test_every_function_writes_answers_as_stored_answers_are_written() -> None:
    """A replayed answer is the first one byte for byte only if the routes and the stored
    answers serialise alike: every function's resolver takes ``http.serialize``."""
    from coaching.web import http
    from local.lambda_runtime import load_handler
    from tests.api_client import ROUTES

    for route in (r for r in ROUTES if not r.public):
        resolver: Any = load_handler(route.code_uri, route.handler.rpartition(".")[0] + ".app")
        assert resolver._serializer is http.serialize, route.key


def test_a_reason_outside_ascii_is_answered_in_utf_8_and_replayed_the_same(
    api: Api, given: World
) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(), hours=72)
    key = {"Idempotency-Key": "utf-8"}
    path = f"/sessions/{session['id']}/cancel"

    first = api.post(alice, path, {"reason": "Fête \U0001d54f"}, headers=key)
    again = api.post(alice, path, {"reason": "Fête \U0001d54f"}, headers=key)

    assert "Fête \U0001d54f" in first.text and "\\u" not in first.text
    assert (again.status, again.text) == (first.status, first.text)
