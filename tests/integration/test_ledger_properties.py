"""Property tests of the credit ledger: random sequences of every operation, checked after each.

A hypothesis state machine books, cancels, moves, refunds, marks no-shows, answers and sweeps
sessions of two coaches for three members paying from personal accounts and a shared group
account (one service with refund tiers and a move limit, one that wants a cancel reason), on a
clock that only moves forward, and retries calls at random with the same arguments. It also
kills the HTTP functions just before or just after their commit and retries them with the same
Idempotency-Key, through the real handlers. In-process moto (``mock_aws``) holds fresh tables
for each example; nothing here runs on threads (races are in test_races.py, against the
serialized server).

After every step it checks what must always hold: each account's balance is the sum of its
entries and never negative; a session is debited once and never gets back more than it paid;
automatic refunds (a cancel's, a release, a coach no-show's) happen at most once; a refused
call changes nothing; and the coach's slots are held by exactly the sessions that need them.
Each operation's outcome is also checked against an oracle written from the rules as
docs/api.md states them (who may do it, when it is refunded, what it costs).

Credits expire too: grants carry an expiry at random, time moves, and the expiry sweep runs
(whole, on a lot read before a booking changed it, and killed at its commit, then run again).
After every step: the balance is the sum of the entries and of the lots' ``credits_left``; no
lot is below zero; every lot's credits are spent, expired once, or still there (its moves add
up to what it holds, and nothing moves it after its EXPIRE); no booking spends from an expired
lot, and each spends the soonest to expire first; no lot gets back more than a session took
from it; and once a sweep has finished, no expired lot holds credits.

The operations go through ``Storage`` and boto3 as in production. The checks read the tables
straight from moto's in-process backend: a boto3 Scan of every table after every step costs
tens of milliseconds in moto, which would make the property test take minutes.
"""

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from coaching import clock, credit_expiry, operations, runtime, sweep
from coaching.errors import (
    DomainError,
    Forbidden,
    InsufficientCredits,
    NoShowAlreadyMarked,
    NotFound,
    NothingToRefund,
    NotPending,
    RescheduleLimitReached,
    RescheduleWindowClosed,
    SessionNotUpcoming,
    SessionStillUpcoming,
    SlotTaken,
    ValidationFailed,
)
from coaching.models import (
    ACTIVE_STATUSES,
    MAX_EXPIRING_LOTS,
    NEVER_EXPIRES,
    SLOT_MINUTES,
    Account,
    Availability,
    Caller,
    EntryKind,
    LedgerEntry,
    LotRecord,
    RefundStatus,
    RefundTier,
    Role,
    Service,
    Session,
    SessionStatus,
    personal_account_id,
)
from coaching.settings import Settings
from coaching.storage import Storage, session_from_item
from local.faults import Faults, FunctionKilled
from local.template import create_tables
from tests.api_client import Api, Reply
from tests.builders import NOW, World, coach, member

Key = tuple[str, str]
Item = dict[str, Any]
Table = dict[Key, Item]

SLOT = timedelta(minutes=SLOT_MINUTES)
RETURNS = (EntryKind.REFUND, EntryKind.RELEASE)
NOT_OF_A_SESSION = (EntryKind.GRANT, EntryKind.EXPIRE)
REGION = "us-east-1"
SHARDS = 4
_deserializer = TypeDeserializer()
_BOTO = boto3.session.Session(region_name=REGION)
"""One session for every example: its clients share the parsed service models."""

# A new booking (or a new time) is this far from the next slot boundary: few enough choices that
# the same coach is asked for the same or overlapping times often, on both sides of each window.
HOURS = st.sampled_from([1, 2, 3, 6, 23, 24, 25, 48])
MINUTES = st.sampled_from([0, 30])
CALLERS = st.sampled_from(["member", "coach", "support", "stranger"])
MOVERS = st.sampled_from(["member", "member", "member", "coach", "support", "stranger"])
"""Who moves a session: mostly its member, whose late moves are refused or wait for the coach."""
STAFF = st.sampled_from(["coach", "coach", "support", "support", "member", "stranger"])
"""Who refunds or answers: mostly the coach or support, who may."""
EXPIRIES = st.sampled_from([None, None, 2, 7, 26, 72])
"""Hours a grant's credits last (None: they never expire): some expire within a few steps."""
CLOCK_STEPS = st.sampled_from(
    [
        timedelta(seconds=1),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=7),
        timedelta(hours=23),
        timedelta(hours=25),
    ]
)


# --- an oracle from the rules docs/api.md states -----------------------------------------------


def next_boundary(moment: datetime) -> datetime:
    """The first slot boundary strictly after ``moment``."""
    aligned = moment.minute - moment.minute % SLOT_MINUTES
    return moment.replace(minute=aligned, second=0, microsecond=0) + SLOT


def slots_of(start: datetime, end: datetime) -> set[datetime]:
    """Every slot from an aligned start until the end, the last one partly used if need be."""
    found, at = set(), start
    while at < end:
        found.add(at)
        at += SLOT
    return found


def held_slots(session: Session) -> set[datetime]:
    """The slots an active session must hold: its own time, and the time a pending move asks."""
    held = slots_of(session.start, session.end)
    if session.reschedule_request is not None:
        held |= slots_of(session.reschedule_request.start, session.reschedule_request.end)
    return held


def upcoming(session: Session, now: datetime) -> bool:
    """Not started yet: only then can it be canceled or moved."""
    return session.status in ACTIVE_STATUSES and now < session.start


def not_over(session: Session, now: datetime) -> bool:
    """Not ended yet (a session in progress is still upcoming): no refund until it is over."""
    return session.status in ACTIVE_STATUSES and now < session.end


def inside_window(session: Session, now: datetime) -> bool:
    """At least the window's hours before the start (the last second counts), or, when the
    coach or support moved the session while the member had that right, until the start."""
    if session.policy.kept_after_move:
        return now <= session.start
    return now <= session.start - timedelta(hours=session.policy.window_hours)


def expected_cancel_refund(session: Session, now: datetime) -> tuple[int, EntryKind]:
    """A request's held credits always go back; a session's by its refund tiers: the highest
    percent whose notice was given, rounded down (the default tier is the free window), or all
    of it when a move the member did not make kept their free cancellation."""
    unrefunded = session.credits - session.refund.credits
    if session.status is SessionStatus.REQUESTED:
        return unrefunded, EntryKind.RELEASE
    if session.policy.kept_after_move:
        return (unrefunded if now <= session.start else 0), EntryKind.REFUND
    percent = max(
        (
            t.percent
            for t in session.policy.refund_tiers
            if now <= session.start - timedelta(hours=t.hours_before)
        ),
        default=0,
    )
    return min(unrefunded, session.credits * percent // 100), EntryKind.REFUND


NO_SHOW_DAYS = timedelta(days=7)


def expected_no_show(session: Session, who: str, party: str, now: datetime) -> type | None:
    """The refusal a no-show mark gets (None: it is recorded), from docs/api.md."""
    if who == "stranger":
        return NotFound
    if who == "member":
        return Forbidden
    if session.status is SessionStatus.NO_SHOW:
        return NoShowAlreadyMarked
    if session.status in ACTIVE_STATUSES and now < session.start:
        return SessionStillUpcoming
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED):
        return SessionNotUpcoming
    if now > session.end + NO_SHOW_DAYS:
        return SessionNotUpcoming
    return None


def expected_sweep(session: Session, now: datetime) -> str | None:
    if session.status is SessionStatus.REQUESTED:
        expires = session.request_expires_at
        return "EXPIRE_BOOKING" if expires is not None and now >= expires else None
    if session.status is SessionStatus.SCHEDULED:
        request = session.reschedule_request
        if request is not None and now >= request.expires_at:
            return "EXPIRE_RESCHEDULE"
        if now >= session.end:
            return "COMPLETE"
    return None


def outcome(result: object) -> str:
    """How a call ended, for hypothesis's statistics (pytest --hypothesis-show-statistics)."""
    if isinstance(result, tuple):
        result = result[-1]
    if isinstance(result, Session):
        return result.status.value
    if isinstance(result, sweep.SweepResult):
        return f"{result.changed} changed"
    return type(result).__name__ if not isinstance(result, str) else result


# --- reading moto's tables --------------------------------------------------------------------


def _plain(item: Item) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _entry(item: Item) -> LedgerEntry:
    values = _plain(item)
    return LedgerEntry.model_validate(
        {k: values[k] for k in LedgerEntry.model_fields if k in values}
    )


def _account(item: Item) -> Account:
    values = _plain(item)
    return Account.model_validate({k: values[k] for k in Account.model_fields if k in values})


def _fields(model: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in model.model_fields if k in values}


def spendable(account: Account, now: datetime) -> int:
    """Credits a booking may spend at ``now``: those of lots that have not expired."""
    return sum(
        lot.credits_left for lot in account.lots if lot.expires_at is None or now < lot.expires_at
    )


def soonest_first(account: Account, credits: int, now: datetime) -> list[tuple[int, int]]:
    """(lot, -credits) a booking takes, as docs/api.md says: the lots that expire soonest
    first, none that has expired, those that never expire last."""
    usable = [
        lot
        for lot in account.lots
        if lot.credits_left > 0 and (lot.expires_at is None or now < lot.expires_at)
    ]
    usable.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or now, lot.number))
    taken, wanted = [], credits
    for lot in usable:
        if wanted:
            share = min(wanted, lot.credits_left)
            taken.append((lot.number, -share))
            wanted -= share
    return taken


class Snapshot:
    """Every item of the sessions and ledger tables at one moment, as DynamoDB JSON."""

    def __init__(self, sessions: Table, ledger: Table) -> None:
        self.sessions_table, self.ledger_table = sessions, ledger

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and (self.sessions_table, self.ledger_table) == (
            other.sessions_table,
            other.ledger_table,
        )

    __hash__ = None  # type: ignore[assignment]

    @cached_property
    def sessions(self) -> dict[str, Session]:
        items = self.sessions_table.items()
        found = (session_from_item(i) for (_, sk), i in items if sk == "SESSION")
        return {s.id: s for s in found}

    @cached_property
    def slot_claims(self) -> dict[tuple[str, datetime], str]:
        claims = {}
        for (pk, sk), item in self.sessions_table.items():
            if sk == "SLOT":
                _, coach_id, at = pk.split("#", 2)
                claims[(coach_id, datetime.fromisoformat(at))] = item["session_id"]["S"]
        return claims

    @cached_property
    def entries(self) -> list[LedgerEntry]:
        return [_entry(i) for (_, sk), i in self.ledger_table.items() if sk.startswith("ENTRY#")]

    @cached_property
    def entry_keys(self) -> set[Key]:
        return {k for k in self.ledger_table if k[1].startswith("ENTRY#")}

    @cached_property
    def accounts(self) -> dict[str, Account]:
        found = (_account(i) for (_, sk), i in self.ledger_table.items() if sk == "ACCOUNT")
        return {a.id: a for a in found}

    @cached_property
    def raw_lots(self) -> dict[str, list[dict[str, Any]]]:
        """Each account's lots as stored, before any model reads (and would refuse) them."""
        return {
            pk: _plain(item).get("lots", [])
            for (pk, sk), item in self.ledger_table.items()
            if sk == "ACCOUNT"
        }

    @cached_property
    def lot_records(self) -> list[LotRecord]:
        found = [i for (_, sk), i in self.ledger_table.items() if sk.startswith("LOT#")]
        return [LotRecord.model_validate(_fields(LotRecord, _plain(i))) for i in found]


# --- the machine ------------------------------------------------------------------------------


class _MachineClock:
    """The machine's ``now`` as the functions' clock: it moves only when a rule moves it."""

    def __init__(self, machine: "LedgerMachine") -> None:
        self.machine = machine

    def now(self) -> datetime:
        return self.machine.now


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Single-threaded, a write only loses to a stale read this machine made on purpose, which
        # one re-read fixes. Fewer attempts keep a call that can never succeed (a bug) from
        # sleeping through the whole backoff on every replay while hypothesis shrinks.
        self._max_attempts = operations.MAX_ATTEMPTS
        operations.MAX_ATTEMPTS = 3
        self._aws = mock_aws()
        self._aws.start()
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise

    def _build(self) -> None:
        client = _BOTO.client("dynamodb")
        # A few shards of the Due indexes, for the handlers too: each sweep queries every shard
        # (moto answers each by reading the whole table), and four still spread the lots.
        self._shards = os.environ.get("DUE_SHARDS")
        os.environ["DUE_SHARDS"] = str(SHARDS)
        self.config = Settings(due_shards=SHARDS)
        names = self.config.table_names()
        create_tables(
            client, {k: names[k] for k in ("SessionsTable", "LedgerTable", "IdempotencyTable")}
        )
        self.store = Storage(client, self.config)
        # The HTTP handlers find the same tables: Settings() defaults, nothing in the environment.
        runtime.reset()
        self.api = Api(self.store)
        self.faults = Faults()
        self.faults.install(runtime.dynamodb())
        account = _BOTO.client("sts").get_caller_identity()["Account"]
        self._backend = dynamodb_backends[account][REGION]
        self.now = NOW
        self.support = Caller(id="support-1", role=Role.SUPPORT)
        self.admin = Caller(id="admin-1", role=Role.ADMIN)
        ann = Caller(id="coach-a", role=Role.COACH, name="Ann")
        ben = Caller(id="coach-b", role=Role.COACH, name="Ben")
        self.coaches = {ann.id: ann, ben.id: ben}
        self.members = [
            Caller(
                id=f"member-{n}", role=Role.MEMBER, name=f"Member {n}", email=f"m{n}@example.com"
            )
            for n in range(3)
        ]
        self.services: list[Service] = [
            # 60 minutes for 3 credits, a 24-hour window; a late move by the member waits.
            # All back a day ahead, half (1 credit, rounded down) six hours ahead; a member may
            # move a session twice.
            self._service(
                ann, 60, 3, window=24, late_approval=True, tiers=[(24, 100), (6, 50)], moves=2
            ),
            # The same coach: 25 minutes for 2 credits (holding half an hour), a 2-hour window,
            # requests need approval, and so do late moves (of a request too).
            self._service(ann, 25, 2, window=2, approval=True, ttl=6, late_approval=True),
            # Another coach: 50 minutes for 1 credit (holding the hour), a 12-hour window; a
            # member must say why they cancel.
            self._service(ben, 50, 1, window=12, reason_required=True),
        ]
        self.group = operations.create_group_account(
            self.store,
            self.admin,
            name="Team pool",
            member_ids=[self.members[0].id, self.members[1].id],  # not members[2]
            admin_ids=[self.admin.id],
            now=self.now,
        )
        self.account_ids = [personal_account_id(m.id) for m in self.members] + [self.group.id]
        for account_id in self.account_ids:  # enough for a few bookings each; grants add more
            operations.grant(self.store, self.support, account_id, 6, "welcome", self.now)
            # and a few that expire a day on
            operations.grant(
                self.store, self.support, account_id, 3, "trial", self.now, valid_days=1
            )
        self.seen_accounts: dict[str, Account] = {}
        """The copy of each account this machine last read: stale once something changed it."""
        self.session_ids: list[str] = []
        self.seen: dict[str, Session] = {}
        """The copy of each session this machine last read: stale once something changed it."""
        self.automatic: dict[str, list[str]] = defaultdict(list)
        """The REFUND/RELEASE entries that cancel, decline, expiry and a coach's no-show made,
        by session."""
        self.member_moves: dict[str, int] = defaultdict(int)
        """Moves each session's member made (their own, and their requests approved)."""
        self._state: Snapshot | None = None

    def _service(
        self,
        by: Caller,
        minutes: int,
        credits: int,
        *,
        window: int,
        approval: bool = False,
        ttl: int = 48,
        late_approval: bool = False,
        tiers: list[tuple[int, int]] | None = None,
        moves: int | None = None,
        reason_required: bool = False,
    ) -> Service:
        return operations.create_service(
            self.store,
            by,
            name=f"{minutes} minutes with {by.name}",
            session_types=[{"minutes": minutes, "credits": credits}],
            cancellation_window_hours=window,
            requires_approval=approval,
            request_ttl_hours=ttl,
            late_reschedule_requires_approval=late_approval,
            max_reschedules=moves,
            cancel_reason_required=reason_required,
            refund_tiers=None
            if tiers is None
            else [RefundTier(hours_before=h, percent=p) for h, p in tiers],
            now=self.now,
        )

    def teardown(self) -> None:
        operations.MAX_ATTEMPTS = self._max_attempts
        if getattr(self, "_shards", None) is None:
            os.environ.pop("DUE_SHARDS", None)
        else:
            os.environ["DUE_SHARDS"] = self._shards  # type: ignore[assignment]
        runtime.reset()
        self._aws.stop()

    @contextmanager
    def handlers_at_machine_time(self) -> Iterator[None]:
        """The handlers read this machine's clock, not the wall clock."""
        with clock.use_clock(_MachineClock(self)):
            yield

    # --- helpers -------------------------------------------------------------------------------

    def _table(self, name: str) -> Table:
        # Looked up each time: a failed transaction puts back a copy of the whole table.
        table = self._backend.get_table(name)
        items = (item.to_json()["Attributes"] for item in table.all_items())
        return {(item["pk"]["S"], item["sk"]["S"]): item for item in items}

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self._table(self.config.sessions_table), self._table(self.config.ledger_table)
        )

    def state(self) -> Snapshot:
        """The tables as the last call left them: after the start, only ``call`` changes them."""
        if self._state is None:
            self._state = self.snapshot()
        return self._state

    def call(self, label: str, fn: Any, *args: Any) -> tuple[Any, list[LedgerEntry]]:
        """Run one operation: its result (or the domain error it raised) and the entries it made.

        A refused call must leave every item of both tables exactly as it was, and no call moves
        credits more than once.
        """
        before = self.snapshot()
        try:
            result = fn(*args)
        except DomainError as error:
            result = error
        after = self._state = self.snapshot()
        event(f"{label}: {outcome(result)}")
        if isinstance(result, DomainError):
            assert after == before, f"{label} was refused ({result!r}) but changed data"
            return result, []
        made = after.entry_keys - before.entry_keys
        entries = [_entry(after.ledger_table[k]) for k in sorted(made)]
        return result, entries

    def session(self, session_id: str) -> Session:
        found = self.store.get_session(session_id)
        assert found is not None
        self.seen[session_id] = found
        return found

    def balance(self, account_id: str) -> int:
        return self.account(account_id).balance

    def account(self, account_id: str) -> Account:
        account = self.store.get_account(account_id)
        assert account is not None
        self.seen_accounts[account_id] = account
        return account

    def caller_for(self, session: Session, who: str) -> Caller:
        if who == "member":
            return next(m for m in self.members if m.id == session.member.id)
        if who == "coach":
            return self.coaches[session.coach.id]
        if who == "support":
            return self.support
        return next(m for m in self.members if m.id != session.member.id)  # a stranger

    def pick(self, data: st.DataObject, wanted: Any = None) -> Session:
        """A session, among those ``wanted`` accepts when there are any, so rules find work."""
        sessions = self.state().sessions
        pool = [sessions[s] for s in self.session_ids]
        if wanted is not None:
            pool = [s for s in pool if wanted(s)] or pool
        chosen = sessions[data.draw(st.sampled_from([s.id for s in pool]), label="session")]
        self.seen.setdefault(chosen.id, chosen)
        return chosen

    def advance_to(self, moment: datetime) -> None:
        """Time only moves forward: to ``moment`` if that is later, else it stays."""
        self.now = max(self.now, moment)

    # --- rules ---------------------------------------------------------------------------------

    @rule(step=CLOCK_STEPS)
    def advance_clock(self, step: timedelta) -> None:
        self.now += step

    def running_low(self) -> bool:
        return any(a.balance < 4 for a in self.state().accounts.values())

    @precondition(running_low)
    @rule(
        account=st.integers(0, 3),
        credits=st.integers(1, 8),
        by_admin=st.booleans(),
        hours=EXPIRIES,
    )
    def grant(self, account: int, credits: int, by_admin: bool, hours: int | None) -> None:
        account_id = self.account_ids[account]
        caller = self.admin if by_admin and account_id == self.group.id else self.support
        held = self.account(account_id)
        ends = None if hours is None else self.now.replace(microsecond=0) + timedelta(hours=hours)

        result, made = self.call(
            "grant",
            lambda: operations.grant(
                self.store, caller, account_id, credits, "top-up", self.now, expires_at=ends
            ),
        )

        assert isinstance(result, LedgerEntry), f"a grant of {credits} was refused: {result!r}"
        assert [(e.kind, e.credits, e.balance_after) for e in made] == [
            (EntryKind.GRANT, credits, held.balance + credits)
        ]
        # into the lot of that expiry: one it holds already, else a new one
        same = [lot.number for lot in held.lots if lot.expires_at == ends and ends is not None]
        lot = NEVER_EXPIRES if ends is None else (same or [held.lots_opened + 1])[0]
        assert [(m.lot, m.credits, m.expires_at) for m in made[0].lots] == [(lot, credits, ends)]
        World(self.store).assert_ledger_consistent(account_id)  # through Storage.ledger too

    @rule(
        who=st.integers(0, 2),
        service=st.integers(0, 2),
        hours=HOURS,
        minutes=MINUTES,
        from_group=st.booleans(),
        retry=st.booleans(),
        stale=st.booleans(),
    )
    def book(
        self,
        who: int,
        service: int,
        hours: int,
        minutes: int,
        from_group: bool,
        retry: bool,
        stale: bool,
    ) -> None:
        """A booking; ``stale``: its first try reads the paying account as this machine last
        read it (a sweep or a refund may have changed it since): it must lose, read again and
        decide as on a fresh read."""
        caller, offering = self.members[who], self.services[service]
        kind = offering.session_types[0]
        start = next_boundary(self.now) + timedelta(hours=hours, minutes=minutes)
        paying = self.group.id if from_group else personal_account_id(caller.id)
        wanted = slots_of(start, start + timedelta(minutes=kind.minutes))

        made_before = False
        for attempt in range(2 if retry else 1):
            old_copy = self.seen_accounts.get(paying)
            account = self.account(paying)
            balance = spendable(account, self.now)
            taken = any(self.store.slot_holder(offering.coach_id, s) for s in wanted)

            result, made = self.call(
                f"book (attempt {attempt + 1})",
                self.with_a_stale_read,
                paying if stale else None,
                old_copy,
                lambda: operations.book(
                    self.store,
                    caller,
                    service_id=offering.id,
                    session_type_id=kind.id,
                    start=start,
                    account_id=paying if from_group else None,
                    timezone=None,
                    now=self.now,
                ),
            )

            if from_group and caller.id not in self.group.member_ids:
                assert isinstance(result, NotFound), result
                continue
            if (
                stale
                and old_copy is not None
                and spendable(old_copy, self.now) < kind.credits
                and isinstance(result, InsufficientCredits)
            ):
                continue  # refused on what the account held when read: true then
            if balance < kind.credits or taken:
                allowed = (InsufficientCredits,) * (balance < kind.credits) + (SlotTaken,) * taken
                assert isinstance(result, allowed), (
                    f"book (attempt {attempt + 1}) with {balance} credits for {kind.credits}, "
                    f"slot taken: {taken}: {result!r}"
                )
                continue
            # Not `attempt == 0`: a first try refused on a stale read of too few credits
            # ("true then", above) leaves the booking to the second.
            assert not made_before, "the same booking was made twice"
            assert isinstance(result, Session), f"book with {balance} credits: {result!r}"
            made_before = True
            assert result.account_id == paying
            assert result.status is (
                SessionStatus.REQUESTED if offering.requires_approval else SessionStatus.SCHEDULED
            )
            assert [(e.kind, e.credits, e.session_id, e.account_id) for e in made] == [
                (EntryKind.DEBIT, -kind.credits, result.id, paying)
            ]
            expected = soonest_first(account, kind.credits, self.now)
            assert [(m.lot, m.credits) for m in made[0].lots] == expected
            assert [(s.lot, -s.credits) for s in result.paid_from] == expected
            self.session_ids.append(result.id)
            self.seen[result.id] = result

    def with_a_stale_read(self, account_id: str | None, copy: Account | None, call: Any) -> Any:
        """Run ``call`` with its first read of ``account_id`` answering ``copy`` (when given)."""
        if account_id is None or copy is None:
            return call()
        real = self.store.service_accounts_and_hours
        reads = 0

        def first_one_stale(
            service_id: str, account_ids: Any
        ) -> tuple[Service | None, dict[str, Account], Availability | None]:
            nonlocal reads
            reads += 1
            service, accounts, hours = real(service_id, account_ids)
            if reads == 1 and account_id in accounts:
                accounts = {**accounts, account_id: copy}
            return service, accounts, hours

        self.store.service_accounts_and_hours = first_one_stale  # type: ignore[method-assign]
        try:
            return call()
        finally:
            del self.store.service_accounts_and_hours

    @precondition(lambda self: bool(self.session_ids))
    @rule(
        data=st.data(),
        who=CALLERS,
        when=st.sampled_from(
            ["now", "window closes", "after window", "half closes", "after half", "before start"]
        ),
        reason=st.sampled_from([None, "", "Sick"]),
        retries=st.integers(0, 2),
    )
    def cancel(
        self, data: st.DataObject, who: str, when: str, reason: str | None, retries: int
    ) -> None:
        session = self.pick(data, lambda s: s.status in ACTIVE_STATUSES)
        edge = session.policy.refundable_until
        self.advance_to(
            {
                "now": self.now,
                "window closes": edge,
                "after window": edge + timedelta(seconds=1),
                # where the tiered service's half tier ends (else just a later moment)
                "half closes": session.start - timedelta(hours=6),
                "after half": session.start - timedelta(hours=6) + timedelta(seconds=1),
                "before start": session.start - timedelta(seconds=1),
            }[when]
        )
        caller = self.caller_for(session, who)
        quote = None
        if who != "stranger":
            quote = operations.quote_cancellation(self.store, caller, session.id, self.now)

        result, made = self.call(
            "cancel", operations.cancel, self.store, caller, session.id, reason, self.now
        )

        if who == "stranger":
            assert isinstance(result, NotFound), result
            return
        if who == "member" and session.policy.cancel_reason_required and not reason:
            assert isinstance(result, ValidationFailed), result
            assert [e.field for e in result.errors] == ["reason"]
            return
        if not upcoming(session, self.now):
            assert isinstance(result, SessionNotUpcoming), result
            return
        credits, kind = expected_cancel_refund(session, self.now)
        assert isinstance(result, Session), f"cancel of an upcoming session: {result!r}"
        assert result.status is SessionStatus.CANCELED
        assert result.cancellation is not None
        assert result.cancellation.canceled_by == caller.actor
        assert result.cancellation.reason == (reason or None)
        assert quote is not None and quote.refund_credits == credits, f"the dialog said {quote}"
        assert credits <= session.credits - session.refund.credits
        assert result.refund.credits == session.refund.credits + credits
        expected = [(kind, credits, session.account_id)] if credits else []
        assert [(e.kind, e.credits, e.account_id) for e in made] == expected
        self.automatic[session.id] += [e.id for e in made]

        for _ in range(retries):  # the client did not see the answer and asks again
            again, moved = self.call(
                "cancel again", operations.cancel, self.store, caller, session.id, reason, self.now
            )
            assert isinstance(again, SessionNotUpcoming), again
            assert not moved

    @precondition(lambda self: bool(self.session_ids))
    @rule(
        data=st.data(),
        who=MOVERS,
        late=st.booleans(),
        hours=HOURS,
        minutes=MINUTES,
        retry=st.booleans(),
    )
    def reschedule(
        self, data: st.DataObject, who: str, late: bool, hours: int, minutes: int, retry: bool
    ) -> None:
        session = self.pick(data, lambda s: s.status in ACTIVE_STATUSES)
        if late:  # just after the free window closed, when a member's move may have to wait
            self.advance_to(session.policy.refundable_until + timedelta(seconds=1))
        caller = self.caller_for(session, who)
        start = next_boundary(self.now) + timedelta(hours=hours, minutes=minutes)
        args = (self.store, caller, session.id, start, "moved", self.now)

        result, made = self.call("reschedule", operations.reschedule, *args)

        assert not made, "a reschedule moved credits"
        late_member = who == "member" and not inside_window(session, self.now)
        refused = self.reschedule_refusal(session, who, start, late_member)
        if refused is not None:
            assert isinstance(result, refused), result
            return
        if isinstance(result, SlotTaken):
            wanted = slots_of(start, start + (session.end - session.start))
            holders = {self.store.slot_holder(session.coach.id, s) for s in wanted}
            assert holders - {None, session.id}, "told the time is taken, but nobody else has it"
            return
        assert isinstance(result, tuple), f"reschedule: {result!r}"
        moved, mode = result
        assert mode == ("REQUEST" if late_member else "DIRECT")
        if mode == "DIRECT" and who == "member":
            self.member_moves[session.id] += 1
        if mode == "DIRECT":
            assert (moved.start, moved.reschedule_request) == (start, None)
            # a move the member did not make keeps a refund they could still have had
            kept = who != "member" and (
                session.status is SessionStatus.REQUESTED or inside_window(session, self.now)
            )
            assert moved.policy.kept_after_move is kept
            assert moved.policy.refundable_until == (
                start if kept else start - timedelta(hours=session.policy.window_hours)
            )
        else:
            assert moved.start == session.start
            assert moved.reschedule_request is not None
            assert moved.reschedule_request.start == start
        assert (moved.credits, moved.refund, moved.account_id) == (
            session.credits,
            session.refund,
            session.account_id,
        )
        if retry:
            self.reschedule_again(args, session, who, mode, start)

    def reschedule_refusal(
        self, session: Session, who: str, start: datetime, late_member: bool
    ) -> type[DomainError] | None:
        """What a reschedule of ``session`` to ``start`` by ``who`` must be refused with, the
        first refusal that applies; None when it may go ahead (or find the time taken)."""
        limit = session.policy.max_reschedules
        if who == "stranger":
            return NotFound
        if not upcoming(session, self.now):
            return SessionNotUpcoming
        if who == "member" and limit is not None and self.member_moves[session.id] >= limit:
            return RescheduleLimitReached
        if start == session.start:
            return ValidationFailed
        if late_member and not session.policy.late_reschedule_requires_approval:
            return RescheduleWindowClosed
        if late_member and min(session.start, start) - timedelta(hours=1) <= self.now:
            # a request must leave an hour before the session for an answer
            return RescheduleWindowClosed
        return None

    def reschedule_again(
        self, args: tuple[Any, ...], session: Session, who: str, mode: str, start: datetime
    ) -> None:
        """The same reschedule, sent again after it went through."""
        limit = session.policy.max_reschedules
        again, moved_credits = self.call("reschedule again", operations.reschedule, *args)
        assert not moved_credits
        used_up = limit is not None and self.member_moves[session.id] >= limit
        if mode == "DIRECT" and who == "member" and used_up:  # that was the last move allowed
            assert isinstance(again, RescheduleLimitReached), again
        elif mode == "DIRECT":  # it is at that time already
            assert isinstance(again, ValidationFailed), again
        else:  # the same request again
            assert isinstance(again, tuple) and again[1] == "REQUEST", again
            assert again[0].reschedule_request is not None
            assert (again[0].start, again[0].reschedule_request.start) == (session.start, start)

    @precondition(lambda self: bool(self.session_ids))
    @rule(
        data=st.data(),
        who=STAFF,
        credits=st.one_of(st.none(), st.integers(1, 4)),
        when=st.sampled_from(["now", "at start", "after end"]),
        retry=st.booleans(),
    )
    def refund(
        self, data: st.DataObject, who: str, credits: int | None, when: str, retry: bool
    ) -> None:
        chosen = self.pick(data)
        self.advance_to({"now": self.now, "at start": chosen.start, "after end": chosen.end}[when])
        caller = self.caller_for(chosen, who)

        for attempt in range(2 if retry else 1):
            session = self.session(chosen.id)

            result, made = self.call(
                f"refund (attempt {attempt + 1})",
                operations.refund,
                self.store,
                caller,
                session.id,
                credits,
                "goodwill",
                self.now,
            )

            unrefunded = session.credits - session.refund.credits
            amount = unrefunded if credits is None else credits
            refused: type[DomainError] | None = None
            if who == "stranger":
                refused = NotFound
            elif who == "member":
                refused = Forbidden
            elif not_over(session, self.now):
                refused = SessionStillUpcoming
            elif unrefunded <= 0:
                refused = NothingToRefund
            elif amount > unrefunded:
                refused = ValidationFailed
            if refused is not None:
                assert isinstance(result, refused), f"refund attempt {attempt + 1}: {result!r}"
                continue
            assert isinstance(result, Session), f"refund of {amount}/{unrefunded}: {result!r}"
            assert result.refund.credits == session.refund.credits + amount
            assert result.refund.status is (
                RefundStatus.EXCEPTION
                if result.refund.credits == session.credits
                else RefundStatus.PARTIAL
            )
            assert [(e.kind, e.credits, e.account_id) for e in made] == [
                (EntryKind.REFUND, amount, session.account_id)
            ]

    def grant_request(self, data: st.DataObject) -> tuple[str, dict[str, object]]:
        """A grant of 2 credits to one of the accounts, that expire in a day or never: its path
        and body."""
        account_id = data.draw(st.sampled_from(self.account_ids), label="account")
        days = data.draw(st.sampled_from([None, 1]), label="valid_days")
        body: dict[str, object] = {"credits": 2}
        if days is not None:
            body["valid_days"] = days
        return f"/accounts/{account_id}/grants", body

    @precondition(lambda self: bool(self.session_ids))
    @rule(
        data=st.data(),
        action=st.sampled_from(["cancel", "refund", "grant", "no-show"]),
        when=st.sampled_from(["before_commit", "after_commit"]),
        retries=st.integers(1, 2),
    )
    def crash_then_retry_with_the_key(
        self, data: st.DataObject, action: str, when: str, retries: int
    ) -> None:
        """A function dies at its commit; the client retries with the same Idempotency-Key."""
        body: dict[str, object]
        session: Session | None = None
        if action == "grant":
            caller, path, body = self.support, *self.grant_request(data)
            function = "accounts"
        elif action == "cancel":
            session = self.pick(data, lambda s: s.status in ACTIVE_STATUSES)
            caller, path, body = self.caller_for(session, "member"), "cancel", {}
        elif action == "no-show":  # support marks the coach absent: the refund moves with it
            session = self.pick(
                data,
                lambda s: (
                    s.status in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED)
                    and s.start <= self.now
                ),
            )
            caller, path, body = self.support, "no-show", {"party": "COACH"}
        else:  # a refund: of a session that is over or canceled, and not fully refunded yet
            session = self.pick(
                data,
                lambda s: (
                    (s.start <= self.now or s.status is SessionStatus.CANCELED)
                    and s.refund.credits < s.credits
                ),
            )
            caller, path, body = self.caller_for(session, "coach"), "refund", {"credits": 1}
        if action != "grant":
            function = "refund" if action == "no-show" else path
            path = f"/sessions/{session.id}/{path}"
        key = {"Idempotency-Key": uuid.uuid4().hex}
        before = self.snapshot()
        self.faults.arm(function, when, 1)  # type: ignore[arg-type]

        first: Reply | None = None
        with self.handlers_at_machine_time():
            try:
                with self.faults.running(function):
                    first = self.api.post(caller, path, body, headers=key)
            except FunctionKilled:
                first = None
            killed = not self.faults.armed()
            self.faults.clear()
            replies = [self.api.post(caller, path, body, headers=key) for _ in range(retries)]
        after = self._state = self.snapshot()
        made = [_entry(after.ledger_table[k]) for k in sorted(after.entry_keys - before.entry_keys)]
        event(f"crash {action} {when}: {'killed' if killed else 'refused first'}")

        # Every retry answers alike, and at most one movement happened in all.
        assert len({(r.status, r.text) for r in replies}) == 1, [r.text for r in replies]
        assert len(made) <= 1, made
        answer = replies[0]
        if not killed:  # refused before reaching its transaction: nothing to kill, nothing done
            assert first is not None and (first.status, first.text) == (answer.status, answer.text)
            assert after == before
            return
        if answer.status >= 400:  # the retry, running afresh, was refused: still nothing done
            assert when == "before_commit", answer.text
            assert after == before
            return
        self.check_crash_made(action, session, made)

    def check_crash_made(
        self, action: str, session: Session | None, made: list[LedgerEntry]
    ) -> None:
        """What a request that crashed and was retried moved, once: by its action."""
        if action == "grant":
            assert [(e.kind, e.credits) for e in made] == [(EntryKind.GRANT, 2)]
            return
        assert session is not None
        if action == "cancel":
            assert self.session(session.id).status is SessionStatus.CANCELED
            self.automatic[session.id] += [e.id for e in made]
        elif action == "no-show":
            marked = self.session(session.id)
            assert marked.status is SessionStatus.NO_SHOW
            assert [(e.kind, e.credits) for e in made] == (
                [(EntryKind.REFUND, session.credits - session.refund.credits)]
                if session.refund.credits < session.credits
                else []
            )
            self.automatic[session.id] += [e.id for e in made]
        else:
            assert [(e.kind, e.credits) for e in made] == [(EntryKind.REFUND, 1)]

    @precondition(lambda self: bool(self.session_ids))
    @rule(
        data=st.data(),
        who=STAFF,
        party=st.sampled_from(["MEMBER", "COACH"]),
        when=st.sampled_from(
            ["now", "before start", "at start", "after end", "a week on", "just too late"]
        ),
        retry=st.booleans(),
    )
    def no_show(self, data: st.DataObject, who: str, party: str, when: str, retry: bool) -> None:
        """Who did not turn up: a coach's absence gives back what was not refunded, once."""
        chosen = self.pick(
            data, lambda s: s.status in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED)
        )
        self.advance_to(
            {
                "now": self.now,
                "before start": chosen.start - timedelta(seconds=1),
                "at start": chosen.start,
                "after end": chosen.end,
                "a week on": chosen.end + NO_SHOW_DAYS,
                "just too late": chosen.end + NO_SHOW_DAYS + timedelta(seconds=1),
            }[when]
        )
        caller = self.caller_for(chosen, who)

        for attempt in range(2 if retry else 1):
            session = self.session(chosen.id)
            result, made = self.call(
                f"no-show (attempt {attempt + 1})",
                operations.mark_no_show,
                self.store,
                caller,
                session.id,
                party,
                self.now,
            )

            refused = expected_no_show(session, who, party, self.now)
            if refused is not None:
                assert isinstance(result, refused), f"no-show attempt {attempt + 1}: {result!r}"
                continue
            assert attempt == 0, "the same session was marked twice"
            assert isinstance(result, Session), f"no-show of a session that took place: {result!r}"
            assert result.status is SessionStatus.NO_SHOW
            assert result.no_show is not None and result.no_show.party == party
            assert result.no_show.marked_by == caller.actor
            unrefunded = session.credits - session.refund.credits
            returned = unrefunded if party == "COACH" else 0
            assert result.refund.credits == session.refund.credits + returned <= session.credits
            expected = [(EntryKind.REFUND, returned, session.account_id)] if returned else []
            assert [(e.kind, e.credits, e.account_id) for e in made] == expected
            self.automatic[session.id] += [e.id for e in made]

    @precondition(lambda self: any(s.request_expires_at for s in self.state().sessions.values()))
    @rule(data=st.data(), who=STAFF, approve=st.booleans(), retry=st.booleans())
    def answer_booking(self, data: st.DataObject, who: str, approve: bool, retry: bool) -> None:
        session = self.pick(data, lambda s: s.status is SessionStatus.REQUESTED)
        caller = self.caller_for(session, who)
        args = (self.store, caller, session.id, approve, self.now)

        result, made = self.call("answer booking", operations.answer_booking, *args)

        if who == "stranger":
            assert isinstance(result, NotFound), result
            return
        if who == "member":
            assert isinstance(result, Forbidden), result
            return
        pending = (
            session.status is SessionStatus.REQUESTED
            and session.request_expires_at is not None
            and self.now < session.request_expires_at
        )
        if not pending:
            assert isinstance(result, NotPending), result
            return
        assert isinstance(result, Session), f"answer to a pending request: {result!r}"
        if approve:
            assert result.status is SessionStatus.SCHEDULED
            assert not made
        else:
            assert result.status is SessionStatus.DECLINED
            unrefunded = session.credits - session.refund.credits
            assert [(e.kind, e.credits, e.account_id) for e in made] == [
                (EntryKind.RELEASE, unrefunded, session.account_id)
            ]
            self.automatic[session.id] += [e.id for e in made]
        if retry:
            again, moved = self.call("answer booking again", operations.answer_booking, *args)
            assert isinstance(again, NotPending), again
            assert not moved

    @precondition(lambda self: any(s.reschedule_request for s in self.state().sessions.values()))
    @rule(data=st.data(), who=STAFF, approve=st.booleans(), retry=st.booleans())
    def answer_reschedule(self, data: st.DataObject, who: str, approve: bool, retry: bool) -> None:
        session = self.pick(data, lambda s: s.reschedule_request is not None)
        caller = self.caller_for(session, who)
        args = (self.store, caller, session.id, approve, self.now)

        result, made = self.call("answer reschedule", operations.answer_reschedule, *args)

        assert not made, "answering a reschedule moved credits"
        request = session.reschedule_request
        if who == "stranger":
            assert isinstance(result, NotFound), result
            return
        if who == "member":
            assert isinstance(result, Forbidden), result
            return
        if request is None or self.now >= request.expires_at or not upcoming(session, self.now):
            assert isinstance(result, NotPending), result
            return
        assert isinstance(result, Session), f"answer to a pending move: {result!r}"
        assert result.reschedule_request is None
        if approve:
            self.member_moves[session.id] += 1
        assert result.start == (request.start if approve else session.start)
        if retry:
            again, moved = self.call("answer reschedule again", operations.answer_reschedule, *args)
            assert isinstance(again, NotPending), again
            assert not moved

    def something_due(self) -> bool:
        return any(expected_sweep(s, self.now) for s in self.state().sessions.values())

    @precondition(something_due)
    @rule(data=st.data(), stale=st.booleans(), retry=st.booleans())
    def sweep_session(self, data: st.DataObject, stale: bool, retry: bool) -> None:
        """The sweep acts on the copy it read from the Due index, which may be out of date.

        A copy that is due by its own state makes the sweep write, conditioned on the copy's
        version, and decide again on a fresh read if that lost. A copy that is not due makes it
        do nothing; the index never gives out such a copy (it holds only due items).
        """
        session = self.pick(data, lambda s: expected_sweep(s, self.now) is not None)
        given = self.seen[session.id] if stale else session

        def expected(stored: Session) -> str | None:
            return (
                None
                if expected_sweep(given, self.now) is None
                else expected_sweep(stored, self.now)
            )

        result, made = self.call("sweep", operations.sweep_session, self.store, given, self.now)

        self.seen[session.id] = session
        assert result == expected(session), f"{given.status} copy of {session.status}: {result!r}"
        if result == "EXPIRE_BOOKING":
            unrefunded = session.credits - session.refund.credits
            assert [(e.kind, e.credits) for e in made] == (
                [(EntryKind.RELEASE, unrefunded)] if unrefunded else []
            )
            self.automatic[session.id] += [e.id for e in made]
        else:
            assert not made, f"{result} moved credits"
        if retry:  # the same (now stale) copy again: the sweep must find what is left, once
            stored = self.session(session.id)
            again, moved = self.call(
                "sweep again", operations.sweep_session, self.store, given, self.now
            )
            assert again == expected(stored), again
            assert again != "EXPIRE_BOOKING" or result is None
            self.automatic[session.id] += [e.id for e in moved]

    @precondition(something_due)
    @rule(page_size=st.integers(1, 3))
    def scheduled_sweep(self, page_size: int) -> None:
        """The scheduled sweep over the Due index, in small pages."""
        before = self.state().sessions
        expected = {sid: expected_sweep(s, self.now) for sid, s in before.items()}
        # A move that lapses on a session that has also ended: that session completes as well.
        also_ended = sum(
            a == "EXPIRE_RESCHEDULE" and self.now >= before[sid].end for sid, a in expected.items()
        )

        result, made = self.call(
            "scheduled sweep", sweep.run, self.store, self.now, lambda: 60.0, page_size
        )

        assert isinstance(result, sweep.SweepResult), result
        assert result.ok and result.finished, result
        actions = list(expected.values())
        assert (result.expired_bookings, result.expired_reschedules, result.completed) == (
            actions.count("EXPIRE_BOOKING"),
            actions.count("EXPIRE_RESCHEDULE"),
            actions.count("COMPLETE") + also_ended,
        ), result
        for entry in made:
            assert entry.session_id is not None and entry.kind is EntryKind.RELEASE, entry
            assert expected[entry.session_id] == "EXPIRE_BOOKING"
            self.automatic[entry.session_id].append(entry.id)
        left = [
            s.id for s in self.state().sessions.values() if expected_sweep(s, self.now) is not None
        ]
        assert not left, f"still due after a finished sweep: {left}"

    # --- credits that expire --------------------------------------------------------------------

    def lots_due(self) -> bool:
        return any(r.due_at is not None and r.due_at <= self.now for r in self.state().lot_records)

    def expected_expiries(self) -> dict[tuple[str, int], int]:
        """(account, lot) -> credits: every lot holding credits that has expired at ``now``."""
        return {
            (account.id, lot.number): lot.credits_left
            for account in self.state().accounts.values()
            for lot in account.lots
            if lot.credits_left > 0 and lot.expires_at is not None and lot.expires_at <= self.now
        }

    def assert_expired(self, made: list[LedgerEntry], expected: dict[tuple[str, int], int]) -> None:
        """The entries are exactly one EXPIRE per lot of ``expected``, of what it held."""
        got: dict[tuple[str, int], int] = {}
        for entry in made:
            assert entry.kind is EntryKind.EXPIRE and entry.actor is None, entry
            (move,) = entry.lots
            key = (entry.account_id, move.lot)
            assert key not in got, f"{key} expired twice"
            got[key] = -move.credits
        assert got == expected

    @precondition(lots_due)
    @rule(page_size=st.integers(1, 3))
    def sweep_lots(self, page_size: int) -> None:
        """The expiry sweep over the ledger's Due index, in small pages."""
        expected = self.expected_expiries()

        result, made = self.call(
            "lot sweep", credit_expiry.run, self.store, self.now, lambda: 60.0, page_size
        )

        assert isinstance(result, credit_expiry.ExpiryResult), result
        assert result.ok and result.finished, result
        assert result.expired_lots == len(expected)
        self.assert_expired(made, expected)
        assert not self.expected_expiries(), "an expired lot still holds credits after a sweep"
        assert not self.lots_due(), "a lot is still due after a finished sweep"

    @precondition(lots_due)
    @rule(data=st.data())
    def sweep_a_lot_on_a_stale_read(self, data: st.DataObject) -> None:
        """The sweep acts on a lot with the copy of its account this machine read last (before
        bookings, refunds or another sweep changed it): it must decide on the account as it is."""
        due = [r for r in self.state().lot_records if r.due_at and r.due_at <= self.now]
        record = data.draw(st.sampled_from(due), label="lot")
        account = self.state().accounts[record.account_id]
        copy = self.seen_accounts.get(record.account_id, account)
        lot = next((lot for lot in account.lots if lot.number == record.number), None)
        expired = record.expires_at <= self.now
        holds = 0 if lot is None else lot.credits_left

        result, made = self.call(
            "lot sweep on a stale read", operations.sweep_lot, self.store, record, copy, self.now
        )

        if expired and holds:
            assert result == "EXPIRE", result
            self.assert_expired(made, {(record.account_id, record.number): holds})
        else:
            assert result in ("WARN", "WAIT", "CLOSE"), result
            assert not made, made

    @precondition(lots_due)
    @rule(when=st.sampled_from(["before_commit", "after_commit"]))
    def crash_the_lot_sweep_then_run_it_again(self, when: str) -> None:
        """The sweep function dies at its first commit; the next scheduled run finishes the job,
        and nothing expires twice."""
        expected = self.expected_expiries()
        before = self.snapshot()
        sweeping = runtime.storage()  # the functions' own client, which the faults hook
        self.faults.arm("sweep", when, 1)  # type: ignore[arg-type]
        try:
            with self.faults.running("sweep"):
                credit_expiry.run(sweeping, self.now, lambda: 60.0)
        except FunctionKilled:
            pass
        killed = not self.faults.armed()
        self.faults.clear()
        again = credit_expiry.run(sweeping, self.now, lambda: 60.0)
        after = self._state = self.snapshot()
        made = [_entry(after.ledger_table[k]) for k in sorted(after.entry_keys - before.entry_keys)]
        event(f"lot sweep crash {when}: {'killed' if killed else 'nothing to commit'}")

        assert again.ok and again.finished, again
        self.assert_expired(made, expected)
        assert not self.expected_expiries()

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def lots_hold_the_balance_and_each_lots_credits_are_accounted_for(self) -> None:
        """balance = sum of entries = sum of the lots' credits_left; no lot below zero; every
        lot's credits spent, expired once, or still there; a bounded number of lots."""
        snap = self.state()
        by_account: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in snap.entries:
            by_account[entry.account_id].append(entry)
        for account_id, account in snap.accounts.items():
            raw = snap.raw_lots[f"ACCOUNT#{account_id}"]
            assert all(lot["credits_left"] >= 0 for lot in raw), raw
            assert sum(lot.credits_left for lot in account.lots) == account.balance, account
            assert sum(lot.expires_at is not None for lot in account.lots) <= MAX_EXPIRING_LOTS
            running: dict[int, int] = defaultdict(int)
            gone: set[int] = set()
            for entry in sorted(by_account[account_id], key=lambda e: e.seq):
                assert sum(m.credits for m in entry.lots) == entry.credits, entry
                for move in entry.lots:
                    assert move.lot not in gone, f"{account_id} lot {move.lot} moved after expiring"
                    running[move.lot] += move.credits
                    assert running[move.lot] >= 0, f"{account_id} lot {move.lot} below zero"
                    if entry.kind is EntryKind.EXPIRE:
                        assert running[move.lot] == 0, f"{account_id} lot {move.lot} half expired"
                        assert move.expires_at is not None and move.expires_at <= entry.at
                        gone.add(move.lot)
            held = {lot.number: lot.credits_left for lot in account.lots}
            for number, credits in running.items():
                assert held.get(number, 0) == credits, f"{account_id} lot {number}"

    @invariant()
    def no_booking_spends_expired_credits_and_no_lot_gets_back_more_than_it_gave(self) -> None:
        taken: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        returned: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for entry in self.state().entries:
            if entry.kind is EntryKind.DEBIT:
                assert entry.session_id is not None
                for move in entry.lots:
                    assert move.credits < 0, entry
                    assert move.expires_at is None or entry.at < move.expires_at, (
                        f"{entry.id} spent from lot {move.lot}, expired at {move.expires_at}"
                    )
                    taken[entry.session_id][move.lot] -= move.credits
            elif entry.kind in RETURNS:
                assert entry.session_id is not None
                for move in entry.lots:
                    assert move.credits > 0, entry
                    # into the lot it came from, or a new one standing in for it
                    returned[entry.session_id][move.replaces or move.lot] += move.credits
                    if move.replaces is not None:
                        assert move.expires_at is None or move.expires_at > entry.at
        for session_id, lots_given in returned.items():
            for lot, credits in lots_given.items():
                assert credits <= taken[session_id][lot], (
                    f"{session_id} got {credits} back for lot {lot}, which gave "
                    f"{taken[session_id][lot]}"
                )

    @invariant()
    def lot_records_follow_their_lots(self) -> None:
        """Every lot with an expiry has its record, and the record stays in the sweep's index
        while the lot may still hold credits."""
        snap = self.state()
        records = {(r.account_id, r.number): r for r in snap.lot_records}
        for account in snap.accounts.values():
            for lot in account.lots:
                if lot.expires_at is None:
                    continue
                record = records.get((account.id, lot.number))
                assert record is not None, f"{account.id} lot {lot.number} has no record"
                assert record.expires_at == lot.expires_at
                if lot.credits_left > 0:
                    assert record.due_at is not None and record.due_at <= lot.expires_at, record

    @invariant()
    def ledgers_add_up(self) -> None:
        """Each balance is the sum of its entries, never negative, and each balance_after is the
        running sum (World.assert_ledger_consistent, read from the tables in one go)."""
        snap = self.state()
        accounts = snap.accounts
        by_account: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in snap.entries:
            by_account[entry.account_id].append(entry)
        assert set(by_account) <= set(accounts), "entries of an account that does not exist"
        for account_id, account in accounts.items():
            running = 0
            entries = sorted(by_account[account_id], key=lambda e: e.seq)
            for number, entry in enumerate(entries, start=1):
                assert entry.seq == number, f"{account_id}: entry {number} is missing"
                running += entry.credits
                assert running >= 0, f"{account_id} went below zero at entry {number}"
                assert entry.balance_after == running, f"{account_id} entry {number}"
            assert (account.balance, account.version) == (running, len(entries)), account_id

    @invariant()
    def sessions_match_the_ledger(self) -> None:
        snap = self.state()
        sessions = snap.sessions
        assert set(sessions) == set(self.session_ids)
        by_session: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in snap.entries:
            if entry.session_id is None:
                assert entry.kind in NOT_OF_A_SESSION, entry
            else:
                assert entry.session_id in sessions, f"an entry for no session: {entry}"
                by_session[entry.session_id].append(entry)
        for session_id, session in sessions.items():
            entries = by_session[session_id]
            assert {e.account_id for e in entries} == {session.account_id}, entries
            debits = [e.credits for e in entries if e.kind is EntryKind.DEBIT]
            assert debits == [-session.credits], f"debits of {session_id}: {debits}"
            returned = [e.credits for e in entries if e.kind in RETURNS]
            assert all(c > 0 for c in returned), returned
            assert sum(returned) == session.refund.credits <= session.credits, (
                f"{session_id} paid {session.credits}, the ledger gave back {returned}, "
                f"the session says {session.refund.credits}"
            )
            assert (session.refund.credits == 0) == (session.refund.status is RefundStatus.NONE), (
                session.refund
            )
            assert len(self.automatic[session_id]) <= 1, (
                f"{session_id} was refunded automatically more than once"
            )

    @invariant()
    def slots_are_held_by_exactly_the_sessions_that_need_them(self) -> None:
        snap = self.state()
        sessions = snap.sessions
        claims = snap.slot_claims
        for (coach_id, slot), session_id in claims.items():
            holder = sessions.get(session_id)
            where = f"{coach_id} at {slot:%d %H:%M}"
            assert holder is not None, f"{where} is held by a session that does not exist"
            assert holder.coach.id == coach_id
            # A session that took place keeps its own time until the claims' TTL removes them.
            assert holder.status in (
                *ACTIVE_STATUSES,
                SessionStatus.COMPLETED,
                SessionStatus.NO_SHOW,
            ), f"{where} is still held by a {holder.status} session"
            assert slot in held_slots(holder), f"{where} is held by {holder.id}, not then"
        for session in sessions.values():
            if session.status in ACTIVE_STATUSES:
                for slot in held_slots(session):
                    assert claims.get((session.coach.id, slot)) == session.id, (
                        f"{session.status} {session.id} does not hold {slot}"
                    )

    @invariant()
    def requests_never_wait_past_their_start(self) -> None:
        """A request waits at most its time to live and never past the start it is about
        (rules.request_deadline); else the coach could accept a session that already began."""
        for session in self.state().sessions.values():
            if session.status is SessionStatus.REQUESTED:
                assert session.request_expires_at is not None
                assert session.request_expires_at <= session.start, (
                    f"the request for {session.start} waits until {session.request_expires_at}"
                )
            request = session.reschedule_request
            if request is not None and session.status in ACTIVE_STATUSES:
                # and a reschedule request lapses an hour before either time it is about
                latest = min(session.start, request.start) - timedelta(hours=1)
                assert request.expires_at <= latest


LedgerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    # No "explain" phase: on Python 3.11 it traces every line and takes minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedger = LedgerMachine.TestCase


# --- what the machine found, replayed step by step ---------------------------------------------


def test_a_booking_request_moved_earlier_still_lapses_before_its_start(world: World) -> None:
    """A member moves a booking request to a time before its deadline: the deadline must follow,
    or the coach can accept (and the member pay for) a session whose time has already passed."""
    alice, coaching = member(), coach()
    service = world.service(
        by=coaching, credits=2, window_hours=2, requires_approval=True, request_ttl_hours=6
    )
    world.fund(alice, 10)
    request = world.book(alice, service, in_hours=24)  # waits until now + 6 hours
    earlier = world.now + timedelta(hours=3)

    moved, mode = operations.reschedule(world.store, alice, request.id, earlier, None, world.now)

    assert (mode, moved.status, moved.start) == ("DIRECT", SessionStatus.REQUESTED, earlier)
    assert moved.request_expires_at is not None
    assert moved.request_expires_at <= moved.start
    after_start = earlier + timedelta(hours=1)
    with pytest.raises(NotPending):
        operations.answer_booking(world.store, coaching, request.id, True, after_start)
    assert operations.sweep_session(world.store, moved, after_start) == "EXPIRE_BOOKING"
    assert world.balance(personal_account_id(alice.id)) == 10
