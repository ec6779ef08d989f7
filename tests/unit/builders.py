"""Given-steps for unit tests: people, services, sessions and accounts, built from the models.

Nothing here touches storage or AWS, and nothing reads the clock: every test passes ``now`` in.
The policy of a session is worked out here by hand (start minus the window, in UTC), not with
the rule under test, so that a broken rule cannot make its own expectations.
"""

from datetime import UTC, datetime, timedelta

from coaching.models import (
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
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
"""A fixed 'now' (a Tuesday, far from any daylight-saving change)."""

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
