"""The HTTP contract's bodies and answers (docs/api.md), and how a session is shown to a caller."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    create_model,
    field_validator,
)

from coaching import lots, rules
from coaching.errors import ValidationFailed
from coaching.formats import ID_MAX_LENGTH, ID_PATTERN
from coaching.free_times import FreeTime
from coaching.models import (
    DEFAULT_MAX_RESCHEDULES,
    DEFAULT_REFUND_GRACE_DAYS,
    DEFAULT_REFUND_REMINDER_MINUTES,
    DEFAULT_REMINDERS,
    HISTORY_KEPT,
    MAX_DAYS_AHEAD,
    MAX_NOTICE_MINUTES,
    MAX_REASON_LENGTH,
    MAX_REFUND_GRACE_DAYS,
    MAX_REFUND_REMINDER_MINUTES,
    MAX_REFUND_TIERS,
    MAX_REMINDER_MINUTES,
    MAX_REMINDERS,
    MAX_RESCHEDULES,
    MAX_SESSION_TYPES,
    MAX_SESSIONS_PER_DAY,
    MAX_TIER_HOURS,
    MAX_UPCOMING_PER_MEMBER,
    MAX_VALID_DAYS,
    MIN_REMINDER_MINUTES,
    SLOT_MINUTES,
    Account,
    AccountChange,
    AccountKind,
    AccountRef,
    Actor,
    Availability,
    BufferMinutes,
    Caller,
    CoachEntry,
    EntryKind,
    GraceChange,
    HistoryEvent,
    LedgerEntry,
    Location,
    LotMove,
    NameChange,
    NoShow,
    NoShowParty,
    Person,
    Policy,
    Refund,
    RefundTier,
    RescheduleRequest,
    RetiredSessionType,
    Service,
    ServiceRef,
    Session,
    SessionCredits,
    SessionMinutes,
    SessionStatus,
    SessionType,
    TimeOff,
    TimeOffTaken,
    TimeZoneName,
    WeeklyHours,
    WorkingHours,
    require_distinct_hours,
)


def _integral(value: Any) -> Any:
    """``3.0`` is the integer 3, as JSON Schema's ``integer`` counts it; 3.5, ``true`` and
    ``"3"`` are still refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WHOLE = BeforeValidator(_integral)
"""After a body's whole number's constraints: it may be written with a zero fraction (``3.0``)."""

Reason = Annotated[str, Field(max_length=MAX_REASON_LENGTH)]
GridStart = Annotated[
    AwareDatetime,
    AfterValidator(lambda start: start.astimezone(UTC)),
    Field(
        description=(
            f"RFC 3339 with an offset, on a {SLOT_MINUTES}-minute boundary (:00, :15, :30, :45); "
            "any other start fails validation naming `start`."
        )
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""An id in a path: one that is not an id names nothing, and answers 404 before any model is
built (``coaching.web.problems``)."""
QueryId = Annotated[str, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""An id in a query: one that is not an id answers 422 naming the parameter."""
OptionalQueryId = Annotated[
    str | None, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)
]


class Body(BaseModel):
    """Request bodies refuse fields they do not know."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class View(BaseModel):
    """Answers. Like the bodies, each is built (its validator and serializer) when first used,
    not at import: a function uses a few of them, and its cold start should not build all."""

    model_config = ConfigDict(defer_build=True)


class BookBody(Body):
    service_id: Id
    session_type_id: Id
    start: GridStart
    account_id: Id | None = None
    timezone: TimeZoneName | None = None


_EXPECTED_REFUND_DOC = (
    "The `refund_credits` of the quote the person confirmed. When a cancel now would give back "
    "another amount (the window closed meanwhile), the cancel is refused with 409 "
    "`QUOTE_CHANGED` and nothing changes."
)


class CancelBody(Body):
    reason: Reason | None = None
    expected_refund_credits: (
        Annotated[StrictInt, Field(ge=0, le=10_000, description=_EXPECTED_REFUND_DOC), WHOLE] | None
    ) = None


class RescheduleBody(Body):
    start: GridStart
    reason: Reason | None = None


class DeclineBody(Body):
    """Declining a booking or a reschedule request: the reason is kept and sent to the member."""

    reason: Reason | None = None


class WithdrawBody(Body):
    """Withdrawing a reschedule request: the reason is kept and sent to the coach."""

    reason: Reason | None = None


class ApproveBody(Body):
    """Approving takes no fields; any field sent is refused rather than silently dropped."""


class RetireBody(Body):
    """Retiring a service takes no fields; any field sent is refused."""


class NoShowBody(Body):
    """Who did not turn up: the coach may name only the member, support either."""

    party: NoShowParty


class RefundBody(Body):
    credits: Annotated[StrictInt, Field(ge=1, le=10_000), WHOLE] | None = None
    note: Reason | None = None


GroupName = Annotated[str, Field(min_length=1, max_length=200)]


_GRACE_DOC = (
    f"Days that credits given back stay usable when the lot they were paid from has expired "
    f"meanwhile (they come back as a new lot expiring that long after the refund), 1 to "
    f"{MAX_REFUND_GRACE_DAYS}; left out or null: {DEFAULT_REFUND_GRACE_DAYS}."
)
GraceDays = Annotated[
    StrictInt, Field(ge=1, le=MAX_REFUND_GRACE_DAYS, description=_GRACE_DOC), WHOLE
]


class CreateAccountBody(Body):
    name: GroupName
    member_ids: Annotated[list[Id], Field(max_length=500)] = []
    admin_ids: Annotated[list[Id], Field(max_length=50)] = []
    refund_grace_days: GraceDays | None = None


# One change touches at most this many people: each gets a membership item in the change's one
# DynamoDB transaction (100 items at most, with the account, the change's record and the key's).
MAX_MEMBERS_PER_CHANGE = 40
MAX_ADMINS_PER_CHANGE = 5


class GroupPatchBody(Body):
    """A change to a group: a new name, and people added or removed. Adding someone already
    there, or removing someone who is not, changes nothing."""

    name: GroupName | None = None
    add_members: Annotated[list[Id], Field(max_length=MAX_MEMBERS_PER_CHANGE)] = []
    remove_members: Annotated[list[Id], Field(max_length=MAX_MEMBERS_PER_CHANGE)] = []
    add_admins: Annotated[list[Id], Field(max_length=MAX_ADMINS_PER_CHANGE)] = []
    remove_admins: Annotated[list[Id], Field(max_length=MAX_ADMINS_PER_CHANGE)] = []
    refund_grace_days: GraceDays | None = None
    """Left out: unchanged; null: back to the default."""

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        # Sent as null, a name would read as "no change": refuse it rather than guess.
        if value is None:
            raise ValueError("a group must have a name; leave the field out to keep it")
        return value

    def edit(self) -> rules.GroupEdit:
        return rules.GroupEdit(
            name=self.name,
            add_members=self.add_members,
            remove_members=self.remove_members,
            add_admins=self.add_admins,
            remove_admins=self.remove_admins,
            sets_refund_grace="refund_grace_days" in self.model_fields_set,
            refund_grace_days=self.refund_grace_days,
        )


class GrantBody(Body):
    credits: Annotated[StrictInt, Field(ge=1, le=100_000), WHOLE]
    note: Reason | None = None
    expires_at: (
        Annotated[
            AwareDatetime,
            Field(
                description=(
                    "When the credits expire: RFC 3339 with an offset, in the future, at most "
                    f"{MAX_VALID_DAYS} days ahead (kept to the second). Left out, with valid_days "
                    "left out too: they never expire."
                )
            ),
        ]
        | None
    ) = None
    valid_days: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=MAX_VALID_DAYS,
                description="Instead of expires_at: the credits expire this many days "
                "(of 24 hours) after the grant.",
            ),
            WHOLE,
        ]
        | None
    ) = None


class SessionTypeBody(Body):
    minutes: Annotated[SessionMinutes, Field(strict=True), WHOLE]
    credits: Annotated[SessionCredits, Field(strict=True), WHOLE]
    buffer_before_minutes: Annotated[BufferMinutes, Field(strict=True), WHOLE] = 0
    buffer_after_minutes: Annotated[BufferMinutes, Field(strict=True), WHOLE] = 0


class RefundTierBody(Body):
    # The bounds of models.RefundTier, for a body: whole numbers, as sent. (A docstring here
    # would be the schema's description in docs/openapi.json.)
    hours_before: Annotated[StrictInt, Field(ge=0, le=MAX_TIER_HOURS), WHOLE]
    percent: Annotated[StrictInt, Field(ge=1, le=100), WHOLE]


def _distinct_hours(tiers: list[RefundTierBody]) -> list[RefundTierBody]:
    require_distinct_hours([t.hours_before for t in tiers])
    return tiers


def _distinct_minutes(minutes: list[int]) -> list[int]:
    if len(set(minutes)) != len(minutes):
        raise ValueError("must not name the same number of minutes twice")
    return minutes


_REMINDERS_DOC = (
    f"Minutes before the start at which the member and the coach are each emailed a reminder "
    f"(with the calendar invite), {MIN_REMINDER_MINUTES} to {MAX_REMINDER_MINUTES}, at most "
    f"{MAX_REMINDERS}, no two alike; [] for none. Left out: {list(DEFAULT_REMINDERS)}."
)
_REFUND_REMINDER_DOC = (
    f"How long before each refund deadline the member is told that a cancel still gives the "
    f"credits back, in minutes ({MIN_REMINDER_MINUTES} to {MAX_REFUND_REMINDER_MINUTES}); null "
    f"for never. Left out: {DEFAULT_REFUND_REMINDER_MINUTES}."
)
_LOCATION_DOC = (
    "Where the sessions take place: one line of text (a room, an address) or an https:// link "
    "(a video call), up to 500 characters. Emails show it; invites carry it as LOCATION (and a "
    "link as URL too)."
)

_TIERS_DOC = (
    "At most 4 tiers, percents 1 to 100, each with its own hours_before. A cancel at least "
    "hours_before the start gives back that percent of the credits, rounded down; of the tiers "
    "that apply the highest percent wins. Left out: 100% at least cancellation_window_hours ahead."
)


class CreateServiceBody(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    session_types: Annotated[list[SessionTypeBody], Field(min_length=1, max_length=20)]
    cancellation_window_hours: Annotated[StrictInt, Field(ge=0, le=720), WHOLE] = 24
    requires_approval: StrictBool = False
    request_ttl_hours: Annotated[StrictInt, Field(ge=1, le=720), WHOLE] = 48
    late_reschedule_requires_approval: StrictBool = True
    max_reschedules: Annotated[
        StrictInt | None,
        Field(
            ge=0,
            le=MAX_RESCHEDULES,
            description=(
                f"How often a member may move one session, 0 to {MAX_RESCHEDULES}; left out or "
                f"null: {DEFAULT_MAX_RESCHEDULES}."
            ),
        ),
        WHOLE,
    ] = DEFAULT_MAX_RESCHEDULES
    cancel_reason_required: StrictBool = False
    refund_tiers: (
        Annotated[
            list[RefundTierBody],
            Field(min_length=1, max_length=MAX_REFUND_TIERS, description=_TIERS_DOC),
            AfterValidator(_distinct_hours),
        ]
        | None
    ) = None
    refund_grace_days: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=MAX_REFUND_GRACE_DAYS,
                description="Days that credits given back for its sessions stay usable when the "
                "lot they were paid from has expired meanwhile, 1 to "
                f"{MAX_REFUND_GRACE_DAYS}; left out or null: the paying account's grace (7 days "
                "unless a group sets its own).",
            ),
            WHOLE,
        ]
        | None
    ) = None

    location: Annotated[Location | None, Field(description=_LOCATION_DOC)] = None
    reminders: Annotated[
        list[Annotated[StrictInt, Field(ge=MIN_REMINDER_MINUTES, le=MAX_REMINDER_MINUTES), WHOLE]],
        Field(max_length=MAX_REMINDERS, description=_REMINDERS_DOC),
        AfterValidator(_distinct_minutes),
    ] = list(DEFAULT_REMINDERS)
    refund_reminder_minutes: Annotated[
        StrictInt | None,
        Field(
            ge=MIN_REMINDER_MINUTES,
            le=MAX_REFUND_REMINDER_MINUTES,
            description=_REFUND_REMINDER_DOC,
        ),
        WHOLE,
    ] = DEFAULT_REFUND_REMINDER_MINUTES

    min_notice_minutes: Annotated[
        StrictInt,
        Field(
            ge=0,
            le=MAX_NOTICE_MINUTES,
            description="How long before its start a member may book a session, or move one "
            "to it, at the latest; 0 (the default): any time before it.",
        ),
        WHOLE,
    ] = 0
    max_days_ahead: Annotated[
        StrictInt | None,
        Field(
            ge=1,
            le=MAX_DAYS_AHEAD,
            description="How many days ahead a member may book or move a session; null (the "
            "default): no horizon.",
        ),
        WHOLE,
    ] = None
    max_upcoming_per_member: Annotated[
        StrictInt | None,
        Field(
            ge=1,
            le=MAX_UPCOMING_PER_MEMBER,
            description="How many upcoming sessions of the service one member may hold; null "
            "(the default): no limit.",
        ),
        WHOLE,
    ] = None

    def tiers(self) -> list[RefundTier] | None:
        """The tiers as the service keeps them; None for the default."""
        if self.refund_tiers is None:
            return None
        return [RefundTier(**t.model_dump()) for t in self.refund_tiers]

    def settings(self) -> dict[str, Any]:
        """Every setting but the name and the session types, as the service keeps them."""
        settings = self.model_dump(exclude={"name", "session_types", "refund_tiers"})
        return {**settings, "refund_tiers": self.tiers()}


NULL_TURNS_OFF = frozenset({"refund_reminder_minutes", "location"})
"""Settings that ``null`` turns off, at creation and in a change alike: in a change, ``null``
puts back every other setting's default, but the default of these is not "none"."""


def merge_patch_fields(model: type[BaseModel], *, leave_out: set[str]) -> dict[str, Any]:
    """The fields of ``model`` as a JSON merge patch (RFC 7396) of them takes them.

    Each keeps its own type and checks, so a value is refused exactly as ``model`` refuses it;
    none is required; ``null`` is allowed where the field has a default, and means that
    default (for a setting in ``NULL_TURNS_OFF``: none, as at creation). A field ``model``
    gains is in the patch too, with no code here.
    """
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in leave_out:
            continue
        annotation: Any = field.rebuild_annotation()
        note = "Left out: unchanged."
        if name in NULL_TURNS_OFF:
            note += " null: none."
        elif not field.is_required():
            annotation = annotation | None
            note += " null: back to the default."
        description = f"{field.description} {note}" if field.description else note
        fields[name] = (annotation, Field(default=None, description=description))
    return fields


SessionTypeChangeFields = create_model(
    "SessionTypeChangeFields",
    __base__=Body,
    **merge_patch_fields(SessionTypeBody, leave_out=set()),
)


class SessionTypeChangeBody(SessionTypeChangeFields):
    """A session type's new values, by its id; the fields left out keep theirs."""

    id: Id


class SessionTypeEditsBody(Body):
    """Session types added (numbered after every id the service ever gave out), changed or
    retired by id. Retired types take no new bookings; their ids are never given out again."""

    add: Annotated[list[SessionTypeBody], Field(max_length=MAX_SESSION_TYPES)] = []
    change: Annotated[list[SessionTypeChangeBody], Field(max_length=MAX_SESSION_TYPES)] = []
    retire: Annotated[list[Id], Field(max_length=MAX_SESSION_TYPES)] = []

    def edits(self) -> rules.SessionTypeEdits:
        return rules.SessionTypeEdits(
            add=[t.model_dump() for t in self.add],
            change=[t.model_dump(exclude_unset=True) for t in self.change],
            retire=self.retire,
        )


ServiceSettingsPatch = create_model(
    "ServiceSettingsPatch",
    __base__=Body,
    **merge_patch_fields(CreateServiceBody, leave_out={"session_types"}),
)


class ServicePatchBody(ServiceSettingsPatch):
    """A change to a service: its settings as a JSON merge patch of what ``POST /services``
    takes (a field sent replaces the value, ``null`` puts back the default, a field left out
    stays), and its session types by id."""

    session_types: SessionTypeEditsBody | None = None

    def settings(self) -> dict[str, Any]:
        """The settings sent, each as a whole value: a ``null`` as the value ``POST /services``
        gives the field when it is left out (``NULL_TURNS_OFF``: the null itself)."""
        sent = self.model_fields_set - {"session_types"}
        values = self.model_dump(include=sent)
        for name in sent:
            if values[name] is None and name not in NULL_TURNS_OFF:
                values[name] = CreateServiceBody.model_fields[name].get_default(
                    call_default_factory=True
                )
        return values

    def type_edits(self) -> rules.SessionTypeEdits:
        if self.session_types is None:
            return rules.SessionTypeEdits()
        return self.session_types.edits()


class AvailabilityBody(Body):
    """The coach's whole week; it replaces what was there. ``timezone`` defaults to the zone
    the coach's token names."""

    timezone: TimeZoneName | None = None
    weekly: WeeklyHours
    max_sessions_per_day: Annotated[
        StrictInt | None,
        Field(
            ge=1,
            le=MAX_SESSIONS_PER_DAY,
            description="How many sessions the coach takes on one day of their own clock; "
            "null (the default): no limit.",
        ),
        WHOLE,
    ] = None


class TimeOffBody(Body):
    """A stretch the coach takes no bookings in; times in UTC as ever."""

    start: AwareDatetime
    end: AwareDatetime
    reason: Reason | None = None

    @field_validator("end")
    @classmethod
    def _ends_after_it_starts(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("must be later than start")
        return end


def parse_statuses(text: str | None) -> frozenset[SessionStatus]:
    """``status=A,B`` of GET /sessions: the statuses to keep (none given: keep all)."""
    if text is None:
        return frozenset()
    names = [part.strip() for part in text.split(",")]
    known = {s.value for s in SessionStatus}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValidationFailed.on(
            "status", f"must be one or more of {', '.join(sorted(known))}, separated by commas"
        )
    return frozenset(SessionStatus(n) for n in names)


# --- answers ---------------------------------------------------------------------------------


class ActionsView(View):
    can_cancel: bool
    can_reschedule: bool
    can_refund: bool
    can_rebook: bool
    can_mark_no_show: bool


class PolicyView(Policy):
    """The policy fixed at booking, and what of it is left for the member now."""

    refund_reminder_minutes: int | None  # type: ignore[assignment]
    """How long before each refund deadline the member is told it is near; null: not told."""
    reschedules_left: int | None
    """Moves the member may still make under ``max_reschedules``."""


class RebookView(View):
    """What "Schedule session" needs to book again with the same coach."""

    service_id: str
    session_type_id: str
    coach_id: str


class CancellationView(View):
    """A cancel as the session's readers see it (support's own contact stays out)."""

    canceled_at: datetime
    canceled_by: Actor
    reason: str | None
    refundable: bool


class SessionView(View):
    id: str
    status: SessionStatus
    view: Literal["upcoming", "past"]
    """Which list the session belongs to now; canceled sessions are always past."""
    member: Person
    coach: Person
    service: ServiceRef
    session_type: SessionType
    start: datetime
    end: Annotated[
        datetime,
        Field(
            description=(
                "The start plus the session type's minutes. The coach's time stays held until "
                f"this end rounded up to the next {SLOT_MINUTES}-minute boundary."
            )
        ),
    ]
    timezone: str
    credits: int
    account_id: str
    account: AccountRef | None
    """The account it was paid from (id, kind, name), where known."""
    location: str | None
    """Where it takes place, as its service said when it was booked; null when it said nothing."""
    policy: PolicyView
    cancellation: CancellationView | None
    refund: Refund
    no_show: NoShow | None
    outside_hours: bool
    """The coach or support moved it where a member could not have booked it (outside the
    coach's hours, into their time off, or past the notice or horizon)."""
    """``{party, marked_by, marked_at}`` once a no-show is marked, else null."""
    reschedule_request: RescheduleRequest | None
    request_expires_at: datetime | None
    history: Annotated[
        list[HistoryEvent],
        Field(
            description=(
                f"The latest changes, oldest first: at most {HISTORY_KEPT}. Every change is "
                "listed by GET /sessions/{session_id}/history."
            )
        ),
    ]
    history_count: int
    """How many changes the session has had in all."""
    actions: ActionsView
    rebook: RebookView | None
    created_at: datetime


def session_view(session: Session, caller: Caller, now: datetime) -> SessionView:
    session = rules.as_read(session, now)
    actions = rules.actions(caller, session, now)
    return SessionView(
        **session.model_dump(
            exclude={
                "version": True,
                "history": True,
                "history_count": True,
                "member_moves": True,
                "counted_day": True,
                "counted_for_member": True,
                "policy": True,
                "cancellation": {"canceled_by_contact"},
            }
        ),
        history=session.history,
        history_count=session.changes,
        policy=PolicyView(
            **session.policy.model_dump(exclude={"refund_reminder_minutes"}),
            refund_reminder_minutes=session.policy.refund_reminder_minutes or None,
            reschedules_left=rules.reschedules_left(session),
        ),
        view="upcoming" if rules.is_upcoming(session, now) else "past",
        actions=ActionsView(**actions.__dict__),
        rebook=RebookView(
            service_id=session.service.id,
            session_type_id=session.session_type.id,
            coach_id=session.coach.id,
        )
        if actions.can_rebook
        else None,
    )


class HistoryEntryView(HistoryEvent):
    """A change of a session, with its number: 1 is the booking, each change the next."""

    number: int


class HistoryPage(View):
    items: list[HistoryEntryView]
    next_token: str | None


def history_page(entries: list[tuple[int, HistoryEvent]], token: str | None) -> HistoryPage:
    return HistoryPage(
        items=[HistoryEntryView(**e.model_dump(), number=n) for n, e in entries],
        next_token=token,
    )


class SessionList(View):
    items: list[SessionView]
    next_token: str | None


class QuoteView(View):
    refundable: bool
    refund_credits: int
    refund_percent: int
    """The percent of the credits the tier that applies now gives back (0 when none does)."""
    refundable_until: datetime
    """When the tier that applies now ends."""
    window_hours: int


def quote_view(quote: rules.CancellationQuote) -> QuoteView:
    return QuoteView(
        refundable=quote.refundable,
        refund_credits=quote.refund_credits,
        refund_percent=quote.refund_percent,
        refundable_until=quote.refundable_until,
        window_hours=quote.window_hours,
    )


class RescheduleAccepted(View):
    """202: the move waits for the coach."""

    session: SessionView
    reschedule_request: RescheduleRequest


RESCHEDULE_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "Moved", "content": {"application/json": {"model": SessionView}}},
    202: {
        "description": "Waiting for the coach",
        "content": {"application/json": {"model": RescheduleAccepted}},
    },
}
"""What a move answers, from the app's route and the manage link's alike."""


def reschedule_answer(
    session: Session, mode: Literal["DIRECT", "REQUEST"], caller: Caller, now: datetime
) -> tuple[SessionView | RescheduleAccepted, int]:
    """A move's answer: the session moved (200), or the request that waits for the coach (202)."""
    view = session_view(session, caller, now)
    if mode == "DIRECT":
        return view, 200
    assert session.reschedule_request is not None  # a REQUEST always leaves one
    return RescheduleAccepted(session=view, reschedule_request=session.reschedule_request), 202


class LotView(View):
    lot: int
    """The lot's number in this account (0: the credits that never expire)."""
    credits_left: int
    expires_at: datetime | None
    """None: they never expire. In the past: expired, leaving at the sweep's next run (it runs
    every few minutes); a booking no longer spends them."""


class ExpiringSoonView(View):
    credits: int
    """Credits that expire within the next 7 days."""
    expires_at: datetime
    """When the first of them expires."""


class AccountView(View):
    id: str
    kind: AccountKind
    name: str
    balance: int
    lots: list[LotView]
    """Where the balance is held, soonest to expire first, those that never expire last;
    their credits_left add up to the balance."""
    expiring_soon: ExpiringSoonView | None
    """None when nothing expires within the next 7 days."""
    refund_grace_days: int
    """How long credits given back after their lot expired stay usable, unless the session's
    service says otherwise."""
    member_ids: list[str] | None = None
    admin_ids: list[str] | None = None


def account_view(account: Account, caller: Caller, now: datetime) -> AccountView:
    """Group rosters are shown to their admins and support only; no one's contact details."""
    can_see_roster = account.kind is AccountKind.GROUP and (
        caller.id in account.admin_ids or caller.role.value == "support"
    )
    soon = lots.expiring_soon(account, now)
    return AccountView(
        id=account.id,
        kind=account.kind,
        name=account.name,
        balance=account.balance,
        lots=[
            LotView(lot=lot.number, credits_left=lot.credits_left, expires_at=lot.expires_at)
            for lot in lots.shown(account)
        ],
        expiring_soon=None
        if soon is None
        else ExpiringSoonView(credits=soon.credits, expires_at=soon.expires_at),
        refund_grace_days=account.refund_grace_days or DEFAULT_REFUND_GRACE_DAYS,
        member_ids=account.member_ids if can_see_roster else None,
        admin_ids=account.admin_ids if can_see_roster else None,
    )


class AccountList(View):
    items: list[AccountView]


class EntryView(View):
    id: str
    kind: EntryKind
    credits: int
    balance_after: int
    session_id: str | None
    actor: Actor | None
    at: datetime
    note: str | None
    lots: list[LotMove]
    """Which lots the credits came from or went to, adding up to ``credits``: a booking's
    soonest to expire first; ``replaces`` on credits given back into a new lot because the one
    they were paid from had expired. Empty on entries written before lots existed."""


def entry_view(entry: LedgerEntry) -> EntryView:
    return EntryView(**entry.model_dump(exclude={"account_id", "seq"}))


class LedgerPage(View):
    items: list[EntryView]
    next_token: str | None


class ServiceView(View):
    id: str
    coach_id: str
    name: str
    session_types: list[SessionType]
    """The types on offer."""
    retired_session_types: list[RetiredSessionType]
    """Types no longer offered, latest retired first (the last 20)."""
    cancellation_window_hours: int
    requires_approval: bool
    request_ttl_hours: int
    late_reschedule_requires_approval: bool
    max_reschedules: int | None
    cancel_reason_required: bool
    refund_tiers: list[RefundTier]
    """Longest notice first; the default tier when the coach set none."""
    location: str | None
    """Where the sessions take place (text or an https link); null when the coach set none."""
    reminders: list[int]
    """Minutes before the start of each reminder email, earliest first."""
    refund_reminder_minutes: int | None
    """How long before each refund deadline the member is told it is near; null: never."""
    min_notice_minutes: int
    max_days_ahead: int | None
    max_upcoming_per_member: int | None
    refund_grace_days: int | None
    """Null: the paying account's grace."""
    updated_at: datetime
    """The last change (its creation until it is first changed)."""
    retired_at: datetime | None
    """When the coach stopped offering it; null while it is offered."""


# Kept for ourselves: how the service counts its changes and its session type ids.
_INTERNAL_SERVICE_FIELDS = {"coach", "created_at", "version", "last_session_type_number"}


def service_view(service: Service) -> ServiceView:
    return ServiceView(
        **service.model_dump(
            exclude=_INTERNAL_SERVICE_FIELDS
            | {"refund_tiers", "updated_at", "refund_reminder_minutes"}
        ),
        refund_reminder_minutes=service.refund_reminder_minutes or None,
        coach_id=service.coach_id,
        refund_tiers=service.effective_refund_tiers,
        updated_at=service.updated_at or service.created_at,
    )


class ServiceList(View):
    items: list[ServiceView]
    next_token: str | None


class CoachView(View):
    """A coach as the directory lists them: no email address."""

    id: str
    name: str
    timezone: str
    services: list[ServiceRef]
    """Their services on offer, oldest first."""


def coach_view(entry: CoachEntry) -> CoachView:
    return CoachView(
        id=entry.coach_id, name=entry.name, timezone=entry.timezone, services=entry.services
    )


class CoachList(View):
    items: list[CoachView]
    next_token: str | None


class AccountChangeView(View):
    """One change to a group: who made it, when, and what it changed."""

    seq: int
    """1 for the group's first change, then 2, 3 ..."""
    at: datetime
    by: Actor
    name: NameChange | None
    """``{before, after}`` when it renamed the group."""
    added_members: list[str]
    removed_members: list[str]
    added_admins: list[str]
    removed_admins: list[str]
    refund_grace_days: GraceChange | None
    """``{before, after}`` when it changed the group's refund grace (null: the default)."""


def account_change_view(change: AccountChange) -> AccountChangeView:
    return AccountChangeView(**change.model_dump(exclude={"account_id"}))


class AccountChangeList(View):
    items: list[AccountChangeView]
    next_token: str | None


class AvailabilityView(View):
    coach_id: str
    timezone: str
    weekly: list[WorkingHours]
    max_sessions_per_day: int | None
    updated_at: datetime | None
    """None until the coach first sets their hours."""


def availability_view(hours: Availability) -> AvailabilityView:
    return AvailabilityView(**hours.model_dump(exclude={"time_off", "version"}))


class TimeOffView(View):
    id: str
    start: datetime
    end: datetime
    reason: str | None
    """Shown to the coach and support only; null for anyone else."""


class SessionInTimeOff(View):
    id: str
    start: datetime
    end: datetime
    status: SessionStatus


class TimeOffCreated(TimeOffView):
    """201: the time off, and the sessions already booked inside it, which it leaves as they
    are for the coach to move or cancel."""

    sessions: list[SessionInTimeOff]


class TimeOffList(View):
    items: list[TimeOffView]


def time_off_view(off: TimeOff, with_reason: bool = True) -> TimeOffView:
    return TimeOffView(
        id=off.id, start=off.start, end=off.end, reason=off.reason if with_reason else None
    )


def time_off_created(taken: TimeOffTaken) -> TimeOffCreated:
    return TimeOffCreated(
        **time_off_view(taken.time_off).model_dump(),
        sessions=[
            SessionInTimeOff(id=s.id, start=s.start, end=s.end, status=s.status)
            for s in taken.sessions_inside
        ],
    )


class FreeTimeView(View):
    start: datetime
    end: datetime


class FreeTimeList(View):
    items: list[FreeTimeView]


def free_time_list(found: list[FreeTime]) -> FreeTimeList:
    return FreeTimeList(items=[FreeTimeView(start=f.start, end=f.end) for f in found])


def answer_for(result: object, caller: Caller, now: datetime) -> tuple[int, BaseModel] | None:
    """The status and body a write answers with, from what it wrote; None for a result that is
    not the sessions' own (the webhooks answer for theirs: ``coaching.web.webhook_api``).

    Used to store a keyed request's answer in the same transaction as its change, before the
    route itself returns; it must agree with what the routes return (a test holds them together).
    """
    if isinstance(result, Session):
        view = session_view(result, caller, now)
        if result.version == 1:
            return 201, view  # booked
        last = result.history[-1].kind if result.history else None
        if last == "RESCHEDULE_REQUESTED" and result.reschedule_request is not None:
            return 202, RescheduleAccepted(
                session=view, reschedule_request=result.reschedule_request
            )
        return 200, view
    if isinstance(result, LedgerEntry):
        return 201, entry_view(result)
    if isinstance(result, Account):
        # created, or changed
        return (201 if result.revision == 0 else 200), account_view(result, caller, now)
    if isinstance(result, Service):
        return (201 if result.version == 1 else 200), service_view(result)  # or changed
    if isinstance(result, Availability):
        return 200, availability_view(result)  # a PUT replaces: 200, never 201
    if isinstance(result, TimeOffTaken):
        return 201, time_off_created(result)
    return None


class Problem(View):
    """An RFC 9457 problem document."""

    type: Annotated[str, Field(description="`urn:problem:coaching:` and the code in lower case")]
    title: str
    status: int
    detail: str
    code: Annotated[str, Field(description="The stable error code, such as `SLOT_TAKEN`")]
    errors: list[dict[str, str]] | None = None
