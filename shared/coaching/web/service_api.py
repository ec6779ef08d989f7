"""The services' part of the HTTP contract (docs/api.md): services and their session types,
a coach's working hours and time off, and the coach directory. Only the services function
imports it."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    create_model,
    field_validator,
)

from coaching import rules
from coaching.models import (
    DEFAULT_MAX_RESCHEDULES,
    DEFAULT_REFUND_REMINDER_MINUTES,
    DEFAULT_REMINDERS,
    MAX_DAYS_AHEAD,
    MAX_NOTICE_MINUTES,
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
    MIN_REMINDER_MINUTES,
    Availability,
    BufferMinutes,
    CoachEntry,
    Location,
    RefundTier,
    RetiredSessionType,
    Service,
    ServiceRef,
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
from coaching.web.api import WHOLE, Body, Id, Reason, View


class RetireBody(Body):
    """Retiring a service takes no fields; any field sent is refused."""


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


def answer_for(result: object) -> tuple[int, BaseModel] | None:
    """The status and body a service's or a coach's write answers with (see
    ``coaching.web.api``)."""
    if isinstance(result, Service):
        return (201 if result.version == 1 else 200), service_view(result)  # or changed
    if isinstance(result, Availability):
        return 200, availability_view(result)  # a PUT replaces: 200, never 201
    if isinstance(result, TimeOffTaken):
        return 201, time_off_created(result)
    return None
