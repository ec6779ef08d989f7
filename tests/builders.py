"""Given-steps shared by the tests: people, services, sessions and accounts.

Two kinds, one module:

- Built from the models, for the rules (``session``, ``service``, ``canceled`` and the people
  ``MEMBER``, ``COACH`` ...): nothing here touches storage or AWS, and nothing reads the clock:
  every test passes ``now`` in. The policy of a session is worked out here by hand (start minus
  the window, in UTC), not with the rule under test, so that a broken rule cannot make its own
  expectations.
- Written through the operations, for the stories against moto (``World``: a coach's service,
  funded accounts, bookings; ``member()``, ``coach()`` ... make people of their own).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3

from coaching import operations
from coaching.models import (
    DEFAULT_REMINDERS,
    Account,
    AccountKind,
    Actor,
    Caller,
    Cancellation,
    HistoryEvent,
    Policy,
    Refund,
    RefundStatus,
    RefundTier,
    RescheduleRequest,
    Role,
    Service,
    ServiceRef,
    Session,
    SessionStatus,
    SessionType,
    personal_account_id,
)
from coaching.storage import Storage
from local import template
from local.aws import create_secrets

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
"""A fixed 'now' for tests (a Tuesday, far from any daylight-saving change); tests pass time in
rather than patching the clock."""


# === written through the operations, for the stories against moto ==============================


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def link_secret() -> str:
    """A fresh manage link secret in moto (while a mock is active), made as the template's
    ``ManageLinkKey`` is made: its ARN, for ``MANAGE_LINK_SECRET``."""
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return create_secrets(client, template.load(), unique("links-"))["ManageLinkKey"]


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


QUIET: dict[str, object] = {"reminders": [], "refund_reminder_minutes": None}
"""Service options for a story about something else: its sessions send no reminders and no last
call, so nothing of theirs but the session itself is in the sweep's Due index."""


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
        location: str | None = None,
        reminders: list[int] | None = None,
        refund_reminder_minutes: int | None = 120,
    ) -> Service:
        """A coach's service; ``reminders`` None: the default ones (see ``QUIET``)."""
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
            location=location,
            reminders=list(DEFAULT_REMINDERS) if reminders is None else reminders,
            refund_reminder_minutes=refund_reminder_minutes,
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


def requested_booking(
    world: World, *, in_hours: float = 72, ttl_hours: int = 48, credits: int = 3
) -> tuple[Caller, Caller, Service, Session]:
    """Alice asked for a session with a coach who reviews requests; her credits are held."""
    alice, the_coach = member(), coach()
    service = world.service(
        by=the_coach, credits=credits, requires_approval=True, request_ttl_hours=ttl_hours
    )
    world.fund(alice, 10)
    return alice, the_coach, service, world.book(alice, service, in_hours=in_hours)


# === built from the models, for the rules ======================================================
SECOND = timedelta(seconds=1)
IN_THREE_DAYS = NOW + timedelta(hours=72)
A_DAY_AGO = NOW - timedelta(hours=24)


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


# --- people -----------------------------------------------------------------------------------

MEMBER = Caller(
    id="member-ann", role=Role.MEMBER, email="ann@example.com", name="Ann", timezone="Europe/London"
)
COACH = Caller(
    id="coach-cho",
    role=Role.COACH,
    email="cho@example.com",
    name="Cho",
    timezone="America/New_York",
)
SUPPORT = Caller(id="support-sam", role=Role.SUPPORT)
ADMIN = Caller(id="admin-ada", role=Role.ADMIN)
OTHER_MEMBER = Caller(id="member-bob", role=Role.MEMBER)
OTHER_COACH = Caller(id="coach-dee", role=Role.COACH)

CALLERS: dict[str, Caller] = {
    "member": MEMBER,
    "coach": COACH,
    "support": SUPPORT,
    "admin": ADMIN,
    "other_member": OTHER_MEMBER,
    "other_coach": OTHER_COACH,
}
"""Everyone, named by how they stand to the sessions below (MEMBER booked them with COACH)."""

STAFF = ("coach", "support")
STRANGERS = ("admin", "other_member", "other_coach")
VISIBLE = ("member", *STAFF)


# --- services and sessions --------------------------------------------------------------------


def service(
    *,
    coach: Caller = COACH,
    minutes: int = 60,
    credits: int = 3,
    window_hours: int = 24,
    requires_approval: bool = False,
    request_ttl_hours: int = 48,
    late_reschedule_requires_approval: bool = False,
) -> Service:
    return Service(
        id="service-leadership",
        coach=coach.as_person(),
        name="Leadership coaching",
        session_types=[SessionType(id="t1", minutes=minutes, credits=credits)],
        cancellation_window_hours=window_hours,
        requires_approval=requires_approval,
        request_ttl_hours=request_ttl_hours,
        late_reschedule_requires_approval=late_reschedule_requires_approval,
        created_at=NOW - hours(24 * 30),
    )


def session(
    *,
    start: datetime = IN_THREE_DAYS,
    status: SessionStatus = SessionStatus.SCHEDULED,
    length: int = 60,
    credits: int = 3,
    window_hours: int = 24,
    late_reschedule_requires_approval: bool = False,
    request_ttl_hours: int = 48,
    max_reschedules: int | None = None,
    cancel_reason_required: bool = False,
    refund_tiers: list[tuple[int, int]] | None = None,
    request_expires_at: datetime | None = None,
    reschedule_request: RescheduleRequest | None = None,
    refund: Refund | None = None,
    cancellation: Cancellation | None = None,
    member: Caller = MEMBER,
    coach: Caller = COACH,
    timezone: str = "UTC",
    created_at: datetime = A_DAY_AGO,
) -> Session:
    """A session MEMBER booked with COACH, by default three days from NOW, 60 minutes, 3 credits.

    A REQUESTED session waits, unless told otherwise, until its time to live after booking or
    its start, whichever comes first.
    """
    start_utc = start.astimezone(UTC)
    if status is SessionStatus.REQUESTED and request_expires_at is None:
        request_expires_at = min(created_at + hours(request_ttl_hours), start_utc)
    return Session(
        id="session-1",
        status=status,
        member=member.as_person(),
        coach=coach.as_person(),
        service=ServiceRef(id="service-leadership", name="Leadership coaching"),
        session_type=SessionType(id="t1", minutes=length, credits=credits),
        start=start,
        end=start_utc + minutes(length),
        timezone=timezone,
        credits=credits,
        account_id=f"personal-{member.id}",
        policy=Policy(
            window_hours=window_hours,
            refundable_until=start_utc - hours(window_hours),
            late_reschedule_requires_approval=late_reschedule_requires_approval,
            request_ttl_hours=request_ttl_hours,
            max_reschedules=max_reschedules,
            cancel_reason_required=cancel_reason_required,
            refund_tiers=[
                RefundTier(hours_before=hours_before, percent=percent)
                for hours_before, percent in refund_tiers or []
            ],
        ),
        cancellation=cancellation,
        refund=refund or Refund(),
        reschedule_request=reschedule_request,
        request_expires_at=request_expires_at,
        created_at=created_at,
    )


def moved_by_member(before: Session, *, by: Caller = MEMBER) -> Session:
    """``before`` with one more move in its history by ``by`` (its time is left as it was: the
    limit counts moves, not where they went)."""
    event = HistoryEvent(at=NOW - hours(1), kind="RESCHEDULED", by=by.actor, start=before.start)
    return before.model_copy(
        update={"history": [*before.history, event], "version": before.version + 1}
    )


def canceled(before: Session, *, at: datetime, by: Caller = MEMBER, refunded: bool) -> Session:
    """``before`` as it stands after a cancel at ``at``: refunded in full, or not at all."""
    return before.model_copy(
        update={
            "status": SessionStatus.CANCELED,
            "cancellation": Cancellation(
                canceled_at=at,
                canceled_by=by.actor,
                reason="Something came up",
                refundable=refunded,
            ),
            "refund": Refund(status=RefundStatus.AUTOMATIC, credits=before.credits, refunded_at=at)
            if refunded
            else Refund(),
            "request_expires_at": None,
            "reschedule_request": None,
        }
    )


def with_status(before: Session, status: SessionStatus) -> Session:
    return before.model_copy(update={"status": status})


def refunded(before: Session, credits: int, status: RefundStatus, at: datetime) -> Session:
    return before.model_copy(
        update={"refund": Refund(status=status, credits=credits, refunded_at=at)}
    )


def reschedule_request(
    *,
    to: datetime,
    asked_at: datetime,
    expires_at: datetime,
    by: Caller = MEMBER,
    length: int = 60,
) -> RescheduleRequest:
    return RescheduleRequest(
        start=to,
        end=to + minutes(length),
        requested_by=Actor(id=by.id, role=by.role),
        requested_at=asked_at,
        expires_at=expires_at,
        reason="Travel",
    )


# --- accounts ---------------------------------------------------------------------------------


def personal_account(owner: Caller = MEMBER, balance: int = 10) -> Account:
    return Account.personal(owner.id).model_copy(update={"balance": balance})


def group_account(
    *, member_ids: list[str] | None = None, admin_ids: list[str] | None = None
) -> Account:
    """A workspace pool MEMBER may spend from and ADMIN runs, unless told otherwise."""
    return Account(
        id="group-acme",
        kind=AccountKind.GROUP,
        name="Acme leadership pool",
        balance=100,
        member_ids=[MEMBER.id] if member_ids is None else member_ids,
        admin_ids=[ADMIN.id] if admin_ids is None else admin_ids,
        created_at=NOW - hours(24 * 90),
    )
