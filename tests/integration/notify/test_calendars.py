"""Every invite a person received, replayed in order into a calendar, leaves it at the session's
real state: on the calendar at its time while it takes place, off it once it does not.

The calendar is a model of what a mail client does with iCalendar (RFC 5546): an event is known
by its UID; a REQUEST puts it there or updates it, a CANCEL takes it off, and an update whose
SEQUENCE is lower than the one already held is stale and ignored. Each scenario is driven
through the policy layer, its emails sent by the notify function from the stream (sometimes
several changes at once, as a busy stream delivers them), and read back as the recipients got
them, parsed by the icalendar library.
"""

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from icalendar import Calendar

from coaching import operations, sweep
from coaching.errors import DomainError
from coaching.models import Caller, Session, SessionStatus
from local.time_travel import TimeTravel
from tests.builders import World, support
from tests.integration.notify.conftest import Notify, Sent
from tests.integration.notify.steps import booked, deliver

HOUR = timedelta(hours=1)
ON_A_CALENDAR = {SessionStatus.SCHEDULED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW}
"""A session that took place, or will: it stays where it is (a no-show is a fact about it)."""


@dataclass(frozen=True)
class Held:
    start: datetime
    end: datetime
    sequence: int
    canceled: bool


def calendar_of(mails: list[Sent]) -> dict[str, Held]:
    """What a mail client's calendar holds after reading ``mails``' invites in order."""
    held: dict[str, Held] = {}
    for mail in mails:
        for _, content_type, content in mail.attachments:
            if content_type != "text/calendar":
                continue
            invite = Calendar.from_ical(content)
            method = str(invite["METHOD"])
            for event in invite.walk("VEVENT"):
                uid, sequence = str(event["UID"]), int(event["SEQUENCE"])
                known = held.get(uid)
                if known is not None and sequence < known.sequence:
                    continue  # an older update than the one held: stale
                held[uid] = Held(
                    start=event.decoded("DTSTART"),
                    end=event.decoded("DTEND"),
                    sequence=sequence,
                    canceled=method == "CANCEL",
                )
    return held


def assert_calendar_true(mails: list[Sent], person: Caller, session: Session) -> None:
    mine = [mail for mail in mails if mail.to == [person.email]]
    event = calendar_of(mine).get(f"{session.id}@coaching-sessions")
    on_it = event is not None and not event.canceled
    if session.status in ON_A_CALENDAR:
        assert on_it, f"{person.role.value}'s calendar lost a {session.status} session"
        assert event is not None and (event.start, event.end) == (session.start, session.end)
    else:
        assert not on_it, f"{person.role.value}'s calendar still holds a {session.status} session"


@dataclass
class Story:
    world: World
    notify: Notify
    travel: TimeTravel
    ann: Caller
    cho: Caller
    session: Session
    mails: list[Sent]

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.world.store

    def deliver(self) -> None:
        self.mails += deliver(self.notify)

    def now(self) -> Session:
        found = self.store.get_session(self.session.id)
        assert found is not None
        return found

    def check(self) -> None:
        self.deliver()
        current = self.now()
        assert_calendar_true(self.mails, self.ann, current)
        assert_calendar_true(self.mails, self.cho, current)


def story(world: World, notify: Notify, travel: TimeTravel, **service: object) -> Story:
    ann, cho, session = booked(world, late_reschedule_requires_approval=True, **service)
    return Story(world, notify, travel, ann, cho, session, mails=[])


def move(who: Caller, hours: float, at: datetime) -> Callable[[Story], object]:
    def step(s: Story) -> object:
        return operations.reschedule(
            s.store, who, s.session.id, s.now().start + hours * HOUR, None, at
        )

    return step


def test_moves_by_each_side_then_a_cancel(world: World, notify: Notify, travel: TimeTravel) -> None:
    s = story(world, notify, travel)
    s.check()
    move(s.cho, 3, s.world.now)(s)
    s.check()
    move(s.ann, 2, s.world.now)(s)
    s.check()
    operations.cancel(s.store, s.ann, s.session.id, None, s.world.now)
    s.check()


def test_a_booking_request_accepted_then_moved_by_both_in_one_batch(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    s = story(world, notify, travel, requires_approval=True)
    s.check()  # a request: on nobody's calendar
    operations.answer_booking(s.store, s.cho, s.session.id, True, s.world.now)
    move(s.ann, 1, s.world.now)(s)
    move(s.cho, 5, s.world.now)(s)
    s.check()


def test_a_declined_booking_request_never_reaches_a_calendar(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    s = story(world, notify, travel, requires_approval=True)
    operations.answer_booking(s.store, s.cho, s.session.id, False, s.world.now, "Away")
    s.check()


def test_a_burst_of_member_moves_and_a_late_request_keeps_the_coachs_calendar_at_the_last_move(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    # The coach's emails about the first two moves are overtaken by the third; the third is
    # not overtaken by the request that follows it, which moves nothing
    s = story(world, notify, travel)
    s.check()
    for hours in (1, 1, 1):
        move(s.ann, hours, s.world.now)(s)
    late = s.now().start - 12 * HOUR
    _, mode = move(s.ann, 24, late)(s)  # type: ignore[misc]
    assert mode == "REQUEST"
    s.check()
    operations.answer_reschedule(s.store, s.cho, s.session.id, False, late + HOUR, "No")
    s.check()


def test_a_late_request_approved_moves_both_calendars(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    s = story(world, notify, travel)
    s.check()
    late = s.session.start - 12 * HOUR
    move(s.ann, 24, late)(s)
    s.check()
    operations.answer_reschedule(s.store, s.cho, s.session.id, True, late + HOUR)
    s.check()


def test_support_moves_and_cancels_and_the_reminders_in_between_change_nothing(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    s = story(world, notify, travel)
    move(support(), 2, s.world.now)(s)
    s.check()
    moment = s.now().start - HOUR
    travel.set(moment)
    sweep.run(s.store, moment, lambda: 60.0)
    s.check()
    operations.cancel(s.store, support(), s.session.id, "Closed", moment + HOUR / 2)
    s.check()


def test_a_session_that_took_place_stays_after_a_no_show(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    s = story(world, notify, travel)
    s.check()
    after = s.session.start + HOUR / 2
    operations.mark_no_show(s.store, s.cho, s.session.id, "MEMBER", after)
    s.check()


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_any_sequence_of_changes_leaves_each_calendar_true(
    world: World, notify: Notify, travel: TimeTravel, seed: int
) -> None:
    draw = random.Random(seed)
    s = story(world, notify, travel)
    early, late = s.world.now, s.session.start - 12 * HOUR
    steps: list[Callable[[Story], object]] = [
        move(s.ann, 1, early),
        move(s.ann, -1, early),
        move(s.cho, 2, early),
        move(support(), 3, early),
        move(s.ann, 24, late),  # a request, once the window has closed
        lambda t: operations.answer_reschedule(t.store, t.cho, t.session.id, True, late + HOUR),
        lambda t: operations.answer_reschedule(t.store, t.cho, t.session.id, False, late + HOUR),
        lambda t: operations.withdraw_reschedule(t.store, t.ann, t.session.id, None, late + HOUR),
        lambda t: operations.cancel(t.store, draw.choice([t.ann, t.cho]), t.session.id, None, late),
    ]
    for _ in range(8):
        # A step the rules refuse (a canceled session, no request waiting) changes nothing
        with contextlib.suppress(DomainError):
            draw.choice(steps)(s)
        if draw.random() < 0.5:
            s.check()  # else the next change goes in the same batch
    s.check()
