"""Demo data, so that a new user can cancel a session within a minute of starting.

Written through the policy layer, as the API would write it. Sessions in the past are booked
"back then" by passing an earlier ``now``: the rules take time as an argument.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from coaching import operations, rules
from coaching.models import (
    WEEKDAYS,
    Availability,
    Caller,
    Role,
    Service,
    WorkingHours,
    personal_account_id,
)
from coaching.storage import Storage


@dataclass(frozen=True)
class DemoUser:
    sub: str
    role: Role
    name: str
    email: str
    zoneinfo: str

    @property
    def caller(self) -> Caller:
        return Caller(
            id=self.sub, role=self.role, email=self.email, name=self.name, timezone=self.zoneinfo
        )


MEMBER = DemoUser("demo-member", Role.MEMBER, "Maya Member", "maya@example.com", "Europe/London")
COACH = DemoUser("demo-coach", Role.COACH, "Colin Coach", "colin@example.com", "America/New_York")
SUPPORT = DemoUser("demo-support", Role.SUPPORT, "Sam Support", "help@example.com", "UTC")
ADMIN = DemoUser("demo-admin", Role.ADMIN, "Ada Admin", "ada@example.com", "UTC")
USERS = (MEMBER, COACH, SUPPORT, ADMIN)


DEMO_HOURS = [WorkingHours(day=day, start="08:00", end="22:00") for day in WEEKDAYS]
"""The demo coach works every day from 08:00 to 22:00 on their own clock (New York): whenever
the stack starts, the demo sessions that must lie within a day of it can be inside these hours."""


def _slot(at: datetime, hours: Availability, service: Service) -> datetime:
    """The first start at or after ``at`` that the demo member's booking rule allows."""
    at = at.replace(second=0, microsecond=0)
    at += timedelta(minutes=(-at.minute) % 15)
    limits = rules.BookingLimits.of_service(service)
    while not rules.member_may_hold(hours, limits, service.session_types[0], at, at):
        at += timedelta(minutes=15)
    return at


def seed(store: Storage, now: datetime) -> dict[str, Any]:
    """Create the demo world; returns the ids a walk-through needs."""
    service = operations.create_service(
        store,
        COACH.caller,
        name="Career coaching",
        session_types=[{"minutes": 60, "credits": 3}, {"minutes": 30, "credits": 2}],
        cancellation_window_hours=24,
        requires_approval=False,
        request_ttl_hours=48,
        late_reschedule_requires_approval=True,
        now=now - timedelta(days=30),
    )
    # Working hours on the coach's own clock, so free times have something to offer, "Schedule
    # Session" on the canceled session can rebook, and every demo session is inside them.
    hours = operations.set_availability(
        store, COACH.caller, timezone=None, weekly=DEMO_HOURS, now=now - timedelta(days=30)
    )
    member, support = MEMBER.caller, SUPPORT.caller
    operations.grant(
        store,
        support,
        personal_account_id(member.id),
        20,
        "Welcome credits",
        now - timedelta(days=30),
    )
    group = operations.create_group_account(
        store,
        ADMIN.caller,
        name="Acme team",
        member_ids=[member.id],
        admin_ids=[ADMIN.sub],
        now=now - timedelta(days=30),
    )
    operations.grant(store, ADMIN.caller, group.id, 30, "Team budget", now - timedelta(days=30))

    def book(start: datetime, booked_at: datetime, account_id: str | None = None) -> str:
        session = operations.book(
            store,
            member,
            service_id=service.id,
            session_type_id=service.session_types[0].id,
            start=start,
            account_id=account_id,
            timezone=None,
            now=booked_at,
        )
        return session.id

    def slot(at: datetime) -> datetime:
        return _slot(at, hours, service)

    refundable = book(slot(now + timedelta(days=3)), now - timedelta(days=1))
    # Both inside the 24-hour window (the coach's night is at most 10 hours long): a cancel of
    # the first is not refunded; a member's move of the second waits for the coach's approval
    # (the demo page's "Reschedule", then the coach's "Approve").
    late_start = slot(now + timedelta(hours=5))
    late = book(late_start, now - timedelta(days=1), group.id)
    soon = book(
        slot(max(now + timedelta(hours=8), late_start + timedelta(hours=2))),
        now - timedelta(days=1),
    )
    past = book(slot(now - timedelta(days=2)), now - timedelta(days=10))
    canceled = book(slot(now + timedelta(days=6)), now - timedelta(days=2))
    operations.cancel(
        store, member, canceled, "Conflict with a team offsite", now - timedelta(days=1)
    )
    return {
        "service_id": service.id,
        "group_account_id": group.id,
        "sessions": {
            "upcoming_refundable": refundable,
            "upcoming_not_refundable": late,
            "upcoming_move_needs_approval": soon,
            "past": past,
            "canceled": canceled,
        },
    }
