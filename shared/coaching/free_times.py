"""Free times: which starts a service can still be booked at, from the coach's working hours.

Pure rules beside ``rules.py``: no I/O, ``now`` passed in. Working hours are on the coach's own
wall clock, so a UTC instant is working time when its local weekday and time of day fall inside
one of that weekday's stretches. Deciding per instant (never by adding hours to a local date)
keeps daylight-saving days right: on a spring-forward day the missing local hour simply has no
instants, and on a fall-back day the repeated local hour has two sets, both inside the hours.

A start is offered when every 15-minute slot the session would hold (``rules.slots_between``,
the same slots a booking claims, so its end is rounded up to the grid) is working time and not
claimed by another session, and the start passes the booking's own time rules
(``rules.require_bookable_start``): a time offered here is one that booking would accept.
"""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from coaching import rules
from coaching.errors import ValidationFailed
from coaching.models import SLOT_MINUTES, WEEKDAYS, Availability

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


def held_until(start: datetime, minutes: int) -> datetime:
    """Where the coach's time held by a session of ``minutes`` from ``start`` ends: its end
    rounded up to the grid (a 50-minute session at 10:00 holds until 11:00)."""
    slots = rules.slots_between(start, start + timedelta(minutes=minutes))
    return slots[-1] + STEP if slots else start.astimezone(UTC)


def is_working_time(hours: Availability, zone: ZoneInfo, slot: datetime) -> bool:
    """True when the whole 15-minute slot from ``slot`` is inside the coach's working hours."""
    local = slot.astimezone(zone)
    day = WEEKDAYS[local.weekday()]
    minute = local.hour * 60 + local.minute
    return any(
        h.day == day and h.minutes[0] <= minute and minute + SLOT_MINUTES <= h.minutes[1]
        for h in hours.weekly
    )


def candidate_starts(start: datetime, end: datetime) -> Iterator[datetime]:
    at = grid_at_or_after(start)
    end = end.astimezone(UTC)
    while at < end:
        yield at
        at += STEP


def free_times(
    hours: Availability,
    minutes: int,
    taken: Collection[datetime],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[FreeTime]:
    """Every start from ``start`` (inclusive) to ``end`` (exclusive) on the grid at which a
    session of ``minutes`` fits the coach's hours, misses every slot in ``taken`` (claimed
    slots, in UTC) and can still be booked at ``now``; soonest first."""
    require_range(start, end)
    if not hours.weekly:
        return []
    zone = ZoneInfo(hours.timezone)
    busy = {t.astimezone(UTC) for t in taken}
    usable: dict[datetime, bool] = {}

    def free(slot: datetime) -> bool:
        if slot not in usable:
            usable[slot] = slot not in busy and is_working_time(hours, zone, slot)
        return usable[slot]

    length = timedelta(minutes=minutes)
    found = []
    for at in candidate_starts(start, end):
        if not _bookable(at, now):
            continue
        if all(free(slot) for slot in rules.slots_between(at, at + length)):
            found.append(FreeTime(start=at, end=at + length))
    return found


def _bookable(start: datetime, now: datetime) -> bool:
    try:
        rules.require_bookable_start(start, now)
    except ValidationFailed:
        return False
    return True
