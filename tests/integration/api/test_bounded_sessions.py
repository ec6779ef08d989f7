"""No sequence of requests can wedge a session: every item stays under its stated bound.

Each move keeps its reason (up to 500 characters) in the session's history. Before the history
was bounded, about 66 long moves took a keyed change's stored answer past DynamoDB's 400 KB item
(500 for every keyed change of that session), and about 190 took the session itself there: nobody
could cancel, refund or mark a no-show any more. Now a session item keeps its latest
``HISTORY_KEPT`` entries and the older ones beside it, so the session item and every keyed
request's stored answer stay under ``MAX_SESSION_ITEM_BYTES``, whatever its history.
"""

import json
from datetime import timedelta
from typing import Any

from coaching.models import HISTORY_KEPT, MAX_SESSION_ITEM_BYTES, personal_account_id
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, coach, member, support

from .api_steps import assert_ok, balance, book, iso, parse
from .api_steps import travel as steps_travel

REASON = "\U0001d54f" * 500  # 500 characters of four bytes each: the longest reason there is
MOVES = 70


def item_bytes(item: dict[str, Any]) -> int:
    """More than DynamoDB counts for an item: its typed JSON, in UTF-8."""
    return len(json.dumps(item, ensure_ascii=False).encode())


def _items(store: Storage, table: str) -> list[dict[str, Any]]:
    client: Any = store._db
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _moved_often(api: Api, given: World, moves: int = MOVES) -> tuple[Any, Any, dict[str, Any]]:
    """A session its coach moved back and forth ``moves`` times, each with the longest reason
    and an Idempotency-Key."""
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=96)
    first = parse(session["start"])
    for n in range(moves):
        target = first + timedelta(hours=1 + n % 2)
        moved = api.post(
            carol,
            f"/sessions/{session['id']}/reschedule",
            {"start": iso(target), "reason": REASON},
            headers={"Idempotency-Key": f"move-{n}"},
        )
        assert_ok(moved)
    return alice, carol, session


def test_seventy_long_moves_leave_a_session_its_member_can_still_cancel_with_a_key(
    api: Api, given: World, store: Storage
) -> None:
    alice, _, session = _moved_often(api, given)

    canceled = api.post(
        alice,
        f"/sessions/{session['id']}/cancel",
        {"reason": REASON},
        headers={"Idempotency-Key": "c"},
    )
    again = api.post(
        alice,
        f"/sessions/{session['id']}/cancel",
        {"reason": REASON},
        headers={"Idempotency-Key": "c"},
    )

    shown = assert_ok(canceled)
    assert shown["status"] == "CANCELED" and shown["refund"]["credits"] == 3
    assert (again.status, again.text) == (canceled.status, canceled.text)  # replayed, once
    assert balance(store, personal_account_id(alice.id)) == 10
    assert len(shown["history"]) == HISTORY_KEPT
    assert shown["history_count"] == 1 + MOVES + 1
    assert len(canceled.text.encode()) < MAX_SESSION_ITEM_BYTES


def test_every_item_and_every_keyed_answer_stays_under_the_bound(
    api: Api, given: World, store: Storage
) -> None:
    _moved_often(api, given)

    sessions = _items(store, store.sessions_table)
    records = _items(store, store.settings.idempotency_table)

    assert len(records) == MOVES
    biggest = max(item_bytes(i) for i in sessions + records)
    assert biggest < MAX_SESSION_ITEM_BYTES, biggest


def test_the_whole_history_is_still_read_oldest_first_with_every_reason(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _moved_often(api, given)
    path = f"/sessions/{session['id']}/history"

    pages, token = [], None
    while True:
        query = {"limit": "30"} | ({"next_token": token} if token else {})
        page = assert_ok(api.get(alice, path, query=query))
        pages.append(page["items"])
        token = page["next_token"]
        if token is None:
            break
    entries = [e for page in pages for e in page]

    assert [len(p) for p in pages] == [30, 30, 11]
    assert [e["number"] for e in entries] == list(range(1, MOVES + 2))
    assert [e["kind"] for e in entries] == ["BOOKED"] + ["RESCHEDULED"] * MOVES
    assert all(e["reason"] == REASON and e["by"]["id"] == carol.id for e in entries[1:])
    detail = assert_ok(api.get(alice, f"/sessions/{session['id']}"))
    assert entries[-HISTORY_KEPT:] == [
        {**e, "number": n} for n, e in enumerate(detail["history"], start=MOVES + 2 - HISTORY_KEPT)
    ]


def test_the_coach_and_support_can_still_mark_and_refund_a_long_moved_session(
    api: Api, given: World, store: Storage
) -> None:
    alice, carol, session = _moved_often(api, given, moves=40)
    detail = assert_ok(api.get(carol, f"/sessions/{session['id']}"))
    steps_travel().set(parse(detail["start"]) + timedelta(minutes=5))

    marked = api.post(carol, f"/sessions/{session['id']}/no-show", {"party": "MEMBER"})
    refunded = api.post(support(), f"/sessions/{session['id']}/refund", {"note": REASON})

    assert assert_ok(marked)["status"] == "NO_SHOW"
    assert assert_ok(refunded)["refund"]["credits"] == 3
    assert balance(store, personal_account_id(alice.id)) == 10


def test_a_history_token_that_was_never_given_is_refused(api: Api, given: World) -> None:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(), hours=72)

    for token in ("0", "2", "x", "-1"):
        reply = api.get(alice, f"/sessions/{session['id']}/history", query={"next_token": token})
        assert reply.status == 422 and reply.json["errors"][0]["field"] == "next_token"
