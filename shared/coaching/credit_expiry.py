"""The scheduled sweep of credits that expire, read from the ledger's sparse Due index.

Runs in its own scheduled function (``functions/credit_expiry``, every 5 minutes), apart from
the sweep of sessions (``sweep``, every minute): a lot needs no reminder's promptness. Only lots
the sweep still has something to do with carry the index's key (``lots.first_due``,
``lots.sweep_step``), and a query stops at ``now``, so a run reads the lots that are due and
nothing else: never a Scan, and a cost that follows the number of lots due, not how many
accounts, lots or entries exist.

For each due lot (``operations.sweep_lot``, one conditional transaction each):

- 7 days before it expires, if it holds credits: its owner is told (a notice, once);
- once it has expired, if it holds credits: they leave the balance with one ``EXPIRE`` entry
  naming the lot, and its owner is told;
- otherwise it is looked at again when it expires, and forgotten an hour after it expired used
  up (``lots.CLOSE_AFTER``).

Shards, pages and reruns work as in ``sweep``: partitions ``DUE#0`` .. ``DUE#{N-1}`` read in
turn, a page each, until all are read to ``now``; a lot whose change lost a race is read again
and decided again; a run that dies or runs out of time leaves the rest in the index for the next
run, and what it did is never done twice (each step lands only on the state it was decided on).
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Literal

from coaching import operations
from coaching.models import Account, LotRecord
from coaching.observability import logger
from coaching.storage import Storage
from coaching.storage.lots import LotPage
from coaching.sweep import Budget, RunResult, Tally, advance, describe

PAGE_SIZE = 50
"""Due lots per query: each comes with its account, and one BatchGetItem takes 100 keys."""

Outcome = Literal["WARN", "EXPIRE", "WAIT", "CLOSE", "UNCHANGED", "FAILED"]


class ExpiryResult(RunResult):
    """What one run of the expiry sweep did (the credit expiry function's answer)."""

    ITEMS: ClassVar[str] = "due lots"
    INDEX: ClassVar[str] = "the ledger's Due index"

    expired_lots: int = 0
    """Lots whose unused credits left with an EXPIRE entry."""
    warned_lots: int = 0
    """Lots whose owners were told their credits expire within 7 days."""
    waited: int = 0
    """Due lots with nothing to tell or take yet: looked at again later."""
    closed: int = 0
    """Lots that expired used up, now forgotten."""


def run(store: Storage, now: datetime, budget: Budget, page_size: int = PAGE_SIZE) -> ExpiryResult:
    """Act on every lot due at ``now``, oldest first, until none is left or ``budget`` runs out.

    One pass is enough: what a step leaves due is always later than ``now`` (told: when it
    expires; waiting: when it expires, or an hour after), never due again in the same run.
    """
    tally = _Tally()
    cursors: dict[str, dict[str, Any] | None] = dict.fromkeys(store.lot_due_partitions())
    while cursors:
        for partition, after in list(cursors.items()):
            if budget() <= 0:
                return tally.result(finished=False)
            page = tally.read(
                partition, partial(store.due_lots_page, partition, now, page_size, after)
            )
            if page is not None and _sweep_page(store, page, now, budget, tally):
                return tally.result(finished=False)
            advance(cursors, partition, page)
    return tally.result(finished=not tally.unqueryable)


def _sweep_page(
    store: Storage, page: LotPage, now: datetime, budget: Budget, tally: "_Tally"
) -> bool:
    """Act on one page's lots; whether the budget ran out first."""
    for record, account in page.lots:
        seen = (record.account_id, record.number)
        if seen in tally.seen:
            continue  # handled in this run already: the index lags, or it failed
        if budget() <= 0:
            return True
        tally.seen.add(seen)
        tally.count(_sweep_one(store, record, account, now))
    return False


def _sweep_one(store: Storage, record: LotRecord, account: Account, now: datetime) -> Outcome:
    try:
        action = operations.sweep_lot(store, record, account, now)
    except Exception as error:  # one lot's failure must not stop the sweep of the others
        logger.error(
            "sweep of a lot failed",
            extra={"account_id": record.account_id, "lot": record.number, **describe(error)},
        )
        return "FAILED"
    return action or "UNCHANGED"


@dataclass
class _Tally(Tally):
    INDEX: ClassVar[str] = "the ledger's Due index"
    ITEM: ClassVar[str] = "lot"
    KEY: ClassVar[str] = "key"

    seen: set[tuple[str, int]] = field(default_factory=set)
    """(account, lot) this run has handled."""

    def result(self, *, finished: bool) -> ExpiryResult:
        return ExpiryResult(
            expired_lots=self.counts.get("EXPIRE", 0),
            warned_lots=self.counts.get("WARN", 0),
            waited=self.counts.get("WAIT", 0),
            closed=self.counts.get("CLOSE", 0),
            unchanged=self.counts.get("UNCHANGED", 0),
            failed=self.counts.get("FAILED", 0),
            query_failed=bool(self.unqueryable),
            items_read=self.items_read,
            capacity_units=round(self.capacity_units, 3),
            pages=self.pages,
            finished=finished,
        )
