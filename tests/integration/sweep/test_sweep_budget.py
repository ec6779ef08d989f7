"""A sweep given too little time stops cleanly, and the next run finishes the work.

Nothing is patched: the budget is a callable the sweep asks before each page and each session.
These stories count the budget's checks, so their Due index has one shard (and the legacy
partition, read after it): test_sweep_shards.py tells the same stories across many shards.
"""

from coaching import sweep
from tests.builders import World
from tests.integration.steps import stored
from tests.integration.sweep.timeline import (
    FUNDS,
    Countdown,
    events,
    one_action_each,
    plenty,
    sweep_at,
)

SWEEP_EVENTS = ("EXPIRED", "RESCHEDULE_EXPIRED", "COMPLETED")


def test_a_sweep_out_of_time_stops_early_and_the_next_run_finishes(one_shard: World) -> None:
    world = one_shard
    # Given five stale sessions, each needing one change
    stale = one_action_each(world)
    at = sweep_at(world)

    # When a sweep, two items a page, runs out of time part way, and a second one follows
    first = sweep.run(world.store, at, Countdown(4), page_size=2)
    second = sweep.run(world.store, at, plenty, page_size=2)

    # Then the first did some of the work and said it had stopped early
    assert not first.finished and first.ok
    assert 0 < first.changed < len(stale)
    # ... the second did exactly the rest and finished
    assert second.finished and second.ok
    assert first.changed + second.changed == len(stale)
    assert first.unchanged == second.unchanged == 0
    # ... and every session changed exactly once, its ledger whole
    for booked in stale:
        after = stored(world, booked.session.id)
        assert sum(events(after, kind) for kind in SWEEP_EVENTS) == 1, after.history
        world.assert_ledger_consistent(booked.account)
    requests = [b for b in stale if b.session.request_expires_at is not None]
    assert [world.balance(b.account) for b in requests] == [FUNDS, FUNDS]


def test_a_sweep_with_no_time_reads_nothing_and_changes_nothing(world: World) -> None:
    # Given stale sessions
    stale = one_action_each(world)

    # When the sweep has no time at all
    result = sweep.run(world.store, sweep_at(world), lambda: 0.0)

    # Then it did not even query the index, and reported that it did not finish
    assert (result.pages, result.items_read, result.changed, result.finished) == (0, 0, 0, False)
    assert result.ok
    assert all(stored(world, b.session.id).version == b.session.version for b in stale)


def test_the_budget_is_checked_before_each_session_not_only_each_page(one_shard: World) -> None:
    world = one_shard
    # Given five stale sessions that fit on one page
    stale = one_action_each(world)

    # When the time runs out after the page and two sessions (three checks)
    result = sweep.run(world.store, sweep_at(world), Countdown(3))

    # Then the sweep stopped inside the page, after the two oldest
    assert (result.pages, result.items_read, result.changed) == (1, 5, 2)
    assert not result.finished
    changed = [stored(world, b.session.id).version != b.session.version for b in stale]
    assert changed == [True, True, False, False, False]
