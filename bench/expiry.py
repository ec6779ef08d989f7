"""Expiry sweep: what it reads and spends with 100 due lots among 1,000 and 10,000 accounts.

The ledger table is filled directly: each account is its item (a lot that never expires and one
that expires months ahead, as ``Account.lots`` holds them) and that lot's record, which is in the
ledger's sparse Due index but not due for months; written with ``BatchWriteItem``, 25 at a time.
The due ones are 100 accounts whose lot expired an hour ago with credits left, which the sweep
expires (one ``EXPIRE`` each, and its notice).

At each size the credit expiry function's handler runs twice on 100 new due lots: once with a
detail recorder (requests and capacity), once plain (wall time); before the timed run, its
first Query of the ledger's Due index is sent bare (the floor).
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

from bench import stack
from bench.env import REGION
from bench.recorder import Call, capacity_of, summarize
from bench.report import Section, Table, Target, ms, units
from bench.sweep import Run, batch_write, floor_seconds, refused_writes, sweep_once
from coaching import clock, lots
from coaching.models import NEVER_EXPIRES, Account, Lot, Person
from coaching.storage import keys
from coaching.storage.codec import to_item
from coaching.storage.ledger import lot_record, lot_values

SIZES = (1_000, 10_000)
"""Not 100,000 as for the sessions: moto answers each of the 32 shards' queries by scanning the
whole table (a second each at 10,000 accounts), so a larger table runs the function out of time
in moto alone; DynamoDB reads only the index entries up to now, whatever the table holds."""
DUE = 100
MAX_GROWTH = 0.10


@dataclass
class Size:
    accounts: int
    fill_seconds: float
    detail: Run
    timed: Run
    floor_seconds: float


class Filler:
    """Writes accounts and their lots' records straight into the ledger table."""

    def __init__(self, table: str, now: datetime, due_shards: int) -> None:
        # Validation off: it only checks the request's shape, and these are built by the layer.
        self.client = boto3.client(
            "dynamodb", region_name=REGION, config=Config(parameter_validation=False)
        )
        self.table = table
        self.now = now
        self.due_shards = due_shards
        self.written = 0

    def accounts(self, count: int, *, expires_at: datetime, opened_at: datetime) -> None:
        """``count`` members' accounts, 5 credits that never expire and 3 that expire at
        ``expires_at`` each, with that lot's record (in the Due index from its notice on)."""
        items: list[dict[str, Any]] = []
        for _ in range(count):
            owner = f"bench-member-{uuid.uuid4().hex[:16]}"
            expiring = Lot(number=1, credits_left=3, expires_at=expires_at, told=True)
            account = Account.personal(owner).model_copy(
                update={
                    "balance": 8,
                    "version": 2,
                    "lots": [expiring, Lot(number=NEVER_EXPIRES, credits_left=5)],
                    "lots_opened": 1,
                    "contacts": [Person(id=owner, name="Maya", email=f"{owner}@example.com")],
                }
            )
            values = account.model_dump(mode="json", exclude_none=True)
            items.append(to_item({**values, **keys.account(account.id), "entity": "ACCOUNT"}))
            record = lot_record(account, expiring, opened_at, told=True)
            items.append(to_item(lot_values(record, self.due_shards)))
            self.written += 1
        self._write(items)

    def _write(self, items: list[dict[str, Any]]) -> None:
        batch_write(self.client, self.table, items)


def _ledger_calls(aws: stack.Aws, calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.touches(aws.settings.ledger_table)]


def run(sizes: tuple[int, ...] = SIZES) -> Section:
    measured: list[Size] = []
    refused = 0
    started_section = time.perf_counter()
    with mock_aws(), stack.tables(streams=False) as aws:
        now = clock.now()
        filler = Filler(aws.settings.ledger_table, now, aws.settings.due_shards)
        for size in sorted(sizes):
            started = time.perf_counter()
            filler.accounts(
                size - filler.written, expires_at=now + timedelta(days=90), opened_at=now
            )
            fill_seconds = time.perf_counter() - started
            runs: list[Run] = []
            for _ in range(2):
                # due now: expired an hour ago, owners told a week before
                filler.accounts(
                    DUE,
                    expires_at=now - timedelta(hours=1),
                    opened_at=now - lots.NOTICE - timedelta(days=1),
                )
                filler.written -= DUE  # the size counts the accounts that are not due
                runs.append(sweep_once(aws, detail=not runs, function="CreditExpiryFunction"))
            detail, timed = runs
            floor = floor_seconds(aws, detail.calls, aws.settings.ledger_table)
            refused += refused_writes(detail, timed)
            measured.append(
                Size(
                    accounts=filler.written,
                    fill_seconds=fill_seconds,
                    detail=detail,
                    timed=timed,
                    floor_seconds=floor,
                )
            )
    section_seconds = time.perf_counter() - started_section

    table = Table(
        f"Expiry sweep: {DUE} due lots among accounts whose lots are not due "
        "(the credit expiry function's handler)",
        [
            "accounts (a lot each, not due)",
            "lots read",
            "ledger requests",
            "RCU",
            "WCU",
            "lots expired",
            "sweep ms",
            "floor: bare Due query ms",
            "filling s",
        ],
    )
    for s in measured:
        ledger = _ledger_calls(aws, s.detail.calls)
        reads = capacity_of([c for c in ledger if c.operation in ("Query", "BatchGetItem")])
        writes = capacity_of([c for c in ledger if c.operation == "TransactWriteItems"])
        credits = s.detail.result
        table.add(
            f"{s.accounts:,}",
            credits["items_read"],
            summarize(ledger),
            units(reads.read),
            units(writes.write),
            f"{credits['expired_lots']}" + ("" if credits["finished"] else " (out of time)"),
            ms(s.timed.seconds),
            ms(s.floor_seconds),
            f"{s.fill_seconds:.0f}",
        )
    first, last = measured[0], measured[-1]
    first_read = first.detail.result["items_read"]
    growth = last.detail.result["items_read"] / first_read - 1 if first_read else float("inf")
    all_finished = all(s.detail.result["finished"] for s in measured)
    expired_all = all(s.detail.result["expired_lots"] == DUE for s in measured)
    table.notes += [
        "'lots read' is what the sweep reports (the Due queries' ScannedCount, one query at "
        "least per shard of the ledger's Due index); RCU is computed from the index entries the "
        "queries read and the due lots and their accounts read whole (one BatchGetItem per "
        "page); WCU from the transactions that expired them (account, EXPIRE entry, record, "
        "notice; index writes included). Only the ledger table's requests are counted here.",
        "'sweep ms' is a second run on 100 new due lots, without the detail recorder (the whole "
        "handler). "
        "moto scans a whole table to answer a query on an index, so its own time grows with "
        "the table; DynamoDB reads only the index entries up to now.",
        f"The whole section took {section_seconds:.0f} s.",
        f"Transactions refused during the sweeps: {refused} (nothing else writes: 0 expected).",
    ]
    targets = [
        Target(
            f"expiry sweep reads grow by less than {MAX_GROWTH:.0%} from {first.accounts:,} to "
            f"{last.accounts:,} accounts",
            growth < MAX_GROWTH and refused == 0 and all_finished and expired_all,
            f"{first_read} -> {last.detail.result['items_read']} lots read ({growth:+.0%})"
            + ("" if all_finished else "; a sweep ran out of time, so its reads are partial"),
        )
    ]
    return Section(tables=[table], targets=targets)
