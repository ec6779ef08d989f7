"""A short soak of the local stack (``local/soak.py``; ``make soak`` runs it for 10 minutes):
eight clients at work while faults strike, the clock moves and the sweep runs, then every
invariant holds: ledgers add up, nothing refunded twice, no slot held twice, every lapsed request
released, one email per change and recipient, one domain event per change, no 5xx but the
faults' 502s."""

from local.soak import soak
from tests.e2e.conftest import RunningStack

SECONDS = 30


def test_a_short_soak_under_faults_breaks_no_invariant(own_stack: RunningStack) -> None:
    tally, violations = soak(own_stack.base, SECONDS)

    assert violations == []
    assert sum(tally.actions.values()) >= 100, tally.actions  # it did work ...
    assert tally.faults_armed > 0 and tally.clock_moves > 0  # ... under faults and time
    assert tally.answers["POST 201"] > 0 and tally.answers["POST 200"] > 0
