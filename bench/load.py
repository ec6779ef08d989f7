"""The load model: write units a second on the busiest partition of each table and index, at
100, 1,000 and 10,000 session changes a second.

Each kind of change in ``MIX`` runs once for real against moto with the template's tables: the
API's changes through their function's handler (with an Idempotency-Key, as clients send
them), the sweep's through ``operations.sweep_session``; then the notify handler takes that
change's stream record and claims its emails. A detail recorder notes every item written, as
it was and as it is, and ``bench/capacity.py``'s rules turn those into the WCU each change
spends on each partition key of each table and index.

For ``rate`` changes a second in the mix's proportions:

- a Due shard takes ``rate`` x (the mix's Due WCU per change) / DueShards: the shard is a hash
  of the session id, so changes spread evenly;
- every other partition key names one thing (a session, a slot, an account, a member, a coach,
  an Idempotency-Key, an email claim) and takes that thing's own changes only: the busiest such
  thing's rate, ``PEAK_RATES``, times what one change spends on its key. That rate does not
  grow with the platform; DynamoDB spreads the many keys over as many partitions as it needs.

Target: no partition above half of DynamoDB's 1,000 WCU a second per partition at 10,000.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from moto import mock_aws

from bench import stack
from bench.api_ops import BOOK_FROM_LOTS, OPERATIONS, _invoke
from bench.capacity import (
    Index,
    index_partition_writes,
    item_size,
    read_units,
    write_units,
)
from bench.env import TableSchema, invocation, is_session_record
from bench.notify import _records, streams_client
from bench.recorder import Call, ItemWrite
from bench.report import Section, Table, Target, units
from bench.world import subject
from coaching import clock, operations

RATES = (100, 1_000, 10_000)
PARTITION_LIMIT = 1_000
"""DynamoDB's write units a second on one partition."""
TARGET_SHARE = 0.5
TABLE_QUOTA = 40_000
"""The default (adjustable) on-demand limit on one table's write units a second."""

SWEPT = "complete (sweep)"
"""The change the sweep makes, not an API operation."""
MIX: tuple[tuple[str, float], ...] = (
    (BOOK_FROM_LOTS, 0.35),
    ("reschedule", 0.10),
    ("cancel, refunded", 0.10),
    ("cancel, not refunded", 0.05),
    ("refund (coach, after a late cancel)", 0.02),
    (SWEPT, 0.38),
)
"""Kinds of change and their share: most sessions are booked and then completed."""

PEAK_RATES: Mapping[str, float] = {
    "session": 1,
    "slot": 1,
    "member": 1,
    "idempotency key": 1,
    "email claim": 1,
    "coach": 10,
    "account": 50,
}
"""Changes a second on the busiest one thing of each kind. A session, its slots, its key and
its emails change when a person acts (and conditional writes serialize them); a coach's
calendar can draw a rush of bookings when it opens; a group account pays for a whole
organisation's members, who may all book the moment a programme opens."""

WRITE_PRICE_RATIO = 5
"""On-demand, a write request unit costs five times a read request unit."""
LISTING_PAGE = 20
"""Sessions a listing page shows by default (GET /sessions)."""


@dataclass
class Change:
    name: str
    share: float
    writes: list[ItemWrite] = field(default_factory=list)


def _writes(calls: Iterable[Call]) -> list[ItemWrite]:
    return [w for c in calls for w in c.writes]


def _after_stream(aws: stack.Aws, session_id: str, seen: int) -> tuple[list[ItemWrite], int]:
    """Let the notify handler take the change's stream record; its claims' writes."""
    arn = aws.bare.describe_table(TableName=aws.settings.sessions_table)["Table"]["LatestStreamArn"]
    records = _records(streams_client(), arn)
    mine = [
        r
        for r in records[seen:]
        if is_session_record(r) and r["dynamodb"]["Keys"]["pk"]["S"] == f"SESSION#{session_id}"
    ]
    aws.recorder.take()
    aws.recorder.detail = True
    try:
        notify = invocation("NotifyFunction", {"Records": mine[-1:]})
        answer = notify.handler(notify.event, notify.context())
    finally:
        aws.recorder.detail = False
    if answer != {"batchItemFailures": []}:
        raise RuntimeError(f"notify failed: {answer}")
    return _writes(aws.recorder.take()), len(records)


def measure_changes() -> tuple[list[Change], dict[str, TableSchema]]:
    """Each change of the mix, once, with the items it wrote (tables by logical id)."""
    changes = []
    with mock_aws(), stack.tables(streams=True) as aws:
        logical = {v: k for k, v in aws.settings.table_names().items()}
        schemas = {logical[name]: schema for name, schema in aws.schemas.items()}
        now = clock.now()
        seen = 0
        for name, share in MIX:
            change = Change(name, share)
            if name == SWEPT:
                # Two hours ahead (the bench's service asks 30 minutes' notice, and the start
                # is rounded down to the hour), over four hours from now.
                who = subject(aws.store, now, sessions_in_hours=(2,))
                aws.recorder.take()
                aws.recorder.detail = True
                try:
                    done = operations.sweep_session(
                        aws.store, who.session, now + timedelta(hours=4)
                    )
                finally:
                    aws.recorder.detail = False
                if done != "COMPLETE":
                    raise RuntimeError(f"the sweep did {done}")
                calls = aws.recorder.take()
                session_id = who.session.id
            else:
                operation = next(o for o in OPERATIONS if o.name == name)
                who = subject(aws.store, now, sessions_in_hours=operation.sessions_in_hours)
                if operation.prepare is not None:
                    operation.prepare(aws.store, who, now)
                aws.recorder.detail = True
                try:
                    sample = _invoke(aws, operation.request(who, now), operation.status)
                finally:
                    aws.recorder.detail = False
                calls = sample.calls
                session_id = str(sample.body["id"])
            emails, seen = _after_stream(aws, session_id, seen)
            change.writes = [replace(w, table=logical[w.table]) for w in _writes(calls) + emails]
            changes.append(change)
    return changes, schemas


# --- partitions ---------------------------------------------------------------------------


KINDS = {
    "SESSION": "session",
    "SLOT": "slot",
    "ACCOUNT": "account",
    "MEMBER": "member",
    "COACH": "coach",
}


def _kind(where: str, value: str) -> str:
    if where == "IdempotencyTable":
        return "idempotency key"
    if where == "EmailsTable":
        return "email claim"
    if where.endswith(".Due"):
        return "Due shard" if value.startswith("DUE#") else "Due, legacy"
    return KINDS.get(value.split("#", 1)[0], value.split("#", 1)[0].lower())


def partition_writes(
    writes: Iterable[ItemWrite], schemas: Mapping[str, TableSchema]
) -> dict[tuple[str, str], dict[str, float]]:
    """WCU by (table or index, kind of key) and then by partition key value."""
    found: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for write in writes:
        schema = schemas[write.table]
        item = write.after or write.before
        assert item is not None
        value = str(next(iter(item[schema.keys[0]].values())))
        base = write_units(max(item_size(write.before), item_size(write.after)))
        found[(write.table, _kind(write.table, value))][value] += base * (
            2 if write.transactional else 1
        )
        for index in schema.indexes:
            where = f"{write.table}.{index.name}"
            for key, spent in index_partition_writes(index, write.before, write.after):
                found[(where, _kind(where, key))][key] += spent
    return found


def _with_projections(
    schemas: Mapping[str, TableSchema], projections: Mapping[str, tuple[str, ...] | None]
) -> dict[str, TableSchema]:
    """The schemas with some indexes projecting otherwise (by index name)."""
    return {
        name: replace(
            schema,
            indexes=[
                replace(i, projection=projections[i.name]) if i.name in projections else i
                for i in schema.indexes
            ],
        )
        for name, schema in schemas.items()
    }


def _index_units(writes: list[ItemWrite], schemas: Mapping[str, TableSchema]) -> float:
    return sum(
        spent
        for (where, _), keys in partition_writes(writes, schemas).items()
        if "." in where
        for spent in keys.values()
    )


def _total(writes: list[ItemWrite], schemas: Mapping[str, TableSchema]) -> float:
    return sum(sum(keys.values()) for keys in partition_writes(writes, schemas).values())


@dataclass
class Row:
    where: str
    kind: str
    per_change: float
    """WCU one change (in the mix's proportions) spends on one key of this kind."""
    busiest_rate: str
    at: dict[int, float]


def model(
    changes: list[Change], schemas: Mapping[str, TableSchema], shards: int
) -> tuple[list[Row], dict[str, float]]:
    """The busiest partition of each (table or index, kind of key) at each rate, and each
    table's WCU per change in the mix (its indexes included)."""
    per_change: dict[tuple[str, str], float] = defaultdict(float)
    tables: dict[str, float] = defaultdict(float)
    for change in changes:
        for (where, kind), keys in partition_writes(change.writes, schemas).items():
            if kind == "Due shard":
                per_change[(where, kind)] += change.share * sum(keys.values())
            else:
                per_change[(where, kind)] += change.share * max(keys.values())
            tables[where.split(".")[0]] += change.share * sum(keys.values())
    rows = []
    for (where, kind), spent in sorted(per_change.items()):
        if kind == "Due, legacy":
            continue  # only old entries leaving; nothing new is written there
        if kind == "Due shard":
            at = {rate: rate * spent / shards for rate in RATES}
            rows.append(Row(where, kind, spent, f"1/{shards} of all changes", at))
            continue
        peak = PEAK_RATES.get(kind, 1.0)
        at = {rate: min(peak, rate) * spent for rate in RATES}
        rows.append(Row(where, kind, spent, f"{peak:g}/s", at))
    return rows, dict(tables)


def run() -> Section:
    changes, schemas = measure_changes()
    shards = stack.new_settings().due_shards
    rows, tables = model(changes, schemas, shards)

    busiest = Table(
        f"Load model: WCU a second on the busiest partition (Due index in {shards} shards)",
        ["table.index", "partition key", "busiest key's rate", "WCU per change on it"]
        + [f"at {rate:,}/s" for rate in RATES],
    )
    for row in rows:
        busiest.add(
            row.where,
            row.kind,
            row.busiest_rate,
            units(round(row.per_change, 2)),
            *(f"{row.at[rate]:,.0f}" for rate in RATES),
        )
    busiest.notes += [
        "Changes in these shares: "
        + ", ".join(f"{name} {share:.0%}" for name, share in MIX)
        + "; each measured once through its handler (the sweep's through the policy layer) "
        "and the notify function, items sized by bench/capacity.py.",
        "A Due shard takes its share of every change; any other key names one thing and "
        "takes only that thing's changes, at the busiest such thing's rate (PEAK_RATES in "
        "bench/load.py), whatever the platform's rate.",
        f"DynamoDB takes {PARTITION_LIMIT:,} WCU a second on one partition; throttled index "
        "writes throttle the table's writes with them.",
    ]
    due = next((r for r in rows if r.kind == "Due shard"), None)
    if due is not None:
        needed = math.ceil(RATES[-1] * due.per_change / (PARTITION_LIMIT * TARGET_SHARE))
        busiest.notes.append(
            f"The Due index takes {units(round(due.per_change, 2))} WCU per change across its "
            f"shards: {RATES[-1]:,} changes a second need at least {needed} shards to keep each "
            f"under {PARTITION_LIMIT * TARGET_SHARE:,.0f}; one partition (before sharding) "
            f"would take {RATES[-1] * due.per_change:,.0f} at {RATES[-1]:,} a second (with "
            "sessions projected whole, more)."
        )

    totals = Table(
        "Load model: WCU a second per table, its indexes included",
        ["table", "WCU per change"] + [f"at {rate:,}/s" for rate in RATES],
    )
    for name, spent in sorted(tables.items()):
        totals.add(name, units(round(spent, 2)), *(f"{rate * spent:,.0f}" for rate in RATES))
    over = [n for n, spent in tables.items() if RATES[-1] * spent > TABLE_QUOTA]
    totals.notes.append(
        f"An on-demand table takes at most {TABLE_QUOTA:,} WCU a second by default (a quota "
        "AWS raises on request)"
        + (
            f": raise it for {', '.join(sorted(over))} before {RATES[-1]:,} changes a second."
            if over
            else "."
        )
    )

    limit = PARTITION_LIMIT * TARGET_SHARE
    worst = max(rows, key=lambda r: r.at[RATES[-1]])
    target = Target(
        f"no partition above {limit:,.0f} WCU/s (half of {PARTITION_LIMIT:,}) at "
        f"{RATES[-1]:,} changes a second",
        worst.at[RATES[-1]] <= limit,
        f"busiest {worst.where} ({worst.kind}): {worst.at[RATES[-1]]:,.0f} WCU/s",
    )
    return Section(tables=[busiest, totals, _projections_table(changes, schemas)], targets=[target])


def _projections_table(changes: list[Change], schemas: Mapping[str, TableSchema]) -> Table:
    """WCU per change as deployed, against every index projecting ALL (as before), and against
    the listing indexes holding keys and ``status`` too (the road not taken)."""
    everything = _with_projections(schemas, {"ByMember": None, "ByCoach": None, "Due": None})
    lean = _with_projections(schemas, {"ByMember": ("status",), "ByCoach": ("status",)})
    table = Table(
        "Index projections: WCU per change",
        [
            "change",
            "every index ALL",
            "as deployed (Due keys only)",
            "saved",
            "index WCU, deployed",
            "ByMember/ByCoach keys + status too",
        ],
    )
    for change in changes:
        before = _total(change.writes, everything)
        now = _total(change.writes, schemas)
        table.add(
            change.name,
            units(before),
            units(now),
            f"{units(before - now)} ({(before - now) / before:.0%})",
            units(_index_units(change.writes, schemas)),
            units(_total(change.writes, lean)),
        )
    saved_per_change = sum(
        c.share * (_total(c.writes, schemas) - _total(c.writes, lean)) for c in changes
    )
    session = _largest_session(changes)
    page_all = read_units(LISTING_PAGE * item_size(session), consistent=False)
    entry = Index("ByMember", ("member_pk", "start_at"), ("status",), ("pk", "sk")).entry(session)
    page_lean = read_units(LISTING_PAGE * item_size(entry), consistent=False) + LISTING_PAGE * (
        read_units(item_size(session), consistent=False)
    )
    break_even = saved_per_change * WRITE_PRICE_RATIO / (page_lean - page_all)
    table.notes += [
        "The listing indexes keep ALL: a listing shows each session whole, so an index of keys "
        f"and status would make every page of {LISTING_PAGE} sessions "
        f"({item_size(session):,} bytes each here) a query plus a BatchGetItem, "
        f"{units(page_lean)} RCU instead of {units(page_all)} and one more round trip on the "
        f"request path, to save {saved_per_change:.1f} WCU per change (the last column, in the "
        f"mix). At on-demand prices (a write unit costs {WRITE_PRICE_RATIO} read units) that "
        f"pays only below {break_even:.1f} listing pages per change; people look at their "
        "sessions more often than they change them, and every look would wait longer.",
        "The Due index's one reader, the sweep, reads only the few sessions that are due, "
        "whole and by key (consistent: it acts on them); keys only also means no list of "
        "fields to keep in step with the session model.",
    ]
    return table


def _largest_session(changes: list[Change]) -> Mapping[str, Any]:
    sessions = [
        w.after
        for change in changes
        for w in change.writes
        if w.after is not None and w.after.get("sk", {}).get("S") == "SESSION"
    ]
    return max(sessions, key=item_size)
