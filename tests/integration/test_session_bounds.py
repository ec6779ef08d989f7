"""A session's item stays under its bound for any sequence of changes, and its history is never
lost: drawn sequences of moves, requests, withdrawals, declines and cancels, each with the
longest reason in characters of any width, against the store in moto.

After each change: the session item is under ``MAX_SESSION_ITEM_BYTES``, it holds at most
``HISTORY_KEPT`` entries, and the whole history (the entries beside it, then those in it) is
every change in order, numbered from 1 with nothing missing or repeated.
"""

import json
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching import operations
from coaching.errors import DomainError
from coaching.models import HISTORY_KEPT, MAX_REASON_LENGTH, MAX_SESSION_ITEM_BYTES
from coaching.storage import Storage, keys
from tests.builders import World, coach, member

REASONS = st.one_of(
    st.none(),
    st.just("\U0001d54f" * MAX_REASON_LENGTH),  # four bytes each: the largest there is
    st.text(min_size=1, max_size=MAX_REASON_LENGTH),
)
STEPS = st.lists(
    st.tuples(st.sampled_from(["coach move", "member ask", "withdraw", "decline"]), REASONS),
    min_size=1,
    max_size=40,
)


def _item_bytes(store: Storage, session_id: str) -> int:
    client: Any = store._db
    item = client.get_item(TableName=store.sessions_table, Key=_typed(keys.session(session_id)))
    return len(json.dumps(item["Item"], ensure_ascii=False).encode())


def _typed(key: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in key.items()}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS, last=st.sampled_from(["member cancels", "coach cancels", "none"]))
def test_any_sequence_of_changes_keeps_the_item_bounded_and_the_history_whole(
    world: World, steps: list[tuple[str, str | None]], last: str
) -> None:
    alice, carol = member(), coach()
    world.fund(alice, 10)
    service = world.service(by=carol, late_reschedule_requires_approval=True)
    # 30 hours out: inside the 24-hour window a member's move waits for the coach
    session = world.book(alice, service, in_hours=30)
    now = world.now + timedelta(hours=7)
    first = session.start
    made = 1
    for n, (step, reason) in enumerate(steps):
        target = first + timedelta(hours=1 + n % 3)
        try:
            if step == "coach move":
                operations.reschedule(world.store, carol, session.id, target, reason, now)
            elif step == "member ask":
                operations.reschedule(world.store, alice, session.id, target, reason, now)
            elif step == "withdraw":
                operations.withdraw_reschedule(world.store, alice, session.id, reason, now)
            else:
                operations.answer_reschedule(
                    world.store, carol, session.id, False, now, reason=reason
                )
        except DomainError:
            continue  # refused (nothing pending, the same time, the limit): nothing changed
        made += 1
        assert _item_bytes(world.store, session.id) < MAX_SESSION_ITEM_BYTES
    if last != "none":
        who = alice if last == "member cancels" else carol
        operations.cancel(world.store, who, session.id, "\U0001d54f" * MAX_REASON_LENGTH, now)
        made += 1

    stored = world.store.get_session(session.id)
    assert stored is not None
    assert _item_bytes(world.store, session.id) < MAX_SESSION_ITEM_BYTES
    assert len(stored.history) <= HISTORY_KEPT and stored.changes == made
    everything, token = world.store.history_of(stored, 100, None)
    assert token is None
    assert [number for number, _ in everything] == list(range(1, made + 1))
    assert everything[0][1].kind == "BOOKED"
    assert [event for _, event in everything[-len(stored.history) :]] == stored.history
