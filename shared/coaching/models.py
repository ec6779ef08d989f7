"""The domain's pydantic models: what is stored, and what the rules reason about.

Times are timezone-aware and normalised to UTC; money is whole credits.
"""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

SLOT_MINUTES = 15
"""The coach's calendar is claimed in 15-minute slots, so starts and lengths align to them."""

MAX_SESSION_MINUTES = 240
MAX_REASON_LENGTH = 500


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {value!r}") from error
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]
MAX_BALANCE = 1_000_000
Credits = Annotated[int, Field(ge=0, le=MAX_BALANCE)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@|+-]+$")]


class Model(BaseModel):
    # Built at first use rather than at import: see coaching.api.View.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Role(StrEnum):
    MEMBER = "member"
    COACH = "coach"
    SUPPORT = "support"
    ADMIN = "admin"


class Actor(Model):
    """Who did something, as recorded on sessions and ledger entries (no personal data)."""

    id: Identifier
    role: Role


class Caller(Model):
    """The signed-in user, as the verified JWT describes them."""

    id: Identifier
    role: Role
    email: str | None = None
    name: str | None = None
    timezone: TimeZoneName = "UTC"

    @property
    def actor(self) -> Actor:
        return Actor(id=self.id, role=self.role)

    def as_person(self) -> "Person":
        return Person(
            id=self.id, name=self.name or self.id, email=self.email, timezone=self.timezone
        )


class Person(Model):
    """A member's or coach's contact details as their token gave them at booking time."""

    id: Identifier
    name: str
    email: str | None = None
    timezone: TimeZoneName = "UTC"


def _aligned_minutes(value: int) -> int:
    if value % SLOT_MINUTES:
        raise ValueError(f"must be a multiple of {SLOT_MINUTES} minutes")
    return value


SessionMinutes = Annotated[
    int, Field(ge=SLOT_MINUTES, le=MAX_SESSION_MINUTES), AfterValidator(_aligned_minutes)
]
SessionCredits = Annotated[int, Field(ge=1, le=10_000)]


class SessionType(Model):
    id: Identifier
    minutes: SessionMinutes
    credits: SessionCredits


class Service(Model):
    id: Identifier
    coach: Person
    name: Annotated[str, Field(min_length=1, max_length=200)]
    session_types: Annotated[list[SessionType], Field(min_length=1, max_length=20)]
    cancellation_window_hours: Annotated[int, Field(ge=0, le=24 * 30)] = 24
    requires_approval: bool = False
    request_ttl_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 48
    late_reschedule_requires_approval: bool = False
    """When true, a member may ask to move a session inside the window; the coach decides."""
    created_at: UtcDatetime

    @property
    def coach_id(self) -> str:
        return self.coach.id

    def session_type(self, session_type_id: str) -> SessionType | None:
        return next((t for t in self.session_types if t.id == session_type_id), None)


class SessionStatus(StrEnum):
    REQUESTED = "REQUESTED"
    SCHEDULED = "SCHEDULED"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"


ACTIVE_STATUSES = frozenset({SessionStatus.REQUESTED, SessionStatus.SCHEDULED})


class RefundStatus(StrEnum):
    NONE = "NONE"
    AUTOMATIC = "AUTOMATIC"
    EXCEPTION = "EXCEPTION"
    PARTIAL = "PARTIAL"


class ServiceRef(Model):
    id: Identifier
    name: str


class Policy(Model):
    """The service's policy as it stood when the session was booked."""

    window_hours: int
    refundable_until: UtcDatetime
    """The last second at which a cancel is refunded (start minus the window)."""
    late_reschedule_requires_approval: bool = False
    request_ttl_hours: int = 48


class Cancellation(Model):
    canceled_at: UtcDatetime
    canceled_by: Actor
    reason: str | None = None
    refundable: bool


class Refund(Model):
    status: RefundStatus = RefundStatus.NONE
    credits: Credits = 0
    refunded_at: UtcDatetime | None = None


class RescheduleRequest(Model):
    start: UtcDatetime
    end: UtcDatetime
    requested_by: Actor
    requested_at: UtcDatetime
    expires_at: UtcDatetime
    reason: str | None = None


HistoryKind = Literal[
    "BOOKED",
    "REQUESTED",
    "APPROVED",
    "DECLINED",
    "EXPIRED",
    "CANCELED",
    "RESCHEDULED",
    "RESCHEDULE_REQUESTED",
    "RESCHEDULE_APPROVED",
    "RESCHEDULE_DECLINED",
    "RESCHEDULE_EXPIRED",
    "REFUNDED",
    "COMPLETED",
]


class HistoryEvent(Model):
    at: UtcDatetime
    kind: HistoryKind
    by: Actor | None = None
    """None for what the system did on its own (sweeps)."""
    previous_start: UtcDatetime | None = None
    start: UtcDatetime | None = None
    credits: int | None = None


class Session(Model):
    id: Identifier
    status: SessionStatus
    member: Person
    coach: Person
    service: ServiceRef
    session_type: SessionType
    start: UtcDatetime
    end: UtcDatetime
    timezone: TimeZoneName
    credits: Credits
    account_id: Identifier
    policy: Policy
    cancellation: Cancellation | None = None
    # A factory, not an instance: an instance here would build Refund at import.
    refund: Refund = Field(default_factory=Refund)
    reschedule_request: RescheduleRequest | None = None
    request_expires_at: UtcDatetime | None = None
    """For a REQUESTED booking: when it expires unless the coach answers."""
    history: list[HistoryEvent] = []
    created_at: UtcDatetime
    version: int = 1

    @property
    def refundable_credits(self) -> int:
        """Credits paid and not yet given back."""
        return self.credits - self.refund.credits

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.policy.window_hours)


class AccountKind(StrEnum):
    PERSONAL = "PERSONAL"
    GROUP = "GROUP"


def personal_account_id(member_id: str) -> str:
    return f"personal-{member_id}"


class Account(Model):
    id: Identifier
    kind: AccountKind
    name: str
    balance: Credits = 0
    version: int = 0
    """Counts the ledger entries; the next entry is number version + 1."""
    owner_id: str | None = None
    member_ids: list[str] = []
    admin_ids: list[str] = []
    created_at: UtcDatetime | None = None

    @classmethod
    def personal(cls, member_id: str) -> "Account":
        """A member's personal account exists implicitly, empty until funded."""
        return cls(
            id=personal_account_id(member_id),
            kind=AccountKind.PERSONAL,
            name="Personal credits",
            owner_id=member_id,
        )


class EntryKind(StrEnum):
    GRANT = "GRANT"
    DEBIT = "DEBIT"
    REFUND = "REFUND"
    RELEASE = "RELEASE"
    """Credits held by a booking request that was declined, expired or withdrawn."""
    ADJUSTMENT = "ADJUSTMENT"


class LedgerEntry(Model):
    id: str
    account_id: Identifier
    seq: int
    kind: EntryKind
    credits: int
    """Signed: positive adds to the balance, negative spends from it."""
    balance_after: Credits
    session_id: str | None = None
    actor: Actor | None = None
    at: UtcDatetime
    note: str | None = None
