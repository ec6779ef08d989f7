"""The scheduled sweep of stale sessions, read from the sparse Due index.

Only sessions the sweep will have to act on carry the index's key (``rules.due_at``), and the
query stops at ``now``, so a sweep reads the stale items and nothing else: never a Scan, and a
cost that follows the number of stale sessions, not the size of the table.

Each session's change is ``operations.sweep_session``: one conditional transaction, decided
again on a fresh read when anything else (another sweep, a cancel) got there first. So a sweep
may stop at any point and run again, or run twice at once; what is done is not done twice.

Shards: the index's partition key is one of ``DUE#0`` .. ``DUE#{N-1}`` (and ``DUE``, its one
partition before it was sharded, still read until its last old entry is swept). A pass reads
them in turn, one page each, round and round until every one is exhausted: oldest due first
within a shard, and a budget that runs out leaves every shard about equally behind, never the
last shards starved. Cost: one query per partition per pass (half a read unit each when empty),
plus what the stale items themselves cost.

Passes: a change can leave a session due again at once (a reschedule request expired on a
session that has also ended must then be completed), after the page that listed it was read.
So after a pass that changed anything, the sweep queries again from the start the shards of
the sessions it changed (a changed session's entry is always in its own shard). Sessions no
newer than what this run already handled are skipped: the index lagging behind our own writes
(a global secondary index is eventually consistent) or sessions that failed, which the next
scheduled run tries again.

Reminders: the index also lists sessions' reminders records (``coaching.reminders``) once an
email their time owes is due. Each page's records are marked together
(``operations.fire_reminders``: one conditional transaction per hundred), and the stream takes
each mark to the notifier, which sends it. The sweep itself sends no email: at 10,000 reminders
a minute it makes a hundred writes, and the emails go out from the stream's shards in parallel.

Failures: a session whose change fails is counted and logged (its id, the error's type, code and
where it was raised; never the error's text, which may quote personal data), and the sweep goes
on with the others. The caller raises at the end (``SweepResult.raise_for_failures``), so the
function's Errors metric, and with it the SweepErrorsAlarm, tells someone to look.
"""

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import PurePath
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from coaching import operations
from coaching.errors import DomainError, StorageFailed
from coaching.models import Session
from coaching.observability import logger
from coaching.reminders import Reminders
from coaching.storage import Storage
from coaching.storage.due import DuePage

PAGE_SIZE = 100
"""Due sessions per query: 100 items of a few KB each stay well inside one 1 MB page."""

SAFETY_MARGIN_SECONDS = 10.0
"""Time left unspent before the Lambda timeout. After its last check the sweep finishes the
session in hand: one transaction, re-read and retried with short backoff on conflicts (far
below a second normally); the rest is headroom for SDK retries and the final log and metrics."""

Budget = Callable[[], float]
"""Seconds the sweep may still spend; it starts no new page or session once this is <= 0."""

Outcome = Literal["EXPIRE_BOOKING", "EXPIRE_RESCHEDULE", "COMPLETE", "UNCHANGED", "FAILED"]
CHANGES: frozenset[Outcome] = frozenset({"EXPIRE_BOOKING", "EXPIRE_RESCHEDULE", "COMPLETE"})


class SweepFailed(Exception):
    """Raised after a sweep in which some session or page failed (see the logs for which)."""


class RunResult(BaseModel):
    """What a run over a Due index did, as both sweeps account for it: what it left alone, what
    failed, what it read and what that cost. ``ITEMS`` and ``INDEX`` name them in its failure."""

    model_config = ConfigDict(frozen=True)

    ITEMS: ClassVar[str] = "stale sessions"
    INDEX: ClassVar[str] = "the Due index"

    unchanged: int = 0
    """Due items with nothing left to do: another run, or a person, got there first."""
    failed: int = 0
    """Items whose change failed, or due items that no longer read as what they should be."""
    query_failed: bool = False
    """Some partition of the index could not be read; the run went on with the others."""
    items_read: int = 0
    capacity_units: float = 0.0
    pages: int = 0
    finished: bool = False
    """True when nothing this run could do is left due at ``now``; False when it stopped early."""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.query_failed

    def raise_for_failures(self) -> None:
        problems = []
        if self.failed:
            problems.append(f"{self.failed} {self.ITEMS} could not be swept")
        if self.query_failed:
            problems.append(f"{self.INDEX} could not be read")
        if problems:
            raise SweepFailed("; ".join(problems))


class SweepResult(RunResult):
    """What one sweep did: the function's return value, log line and metrics."""

    expired_bookings: int = 0
    """Booking requests past their deadline that expired, their held credits released."""
    expired_reschedules: int = 0
    """Reschedule requests past their deadline that expired; the sessions kept their time."""
    completed: int = 0
    """Sessions whose end had passed that became COMPLETED."""
    reminders_fired: int = 0
    """Reminders and last calls for a refund marked to be sent (the notifier sends them)."""

    @property
    def changed(self) -> int:
        return self.expired_bookings + self.expired_reschedules + self.completed


def time_budget(
    remaining_millis: Callable[[], int], margin_seconds: float = SAFETY_MARGIN_SECONDS
) -> Budget:
    """A budget from the Lambda context's clock, stopping ``margin_seconds`` before the timeout.

    The margin never takes more than a quarter of the time there is, so a short timeout (a
    local run, a test) still sweeps something.
    """
    margin = min(margin_seconds, remaining_millis() / 4000)
    return lambda: remaining_millis() / 1000 - margin


def run(store: Storage, now: datetime, budget: Budget, page_size: int = PAGE_SIZE) -> SweepResult:
    """Sweep what is due at ``now``, oldest first, until nothing is left or ``budget`` runs out."""
    tally = _Tally()
    partitions = store.due_partitions()
    while partitions:
        out_of_time, changed_in = _one_pass(store, partitions, now, budget, page_size, tally)
        if out_of_time:
            return tally.result(finished=False)
        partitions = [
            p for p in store.due_partitions() if p in changed_in and p not in tally.unqueryable
        ]
    return tally.result(finished=not tally.unqueryable)


def _one_pass(
    store: Storage,
    partitions: list[str],
    now: datetime,
    budget: Budget,
    page_size: int,
    tally: "_Tally",
) -> tuple[bool, set[str]]:
    """Page through ``partitions`` in turn, a page each, until all are read to their end.

    Returns whether the budget ran out first, and the shards of the sessions it changed, where
    a changed session may be due again. A partition that cannot be read (a throttled shard, say)
    is left for the next run; the others are still swept.
    """
    cursors: dict[str, dict[str, Any] | None] = dict.fromkeys(partitions)
    changed_in: set[str] = set()
    while cursors:
        for partition, after in list(cursors.items()):
            if budget() <= 0:
                return True, changed_in
            page = tally.read(partition, partial(store.due_page, partition, now, page_size, after))
            if page is not None and _sweep_page(store, page, now, budget, tally, changed_in):
                return True, changed_in
            advance(cursors, partition, page)
    return False, changed_in


def _sweep_page(
    store: Storage,
    page: DuePage,
    now: datetime,
    budget: Budget,
    tally: "_Tally",
    changed_in: set[str],
) -> bool:
    """Act on one page: mark its reminders, then sweep its sessions; whether the budget ran out
    first. The shards of the sessions it changed are added to ``changed_in``."""
    if page.reminders:
        if budget() <= 0:
            return True
        _fire(store, page.reminders, now, tally)
    for session in page.sessions:
        if tally.seen.get(session.id, 0) >= session.version:
            continue  # handled in this run already: the index lags, or it failed
        if budget() <= 0:
            return True
        tally.seen[session.id] = session.version
        outcome = _sweep_one(store, session, now)
        tally.count(outcome)
        if outcome in CHANGES:
            changed_in.add(store.due_partition(session.id))
    return False


def advance(
    cursors: dict[str, dict[str, Any] | None], partition: str, page: "DueRead | None"
) -> None:
    """Where ``partition`` is read next; a partition read to its end (or unreadable) is done."""
    if page is None or page.next_key is None:
        del cursors[partition]
    else:
        cursors[partition] = page.next_key


def _sweep_one(store: Storage, session: Session, now: datetime) -> Outcome:
    try:
        action = operations.sweep_session(store, session, now)
    except Exception as error:  # one session's failure must not stop the sweep of the others
        logger.error(
            "sweep of a session failed", extra={"session_id": session.id, **describe(error)}
        )
        return "FAILED"
    return action or "UNCHANGED"


def _fire(store: Storage, records: list[Reminders], now: datetime, tally: "_Tally") -> None:
    """Mark the page's due reminders; a failure counts each record as failed and the sweep goes
    on (the records stay due, so the next run tries them again)."""
    try:
        tally.reminders_fired += operations.fire_reminders(store, records, now)
    except Exception as error:  # the page's reminders must not stop the sweep of the rest
        logger.error(
            "marking reminders failed",
            extra={"session_ids": [r.session_id for r in records], **describe(error)},
        )
        for _ in records:
            tally.count("FAILED")


def describe(error: BaseException) -> dict[str, str]:
    """What a log may say about an error: its type, its code and where it was raised.

    Never its text: a pydantic error quotes the values it rejected (names, emails), and a
    domain error's detail is meant for the caller, not for the logs of a scheduled job.
    """
    facts = {"error": type(error).__name__}
    if isinstance(error, DomainError | StorageFailed):
        facts["code"] = error.code
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        last = frames[-1]
        facts["raised_at"] = f"{PurePath(last.filename).name}:{last.lineno} in {last.name}"
    return facts


class DueRead(Protocol):
    """What both sweeps' pages of a Due index say of their reading."""

    @property
    def next_key(self) -> dict[str, Any] | None: ...
    @property
    def items_read(self) -> int: ...
    @property
    def capacity_units(self) -> float: ...
    @property
    def unreadable(self) -> list[str]: ...


Page = TypeVar("Page", bound=DueRead)


@dataclass
class Tally:
    """What a run over a Due index read and did: the accounting the sweeps of sessions and of
    lots share. ``INDEX``, ``ITEM`` and ``KEY`` say in the logs which index and items."""

    INDEX: ClassVar[str] = "the Due index"
    ITEM: ClassVar[str] = "session"
    KEY: ClassVar[str] = "pk"

    counts: dict[str, int] = field(default_factory=dict)
    items_read: int = 0
    capacity_units: float = 0.0
    pages: int = 0
    unreadable: set[str] = field(default_factory=set)
    unqueryable: set[str] = field(default_factory=set)
    """Due index partitions a query failed on."""

    def count(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def read(self, partition: str, query: Callable[[], Page]) -> Page | None:
        """A page of ``partition``, its cost counted and its unreadable items counted as failed
        (once each); None when the partition cannot be read: it is left for the next run."""
        try:
            page = query()
        except StorageFailed as error:
            logger.error(
                f"sweep could not read {self.INDEX}",
                extra={"partition": partition, **describe(error)},
            )
            self.unqueryable.add(partition)
            return None
        self.pages += 1
        self.items_read += page.items_read
        self.capacity_units += page.capacity_units
        for key in page.unreadable:
            if key not in self.unreadable:
                self.unreadable.add(key)
                self.count("FAILED")
                logger.error(f"due item is not a valid {self.ITEM}", extra={self.KEY: key})
        return page


@dataclass
class _Tally(Tally):
    reminders_fired: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    """Session id -> the highest version this run has handled."""

    def result(self, *, finished: bool) -> SweepResult:
        return SweepResult(
            expired_bookings=self.counts.get("EXPIRE_BOOKING", 0),
            expired_reschedules=self.counts.get("EXPIRE_RESCHEDULE", 0),
            completed=self.counts.get("COMPLETE", 0),
            unchanged=self.counts.get("UNCHANGED", 0),
            reminders_fired=self.reminders_fired,
            failed=self.counts.get("FAILED", 0),
            query_failed=bool(self.unqueryable),
            items_read=self.items_read,
            capacity_units=round(self.capacity_units, 3),
            pages=self.pages,
            finished=finished,
        )
