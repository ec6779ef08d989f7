"""One rule: a member's booking succeeds exactly when its start is among the free times, and a
member's move exactly when the target is free but for the session itself (given credits and no
race), whatever the coach's hours across a daylight-saving change, their time off, the session
type's buffers, the limits, the notice, the horizon and the sessions already booked.

Drawn with hypothesis, against the store in moto: the free times are asked of
``operations.free_times_of`` as a member would, then the booking (or move) is made through
``operations.book`` (``reschedule``) and its outcome compared.
"""

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching import operations
from coaching.errors import DomainError
from coaching.models import WEEKDAYS, Caller, Role, WorkingHours
from tests.builders import World, coach, member

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "America/Vancouver"]
# Days around daylight-saving changes, and one without: the range asked is two days from there.
AROUND = [
    datetime(2027, 3, 13, tzinfo=UTC),  # New York springs forward on the 14th
    datetime(2027, 3, 27, tzinfo=UTC),  # London on the 28th
    datetime(2027, 4, 3, tzinfo=UTC),  # Sydney falls back on the 4th
    datetime(2027, 10, 30, tzinfo=UTC),  # London falls back on the 31st
    datetime(2027, 6, 16, tzinfo=UTC),
]


@st.composite
def stretches(draw: st.DrawFn) -> list[WorkingHours]:
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    found = []
    for day in days:
        start = draw(st.integers(0, 80))  # in quarter hours
        length = draw(st.integers(2, 96 - start))
        end = start + length
        found.append(
            WorkingHours(
                day=day,
                start=f"{start // 4:02d}:{start % 4 * 15:02d}",
                end="24:00" if end == 96 else f"{end // 4:02d}:{end % 4 * 15:02d}",
            )
        )
    return found


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, object]:
    base = draw(st.sampled_from(AROUND))
    return {
        "zone": draw(st.sampled_from(ZONES)),
        "weekly": draw(stretches()),
        "per_day": draw(st.none() | st.integers(1, 3)),
        "minutes": draw(st.sampled_from([15, 25, 45, 60, 90])),
        "before": draw(st.sampled_from([0, 10, 15, 30])),
        "after": draw(st.sampled_from([0, 5, 15, 20])),
        "notice": draw(st.sampled_from([0, 60, 600, 1440])),
        "horizon": draw(st.none() | st.integers(1, 3)),
        "per_member": draw(st.none() | st.integers(1, 2)),
        "now": base - timedelta(hours=draw(st.integers(0, 30)), minutes=draw(st.integers(0, 59))),
        "start": base,
        "off": draw(
            st.lists(st.tuples(st.integers(0, 47), st.integers(1, 12)), max_size=2)
        ),  # (hours from the range's start, hours long)
        "booked": draw(st.lists(st.integers(0, 191), max_size=3)),  # quarter hours from start
        "mine": draw(st.integers(0, 2)),  # how many of those the member who asks booked
        "pick": draw(st.integers(0, 191)),
        "move": draw(st.booleans()),
    }


def _setting_up(world: World, drawn: dict[str, object]) -> tuple[Caller, Caller, str, datetime]:
    now: datetime = drawn["now"]  # type: ignore[assignment]
    start: datetime = drawn["start"]  # type: ignore[assignment]
    carol = coach(tz=str(drawn["zone"]))
    operations.set_availability(
        world.store,
        carol,
        timezone=None,
        weekly=drawn["weekly"],  # type: ignore[arg-type]
        max_sessions_per_day=drawn["per_day"],  # type: ignore[arg-type]
        now=now,
    )
    for hours_in, length in drawn["off"]:  # type: ignore[attr-defined]
        at = start + timedelta(hours=hours_in)
        operations.add_time_off(
            world.store, carol, start=at, end=at + timedelta(hours=length), reason=None, now=now
        )
    service = operations.create_service(
        world.store,
        carol,
        name="Drawn",
        session_types=[
            {
                "minutes": drawn["minutes"],
                "credits": 1,
                "buffer_before_minutes": drawn["before"],
                "buffer_after_minutes": drawn["after"],
            }
        ],
        # No window: a member's move is always a move, never a request for the coach
        cancellation_window_hours=0,
        min_notice_minutes=drawn["notice"],
        max_days_ahead=drawn["horizon"],
        max_upcoming_per_member=drawn["per_member"],
        now=now,
    )
    me = member()
    world.fund(me, 50)
    for n, quarter in enumerate(drawn["booked"]):  # type: ignore[arg-type]
        who = me if n < drawn["mine"] else member()  # type: ignore[operator]
        if who is not me:
            world.fund(who, 5)
        # A time the rule refuses leaves that member with no session there.
        with contextlib.suppress(DomainError):
            operations.book(
                world.store,
                who,
                service_id=service.id,
                session_type_id="t1",
                start=start + timedelta(minutes=15 * quarter),
                account_id=None,
                timezone=None,
                now=now,
            )
    return me, carol, service.id, now


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=worlds())
def test_a_member_may_book_or_move_exactly_where_the_free_times_say(
    world: World, drawn: dict[str, object]
) -> None:
    me, _, service_id, now = _setting_up(world, drawn)
    start: datetime = drawn["start"]  # type: ignore[assignment]
    end = start + timedelta(days=2)
    target = start + timedelta(minutes=15 * drawn["pick"])  # type: ignore[operator]
    mine, _ = world.store.sessions_of("member", me.id, "upcoming", now, 10, None)
    moving = mine[0] if drawn["move"] and mine else None
    if moving is not None:
        # The free times if the session were not there: cancel it, ask, and book it again
        # where it was (coach-free here, as nothing else can take it between).
        free = _free_without(world, me, service_id, moving, start, end, now)
    else:
        found = operations.free_times_of(
            world.store,
            service_id=service_id,
            session_type_id="t1",
            start=start,
            end=end,
            now=now,
            caller=me,
        )
        free = {f.start for f in found}

    try:
        if moving is not None:
            operations.reschedule(world.store, me, moving.id, target, None, now)
        else:
            operations.book(
                world.store,
                me,
                service_id=service_id,
                session_type_id="t1",
                start=target,
                account_id=None,
                timezone=None,
                now=now,
            )
        succeeded = True
    except DomainError:
        succeeded = False

    if moving is not None and target == moving.start:
        assert not succeeded  # a move to where it is, is no move
    else:
        assert succeeded == (target in free), (target, sorted(free))


def _free_without(
    world: World,
    me: Caller,
    service_id: str,
    session: object,
    start: datetime,
    end: datetime,
    now: datetime,
) -> set[datetime]:
    """What a member may move ``session`` to: the free times with the session's own held time,
    its count on its day and among the member's sessions left out."""
    from coaching import free_times, rules

    moving = session  # a Session
    service, _, hours = world.store.service_accounts_and_hours(service_id, [])
    assert service is not None and hours is not None
    kind = moving.session_type  # type: ignore[attr-defined]
    own = set(rules.held_slots(moving.start, kind))  # type: ignore[attr-defined]
    first = free_times.grid_at_or_after(max(start, now))
    reach = free_times.reach(kind)
    taken = world.store.claimed_slots(service.coach_id, first - reach, end + reach) - own
    days = free_times.days_between(hours, first, end)
    counts, _ = world.store.counts(service.coach_id, days, None, service_id)
    mine = moving.counted_day  # type: ignore[attr-defined]
    if mine in counts:
        counts[mine] -= 1
    found = free_times.free_times(
        hours,
        rules.BookingLimits.of_session(moving),  # type: ignore[arg-type]
        kind,
        taken,
        start,
        end,
        now,
        day_counts=counts,
    )
    return {f.start for f in found} - {moving.start}  # type: ignore[attr-defined]


def test_the_rule_holds_for_a_coach_who_works_around_the_clock(world: World) -> None:
    """A sanity check of the harness: with hours all week and nothing booked, every grid start
    in the range (after the notice) is free and books."""
    drawn = {
        "zone": "Europe/London",
        "weekly": [WorkingHours(day=d, start="00:00", end="24:00") for d in WEEKDAYS],
        "per_day": None,
        "minutes": 60,
        "before": 0,
        "after": 0,
        "notice": 0,
        "horizon": None,
        "per_member": None,
        "now": datetime(2027, 6, 15, 23, tzinfo=UTC),
        "start": datetime(2027, 6, 16, tzinfo=UTC),
        "off": [],
        "booked": [],
        "mine": 0,
    }
    me, _, service_id, now = _setting_up(world, drawn)
    found = operations.free_times_of(
        world.store,
        service_id=service_id,
        session_type_id="t1",
        start=datetime(2027, 6, 16, tzinfo=UTC),
        end=datetime(2027, 6, 17, tzinfo=UTC),
        now=now,
        caller=me,
    )
    assert len(found) == 96
    assert Role.MEMBER is me.role
