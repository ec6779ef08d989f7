"""People, services and sessions for the bench, written through the policy layer.

Every subject gets its own coach, service and member, so that subjects made the same way
differ only in their ids: a request recorded against one can be replayed against another by
swapping the ids (that is how the bare DynamoDB floor of an operation is measured).
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from coaching import operations
from coaching.models import (
    WEEKDAYS,
    Actor,
    Caller,
    HistoryEvent,
    Person,
    Policy,
    Role,
    Service,
    ServiceRef,
    Session,
    SessionStatus,
    SessionType,
    WorkingHours,
    personal_account_id,
)
from coaching.storage import Storage, keys

CREDITS = 20
"""Each member's grant before booking: enough for a few sessions of 3 credits."""


def person(role: Role, name: str, tz: str) -> Caller:
    who = f"bench-{role.value}-{uuid.uuid4().hex[:16]}"
    return Caller(id=who, role=role, email=f"{who}@example.com", name=name, timezone=tz)


def on_the_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


SUPPORT = Caller(id="bench-support", role=Role.SUPPORT)


@dataclass
class Subject:
    """A coach with a service, a funded member and the member's sessions."""

    coach: Caller
    member: Caller
    service: Service
    sessions: list[Session] = field(default_factory=list)

    @property
    def session(self) -> Session:
        return self.sessions[0]

    @property
    def ids(self) -> dict[str, str]:
        """Every id a request about this subject may carry, by what it names."""
        found = {"coach": self.coach.id, "member": self.member.id, "service": self.service.id}
        for n, session in enumerate(self.sessions):
            found[f"session{n}"] = session.id
        # Last: the coach's tag (which keys their booking rules) is inside the ids above, which
        # are rewritten whole first.
        found["coach tag"] = keys.coach_tag(self.coach.id)
        return found


def subject(
    store: Storage,
    now: datetime,
    *,
    sessions_in_hours: tuple[float, ...] = (),
    credits: int = CREDITS,
) -> Subject:
    """A coach (New York) with a 60-minute, 3-credit service with a 24-hour window, and a
    member (London) with ``credits`` who booked a session at each of ``sessions_in_hours``.

    Every booking rule is in force, so that each booking and move pays for checking them: the
    coach works every hour of every day (any time asked is inside them) and takes at most 48
    sessions a day; the service asks 30 minutes' notice, books up to a year ahead and lets a
    member hold 100 sessions of it at once."""
    coach = person(Role.COACH, "Colin Coach", "America/New_York")
    member = person(Role.MEMBER, "Maya Member", "Europe/London")
    operations.set_availability(
        store,
        coach,
        timezone=None,
        weekly=[WorkingHours(day=day, start="00:00", end="24:00") for day in WEEKDAYS],
        max_sessions_per_day=48,
        now=now,
    )
    service = operations.create_service(
        store,
        coach,
        name="Career coaching",
        session_types=[{"minutes": 60, "credits": 3}],
        cancellation_window_hours=24,
        requires_approval=False,
        request_ttl_hours=48,
        late_reschedule_requires_approval=False,
        min_notice_minutes=30,
        max_days_ahead=365,
        max_upcoming_per_member=100,
        now=now,
    )
    operations.grant(store, SUPPORT, personal_account_id(member.id), credits, "bench", now)
    found = Subject(coach=coach, member=member, service=service)
    for hours in sessions_in_hours:
        found.sessions.append(
            operations.book(
                store,
                member,
                service_id=service.id,
                session_type_id=service.session_types[0].id,
                start=on_the_hour(now + timedelta(hours=hours)),
                account_id=None,
                timezone=None,
                now=now,
            )
        )
    return found


def session_model(
    *, status: SessionStatus, start: datetime, now: datetime, coach: Person, member: Person
) -> Session:
    """A session built in Python (for filling tables), as a booking would have written it."""
    booked_at = min(now, start) - timedelta(days=7)
    history = [
        HistoryEvent(
            at=booked_at,
            kind="BOOKED",
            by=Actor(id=member.id, role=Role.MEMBER),
            start=start,
            credits=3,
        )
    ]
    if status is SessionStatus.COMPLETED:
        history.append(HistoryEvent(at=start + timedelta(hours=1), kind="COMPLETED"))
    return Session(
        id=uuid.uuid4().hex,
        status=status,
        member=member,
        coach=coach,
        service=ServiceRef(id="bench-service", name="Career coaching"),
        session_type=SessionType(id="t1", minutes=60, credits=3),
        start=start,
        end=start + timedelta(minutes=60),
        timezone=member.timezone,
        credits=3,
        account_id=personal_account_id(member.id),
        policy=Policy(window_hours=24, refundable_until=start - timedelta(hours=24)),
        history=history,
        created_at=booked_at,
        version=len(history),
    )


def people(count: int, role: Role) -> list[Person]:
    tz = "Europe/London" if role is Role.MEMBER else "America/New_York"
    return [
        Person(
            id=f"bench-{role.value}-{n:05d}",
            name=f"{role.value.title()} {n}",
            email=f"bench-{role.value}-{n:05d}@example.com",
            timezone=tz,
        )
        for n in range(count)
    ]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
