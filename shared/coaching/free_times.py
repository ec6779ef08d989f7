"""Free times: which starts a service can still be booked at, from the coach's working hours.

Pure rules beside ``rules.py``: no I/O, ``now`` passed in. Working hours are on the coach's own
wall clock, so a UTC instant is working time when its local weekday and time of day fall inside
one of that weekday's stretches. Deciding per instant (never by adding hours to a local date)
keeps daylight-saving days right: on a spring-forward day the missing local hour simply has no
instants, and on a fall-back day the repeated local hour has two sets, both inside the hours.

A start is offered when the member's booking rule allows it (``rules.require_member_may_hold``:
working hours, notice, horizon, time off, a full day, the member's limit) and no slot the session
would hold (``rules.held_slots``: its time rounded up to the grid, and its buffers, the same slots
a booking claims) is claimed by another session: a time offered here is one that booking would
accept, given credits and no race.
"""

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from coaching import rules
from coaching.errors import DomainError, ValidationFailed
from coaching.models import SLOT_MINUTES, Availability, SessionType

MAX_RANGE = timedelta(days=31)
STEP = timedelta(minutes=SLOT_MINUTES)


@dataclass(frozen=True)
class FreeTime:
    start: datetime
    end: datetime
    """The session's own end (start plus its length), not the end of the time it holds."""


def require_range(start: datetime, end: datetime) -> None:
    """At most 31 days a call, so a call's cost stays bounded."""
    if end <= start:
        raise ValidationFailed.on("to", "must be later than from")
    if end - start > MAX_RANGE:
        raise ValidationFailed.on("to", f"must be at most {MAX_RANGE.days} days after from")


def grid_at_or_after(moment: datetime) -> datetime:
    """The first 15-minute boundary at or after ``moment``, in UTC."""
    moment = moment.astimezone(UTC)
    floor = moment.replace(minute=moment.minute - moment.minute % SLOT_MINUTES, second=0)
    floor = floor.replace(microsecond=0)
    return floor if floor == moment else floor + STEP


def reach(session_type: SessionType) -> timedelta:
    """How far past its start (and before it) a session of this type holds its coach, buffers
    and the rounding to the grid included: the claims free times must read around a range."""
    return timedelta(
        minutes=session_type.buffer_before_minutes
        + session_type.minutes
        + session_type.buffer_after_minutes
        + SLOT_MINUTES
    )


def days_between(hours: Availability, start: datetime, end: datetime) -> list[str]:
    """The days of the coach's clock (YYYY-MM-DD) that starts from ``start`` to ``end`` fall on."""
    zone = ZoneInfo(hours.timezone)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def candidate_starts(start: datetime, end: datetime) -> Iterator[datetime]:
    at = grid_at_or_after(start)
    end = end.astimezone(UTC)
    while at < end:
        yield at
        at += STEP


def free_times(
    hours: Availability,
    limits: rules.BookingLimits,
    session_type: SessionType,
    taken: Collection[datetime],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    day_counts: Mapping[str, int] | None = None,
    member_count: int | None = None,
) -> list[FreeTime]:
    """Every start from ``start`` (inclusive) to ``end`` (exclusive) on the grid that a member
    may book at ``now``: the booking rule allows it (``rules.require_member_may_hold``, with
    the coach's ``day_counts`` and the member's ``member_count`` where known), and no slot it
    would hold, buffers included, is in ``taken`` (claimed slots, in UTC); soonest first."""
    require_range(start, end)
    if not hours.has_hours:
        return []
    busy = {t.astimezone(UTC) for t in taken}
    length = timedelta(minutes=session_type.minutes)
    rule = rules.HoldRule.of(hours, limits, session_type)  # read once, asked of every start
    found = []
    for at in candidate_starts(start, end):
        day_count = None if day_counts is None else day_counts.get(rules.coach_day(hours, at), 0)
        try:
            rules.require_bookable_start(at, now)
            rule.require(at, now, day_count=day_count, member_count=member_count)
        except DomainError:
            continue
        if not busy.intersection(rules.held_slots(at, session_type)):
            found.append(FreeTime(start=at, end=at + length))
    return found
