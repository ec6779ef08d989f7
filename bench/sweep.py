"""Sweep: what it reads and spends with 100 stale sessions among 1,000 to 100,000 fresh ones.

The table is filled directly: fresh session items are built in Python (``Session`` models, then
``storage.session_item``) and written with ``BatchWriteItem``, 25 at a time. A tenth of the fresh
sessions are upcoming (SCHEDULED, ending days ahead: in the sparse Due index, not yet due); the
rest are over and done (COMPLETED: not in the index), as in a table that has run for a while.
The stale ones are 100 SCHEDULED sessions that ended two hours ago, which the sweep completes.

At each size the sweep function's handler runs twice on 100 new stale sessions: once with a
detail recorder (requests and capacity), once plain (wall time). Before the timed run, the
sweep's first Query is sent bare (the floor: reading the page of stale sessions).

Unpatched, moto copies every table a transaction names, for its rollback: seconds per
transaction at 100,000 items. The bench runs moto patched as the tests and the local stack do
(``local/moto_patch.py``, installed by ``env.configure_process``): a refused transaction puts back
only the items it named. Nothing else competes for the items here, so no transaction should be
refused; the section reports how many were. Unpatched, moto also answers every query of an index
by scanning the whole table (over a second per query at 100,000 items, for each of the sweep's
queries of the Due shards); patched (``local/moto_index.py``), it reads the partition named.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from bench import stack
from bench.env import REGION, invocation
from bench.recorder import Call, capacity_of, summarize
from bench.report import Section, Table, Target, ms, units
from bench.world import on_the_hour, people, session_model
from coaching import clock
from coaching.models import Person, Role, SessionStatus
from coaching.storage import session_item
from local.scheduler import scheduled_event

SIZES = (1_000, 10_000, 100_000)
STALE = 100
UPCOMING_SHARE = 10
"""One fresh session in this many is upcoming (in the Due index); the rest are completed."""
MAX_GROWTH = 0.10


@dataclass
class Run:
    """One invocation of the sweep function: its wall time, its answer and its requests."""

    seconds: float
    result: dict[str, Any]
    calls: list[Call]


@dataclass
class Size:
    fresh: int
    upcoming: int
    fill_seconds: float
    detail: Run
    timed: Run
    floor_seconds: float


class Filler:
    """Writes session items straight into the table: 25 per ``BatchWriteItem`` to a moto server
    (``endpoint_url``); to in-process moto, through its backend's ``put_item`` (the same write
    as a ``BatchWriteItem``'s, without the request's serializing and parsing: filling is set-up,
    not measured, and was most of the section's time)."""

    def __init__(
        self, table: str, now: datetime, due_shards: int, endpoint_url: str | None = None
    ) -> None:
        # Validation off: it only checks the request's shape, and these are built by the layer.
        self.client = boto3.client(
            "dynamodb",
            region_name=REGION,
            endpoint_url=endpoint_url,
            config=Config(parameter_validation=False),
        )
        self.table = table
        self.in_process = endpoint_url is None
        self.now = now
        self.due_shards = due_shards
        self.members = people(500, Role.MEMBER)
        self.coaches = people(100, Role.COACH)
        self.written = 0
        self.upcoming = 0

    def _people(self, n: int) -> tuple[Person, Person]:
        return self.coaches[n % len(self.coaches)], self.members[n % len(self.members)]

    def fresh(self, count: int) -> None:
        items = []
        for _ in range(count):
            n = self.written
            coach, member = self._people(n)
            if n % UPCOMING_SHARE == 0:
                start = on_the_hour(self.now + timedelta(days=1, hours=n % 2000))
                status = SessionStatus.SCHEDULED
                self.upcoming += 1
            else:
                start = on_the_hour(self.now - timedelta(days=1, hours=n % 20000))
                status = SessionStatus.COMPLETED
            session = session_model(
                status=status, start=start, now=self.now, coach=coach, member=member
            )
            items.append(session_item(session, due_shards=self.due_shards))
            self.written += 1
        self._write(items)

    def stale(self, count: int, now: datetime) -> None:
        """Sessions that ended two to three hours before ``now`` and were never completed."""
        items = []
        for n in range(count):
            coach, member = self._people(n)
            start = now - timedelta(hours=3, minutes=15 * (n % 4))
            session = session_model(
                status=SessionStatus.SCHEDULED, start=start, now=now, coach=coach, member=member
            )
            items.append(session_item(session, due_shards=self.due_shards))
        self._write(items)

    def _write(self, items: list[dict[str, Any]]) -> None:
        if self.in_process:
            backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
            for item in items:
                backend.put_item(self.table, item)
            return
        batch_write(self.client, self.table, items)


def batch_write(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """``items`` into ``table``, 25 per ``BatchWriteItem``, again until none is left unprocessed."""
    for start in range(0, len(items), 25):
        pending: dict[str, Any] = {
            table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
        }
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})


def sweep_once(aws: stack.Aws, *, detail: bool, function: str = "SweepFunction") -> Run:
    """A sweep function's handler (the sessions' unless ``function`` names the credits'), run
    once on a schedule's event; ``detail`` records each request's capacity (slower: not for the
    timed run)."""
    aws.recorder.detail = detail
    aws.recorder.take()
    result, seconds = invocation(function, scheduled_event("bench")).timed()
    aws.recorder.detail = False
    return Run(seconds=seconds, result=result, calls=aws.recorder.take())


def floor_seconds(aws: stack.Aws, calls: list[Call], table: str) -> float:
    """The first Query of ``table`` among ``calls``, sent again bare: what one costs alone."""
    first = next(
        c for c in calls if c.operation == "Query" and (c.params or {}).get("TableName") == table
    )
    method = getattr(aws.bare, xform_name(first.operation))
    started = time.perf_counter()
    method(**dict(first.params or {}))
    return time.perf_counter() - started


def refused_writes(*runs: Run) -> int:
    """Transactions DynamoDB refused in ``runs`` (a condition failed: a race, or a fault)."""
    return sum(
        1 for run in runs for c in run.calls if c.error and c.operation == "TransactWriteItems"
    )


def run(sizes: tuple[int, ...] = SIZES) -> Section:
    measured: list[Size] = []
    refused = 0
    started_section = time.perf_counter()
    with mock_aws(), stack.tables(streams=False) as aws:
        filler = Filler(aws.settings.sessions_table, clock.now(), aws.settings.due_shards)
        for size in sorted(sizes):
            started = time.perf_counter()
            filler.fresh(size - filler.written)
            fill_seconds = time.perf_counter() - started
            filler.stale(STALE, clock.now())
            detail = sweep_once(aws, detail=True)
            filler.stale(STALE, clock.now())
            floor = floor_seconds(aws, detail.calls, aws.settings.sessions_table)
            timed = sweep_once(aws, detail=False)
            refused += refused_writes(detail, timed)
            measured.append(
                Size(
                    fresh=filler.written,
                    upcoming=filler.upcoming,
                    fill_seconds=fill_seconds,
                    detail=detail,
                    timed=timed,
                    floor_seconds=floor,
                )
            )
    section_seconds = time.perf_counter() - started_section

    table = Table(
        f"Sweep: {STALE} stale sessions among fresh ones (sweep function's handler)",
        [
            "fresh items",
            "in Due index, not due",
            "items read",
            "requests",
            "RCU",
            "WCU",
            "completed",
            "sweep ms",
            "floor: bare Due query ms",
            "filling s",
        ],
    )
    for s in measured:
        capacity = capacity_of(s.detail.calls)
        reads = capacity_of([c for c in s.detail.calls if c.operation in ("Query", "BatchGetItem")])
        table.add(
            f"{s.fresh:,}",
            f"{s.upcoming:,}",
            s.detail.result["items_read"],
            summarize(s.detail.calls),
            units(reads.read),
            units(capacity.write),
            f"{s.detail.result['completed']}"
            + ("" if s.detail.result["finished"] else " (out of time)"),
            ms(s.timed.seconds),
            ms(s.floor_seconds),
            f"{s.fill_seconds:.0f}",
        )
    first, last = measured[0], measured[-1]
    first_read = first.detail.result["items_read"]
    growth = last.detail.result["items_read"] / first_read - 1 if first_read else float("inf")
    all_finished = all(s.detail.result["finished"] for s in measured)
    fill_rate = last.fresh / max(sum(s.fill_seconds for s in measured), 1e-9)
    table.notes += [
        "'items read' is what the sweep reports (the sum of the Due queries' ScannedCount, one "
        "query at least per shard of the Due index); RCU is computed from the index entries the "
        "queries read and the due sessions read whole (BatchGetItem), WCU from the transactions "
        "that completed the stale sessions (including index writes).",
        "'sweep ms' is a second run on 100 new stale sessions, without the detail recorder; the "
        "floor is the sweep's first Due query sent bare. moto answers a query from the "
        "partition it names (local/moto_index.py; unpatched, it scans the whole table), but "
        "still looks at every entry of that partition where DynamoDB reads only those up to "
        "now: the upcoming sessions in a shard grow with the table, and so do moto's times, "
        "not the items read.",
        f"The whole section took {section_seconds:.0f} s; filling is moto's put_item (what a "
        f"BatchWriteItem does, without the request) at about {fill_rate:.0f} items/s.",
        f"Transactions refused during the sweeps: {refused} (nothing else writes: 0 expected).",
    ]
    targets = [
        Target(
            f"sweep reads grow by less than {MAX_GROWTH:.0%} from {first.fresh:,} to "
            f"{last.fresh:,} fresh items",
            growth < MAX_GROWTH and last.fresh >= 100_000 and refused == 0 and all_finished,
            f"{first_read} -> {last.detail.result['items_read']} items read ({growth:+.0%})"
            + ("" if last.fresh >= 100_000 else f"; only measured up to {last.fresh:,}")
            + ("" if all_finished else "; a sweep ran out of time, so its reads are partial"),
        )
    ]
    return Section(tables=[table], targets=targets)
