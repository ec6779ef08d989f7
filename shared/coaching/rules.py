"""The rules: who may do what to a session, and what it costs, at a given ``now``.

Plain functions with no I/O. Each takes the current time as an argument so that every boundary
can be tested to the second. A rule that refuses raises the domain error the API answers with.

The cancellation window: a cancel is refunded when it happens at least ``window_hours`` before
the start, that is while ``now <= start - window``. The window is elapsed time, not wall-clock
time, so across a daylight-saving change "24 hours before" may read 23:00 or 01:00 on the
member's clock, never a different amount of notice.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from coaching.errors import (
    CoachDayFull,
    CoachUnavailable,
    DomainError,
    FieldError,
    Forbidden,
    InsufficientCredits,
    MemberLimitReached,
    NoShowAlreadyMarked,
    NotFound,
    NothingToRefund,
    NotPending,
    OutsideWorkingHours,
    QuoteChanged,
    RescheduleLimitReached,
    RescheduleWindowClosed,
    ServiceLimitReached,
    ServiceRetired,
    SessionNotUpcoming,
    SessionStillUpcoming,
    SessionTypeRetired,
    TooFarAhead,
    TooSoon,
    ValidationFailed,
)
from coaching.models import (
    ACTIVE_STATUSES,
    MAX_ACTIVE_SERVICES,
    MAX_BALANCE,
    MAX_GROUP_ADMINS,
    MAX_GROUP_MEMBERS,
    MAX_RETIRED_SESSION_TYPES,
    MAX_SESSION_MINUTES,
    MAX_TIME_OFF,
    MAX_TIME_OFF_DAYS,
    MAX_VALID_DAYS,
    NO_SHOW_MARKING_DAYS,
    SLOT_MINUTES,
    WEEKDAYS,
    Account,
    AccountChange,
    AccountKind,
    Availability,
    Caller,
    CoachEntry,
    EntryKind,
    GraceChange,
    HistoryEvent,
    HistoryKind,
    NameChange,
    NoShowParty,
    Person,
    Policy,
    RefundStatus,
    RetiredSessionType,
    Role,
    Service,
    ServiceRef,
    Session,
    SessionStatus,
    SessionType,
    TimeOff,
    move_limit,
    personal_account_id,
)

Relation = Literal["member", "coach", "support"]


# --- who is this caller to the session ------------------------------------------------------


def relation(caller: Caller, session: Session) -> Relation | None:
    """How the caller stands to the session; None means it is not theirs to see."""
    if caller.role is Role.SUPPORT:
        return "support"
    if caller.role is Role.COACH and caller.id == session.coach.id:
        return "coach"
    if caller.role is Role.MEMBER and caller.id == session.member.id:
        return "member"
    return None


def require_visible(caller: Caller, session: Session) -> Relation:
    """A session that is not the caller's answers 404, exactly as if it did not exist."""
    found = relation(caller, session)
    if found is None:
        raise NotFound("No such session.")
    return found


def require_staff(caller: Caller, session: Session, doing: str) -> Relation:
    """The coach of the session or support; its member may see it but not do this."""
    found = require_visible(caller, session)
    if found == "member":
        raise Forbidden(f"Only the coach or support may {doing}.")
    return found


# --- the lifecycle: how a session's status changes -------------------------------------------

Change = Literal["CANCEL", "APPROVE", "DECLINE", "MARK_NO_SHOW", "EXPIRE", "COMPLETE"]
"""What moves a session from one status to another: a person's request, or the sweep's
(``EXPIRE``: a booking request nobody answered in time; ``COMPLETE``: a session that ended)."""


@dataclass(frozen=True)
class Step:
    """Where a change takes a session: its new status, and the history entry that says so."""

    to: SessionStatus
    history: HistoryKind


_S = SessionStatus

LIFECYCLE: Mapping[tuple[SessionStatus, Change], Step] = {
    (_S.REQUESTED, "CANCEL"): Step(_S.CANCELED, "CANCELED"),
    (_S.SCHEDULED, "CANCEL"): Step(_S.CANCELED, "CANCELED"),
    (_S.REQUESTED, "APPROVE"): Step(_S.SCHEDULED, "APPROVED"),
    (_S.REQUESTED, "DECLINE"): Step(_S.DECLINED, "DECLINED"),
    (_S.SCHEDULED, "MARK_NO_SHOW"): Step(_S.NO_SHOW, "NO_SHOW"),
    (_S.COMPLETED, "MARK_NO_SHOW"): Step(_S.NO_SHOW, "NO_SHOW"),
    (_S.REQUESTED, "EXPIRE"): Step(_S.EXPIRED, "EXPIRED"),
    (_S.SCHEDULED, "COMPLETE"): Step(_S.COMPLETED, "COMPLETED"),
}
"""Every status change there is: (from, change) -> (to, history). A pair not here is refused
(``refusal``). Moves, reschedule requests and refunds keep the status, and are not here. When a
change is allowed at all (the time, the caller) is the rule of each: ``plan_cancel``,
``require_pending_booking``, ``plan_no_show``, ``sweep_action``; each refuses a status this table
does not allow with the code ``refusal`` names."""

_REFUSED: Mapping[Change, type[DomainError] | None] = {
    "CANCEL": SessionNotUpcoming,
    "APPROVE": NotPending,
    "DECLINE": NotPending,
    "MARK_NO_SHOW": SessionNotUpcoming,
    "EXPIRE": None,
    "COMPLETE": None,
}


def refusal(status: SessionStatus, change: Change) -> type[DomainError] | None:
    """What the API answers a change that ``status`` does not allow; None for the sweep's
    changes, which it passes by (nothing is due). A session marked a no-show already says so."""
    if status is _S.NO_SHOW and change == "MARK_NO_SHOW":
        return NoShowAlreadyMarked
    return _REFUSED[change]


def step(session: Session, change: Change) -> Step:
    """Where ``change`` takes ``session`` (``LIFECYCLE``). Its rule has refused a status the
    table does not allow, with its own words, before any change is planned: reaching here with
    one is a fault of the code, not of the request."""
    found = LIFECYCLE.get((session.status, change))
    if found is None:
        raise AssertionError(f"{change} of a {session.status} session")
    return found


# --- time -----------------------------------------------------------------------------------


def refundable_until(start: datetime, window_hours: int) -> datetime:
    # In UTC: arithmetic on a zoned datetime would count wall-clock hours across a DST change.
    return start.astimezone(UTC) - timedelta(hours=window_hours)


def is_upcoming(session: Session, now: datetime) -> bool:
    """Listed as upcoming: still active and not over. A session in progress is upcoming."""
    return session.status in ACTIVE_STATUSES and now < session.end


def not_started(session: Session, now: datetime) -> bool:
    """Still active and before its start: only then may it be canceled or moved."""
    return session.status in ACTIVE_STATUSES and now < session.start


def inside_free_window(session: Session, now: datetime) -> bool:
    """True while a cancel is still refunded: at least the window's hours before the start."""
    return now <= session.policy.refundable_until


def request_deadline(now: datetime, ttl_hours: int, start: datetime) -> datetime:
    """A request waits at most its time to live, and never past the start it is about."""
    return min(now + timedelta(hours=ttl_hours), start)


RESCHEDULE_ANSWER_MARGIN = timedelta(hours=1)
"""A reschedule request lapses this long before the session at the latest, so that both sides
hear the session stays where it was while they can still act on it."""


def reschedule_request_deadline(
    now: datetime, ttl_hours: int, start: datetime, requested_start: datetime
) -> datetime:
    """The earlier of the request's time to live and an hour before either time it is about.

    Asking when that hour has already begun would make a request born lapsed: refused.
    """
    deadline = min(
        now + timedelta(hours=ttl_hours),
        min(start, requested_start).astimezone(UTC) - RESCHEDULE_ANSWER_MARGIN,
    )
    if deadline <= now:
        raise RescheduleWindowClosed(
            "Too close to the session for your coach to answer a request; ask them directly."
        )
    return deadline


def reschedule_request_lapsed(session: Session, now: datetime) -> bool:
    """A request past its deadline (or past a start it is about) is over, swept or not."""
    request = session.reschedule_request
    return request is not None and now >= min(request.expires_at, request.start)


def require_slot_aligned(start: datetime, field: str = "start") -> None:
    if start.second or start.microsecond or start.minute % SLOT_MINUTES:
        raise ValidationFailed.on(
            field, f"must fall on a {SLOT_MINUTES}-minute boundary (for example 10:00 or 10:15)"
        )


def require_future(start: datetime, now: datetime, field: str = "start") -> None:
    if start <= now:
        raise ValidationFailed.on(field, "must be in the future")


def held_until(end: datetime) -> datetime:
    """Where a session's hold on its coach ends: its end rounded up to the next slot boundary."""
    end = end.astimezone(UTC)
    past_boundary = timedelta(
        minutes=end.minute % SLOT_MINUTES, seconds=end.second, microseconds=end.microsecond
    )
    if not past_boundary:
        return end
    return end - past_boundary + timedelta(minutes=SLOT_MINUTES)


def slots_between(start: datetime, end: datetime) -> list[datetime]:
    """The calendar slots a session from start to end holds.

    Every slot from the one its start falls in up to its end rounded up to a boundary, so a
    50-minute session at 10:00 holds 10:00 to 11:00 and a 25-minute one 10:00 to 10:30. Booking,
    moving, releasing and the checks in tests all count slots here, so they cannot disagree.
    """
    step = timedelta(minutes=SLOT_MINUTES)
    at, stop = start.astimezone(UTC), held_until(end)
    at -= timedelta(
        minutes=at.minute % SLOT_MINUTES, seconds=at.second, microseconds=at.microsecond
    )
    slots = []
    while at < stop:
        slots.append(at)
        at += step
    return slots


# --- booking ----------------------------------------------------------------------------------


def require_can_spend(caller: Caller, account: Account) -> None:
    """Members spend from their personal account and from groups they belong to."""
    allowed = (
        account.owner_id == caller.id
        if account.kind is AccountKind.PERSONAL
        else caller.id in account.member_ids
    )
    if not allowed:
        raise NotFound("No such account.")


def require_can_book(caller: Caller, service: Service, start: datetime, now: datetime) -> None:
    if caller.role is not Role.MEMBER:
        raise Forbidden("Only members book sessions.")
    if caller.id == service.coach_id:
        raise Forbidden("A coach cannot book their own service.")
    require_offered(service)
    require_bookable_start(start, now)


def bookable_type(service: Service, session_type_id: str) -> SessionType:
    """The session type a booking asks for, while the service offers it."""
    found = service.session_type(session_type_id)
    if found is not None:
        return found
    if service.was_retired(session_type_id):
        raise SessionTypeRetired("The coach no longer offers this session type.")
    raise ValidationFailed.on("session_type_id", "is not a session type of this service")


def require_bookable_start(start: datetime, now: datetime) -> None:
    """What a booking's time must be, whoever books it; free times offer only such starts."""
    require_slot_aligned(start)
    require_future(start, now)


# --- when a member may hold a time ------------------------------------------------------------
#
# One rule decides whether a member may hold a session of a type from a start: the free times
# offer exactly the starts it allows, and a member's booking, move and move request ask it. The
# coach and support may move a session where it refuses (the session then says
# ``outside_hours``). The two limits that count sessions (a coach's day, a member's upcoming
# sessions of a service) are checked here from counts when they are known (free times), and by
# the write's own conditions on those counts when they are not (a booking, a move), so that two
# bookings racing for the last place cannot both take it.


def held_slots(start: datetime, session_type: SessionType) -> list[datetime]:
    """The coach's slots a session of this type from ``start`` holds: its own time rounded up to
    the grid, and its buffers before and after, which nothing else may be booked into."""
    end = start + timedelta(minutes=session_type.minutes)
    return slots_between(
        start - timedelta(minutes=session_type.buffer_before_minutes),
        end + timedelta(minutes=session_type.buffer_after_minutes),
    )


@dataclass(frozen=True)
class WorkingClock:
    """A coach's working hours read once: their zone, and each weekday's stretches as minutes of
    the day. The hours say "HH:MM"; a week of free times asks about thousands of slots."""

    zone: ZoneInfo
    stretches: Mapping[str, tuple[tuple[int, int], ...]]

    @classmethod
    def of(cls, hours: Availability) -> "WorkingClock":
        stretches: dict[str, list[tuple[int, int]]] = {}
        for h in hours.weekly:
            stretches.setdefault(h.day, []).append(h.minutes)
        return cls(ZoneInfo(hours.timezone), {day: tuple(s) for day, s in stretches.items()})

    def covers(self, slot: datetime) -> bool:
        """True when the whole 15-minute slot from ``slot`` is inside the working hours, on the
        coach's own wall clock: decided per instant, so daylight-saving days come out right (the
        missing hour of a spring-forward day has no instants; a fall-back day's repeated hour
        has both)."""
        local = slot.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(
            start <= minute and minute + SLOT_MINUTES <= end
            for start, end in self.stretches.get(WEEKDAYS[local.weekday()], ())
        )


def coach_day(hours: Availability, start: datetime) -> str:
    """The day of the coach's own clock a session starting at ``start`` counts on."""
    return start.astimezone(ZoneInfo(hours.timezone)).date().isoformat()


@dataclass(frozen=True)
class BookingLimits:
    """A service's own limits on when a member may hold a time: a booking reads them from the
    service, a move from the session's policy (as the service had them at booking)."""

    min_notice_minutes: int = 0
    max_days_ahead: int | None = None
    max_upcoming_per_member: int | None = None

    @classmethod
    def of_service(cls, service: Service) -> "BookingLimits":
        return cls(
            service.min_notice_minutes,
            service.max_days_ahead,
            service.max_upcoming_per_member,
        )

    @classmethod
    def of_session(cls, session: Session) -> "BookingLimits":
        return cls(session.policy.min_notice_minutes, session.policy.max_days_ahead)


def require_member_may_hold(
    hours: Availability,
    service: BookingLimits,
    session_type: SessionType,
    start: datetime,
    now: datetime,
    *,
    day_count: int | None = None,
    member_count: int | None = None,
) -> None:
    """Whether a member may book, or move a session to, ``start``: refuses with the first rule
    the time breaks. Notice and horizon are the service's; working hours (when the coach set
    any: a coach who never did takes any time on the grid), time off and the sessions a day
    are the coach's; a member's upcoming sessions are limited by the service. ``day_count`` and
    ``member_count`` are the counts now, where known (see above)."""
    HoldRule.of(hours, service, session_type).require(
        start, now, day_count=day_count, member_count=member_count
    )


@dataclass(frozen=True)
class HoldRule:
    """``require_member_may_hold`` for one coach's hours, one service's limits and one session
    type, read once: a booking asks it about one start, free times about every start of a range,
    and both get the same answer from the same code."""

    hours: Availability
    limits: BookingLimits
    session_type: SessionType
    clock: WorkingClock | None
    """None when the coach never set hours: any time on the grid is working time."""

    @classmethod
    def of(
        cls, hours: Availability, limits: BookingLimits, session_type: SessionType
    ) -> "HoldRule":
        clock = WorkingClock.of(hours) if hours.has_hours else None
        return cls(hours, limits, session_type, clock)

    def require(
        self,
        start: datetime,
        now: datetime,
        *,
        day_count: int | None = None,
        member_count: int | None = None,
    ) -> None:
        """Refuses with the first rule ``start`` breaks (see ``require_member_may_hold``)."""
        limits = self.limits
        if start < now + timedelta(minutes=limits.min_notice_minutes):
            raise TooSoon(
                "Sessions of this service are booked at least "
                f"{_minutes(limits.min_notice_minutes)} ahead; choose a later time."
            )
        if limits.max_days_ahead is not None and start > now + timedelta(
            days=limits.max_days_ahead
        ):
            raise TooFarAhead(
                f"Sessions of this service are booked at most {limits.max_days_ahead} days "
                "ahead; choose an earlier time."
            )
        own = slots_between(start, start + timedelta(minutes=self.session_type.minutes))
        if self.clock is not None and not all(self.clock.covers(slot) for slot in own):
            raise OutsideWorkingHours("The coach does not work at that time; choose a free time.")
        held_to = own[-1] + timedelta(minutes=SLOT_MINUTES)
        if any(off.start < held_to and own[0] < off.end for off in self.hours.time_off):
            raise CoachUnavailable("The coach is away at that time; choose another.")
        limit = self.hours.max_sessions_per_day
        if limit is not None and day_count is not None and day_count >= limit:
            raise CoachDayFull(
                f"The coach takes {limit} session{'' if limit == 1 else 's'} a day, and that day "
                "is full; choose another day."
            )
        most = limits.max_upcoming_per_member
        if most is not None and member_count is not None and member_count >= most:
            raise MemberLimitReached(
                f"You hold {most} upcoming session{'' if most == 1 else 's'} of this service, as "
                "many as it allows; book again once one is over or canceled."
            )


def member_may_hold(
    hours: Availability,
    service: BookingLimits,
    session_type: SessionType,
    start: datetime,
    now: datetime,
) -> bool:
    """``require_member_may_hold`` as a question, the counted limits left out: where the coach
    or support moves a session, whether it ends up ``outside_hours``."""
    try:
        require_member_may_hold(hours, service, session_type, start, now)
    except (TooSoon, TooFarAhead, OutsideWorkingHours, CoachUnavailable):
        return False
    return True


def _minutes(minutes: int) -> str:
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day{'' if days == 1 else 's'}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def time_off_ahead(time_off: Sequence[TimeOff], now: datetime) -> list[TimeOff]:
    """The time off that has not passed yet, soonest first (what a coach's rules keep)."""
    return sorted((off for off in time_off if off.end > now), key=lambda off: off.start)


def require_time_off_ahead(off: TimeOff, now: datetime) -> None:
    if off.end <= now:
        raise ValidationFailed.on("end", "must be in the future")
    if off.end - off.start > timedelta(days=MAX_TIME_OFF_DAYS):
        raise ValidationFailed.on("end", f"must be at most {MAX_TIME_OFF_DAYS} days after start")


def with_time_off(time_off: Sequence[TimeOff], off: TimeOff, now: datetime) -> list[TimeOff]:
    """A coach's time off ahead, with ``off`` added; at most ``MAX_TIME_OFF`` stretches."""
    kept = time_off_ahead([*time_off, off], now)
    if len(kept) > MAX_TIME_OFF:
        raise ValidationFailed.on(
            "start", f"would make more than {MAX_TIME_OFF} stretches of time off ahead"
        )
    return kept


def booking_status(service: Service) -> SessionStatus:
    return SessionStatus.REQUESTED if service.requires_approval else SessionStatus.SCHEDULED


# --- changing a service ----------------------------------------------------------------------


def require_can_change_service(caller: Caller, service: Service) -> None:
    """Its coach and support; anyone else may read a service but not change it."""
    if caller.role is Role.SUPPORT:
        return
    if caller.role is Role.COACH and caller.id == service.coach_id:
        return
    raise Forbidden("Only the service's coach or support may change it.")


def require_offered(service: Service) -> None:
    """A retired service takes no new bookings and no more changes."""
    if service.retired_at is not None:
        raise ServiceRetired("The coach no longer offers this service.")


@dataclass(frozen=True)
class SessionTypeEdits:
    """What a service edit does to its session types: each added type's fields, each change's
    ``id`` with the fields it replaces, and the ids retired."""

    add: Sequence[Mapping[str, Any]] = ()
    change: Sequence[Mapping[str, Any]] = ()
    retire: Sequence[str] = ()


def invalid(error: ValidationError, prefix: str = "") -> ValidationFailed:
    """A model's validation errors as the API's, each naming the field at fault by its path."""
    return ValidationFailed(
        "The change leaves the service invalid.",
        [
            FieldError(
                ".".join([*([prefix] if prefix else []), *(str(p) for p in e["loc"])]) or "body",
                e["msg"],
            )
            for e in error.errors()
        ],
    )


SERVICE_SETTINGS = frozenset(Service.model_fields) - {
    "id",
    "coach",
    "session_types",
    "retired_session_types",
    "last_session_type_number",
    "created_at",
    "updated_at",
    "retired_at",
    "version",
}
"""The fields of a service an edit sets as whole values: its policy and name, and whatever
setting a later version adds to it (session types are edited by id; the rest is the service's
own bookkeeping)."""


def _type_edit_errors(service: Service, edits: SessionTypeEdits) -> list[FieldError]:
    active = {t.id for t in service.session_types}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for n, type_id in enumerate(edits.retire):
        where = f"session_types.retire.{n}"
        if type_id not in active:
            errors.append(FieldError(where, "is not an active session type of this service"))
        elif type_id in seen:
            errors.append(FieldError(where, "is named twice"))
        seen.add(type_id)
    retiring, seen = set(seen), set()
    for n, change in enumerate(edits.change):
        type_id, where = str(change["id"]), f"session_types.change.{n}.id"
        if type_id not in active:
            errors.append(FieldError(where, "is not an active session type of this service"))
        elif type_id in retiring:
            errors.append(FieldError(where, "is retired by the same request"))
        elif type_id in seen:
            errors.append(FieldError(where, "is named twice"))
        seen.add(type_id)
    return errors


def edit_service(
    service: Service, settings: Mapping[str, Any], types: SessionTypeEdits, now: datetime
) -> Service:
    """The service after an edit, or the same service when the edit changes nothing.

    ``settings`` are whole values for the service's own fields (a JSON merge patch already
    resolved: a field set back to its default carries that default). Session types are added
    (numbered after the highest number ever given out), changed or retired by id; retired ones
    are kept for reference, the latest first, up to ``MAX_RETIRED_SESSION_TYPES``. The result
    is validated whole, by the same model the service was created with, and must leave at
    least one active session type.
    """
    require_offered(service)
    errors = [
        FieldError(name, "is not a setting of a service")
        for name in settings
        if name not in SERVICE_SETTINGS
    ]
    errors += _type_edit_errors(service, types)
    if errors:
        raise ValidationFailed("The session type changes do not fit this service.", errors)
    changes = {str(c["id"]): {k: v for k, v in c.items() if k != "id"} for c in types.change}
    kept: list[dict[str, Any]] = [
        {**t.model_dump(), **changes.get(t.id, {})}
        for t in service.session_types
        if t.id not in types.retire
    ]
    number = service.highest_session_type_number
    added = [{**fields, "id": f"t{number + n}"} for n, fields in enumerate(types.add, start=1)]
    if not kept and not added:
        raise ValidationFailed.on("session_types", "must leave at least one active session type")
    retired = [
        RetiredSessionType(**t.model_dump(), retired_at=now)
        for t in service.session_types
        if t.id in types.retire
    ]
    try:
        edited = Service.model_validate(
            {
                **service.model_dump(),
                **settings,
                "session_types": kept + added,
                "retired_session_types": [*retired, *service.retired_session_types][
                    :MAX_RETIRED_SESSION_TYPES
                ],
                "last_session_type_number": number + len(added),
            }
        )
    except ValidationError as error:
        raise invalid(error) from error
    if edited == service.model_copy(update={"last_session_type_number": number}):
        return service  # nothing to change
    return edited.model_copy(update={"updated_at": now, "version": service.version + 1})


def retire_service(service: Service, now: datetime) -> Service:
    """The service once retired: booked sessions go on; nothing new is booked."""
    require_offered(service)
    return service.model_copy(
        update={"retired_at": now, "updated_at": now, "version": service.version + 1}
    )


def directory_entry(entry: CoachEntry, service: Service, coach: Person | None) -> CoachEntry:
    """The coach's directory entry once ``service`` is as given.

    A service on offer is listed under its current name, where it was or last; a retired one
    is not. An entry with no services left stays (unlisted: see ``storage.services``).
    ``coach`` is the coach's own details when they made the change: the entry takes their name
    and zone from it. A coach may offer ``MAX_ACTIVE_SERVICES`` at once.
    """
    services = list(entry.services)
    listed_at = next((n for n, s in enumerate(services) if s.id == service.id), None)
    if service.retired_at is not None:
        services = [s for s in services if s.id != service.id]
    else:
        ref = ServiceRef(id=service.id, name=service.name)
        if listed_at is not None:
            services[listed_at] = ref
        elif len(services) >= MAX_ACTIVE_SERVICES:
            raise ServiceLimitReached(
                f"A coach may offer {MAX_ACTIVE_SERVICES} services at once; retire one first."
            )
        else:
            services.append(ref)
    return entry.model_copy(
        update={
            "name": coach.name if coach is not None else entry.name,
            "timezone": coach.timezone if coach is not None else entry.timezone,
            "services": services,
            "version": entry.version + 1,
        }
    )


# --- cancel ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancellationQuote:
    """What a cancel would give back right now: the confirmation dialog's facts."""

    refundable: bool
    refund_credits: int
    refund_percent: int
    refundable_until: datetime
    """When the tier that applies now ends (or, when none applies, when the last one ended)."""
    window_hours: int
    entry_kind: EntryKind
    """REFUND for a confirmed session, RELEASE for a request that was never confirmed."""


@dataclass(frozen=True)
class RefundTerms:
    percent: int
    until: datetime
    """The last second at which ``percent`` still applies."""


def refund_terms(session: Session, now: datetime) -> RefundTerms:
    """The percent a cancel at ``now`` gives back, under the session's refund tiers.

    A tier applies while ``now <= start - hours_before`` (to the second, like the window); of
    those that apply the highest percent wins. A member whose session the coach or support moved
    while they could cancel in full keeps 100% until the new start (``kept_after_move``).
    """
    policy = session.policy
    start = session.start.astimezone(UTC)
    if policy.kept_after_move and now <= policy.refundable_until:
        return RefundTerms(100, policy.refundable_until)
    tiers = [(t.percent, start - timedelta(hours=t.hours_before)) for t in policy.refund_tiers]
    applying = [(percent, until) for percent, until in tiers if now <= until]
    if applying:
        # Equal percents: the tier that lasts longer is the one to show.
        percent, until = max(applying)
        return RefundTerms(percent, until)
    last = policy.refundable_until if policy.kept_after_move else max(u for _, u in tiers)
    return RefundTerms(0, last)


def refund_schedule(session: Session) -> list[RefundTerms]:
    """What a cancel returns over time, earliest deadline first, each step lower than the one
    before: the tiers that ever win. A tier outlasted by a higher one never applies alone."""
    policy = session.policy
    if policy.kept_after_move:
        return [RefundTerms(100, policy.refundable_until)]
    start = session.start.astimezone(UTC)
    tiers = sorted(
        (start - timedelta(hours=t.hours_before), t.percent) for t in policy.refund_tiers
    )
    steps: list[RefundTerms] = []
    for index, (until, percent) in enumerate(tiers):
        if all(percent > later for _, later in tiers[index + 1 :]):
            steps.append(RefundTerms(percent, until))
    return steps


def tier_credits(credits: int, percent: int) -> int:
    """``percent`` of ``credits``, rounded down to whole credits."""
    return credits * percent // 100


def cancellation_quote(session: Session, now: datetime) -> CancellationQuote:
    terms, kind = refund_terms(session, now), EntryKind.REFUND
    if not not_started(session, now):
        percent = 0  # nothing left to cancel
    elif session.status is SessionStatus.REQUESTED:
        # Credits held for a request nobody accepted always go back.
        percent, kind = 100, EntryKind.RELEASE
    else:
        percent = terms.percent
    credits = min(tier_credits(session.credits, percent), session.refundable_credits)
    return CancellationQuote(
        refundable=credits > 0,
        refund_credits=credits,
        refund_percent=percent,
        refundable_until=terms.until,
        window_hours=session.policy.window_hours,
        entry_kind=kind,
    )


def plan_cancel(
    caller: Caller,
    session: Session,
    now: datetime,
    reason: str | None = None,
    expected_refund_credits: int | None = None,
) -> CancellationQuote:
    """Member, coach and support may cancel any upcoming session of theirs.

    Where the service asks for it, a member must say why (coach and support need not). A caller
    who names the refund they were quoted (``expected_refund_credits``) cancels only while a
    cancel still gives back exactly that: a window that closed between the quote and the
    confirmation refuses the cancel rather than turn a refunded one into a spent one.
    """
    who = require_visible(caller, session)
    if who == "member" and session.policy.cancel_reason_required and not (reason or "").strip():
        raise ValidationFailed.on("reason", "is required to cancel a session of this service")
    if not not_started(session, now):
        raise SessionNotUpcoming("Only a session that has not started can be canceled.")
    quote = cancellation_quote(session, now)
    if expected_refund_credits is not None and quote.refund_credits != expected_refund_credits:
        raise QuoteChanged(
            f"The refund has changed since it was quoted: canceling now gives back "
            f"{_credits(quote.refund_credits)}, not {expected_refund_credits}."
        )
    return quote


def _credits(count: int) -> str:
    return f"{count} credit" if count == 1 else f"{count} credits"


# --- reschedule ------------------------------------------------------------------------------

RescheduleMode = Literal["DIRECT", "REQUEST"]


def plan_reschedule(
    caller: Caller, session: Session, new_start: datetime, now: datetime
) -> RescheduleMode:
    """Move now, ask the coach first, or refuse.

    Coach and support may move an upcoming session at any time. A member may move it until the
    cancellation window closes; after that only where the service asks the coach to approve
    late moves, in which case the move waits as a request.
    """
    who = require_visible(caller, session)
    if not not_started(session, now):
        raise SessionNotUpcoming("Only a session that has not started can be rescheduled.")
    if who == "member" and reschedules_left(session) == 0:
        raise RescheduleLimitReached(
            "You have moved this session as often as its service allows; ask your coach."
        )
    require_slot_aligned(new_start)
    require_future(new_start, now)
    if new_start == session.start:
        raise ValidationFailed.on("start", "is the session's current time")
    if who != "member" or inside_free_window(session, now):
        return "DIRECT"
    if session.policy.late_reschedule_requires_approval:
        return "REQUEST"
    raise RescheduleWindowClosed(
        "The cancellation window has closed; ask your coach to move the session."
    )


def is_member_move(event: HistoryEvent) -> bool:
    """A change that counts against the member's moves: their own move, or their request that
    the coach approved. Moves by the coach or support do not count, nor do requests declined,
    withdrawn or lapsed."""
    return event.kind == "RESCHEDULE_APPROVED" or (
        event.kind == "RESCHEDULED" and event.by is not None and event.by.role is Role.MEMBER
    )


def member_moves(session: Session) -> int:
    """How often the member has moved the session (kept on it; counted from the history of a
    session written before the count was kept)."""
    if session.member_moves is not None:
        return session.member_moves
    return sum(1 for event in session.history if is_member_move(event))


def reschedules_left(session: Session) -> int:
    """Moves the member still has under the service's limit."""
    return max(0, move_limit(session.policy.max_reschedules) - member_moves(session))


def _require_pending_request(session: Session, now: datetime) -> None:
    if (
        session.reschedule_request is None
        or reschedule_request_lapsed(session, now)
        or not not_started(session, now)
    ):
        raise NotPending("This session has no reschedule request waiting for an answer.")


def require_pending_reschedule(caller: Caller, session: Session, now: datetime) -> None:
    require_staff(caller, session, "answer a reschedule request")
    _require_pending_request(session, now)


def require_can_withdraw(caller: Caller, session: Session, now: datetime) -> None:
    """The member takes back their own request to move the session while it still waits."""
    if require_visible(caller, session) != "member":
        raise Forbidden("Only the session's member may withdraw their reschedule request.")
    _require_pending_request(session, now)


def policy_after_move(
    session: Session, new_start: datetime, mover: Relation, now: datetime
) -> Policy:
    """The session's policy once it moves to ``new_start``.

    The window moves with the session. But a move the member did not make never costs them a
    refund they had: if they could cancel with all their credits back just before the coach's (or
    support's) move, they keep that right until the new start.
    """
    normal = refundable_until(new_start, session.policy.window_hours)
    kept = mover != "member" and cancellation_quote(session, now).refund_percent == 100
    return session.policy.model_copy(
        update={
            "refundable_until": new_start.astimezone(UTC) if kept else normal,
            "kept_after_move": kept,
        }
    )


# --- booking requests ------------------------------------------------------------------------


def require_pending_booking(caller: Caller, session: Session, now: datetime) -> None:
    require_staff(caller, session, "answer a booking request")
    if (
        session.status is not SessionStatus.REQUESTED
        or session.request_expires_at is None
        or now >= session.request_expires_at
    ):
        raise NotPending("This session is not a booking request waiting for an answer.")


# --- refund ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundDecision:
    credits: int
    status: RefundStatus


def plan_refund(
    caller: Caller, session: Session, requested: int | None, now: datetime
) -> RefundDecision:
    """A coach or support gives back credits that did not come back automatically.

    Never more than what is still unrefunded, and not for an upcoming session (cancel it).
    """
    require_staff(caller, session, "refund a session")
    if is_upcoming(session, now):
        raise SessionStillUpcoming(
            "The session is still upcoming or in progress; refund it once it is over, "
            "or cancel it before it starts."
        )
    remaining = session.refundable_credits
    if remaining <= 0:
        raise NothingToRefund("Every credit of this session has already been refunded.")
    credits = remaining if requested is None else requested
    if credits < 1:
        raise ValidationFailed.on("credits", "must be at least 1")
    if credits > remaining:
        raise ValidationFailed.on(
            "credits",
            f"is more than the {remaining} credit{'' if remaining == 1 else 's'} not yet refunded",
        )
    total = session.refund.credits + credits
    return RefundDecision(
        credits=credits,
        status=RefundStatus.EXCEPTION if total == session.credits else RefundStatus.PARTIAL,
    )


# --- no-shows --------------------------------------------------------------------------------

NO_SHOW_MARKING = timedelta(days=NO_SHOW_MARKING_DAYS)


def no_show_markable(session: Session, now: datetime) -> bool:
    """A session that took place (scheduled or completed), from its start until a week after
    its end. To the second at both ends."""
    return (
        session.status in (SessionStatus.SCHEDULED, SessionStatus.COMPLETED)
        and session.start <= now <= session.end + NO_SHOW_MARKING
    )


def plan_no_show(caller: Caller, session: Session, party: NoShowParty, now: datetime) -> int:
    """Who may say who did not turn up, and the credits that go back: the coach or support
    marks either side; the member's no-show returns nothing, the coach's every credit not yet
    refunded (whoever records it: a coach owning up to a missed session refunds as support
    would)."""
    require_staff(caller, session, "mark a no-show")
    if session.status is SessionStatus.NO_SHOW and session.no_show is not None:
        absent = "the member" if session.no_show.party == "MEMBER" else "the coach"
        raise NoShowAlreadyMarked(f"This session is already marked: {absent} did not attend.")
    if session.status in ACTIVE_STATUSES and now < session.start:
        raise SessionStillUpcoming("The session has not started yet; a no-show is marked after.")
    if not no_show_markable(session, now):
        raise SessionNotUpcoming(
            "Only a session that took place can be marked, from its start until "
            f"{NO_SHOW_MARKING_DAYS} days after its end, and only once."
        )
    return session.refundable_credits if party == "COACH" else 0


# --- what the session screen may offer ------------------------------------------------------


@dataclass(frozen=True)
class Actions:
    can_cancel: bool
    can_reschedule: bool
    can_refund: bool
    can_rebook: bool
    can_mark_no_show: bool


def actions(caller: Caller, session: Session, now: datetime) -> Actions:
    who = relation(caller, session)
    upcoming = is_upcoming(session, now)
    changeable = not_started(session, now)
    staff = who in ("coach", "support")
    return Actions(
        can_cancel=who is not None and changeable,
        can_reschedule=changeable
        and (
            staff
            or (
                who == "member"
                and reschedules_left(session) != 0
                and (
                    inside_free_window(session, now)
                    or session.policy.late_reschedule_requires_approval
                )
            )
        ),
        can_refund=staff and not upcoming and session.refundable_credits > 0,
        can_rebook=who == "member" and not upcoming,
        can_mark_no_show=staff and no_show_markable(session, now),
    )


# --- sweeps ----------------------------------------------------------------------------------

SweepAction = Literal["EXPIRE_BOOKING", "EXPIRE_RESCHEDULE", "COMPLETE"]


def due_at(session: Session) -> datetime | None:
    """When the sweep next has something to do with this session; None when it never will."""
    if session.status is SessionStatus.REQUESTED:
        return session.request_expires_at
    if session.status is SessionStatus.SCHEDULED:
        if session.reschedule_request is not None:
            return min(session.reschedule_request.expires_at, session.end)
        return session.end
    return None


def sweep_action(session: Session, now: datetime) -> SweepAction | None:
    """What the sweep does to this session at ``now``, if anything."""
    if session.status is SessionStatus.REQUESTED:
        expires = session.request_expires_at
        return "EXPIRE_BOOKING" if expires is not None and now >= expires else None
    if session.status is SessionStatus.SCHEDULED:
        if reschedule_request_lapsed(session, now):
            return "EXPIRE_RESCHEDULE"
        if now >= session.end:
            return "COMPLETE"
    return None


# --- what every reader sees ------------------------------------------------------------------


def as_read(session: Session, now: datetime) -> Session:
    """The session as readers see it at ``now``: a reschedule request past its deadline reads
    as expired at once, exactly as the sweep will write it, not live until the sweep comes."""
    request = session.reschedule_request
    if request is None or not reschedule_request_lapsed(session, now):
        return session
    lapsed = HistoryEvent(
        at=min(request.expires_at, request.start), kind="RESCHEDULE_EXPIRED", start=request.start
    )
    return session.model_copy(
        update={
            "reschedule_request": None,
            "history": [*session.history, lapsed],
            "history_count": session.changes + 1,
        }
    )


# --- accounts --------------------------------------------------------------------------------


def can_view_account(caller: Caller, account: Account) -> bool:
    return (
        caller.role is Role.SUPPORT
        or caller.id == account.owner_id
        or caller.id in account.member_ids
        or caller.id in account.admin_ids
    )


_PERSONAL_PREFIX = personal_account_id("")


def implicit_account(account_id: str) -> Account | None:
    """The account an id names when nothing is stored under it: a member's personal account
    exists implicitly, empty until it is first funded; any other id names nothing."""
    member_id = account_id.removeprefix(_PERSONAL_PREFIX)
    if member_id and member_id != account_id:
        return Account.personal(member_id)
    return None


def require_balance_allows(account: Account, kind: EntryKind, credits: int) -> None:
    """The balance's floor and cap: no movement takes an account below zero, and no grant takes
    it above ``MAX_BALANCE``. Credits coming back (refunds, releases) are the member's own and
    are never refused for the cap."""
    if kind is EntryKind.GRANT and account.balance + credits > MAX_BALANCE:
        raise ValidationFailed.on("credits", f"would take the balance above {MAX_BALANCE}")
    if account.balance + credits < 0:
        raise InsufficientCredits(
            f"The account holds {account.balance} credits; this needs {-credits}."
        )


def account_owners(account: Account) -> list[str]:
    """Who is told about the account's credits: a personal account's owner, a group's admins."""
    if account.kind is AccountKind.PERSONAL:
        return [account.owner_id] if account.owner_id else []
    return list(account.admin_ids)


def contact_for(caller: Caller, account: Account) -> Person | None:
    """The caller's name, address and zone, kept on the account when they are one of the people
    told about its credits and their token carried an address."""
    if caller.email and caller.id in account_owners(account):
        return caller.as_person()
    return None


def account_contacts(account: Account, contact: Person | None) -> list[Person]:
    """The account's contacts once ``contact`` has acted: theirs replaced by what their token
    says now, and only those of its current owner or admins (so never more than there are)."""
    owners = account_owners(account)
    kept = [c for c in account.contacts if c.id in owners]
    if contact is not None and contact.id in owners:
        kept = [c for c in kept if c.id != contact.id] + [contact]
    return kept


def notice_recipients(account: Account) -> list[Person]:
    """Who is told about the account's credits that expire: its current owner or admins, as
    their tokens last gave them (``account_contacts``)."""
    owners = account_owners(account)
    return [c for c in account.contacts if c.id in owners and c.email]


def require_group_admin(caller: Caller, account: Account, doing: str) -> None:
    """A group's admins and support; its members may see it (403), strangers may not (404)."""
    if not can_view_account(caller, account):
        raise NotFound("No such account.")
    if account.kind is not AccountKind.GROUP:
        raise Forbidden("Only a group account has people to change.")
    if caller.role is Role.SUPPORT:
        return
    if caller.role is Role.ADMIN and caller.id in account.admin_ids:
        return
    raise Forbidden(f"Only the group's admins or support may {doing}.")


@dataclass(frozen=True)
class GroupEdit:
    """A change to a group's name and people, as asked for."""

    name: str | None = None
    add_members: Sequence[str] = ()
    remove_members: Sequence[str] = ()
    add_admins: Sequence[str] = ()
    remove_admins: Sequence[str] = ()
    sets_refund_grace: bool = False
    """Whether ``refund_grace_days`` was sent (None then puts back the default)."""
    refund_grace_days: int | None = None


def _both_ways(added: Sequence[str], removed: Sequence[str], field: str) -> list[FieldError]:
    both = sorted(set(added) & set(removed))
    return [FieldError(field, f"also adds {', '.join(both)}")] if both else []


def edit_group(
    caller: Caller, account: Account, edit: GroupEdit, now: datetime
) -> tuple[Account, AccountChange | None]:
    """The group after the change and its record, or the group and None when nothing changes.

    Adding someone already there, or removing someone who is not, changes nothing. The group
    keeps at least one admin and at most ``MAX_GROUP_MEMBERS`` members and ``MAX_GROUP_ADMINS``
    admins. Who was removed keeps their sessions: the rules only stop them booking anew.
    """
    require_group_admin(caller, account, "change its name or people")
    errors = _both_ways(edit.add_members, edit.remove_members, "remove_members")
    errors += _both_ways(edit.add_admins, edit.remove_admins, "remove_admins")
    if errors:
        raise ValidationFailed("A change may not add and remove the same person.", errors)
    added_members = [m for m in dict.fromkeys(edit.add_members) if m not in account.member_ids]
    removed_members = [m for m in account.member_ids if m in edit.remove_members]
    added_admins = [a for a in dict.fromkeys(edit.add_admins) if a not in account.admin_ids]
    removed_admins = [a for a in account.admin_ids if a in edit.remove_admins]
    members = [m for m in account.member_ids if m not in removed_members] + added_members
    admins = [a for a in account.admin_ids if a not in removed_admins] + added_admins
    if not admins:
        raise ValidationFailed.on("remove_admins", "would leave the group without an admin")
    if len(members) > MAX_GROUP_MEMBERS:
        raise ValidationFailed.on("add_members", f"would take it past {MAX_GROUP_MEMBERS} members")
    if len(admins) > MAX_GROUP_ADMINS:
        raise ValidationFailed.on("add_admins", f"would take it past {MAX_GROUP_ADMINS} admins")
    renamed = edit.name is not None and edit.name != account.name
    regraced = edit.sets_refund_grace and edit.refund_grace_days != account.refund_grace_days
    changed = renamed or regraced or added_members or removed_members
    if not (changed or added_admins or removed_admins):
        return account, None
    change = AccountChange(
        account_id=account.id,
        seq=account.revision + 1,
        at=now,
        by=caller.actor,
        name=NameChange(before=account.name, after=edit.name) if renamed and edit.name else None,
        added_members=added_members,
        removed_members=removed_members,
        added_admins=added_admins,
        removed_admins=removed_admins,
        refund_grace_days=GraceChange(
            before=account.refund_grace_days, after=edit.refund_grace_days
        )
        if regraced
        else None,
    )
    after = account.model_copy(
        update={
            "name": edit.name if renamed and edit.name else account.name,
            "member_ids": members,
            "admin_ids": admins,
            "revision": change.seq,
            "updated_at": now,
            "refund_grace_days": edit.refund_grace_days if regraced else account.refund_grace_days,
        }
    )
    return after, change


def grant_expiry(
    expires_at: datetime | None, valid_days: int | None, now: datetime
) -> tuple[datetime | None, str]:
    """When a grant's credits expire (None: never), to the second, and the field that said so
    (for a refusal). ``valid_days`` counts 24 hours a day from ``now``."""
    if expires_at is not None and valid_days is not None:
        raise ValidationFailed.on("valid_days", "must be left out when expires_at is given")
    if valid_days is not None:
        if not 1 <= valid_days <= MAX_VALID_DAYS:
            raise ValidationFailed.on("valid_days", f"must be from 1 to {MAX_VALID_DAYS}")
        return now.replace(microsecond=0) + timedelta(days=valid_days), "valid_days"
    if expires_at is None:
        return None, "expires_at"
    ends = expires_at.astimezone(UTC).replace(microsecond=0)
    if ends <= now:
        raise ValidationFailed.on("expires_at", "must be in the future")
    if ends > now + timedelta(days=MAX_VALID_DAYS):
        raise ValidationFailed.on("expires_at", f"must be at most {MAX_VALID_DAYS} days ahead")
    return ends, "expires_at"


def require_can_grant(caller: Caller, account: Account) -> None:
    if not can_view_account(caller, account):
        raise NotFound("No such account.")
    if caller.role is Role.SUPPORT:
        return
    if caller.role is Role.ADMIN and caller.id in account.admin_ids:
        return
    raise Forbidden("Only the account's admins or support may grant credits.")


# --- session lists ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """Whose sessions GET /sessions reads: a member's, a coach's or a group account's partition,
    or (support searching by address) those of the members who booked with an email."""

    role: Literal["member", "coach", "account", "email"]
    user_id: str
    """The member's, coach's or account's id, or the address."""
    with_coach: str | None = None
    """Support naming both a member and a coach: only that member's sessions with that coach."""


View = Literal["upcoming", "past"]


def earliest_upcoming_start(now: datetime) -> datetime:
    """No session lasts longer than the longest type, so one that started before this time
    cannot still be upcoming: a listing of upcoming sessions need not read further back."""
    return now - timedelta(minutes=MAX_SESSION_MINUTES)


def listed(
    session: Session,
    view: View,
    now: datetime,
    statuses: Collection[SessionStatus] = (),
    with_coach: str | None = None,
) -> bool:
    """Whether a listing shows ``session``.

    Upcoming is what ``is_upcoming`` says: active and not yet over, so a session in progress is
    still upcoming. Past holds everything else: sessions that have ended, and canceled, declined
    or expired ones whatever their time. ``statuses``, when given, keeps only sessions in one of
    them; ``with_coach`` only sessions with that coach.
    """
    if is_upcoming(session, now) != (view == "upcoming"):
        return False
    if statuses and session.status not in statuses:
        return False
    return with_coach is None or session.coach.id == with_coach


def session_listing(
    caller: Caller,
    member_id: str | None,
    coach_id: str | None,
    account_id: str | None = None,
    member_email: str | None = None,
) -> Listing:
    """Members and coaches list their own sessions. Support lists a named member's (by id or by
    the address they booked with), coach's or group account's, and must name one. A group's
    admins list the sessions their group paid for (read-only; whether the caller runs that group
    is for the account to say: ``require_can_view_group_sessions``)."""
    if caller.role is Role.SUPPORT:
        named = [n for n in (member_id, member_email, account_id) if n is not None]
        if len(named) > 1 or (account_id is not None and coach_id is not None):
            raise ValidationFailed(
                "Name one of member_id, member_email and account_id (coach_id may go with a "
                "member).",
                [
                    FieldError(f, "cannot be combined with the other names given")
                    for f, v in (
                        ("member_id", member_id),
                        ("member_email", member_email),
                        ("account_id", account_id),
                    )
                    if v is not None
                ],
            )
        if member_id is not None:
            return Listing("member", member_id, with_coach=coach_id)
        if member_email is not None:
            return Listing("email", member_email, with_coach=coach_id)
        if account_id is not None:
            return Listing("account", account_id)
        if coach_id is not None:
            return Listing("coach", coach_id)
        raise ValidationFailed(
            "Name the member_id, member_email, account_id or coach_id whose sessions to list.",
            [
                FieldError("member_id", "is required when no other name is given"),
                FieldError("coach_id", "is required when no other name is given"),
            ],
        )
    if caller.role is Role.ADMIN:
        if account_id is not None and (member_id, coach_id, member_email) == (None, None, None):
            return Listing("account", account_id)
        raise Forbidden("An admin lists the sessions of a group they run: name its account_id.")
    if any(n is not None for n in (member_id, coach_id, account_id, member_email)):
        raise Forbidden("Only support may list someone else's sessions.")
    return Listing("member" if caller.role is Role.MEMBER else "coach", caller.id)


def require_can_view_group_sessions(caller: Caller, account: Account | None) -> Account:
    """The sessions a group account paid for are read by its admins and support; to anyone
    else the account does not exist."""
    if (
        account is None
        or account.kind is not AccountKind.GROUP
        or not (caller.role is Role.SUPPORT or caller.id in account.admin_ids)
    ):
        raise NotFound("No such account.")
    return account


def can_read_as_group_admin(caller: Caller, session: Session, account: Account | None) -> bool:
    """A group's admin may read (only read) a session their group paid for."""
    return (
        caller.role is Role.ADMIN
        and account is not None
        and account.kind is AccountKind.GROUP
        and account.id == session.account_id
        and caller.id in account.admin_ids
    )
