"""Sweeps racing each other and racing cancels, against the serialized moto server.

Threads start together on a barrier, for several rounds, so that both "read before the other
wrote" and "read after" happen. The server lets one request into moto at a time (see
local/moto_server.py), so these prove our conditions: each stale session changes once, whoever
reads it, and the ledger stays whole.
"""

from datetime import datetime
from functools import partial
from typing import Any

import pytest

from coaching import operations, sweep
from coaching.errors import SessionNotUpcoming
from coaching.models import Caller, EntryKind, Role, Session, SessionStatus
from coaching.storage import Storage
from tests.builders import World
from tests.integration.steps import free, held_by, stored
from tests.integration.sweep.timeline import (
    CREDITS,
    FUNDS,
    Booked,
    booking_request,
    events,
    late_reschedule_request,
    plenty,
    stale,
    sweep_at,
)
from tests.racing import race

pytestmark = pytest.mark.race

ROUNDS = 5


def sweeps(results: list[Any]) -> list[sweep.SweepResult]:
    found = [r for r in results if isinstance(r, sweep.SweepResult)]
    assert all(r.ok and r.finished for r in found), results
    return found


def releases(world: World, booked: Booked) -> list[int]:
    return [
        e.credits
        for e in world.entries(booked.account)
        if e.session_id == booked.session.id and e.kind is EntryKind.RELEASE
    ]


def test_two_sweeps_racing_change_each_stale_session_once(server_world: World) -> None:
    world, store = server_world, server_world.store
    at = sweep_at(world)
    for _ in range(ROUNDS):
        # Given one stale session of each kind
        due = stale(world)

        # When two sweeps run at once
        results = race(partial(sweep.run, store, at, plenty), partial(sweep.run, store, at, plenty))

        # Then between them they did each change once
        both = sweeps(results)
        assert len(both) == 2, results
        assert sum(r.expired_bookings for r in both) == 1
        assert sum(r.expired_reschedules for r in both) == 2
        assert sum(r.completed for r in both) == 2
        request = stored(world, due.request.session.id)
        assert (request.status, events(request, "EXPIRED")) == (SessionStatus.EXPIRED, 1)
        assert releases(world, due.request) == [CREDITS]
        assert world.balance(due.request.account) == FUNDS
        assert free(world, request.coach.id, request.start, request.end)
        asked = stored(world, due.asked.session.id)
        assert (asked.status, events(asked, "RESCHEDULE_EXPIRED")) == (SessionStatus.SCHEDULED, 1)
        assert asked.reschedule_request is None and asked.start == due.asked.session.start
        assert held_by(world, asked, asked.start, asked.end)
        asked_for = due.asked.session.reschedule_request
        assert asked_for is not None
        assert free(world, asked.coach.id, asked_for.start, asked_for.end)
        ended = stored(world, due.ended.session.id)
        assert (ended.status, events(ended, "COMPLETED")) == (SessionStatus.COMPLETED, 1)
        both_done = stored(world, due.asked_and_ended.session.id)
        assert [e.kind for e in both_done.history[-2:]] == ["RESCHEDULE_EXPIRED", "COMPLETED"]
        assert events(both_done, "RESCHEDULE_EXPIRED") == events(both_done, "COMPLETED") == 1
        for booked in due.all:
            world.assert_ledger_consistent(booked.account)


def _cancel(store: Storage, who: Caller, booked: Booked, at: datetime) -> Session:
    return operations.cancel(store, who, booked.session.id, None, at)


def test_sweeps_racing_cancels_of_the_same_sessions_release_credits_once(
    server_world: World,
) -> None:
    world, store = server_world, server_world.store
    at = sweep_at(world)
    for _ in range(ROUNDS):
        # Given a booking request past its deadline (the member may still withdraw it) and a
        # session whose late reschedule request expired (its coach may still cancel it)
        request = booking_request(world, ttl_hours=6)
        asked = late_reschedule_request(world, 10, ttl_hours=2)
        coach = Caller(id=asked.service.coach_id, role=Role.COACH)

        # When two sweeps and both cancels run at once
        results = race(
            partial(sweep.run, store, at, plenty),
            partial(sweep.run, store, at, plenty),
            partial(_cancel, store, request.who, request, at),
            partial(_cancel, store, coach, asked, at),
        )

        # Then the request was either expired by one sweep or withdrawn, never both
        *swept, withdrawn, canceled = results
        both = sweeps(swept)
        assert len(both) == 2, results
        final = stored(world, request.session.id)
        if final.status is SessionStatus.EXPIRED:
            assert isinstance(withdrawn, SessionNotUpcoming), results
            assert sum(r.expired_bookings for r in both) == 1
        else:
            assert final.status is SessionStatus.CANCELED
            assert isinstance(withdrawn, Session), results
            assert sum(r.expired_bookings for r in both) == 0
        assert releases(world, request) == [CREDITS]
        assert final.refund.credits == CREDITS
        assert world.balance(request.account) == FUNDS
        assert free(world, final.coach.id, final.start, final.end)
        world.assert_ledger_consistent(request.account)
        # ... and the other session was canceled whatever the order, its request expiring at
        # most once (only if a sweep got there first), no slot left held
        assert isinstance(canceled, Session), results
        moved = stored(world, asked.session.id)
        assert moved.status is SessionStatus.CANCELED and moved.reschedule_request is None
        expired = events(moved, "RESCHEDULE_EXPIRED")
        assert sum(r.expired_reschedules for r in both) == expired <= 1
        assert moved.history[-1].kind == "CANCELED"
        asked_for = asked.session.reschedule_request
        assert asked_for is not None
        assert free(world, moved.coach.id, moved.start, moved.end)
        assert free(world, moved.coach.id, asked_for.start, asked_for.end)
        assert world.balance(asked.account) == FUNDS - CREDITS + moved.refund.credits
        world.assert_ledger_consistent(asked.account)


def test_a_request_withdrawn_after_the_sweep_read_it_is_not_expired(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The losing interleaving above, replayed without threads so that it always happens."""
    # Given a booking request past its deadline
    request = booking_request(world, ttl_hours=6)
    at = sweep_at(world)
    store = world.store
    read_page = store.due_page
    withdrawn: list[Session] = []

    def read_then_withdraw(*args: Any, **kwargs: Any) -> Any:
        page = read_page(*args, **kwargs)
        if page.sessions and not withdrawn:
            withdrawn.append(_cancel(store, request.who, request, at))
        return page

    monkeypatch.setattr(store, "due_page", read_then_withdraw)

    # When the sweep reads it, the member withdraws it, and then the sweep acts on what it read
    result = sweep.run(store, at, plenty)

    # Then the sweep's write lost, it decided again on a fresh read and left the session alone
    assert (result.items_read, result.expired_bookings, result.unchanged) == (1, 0, 1)
    final = stored(world, request.session.id)
    assert final.status is SessionStatus.CANCELED and events(final, "EXPIRED") == 0
    assert releases(world, request) == [CREDITS]
    assert world.balance(request.account) == FUNDS
    world.assert_ledger_consistent(request.account)
