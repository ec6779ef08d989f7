"""Given-steps shared by the tests: people, a coach's service, funded accounts, bookings."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coaching import operations
from coaching.models import Caller, RefundTier, Role, Service, Session, personal_account_id
from coaching.storage import Storage

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
"""A fixed 'now' for tests; tests pass time in rather than patching the clock."""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def member(name: str = "member", tz: str = "Europe/London") -> Caller:
    who = unique(name)
    return Caller(id=who, role=Role.MEMBER, email=f"{who}@example.com", name=name, timezone=tz)


def coach(name: str = "coach", tz: str = "America/New_York") -> Caller:
    who = unique(name)
    return Caller(id=who, role=Role.COACH, email=f"{who}@example.com", name=name, timezone=tz)


def support() -> Caller:
    return Caller(id=unique("support"), role=Role.SUPPORT)


def admin() -> Caller:
    return Caller(id=unique("admin"), role=Role.ADMIN)


@dataclass
class World:
    """A store plus the steps that put things in it."""

    store: Storage
    now: datetime = NOW

    def service(
        self,
        by: Caller | None = None,
        *,
        minutes: int = 60,
        credits: int = 3,
        window_hours: int = 24,
        requires_approval: bool = False,
        request_ttl_hours: int = 48,
        late_reschedule_requires_approval: bool = False,
        max_reschedules: int | None = None,
        cancel_reason_required: bool = False,
        refund_tiers: list[tuple[int, int]] | None = None,
    ) -> Service:
        return operations.create_service(
            self.store,
            by or coach(),
            name="Leadership coaching",
            session_types=[{"minutes": minutes, "credits": credits}],
            cancellation_window_hours=window_hours,
            requires_approval=requires_approval,
            request_ttl_hours=request_ttl_hours,
            late_reschedule_requires_approval=late_reschedule_requires_approval,
            max_reschedules=max_reschedules,
            cancel_reason_required=cancel_reason_required,
            refund_tiers=None
            if refund_tiers is None
            else [RefundTier(hours_before=h, percent=p) for h, p in refund_tiers],
            now=self.now,
        )

    def fund(self, who: Caller, credits: int, account_id: str | None = None) -> None:
        operations.grant(
            self.store,
            support(),
            account_id or personal_account_id(who.id),
            credits,
            "test funds",
            self.now,
        )

    def book(
        self,
        who: Caller,
        service: Service,
        *,
        in_hours: float = 72,
        account_id: str | None = None,
    ) -> Session:
        start = (self.now + timedelta(hours=in_hours)).replace(minute=0, second=0)
        return operations.book(
            self.store,
            who,
            service_id=service.id,
            session_type_id=service.session_types[0].id,
            start=start,
            account_id=account_id,
            timezone=None,
            now=self.now,
        )

    def balance(self, account_id: str) -> int:
        account = self.store.get_account(account_id)
        assert account is not None
        return account.balance

    def entries(self, account_id: str) -> list:  # type: ignore[type-arg]
        entries, token = self.store.ledger(account_id, limit=1000, token=None)
        assert token is None
        return entries

    def assert_ledger_consistent(self, account_id: str) -> None:
        """The balance equals the sum of the entries, never went below zero, and each entry's
        balance_after is the running sum up to it."""
        entries = sorted(self.entries(account_id), key=lambda e: e.seq)
        running = 0
        for number, entry in enumerate(entries, start=1):
            assert entry.seq == number
            running += entry.credits
            assert running >= 0
            assert entry.balance_after == running
        assert self.balance(account_id) == running
