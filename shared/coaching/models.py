"""The domain's pydantic models: what is stored, and what the rules reason about.

Times are timezone-aware and normalised to UTC; money is whole credits.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from coaching.formats import CLOCK_TIME_PATTERN, ID_MAX_LENGTH, ID_PATTERN

SLOT_MINUTES = 15
"""The coach's calendar is claimed in 15-minute slots: starts align to them, and a session holds
every slot from its start to its end rounded up to the next boundary."""

MIN_SESSION_MINUTES = 10
MAX_SESSION_MINUTES = 240
MAX_REASON_LENGTH = 500


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            "must be a time zone of the IANA database, such as Europe/London"
        ) from error
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]
MAX_BALANCE = 1_000_000
"""The most a grant may take a balance to. Credits coming back are never refused for it, so a
balance can end above it."""
Credits = Annotated[int, Field(ge=0, le=MAX_BALANCE)]
Balance = Annotated[int, Field(ge=0)]
Identifier = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]


class Model(BaseModel):
    # Built at first use rather than at import: see coaching.web.api.View.
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


# Any whole number of minutes: a 50-minute session holds its coach until the hour, which leaves
# the ten minutes between sessions that coaches want anyway.
SessionMinutes = Annotated[
    int,
    Field(
        ge=MIN_SESSION_MINUTES,
        le=MAX_SESSION_MINUTES,
        description=(
            f"Any whole number of minutes from {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES}. "
            f"A session holds its coach's time from its start to its end rounded up to the next "
            f"{SLOT_MINUTES}-minute boundary."
        ),
    ),
]
SessionCredits = Annotated[int, Field(ge=1, le=10_000)]

MAX_REFUND_TIERS = 4
MAX_TIER_HOURS = 24 * 30
"""The most notice a refund tier may ask for: 30 days."""
MAX_RESCHEDULES = 100
DEFAULT_MAX_RESCHEDULES = 5
"""How often a member may move one session unless its service says otherwise: each move tells
the coach, so no member can flood them."""


def move_limit(value: int | None) -> int:
    """A limit left out, or stored as null before every service had one: the default."""
    return DEFAULT_MAX_RESCHEDULES if value is None else value


MemberMoveLimit = Annotated[int | None, Field(ge=0, le=MAX_RESCHEDULES), AfterValidator(move_limit)]
NO_SHOW_MARKING_DAYS = 7
"""A no-show may be marked from the session's start until this many days after its end."""

# --- credits that expire -----------------------------------------------------------------------

NEVER_EXPIRES = 0
"""The number of an account's one lot whose credits never expire (grants without an expiry, and
every credit held before lots existed)."""
MAX_EXPIRING_LOTS = 100
"""Lots with an expiry an account holds at once (used up or not, until they expire): a grant
that would open one more is refused; credits coming back that would need one go to the lot that
never expires instead. Bounds the account item (``Account.lots``)."""
DEFAULT_REFUND_GRACE_DAYS = 7
"""Credits given back after the lot they came from expired stay usable this long."""
MAX_REFUND_GRACE_DAYS = 365
EXPIRY_NOTICE_DAYS = 7
"""Owners are told this long before credits expire; ``expiring_soon`` looks this far ahead."""
MAX_VALID_DAYS = 3650
"""The furthest a grant's credits may expire: ten years on."""
RefundGraceDays = Annotated[int, Field(ge=1, le=MAX_REFUND_GRACE_DAYS)]


class Lot(Model):
    """Credits of one account that expire together: a grant's, or credits given back after the
    lot they were paid from had expired. Kept on the account (``Account.lots``)."""

    number: Annotated[int, Field(ge=0)]
    """Counted per account from 1 (``NEVER_EXPIRES``, 0, is the lot that never expires)."""
    credits_left: Annotated[int, Field(ge=0)]
    expires_at: UtcDatetime | None = None
    """None for the lot that never expires."""
    told: bool = False
    """Its owners were told its credits expire soon, by a movement of the account (a notice
    written with it). The sweep's own notices are kept on the lot's record instead."""


class LotMove(Model):
    """The credits one ledger entry moved in or out of one lot (signed like the entry's)."""

    lot: Annotated[int, Field(ge=0)]
    credits: int
    expires_at: UtcDatetime | None = None
    """The lot's expiry (None: never), as it stood: the entry reads alone."""
    replaces: int | None = None
    """Credits given back into a new lot because the lot they were paid from (this number) had
    expired meanwhile."""


class LotShare(Model):
    """What a booking took from one lot: where its refunds go back to."""

    lot: Annotated[int, Field(ge=0)]
    credits: Annotated[int, Field(ge=1)]
    expires_at: UtcDatetime | None = None


class Renewal(Model):
    """Credits given back after the lot they were paid from had expired: they come back as a
    lot of their own that expires ``expires_at`` (the grace after the change)."""

    credits: Annotated[int, Field(ge=1)]
    expires_at: UtcDatetime | None = None
    """None when the account held as many lots as it may: they then never expire."""


class LotRecord(Model):
    """A lot with an expiry, as its own item keeps it from its opening to its end: what the
    sweep reads. Its credits are counted on the account (``Account.lots``), never here."""

    account_id: Identifier
    number: Annotated[int, Field(ge=1)]
    expires_at: UtcDatetime
    opened_at: UtcDatetime
    warned_at: UtcDatetime | None = None
    """When its owner was told its credits expire soon (None: not told)."""
    expired_at: UtcDatetime | None = None
    """When the sweep took its unused credits out (None: it never held any when it expired)."""
    expired_credits: int | None = None
    due_at: UtcDatetime | None = None
    """When the sweep next has something to do with it; None once it is done with it."""


class RefundTier(Model):
    """A cancel at least ``hours_before`` the start gives back ``percent`` of the credits."""

    hours_before: Annotated[int, Field(ge=0, le=MAX_TIER_HOURS)]
    percent: Annotated[int, Field(ge=1, le=100)]


def require_distinct_hours(hours_before: list[int]) -> None:
    """Each tier its own notice: two for the same ``hours_before`` would give two percents."""
    if len(set(hours_before)) != len(hours_before):
        raise ValueError("must give each tier its own hours_before")


def _distinct_hours(tiers: list[RefundTier]) -> list[RefundTier]:
    require_distinct_hours([t.hours_before for t in tiers])
    # Longest notice first: the order people read them in.
    return sorted(tiers, key=lambda t: -t.hours_before)


RefundTiers = Annotated[
    list[RefundTier],
    Field(min_length=1, max_length=MAX_REFUND_TIERS),
    AfterValidator(_distinct_hours),
]


# --- what emails about a session say before it: reminders, the last call, where ---------------

DEFAULT_REMINDERS = (1440, 60)
"""Minutes before the start at which member and coach are reminded, unless the service says."""
MAX_REMINDERS = 5
MIN_REMINDER_MINUTES = 5
"""Reminders are sent within five minutes of their time: one closer to the start than that
could arrive after it."""
MAX_REMINDER_MINUTES = 30 * 24 * 60
DEFAULT_REFUND_REMINDER_MINUTES = 120
"""How long before a refund deadline the member is told it is about to pass, by default."""
MAX_REFUND_REMINDER_MINUTES = 7 * 24 * 60
NO_LAST_CALL = 0
"""What a service or session that sends no last call for a refund keeps (the API's null): a
None would not survive storage, which leaves out empty values and reads a missing one as the
default (so that services stored before the setting existed get it)."""
MAX_LOCATION_LENGTH = 500

_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HTTPS_URL = re.compile(r"https://[^\s/?#@]+(?:[/?#]\S*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _distinct_reminders(minutes: list[int]) -> list[int]:
    if len(set(minutes)) != len(minutes):
        raise ValueError("must not name the same number of minutes twice")
    return sorted(minutes, reverse=True)  # the earliest reminder first, as they are sent


def _place(value: str) -> str:
    """Text (a room, an address) or an https link; a link of any other kind is refused, so
    that no email or invite ever carries an unencrypted or script link."""
    if _CONTROL.search(value):
        raise ValueError("must be one line of text, without control characters")
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    if _URL_SCHEME.match(value) and not _HTTPS_URL.fullmatch(value):
        raise ValueError("must be plain text or an https:// link with no spaces")
    return value


def is_link(location: str | None) -> bool:
    """Whether a session's place is a link (a video call) rather than a place's name."""
    return location is not None and _HTTPS_URL.fullmatch(location) is not None


ReminderMinutes = Annotated[int, Field(ge=MIN_REMINDER_MINUTES, le=MAX_REMINDER_MINUTES)]
Reminders = Annotated[
    list[ReminderMinutes],
    Field(max_length=MAX_REMINDERS),
    AfterValidator(_distinct_reminders),
]


def _last_call_minutes(value: int) -> int:
    if value != NO_LAST_CALL and not MIN_REMINDER_MINUTES <= value <= MAX_REFUND_REMINDER_MINUTES:
        raise ValueError(
            f"must be from {MIN_REMINDER_MINUTES} to {MAX_REFUND_REMINDER_MINUTES} minutes, "
            "or null for no last call"
        )
    return value


RefundReminderMinutes = Annotated[
    int,
    BeforeValidator(lambda value: NO_LAST_CALL if value is None else value),
    AfterValidator(_last_call_minutes),
]
"""Minutes before each refund deadline; ``NO_LAST_CALL`` (given as None) for none."""
Location = Annotated[
    str, Field(min_length=1, max_length=MAX_LOCATION_LENGTH), AfterValidator(_place)
]


def default_refund_tiers(window_hours: int) -> list[RefundTier]:
    """The help page's rule: everything back at least the window's hours ahead, nothing after."""
    return [RefundTier(hours_before=window_hours, percent=100)]


MAX_BUFFER_MINUTES = 120
BufferMinutes = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_BUFFER_MINUTES,
        description=(
            f"0 to {MAX_BUFFER_MINUTES} minutes the coach keeps free beside a session of this "
            "type (before its start, or after its end). Held with the session: nothing else "
            "can be booked into it."
        ),
    ),
]


class SessionType(Model):
    id: Identifier
    minutes: SessionMinutes
    credits: SessionCredits
    buffer_before_minutes: BufferMinutes = 0
    buffer_after_minutes: BufferMinutes = 0


class RetiredSessionType(SessionType):
    """A session type its coach no longer offers: kept for reference, never booked again."""

    retired_at: UtcDatetime


MAX_NOTICE_MINUTES = 30 * 24 * 60
MAX_DAYS_AHEAD = 730
MAX_UPCOMING_PER_MEMBER = 100
MAX_SESSIONS_PER_DAY = 96
"""A day has 96 fifteen-minute slots: no coach holds more sessions than that in one."""
MAX_TIME_OFF = 100
"""Stretches of time off a coach keeps ahead at once (those over are dropped as they pass)."""
MAX_TIME_OFF_DAYS = 366
"""The longest one stretch of time off may be."""

MAX_SESSION_TYPES = 20
"""Active session types a service may offer at once."""
MAX_RETIRED_SESSION_TYPES = 20
"""Retired session types a service keeps for reference, latest first; beyond this many the oldest
drop off (their ids are never given out again: see ``Service.last_session_type_number``)."""
MAX_ACTIVE_SERVICES = 50
"""Active services one coach may offer at once: the coach directory's entry lists them all."""


def session_type_number(type_id: str) -> int:
    """The number in a session type id the service gave out (``t3`` is 3); 0 for any other."""
    digits = type_id.removeprefix("t")
    return int(digits) if digits != type_id and digits.isdigit() else 0


class Service(Model):
    id: Identifier
    coach: Person
    name: Annotated[str, Field(min_length=1, max_length=200)]
    session_types: Annotated[list[SessionType], Field(min_length=1, max_length=MAX_SESSION_TYPES)]
    """The types on offer; retired ones move to ``retired_session_types``."""
    cancellation_window_hours: Annotated[int, Field(ge=0, le=24 * 30)] = 24
    requires_approval: bool = False
    request_ttl_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 48
    late_reschedule_requires_approval: bool = True
    """When true, a member may ask to move a session once its cancellation window has closed;
    the coach decides."""
    max_reschedules: MemberMoveLimit = DEFAULT_MAX_RESCHEDULES
    """How many times a member may move one session (services stored with none get the
    default)."""
    cancel_reason_required: bool = False
    """When true, a member must say why they cancel."""
    refund_tiers: RefundTiers | None = None
    """None: the default, 100% at least the cancellation window ahead."""
    location: Location | None = None
    """Where the sessions take place: a place's name or address, or an https link."""
    reminders: Reminders = list(DEFAULT_REMINDERS)
    """Minutes before the start at which member and coach are reminded; [] for none."""
    refund_reminder_minutes: RefundReminderMinutes = DEFAULT_REFUND_REMINDER_MINUTES
    """How long before each refund deadline the member hears it is about to pass;
    ``NO_LAST_CALL``: never."""
    min_notice_minutes: Annotated[int, Field(ge=0, le=MAX_NOTICE_MINUTES)] = 0
    """How long before its start a member may book or move a session to a time, at the latest."""
    max_days_ahead: Annotated[int, Field(ge=1, le=MAX_DAYS_AHEAD)] | None = None
    """How far ahead a member may book or move a session, in days; None: no horizon."""
    max_upcoming_per_member: Annotated[int, Field(ge=1, le=MAX_UPCOMING_PER_MEMBER)] | None = None
    """How many upcoming sessions of this service one member may hold; None: no limit."""
    refund_grace_days: RefundGraceDays | None = None
    """How long credits given back for its sessions stay usable when the lot they were paid
    from has expired meanwhile; None: the paying account's grace (7 days unless it says)."""
    created_at: UtcDatetime
    updated_at: UtcDatetime | None = None
    """The last edit or retirement; None on services stored before edits existed."""
    retired_at: UtcDatetime | None = None
    """When the service stopped taking bookings; None while it is offered."""
    retired_session_types: Annotated[
        list[RetiredSessionType], Field(max_length=MAX_RETIRED_SESSION_TYPES)
    ] = []
    """Latest retired first."""
    last_session_type_number: int = 0
    """The highest ``t{n}`` ever given out (0 on services stored before it was kept: read
    ``highest_session_type_number``). New types continue after it, so no id is ever reused."""
    version: int = 1
    """Counts the service's changes; a write lands only on the version it was computed from."""

    @property
    def effective_refund_tiers(self) -> list[RefundTier]:
        return self.refund_tiers or default_refund_tiers(self.cancellation_window_hours)

    @property
    def coach_id(self) -> str:
        return self.coach.id

    @property
    def highest_session_type_number(self) -> int:
        every = [*self.session_types, *self.retired_session_types]
        return max([self.last_session_type_number, *(session_type_number(t.id) for t in every)])

    def session_type(self, session_type_id: str) -> SessionType | None:
        """An active session type; None for a retired or unknown one."""
        return next((t for t in self.session_types if t.id == session_type_id), None)

    def was_retired(self, session_type_id: str) -> bool:
        """A session type this service once offered and has retired."""
        number = session_type_number(session_type_id)
        return self.session_type(session_type_id) is None and (
            0 < number <= self.highest_session_type_number
        )


class SessionStatus(StrEnum):
    REQUESTED = "REQUESTED"
    SCHEDULED = "SCHEDULED"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"
    NO_SHOW = "NO_SHOW"


ACTIVE_STATUSES = frozenset({SessionStatus.REQUESTED, SessionStatus.SCHEDULED})


class RefundStatus(StrEnum):
    NONE = "NONE"
    AUTOMATIC = "AUTOMATIC"
    EXCEPTION = "EXCEPTION"
    PARTIAL = "PARTIAL"


class AccountKind(StrEnum):
    PERSONAL = "PERSONAL"
    GROUP = "GROUP"


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
    kept_after_move: bool = False
    """True when the coach or support moved the session while the member could still cancel
    with a full refund: that right then lasts until the new start, which ``refundable_until`` is."""
    max_reschedules: MemberMoveLimit = DEFAULT_MAX_RESCHEDULES
    """Sessions booked before every service had a limit get the default too."""
    min_notice_minutes: int = 0
    """How late a member may move it to a time (the service's notice at booking)."""
    max_days_ahead: int | None = None
    """How far ahead a member may move it (the service's horizon at booking); None: no horizon."""
    cancel_reason_required: bool = False
    refund_tiers: list[RefundTier] = []
    """Longest notice first. Sessions booked before tiers existed read with the default."""
    reminders: list[int] = list(DEFAULT_REMINDERS)
    """Minutes before the start of each reminder (sessions booked before reminders existed get
    the default ones, from their next move on)."""
    refund_reminder_minutes: RefundReminderMinutes = DEFAULT_REFUND_REMINDER_MINUTES
    """How long before each refund deadline the member is told it is near; ``NO_LAST_CALL``:
    not told."""
    refund_grace_days: int | None = None
    """The service's grace for credits given back into an expired lot; None: the account's."""

    @model_validator(mode="before")
    @classmethod
    def _default_tiers(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("refund_tiers") and "window_hours" in data:
            tiers = [{"hours_before": data["window_hours"], "percent": 100}]
            return {**data, "refund_tiers": tiers}
        return data


class Cancellation(Model):
    canceled_at: UtcDatetime
    canceled_by: Actor
    reason: str | None = None
    refundable: bool
    canceled_by_contact: Person | None = None
    """Support's own contact, for the receipt; the member and coach are on the session already."""


class Refund(Model):
    status: RefundStatus = RefundStatus.NONE
    credits: Credits = 0
    refunded_at: UtcDatetime | None = None


NoShowParty = Literal["MEMBER", "COACH"]


class NoShow(Model):
    """Who did not turn up, and who said so when."""

    party: NoShowParty
    marked_by: Actor
    marked_at: UtcDatetime


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
    "RESCHEDULE_WITHDRAWN",
    "REFUNDED",
    "COMPLETED",
    "NO_SHOW",
]


HISTORY_KEPT = 12
"""The most history entries a session item holds; older ones live in items of their own, so
that no sequence of changes takes a session (or a keyed request's answer) past its size bound."""
MAX_SESSION_ITEM_BYTES = 64 * 1024
"""What a session item, and the answer a keyed change stores with its key, stay under (docs/api.md):
``HISTORY_KEPT`` entries with reasons of ``MAX_REASON_LENGTH`` four-byte characters included."""


class HistoryEvent(Model):
    at: UtcDatetime
    kind: HistoryKind
    by: Actor | None = None
    """None for what the system did on its own (sweeps)."""
    previous_start: UtcDatetime | None = None
    start: UtcDatetime | None = None
    credits: int | None = None
    reason: str | None = None
    """What the person who acted wrote (cancel, reschedule, decline, withdraw, a refund's note)."""
    party: NoShowParty | None = None
    """For a NO_SHOW event: who did not turn up."""
    renewed: Renewal | None = None
    """Of the credits this change gave back, those whose lot had expired meanwhile: they came
    back as a new lot, usable until its expiry."""


class AccountRef(Model):
    """The account a session was paid from, as it stood at booking: emails name it."""

    id: Identifier
    kind: AccountKind
    name: str


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
    account: AccountRef | None = None
    """None on sessions booked before it was kept; emails then say "a shared account"."""
    location: str | None = None
    """Where it takes place, as its service said at booking (text or an https link)."""
    policy: Policy
    cancellation: Cancellation | None = None
    # A factory, not an instance: an instance here would build Refund at import.
    refund: Refund = Field(default_factory=Refund)
    reschedule_request: RescheduleRequest | None = None
    no_show: NoShow | None = None
    outside_hours: bool = False
    """The coach or support moved it where a member could not book: outside the coach's working
    hours, into their time off, or past a notice, horizon or limit."""
    counted_day: str | None = None
    """The day of the coach's clock (YYYY-MM-DD) whose session count holds this session; None
    when none does (not yet counted, or no longer)."""
    counted_for_member: bool = False
    """Whether the count of its member's upcoming sessions of the service holds this session."""
    request_expires_at: UtcDatetime | None = None
    """For a REQUESTED booking: when it expires unless the coach answers."""
    paid_from: list[LotShare] = []
    """The lots the booking took its credits from, in the order taken (soonest to expire
    first): refunds go back to them, the last taken first. Empty on sessions booked before lots
    existed, which were paid from credits that never expire."""
    history: list[HistoryEvent] = []
    """The latest changes, oldest first, at most ``HISTORY_KEPT`` of them (a session written
    before that bound may hold more until its next change). Older ones are kept beside the
    session, one item each, and listed with the rest by GET /sessions/{id}/history."""
    history_count: int | None = None
    """How many changes the session has had; None on sessions written before it was kept, whose
    history is then whole (``changes``)."""
    member_moves: int | None = None
    """How often its member moved it (their moves and approved requests); None on sessions
    written before it was kept, where the history counts them."""
    created_at: UtcDatetime
    version: int = 1

    @property
    def changes(self) -> int:
        """Every change the session has had, those kept beside it included."""
        return len(self.history) if self.history_count is None else self.history_count

    def events_since(self, old: "Session | None") -> list[HistoryEvent]:
        """The history entries the write from ``old`` to this version added (a new session: the
        one that made it). Counted by changes, not by the history kept, which is the latest."""
        if old is None:
            return self.history[-1:]
        gained = self.changes - old.changes
        return self.history[-gained:] if gained > 0 else []

    @property
    def spilled(self) -> int:
        """How many of its oldest changes are kept beside it rather than in ``history``."""
        return self.changes - len(self.history)

    @property
    def refundable_credits(self) -> int:
        """Credits paid and not yet given back."""
        return self.credits - self.refund.credits

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.policy.window_hours)


def personal_account_id(member_id: str) -> str:
    return f"personal-{member_id}"


MAX_ACCOUNT_CONTACTS = 50
"""A personal account's owner, or a group's admins (``MAX_GROUP_ADMINS``) at most."""


class Account(Model):
    id: Identifier
    kind: AccountKind
    name: str
    balance: Balance = 0
    version: int = 0
    """Counts the ledger entries; the next entry is number version + 1."""
    owner_id: str | None = None
    member_ids: list[str] = []
    admin_ids: list[str] = []
    created_at: UtcDatetime | None = None
    revision: int = 0
    """Counts the changes to a group's name and people (``AccountChange``); the next change is
    number revision + 1. Every credit movement is conditioned on it too, so a booking never
    lands on a roster that changed since it was read."""
    updated_at: UtcDatetime | None = None
    """When the name or the people last changed; None until they do."""
    lots: Annotated[list[Lot], Field(max_length=MAX_EXPIRING_LOTS + 1)] = []
    """Where the balance is held: every lot with credits left, and lots with an expiry that are
    used up but not yet expired (a refund may bring credits back to them). Soonest to expire
    first, the one that never expires last. Their ``credits_left`` add up to ``balance``."""
    lots_opened: int = 0
    """The lots ever opened with an expiry: the next one is number lots_opened + 1."""
    contacts: Annotated[list[Person], Field(max_length=MAX_ACCOUNT_CONTACTS)] = []
    """Who to tell when credits expire, as their tokens said when they last acted on the account:
    its owner (personal), or its admins (a group). Only people with an address."""
    refund_grace_days: RefundGraceDays | None = None
    """A group's own grace for credits given back into an expired lot; None: 7 days."""

    @model_validator(mode="before")
    @classmethod
    def _held_before_lots(cls, data: Any) -> Any:
        """An account stored before lots existed holds its whole balance in the lot that never
        expires."""
        if isinstance(data, dict) and "lots" not in data and data.get("balance"):
            lot = {"number": NEVER_EXPIRES, "credits_left": data["balance"], "expires_at": None}
            return {**data, "lots": [lot]}
        return data

    @classmethod
    def personal(cls, member_id: str) -> "Account":
        """A member's personal account exists implicitly, empty until funded."""
        return cls(
            id=personal_account_id(member_id),
            kind=AccountKind.PERSONAL,
            name="Personal credits",
            owner_id=member_id,
        )


MAX_GROUP_MEMBERS = 500
MAX_GROUP_ADMINS = 50


class NameChange(Model):
    before: str
    after: str


class GraceChange(Model):
    """A group's ``refund_grace_days`` before and after a change (None: the default)."""

    before: int | None = None
    after: int | None = None


class AccountChange(Model):
    """One change to a group's name or people: who made it, when, and what changed.

    Immutable, numbered 1, 2, 3 ... per account like ledger entries. Each list holds only what
    one change did, which the request's own limits bound.
    """

    account_id: Identifier
    seq: int
    at: UtcDatetime
    by: Actor
    name: NameChange | None = None
    added_members: list[str] = []
    removed_members: list[str] = []
    added_admins: list[str] = []
    removed_admins: list[str] = []
    refund_grace_days: GraceChange | None = None


class EntryKind(StrEnum):
    GRANT = "GRANT"
    DEBIT = "DEBIT"
    REFUND = "REFUND"
    RELEASE = "RELEASE"
    """Credits held by a booking request that was declined, expired or withdrawn."""
    ADJUSTMENT = "ADJUSTMENT"
    EXPIRE = "EXPIRE"
    """A lot's unused credits, leaving the balance when it expires (written by the sweep)."""


class LedgerEntry(Model):
    id: str
    account_id: Identifier
    seq: int
    kind: EntryKind
    credits: int
    """Signed: positive adds to the balance, negative spends from it."""
    balance_after: Balance
    session_id: str | None = None
    actor: Actor | None = None
    at: UtcDatetime
    note: str | None = None
    lots: list[LotMove] = []
    """Which lots the credits came from or went to; they add up to ``credits``. Empty on entries
    written before lots existed (their credits never expire)."""


# --- working hours ---------------------------------------------------------------------------

Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
WEEKDAYS: tuple[Weekday, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
"""In ``datetime.weekday()`` order (Monday is 0)."""

MINUTES_PER_DAY = 24 * 60

# "HH:MM" on the grid; "24:00" may only end a day.
ClockTime = Annotated[str, Field(pattern=CLOCK_TIME_PATTERN)]


def clock_minutes(value: str) -> int:
    """Minutes since midnight of an "HH:MM" clock time."""
    hours_part, minutes_part = value.split(":")
    return int(hours_part) * 60 + int(minutes_part)


class WorkingHours(Model):
    """One stretch of a weekday, on the coach's own wall clock, on the 15-minute grid."""

    day: Weekday
    start: ClockTime
    end: ClockTime

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "WorkingHours":
        if clock_minutes(self.end) <= clock_minutes(self.start):
            raise ValueError("must end later than it starts, on the same day")
        return self

    @property
    def minutes(self) -> tuple[int, int]:
        return clock_minutes(self.start), clock_minutes(self.end)


def _apart(weekly: list[WorkingHours]) -> list[WorkingHours]:
    """Sorted by day and start, and no two stretches of a day overlapping."""
    ordered = sorted(weekly, key=lambda h: (WEEKDAYS.index(h.day), h.minutes))
    for before, after in pairwise(ordered):
        if before.day == after.day and after.minutes[0] < before.minutes[1]:
            raise ValueError(
                f"must not overlap: {after.day} {after.start} is inside {before.start}-{before.end}"
            )
    return ordered


WeeklyHours = Annotated[list[WorkingHours], Field(max_length=100), AfterValidator(_apart)]


class TimeOff(Model):
    """A stretch in which the coach takes no bookings (a holiday, an afternoon off)."""

    id: Identifier
    start: UtcDatetime
    end: UtcDatetime
    reason: Annotated[str, Field(max_length=MAX_REASON_LENGTH)] | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "TimeOff":
        if self.end <= self.start:
            raise ValueError("must end after it starts")
        return self


class Availability(Model):
    """A coach's booking rules: weekly working hours in their own time zone (replaced whole on
    each change), a limit of sessions a day, and the time off ahead. One item, read with what a
    booking or a move reads already."""

    coach_id: Identifier
    timezone: TimeZoneName = "UTC"
    weekly: WeeklyHours = []
    max_sessions_per_day: Annotated[int, Field(ge=1, le=MAX_SESSIONS_PER_DAY)] | None = None
    """How many sessions the coach holds on one day of their own clock, at most; None: no limit."""
    time_off: Annotated[list[TimeOff], Field(max_length=MAX_TIME_OFF)] = []
    """Soonest first; each dropped once it has passed."""
    updated_at: UtcDatetime | None = None
    """None until the coach first sets their hours."""
    version: int = 0
    """Counts its writes (0: never stored); a write lands only on the version it was read at."""

    @property
    def has_hours(self) -> bool:
        """A coach who never set hours takes bookings at any time on the grid."""
        return bool(self.weekly)


@dataclass(frozen=True)
class TimeOffTaken:
    """What taking time off produced, and what its answer shows: the time off, and the sessions
    already booked inside it, read in the same step as the write (a keyed request's stored
    answer is made from this in the write's own transaction)."""

    time_off: TimeOff
    sessions_inside: tuple[Session, ...]


# --- the coach directory -----------------------------------------------------------------------


class CoachEntry(Model):
    """A coach's entry in the directory (``GET /coaches``), listed while they offer at least
    one active service.

    Written with every change to the coach's services, in the same transaction. No email
    address: anyone signed in reads it.
    """

    coach_id: Identifier
    name: str
    timezone: TimeZoneName = "UTC"
    services: Annotated[list[ServiceRef], Field(max_length=MAX_ACTIVE_SERVICES)] = []
    """The coach's active services, oldest first; none: not listed."""
    version: int = 0
    """0 for an entry not stored yet."""
