"""The soak (``local/soak.py``) as a bench section: eight clients against a local stack of its
own for ten minutes, while faults strike, the clock moves and the sweep runs; then every
invariant, and what it took."""

import time

from bench.report import Section, Table, Target
from local.soak import CLIENTS, own_stack, soak


def run(seconds: float = 600.0) -> Section:
    started = time.monotonic()
    with own_stack() as base:
        tally, violations = soak(base, seconds)
    took = time.monotonic() - started
    requests_made = sum(
        n for k, n in tally.answers.items() if k.split()[0] in ("GET", "POST", "PUT", "DELETE")
    )
    unexpected = [v for v in violations if "answered 5" in v]
    table = Table(f"Soak: {CLIENTS} clients for {seconds:.0f} s under faults", ["", "count"])
    table.add("requests (all answers)", f"{requests_made:,} ({requests_made / seconds:.1f}/s)")
    for action, count in sorted(tally.actions.items()):
        table.add(f"action: {action}", f"{count:,}")
    for answer, count in sorted(tally.answers.items()):
        table.add(f"answer: {answer}", f"{count:,}")
    table.add("faults armed (die before or after the commit)", f"{tally.faults_armed:,}")
    table.add("502s retried with the same key", f"{tally.retried_502:,}")
    table.add("answered requests sent again (replayed)", f"{tally.replays:,}")
    table.add("clock moves / sweeps while it ran", f"{tally.clock_moves} / {tally.sweeps}")
    table.add("invariant violations", f"{len(violations)}")
    table.notes += [
        f"Wall time {took:.0f} s with setting up, the final sweep (the clock moved 90 days on) "
        "and the checks: ledgers, refunds, held slots, lapsed requests, one email per change "
        "and recipient, one domain event per change (local/soak.py).",
        *[f"violation: {v}" for v in violations[:20]],
    ]
    return Section(
        tables=[table],
        targets=[
            Target(
                f"a soak of {seconds:.0f} s under faults breaks no invariant",
                not violations,
                f"{len(violations)} violations",
            ),
            Target(
                "no 5xx in the soak but the armed faults' 502s",
                not unexpected,
                f"{len(unexpected)} others",
            ),
        ],
    )
