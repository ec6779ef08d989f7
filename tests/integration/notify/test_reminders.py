"""Reminders and the last call for a refund, from the booking to the inbox.

Ann (London) books Cho (New York) through the policy layer for Friday 4 December 2026 at 09:00
UTC, three days ahead; the sweep runs as the clock moves and marks what is due; the notify
function takes the marks from the stream, checks the session again and sends. The service has
the defaults: reminders a day and an hour ahead, the last call two hours before the 24-hour
window closes (Thursday 07:00 UTC).
"""

from datetime import datetime, timedelta

from coaching import operations, sweep
from coaching.models import Caller, Session
from coaching.sweep import SweepResult
from local.time_travel import TimeTravel
from tests.builders import World, support
from tests.integration.notify.conftest import Notify, Sent
from tests.integration.notify.steps import booked, deliver

ANN_START = "Friday 4 December 2026, 09:00 (Europe/London)"
CHO_START = "Friday 4 December 2026, 04:00 (America/New_York)"
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


def swept(world: World, travel: TimeTravel, moment: datetime) -> SweepResult:
    """The scheduled sweep, run with the clock at ``moment``."""
    travel.set(moment)
    result = sweep.run(world.store, moment, lambda: 60.0)
    assert result.ok
    return result


def to(mails: list[Sent], person: Caller) -> list[str]:
    return [mail.subject for mail in mails if mail.to == [person.email]]


def reminded(world: World, notify: Notify, travel: TimeTravel) -> tuple[Caller, Caller, Session]:
    ann, cho, session = booked(world)
    deliver(notify)  # the booking's two emails
    return ann, cho, session


def test_both_sides_are_reminded_on_their_own_clock_with_the_invite_and_the_member_called_first(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, cho, session = reminded(world, notify, travel)
    start = session.start

    # Two hours before the window closes: Ann's last call for a refund, and nothing for Cho
    assert swept(world, travel, start - 26 * HOUR).reminders_fired == 1
    last_call = deliver(notify)
    # A day ahead, and an hour ahead: each side's reminder
    assert swept(world, travel, start - 24 * HOUR + 90 * SECOND).reminders_fired == 1
    day_before = deliver(notify)
    assert swept(world, travel, start - HOUR + 30 * SECOND).reminders_fired == 1
    hour_before = deliver(notify)

    [call] = last_call
    assert call.to == [ann.email]
    assert (
        call.subject
        == "Cancel by Thursday 3 December 2026, 09:00 (Europe/London) to get 3 credits back"
    )
    assert (
        "cancel by Thursday 3 December 2026, 09:00 (Europe/London) and your 3 credits come back "
        "to your personal account" in call.readable
    )
    assert call.attachments == []  # it changes nothing on a calendar
    for mails in (day_before, hour_before):
        assert sorted(m.to[0] for m in mails) == sorted([str(ann.email), str(cho.email)])
        [to_ann] = [m for m in mails if m.to == [ann.email]]
        [to_cho] = [m for m in mails if m.to == [cho.email]]
        assert to_ann.subject == f"Reminder: your session with Cho, {ANN_START}"
        assert to_cho.subject == f"Reminder: your session with Ann, {CHO_START}"
        for mail in (to_ann, to_cho):
            invite = mail.calendar()
            [event] = invite.walk("VEVENT")
            assert str(invite["METHOD"]) == "REQUEST"
            assert int(event["SEQUENCE"]) == session.version  # the calendar's, unchanged
        # Only the member's carries the link to manage the session without signing in
        assert "/manage#" in to_ann.text and "/manage#" not in to_cho.text


def test_a_sweep_run_again_and_a_stream_batch_delivered_again_send_nothing_twice(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    _, _, session = reminded(world, notify, travel)
    moment = session.start - HOUR

    # Given the sweep marked the hour-before reminder, and died after its write committed, so
    # that the next scheduled run sweeps again
    assert swept(world, travel, moment).reminders_fired == 1
    assert swept(world, travel, moment + 60 * SECOND).reminders_fired == 0
    event = notify.stream.event()
    before = len(notify.sent)

    # When the notify function gets the batch, then gets the very same batch again (a retry
    # after it timed out having sent everything)
    assert notify.invoke(event) == {"batchItemFailures": []}
    first = len(notify.sent) - before
    assert notify.invoke(event) == {"batchItemFailures": []}

    # Then each email went out once: the reminder to each side
    assert first == 2
    assert len(notify.sent) - before == 2


def test_no_reminder_after_a_cancel(world: World, notify: Notify, travel: TimeTravel) -> None:
    ann, _, session = reminded(world, notify, travel)
    operations.cancel(world.store, ann, session.id, "Ill", session.start - 30 * HOUR)
    deliver(notify)

    fired = [swept(world, travel, session.start - h * HOUR).reminders_fired for h in (26, 24, 1)]

    assert fired == [0, 0, 0]
    assert deliver(notify) == []
    assert world.store.reminders_of(session.id) is None


def test_no_reminder_when_the_cancel_comes_between_the_sweeps_mark_and_the_email(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    # Given the sweep has just marked the hour-before reminder
    ann, cho, session = reminded(world, notify, travel)
    moment = session.start - HOUR
    assert swept(world, travel, moment).reminders_fired == 1

    # When Cho cancels before the stream has brought the mark to the notify function
    operations.cancel(world.store, cho, session.id, "Family emergency", moment + 10 * SECOND)
    mails = deliver(notify)

    # Then both hear of the cancel, and neither of a session that no longer takes place
    assert to(mails, ann) == ["Your session with Cho was canceled"]
    assert to(mails, cho) == ["Canceled: your session with Ann"]


def test_a_move_drops_the_old_times_reminders_and_plans_the_new_ones(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, cho, session = reminded(world, notify, travel)
    later = session.start + 48 * HOUR
    operations.reschedule(world.store, cho, session.id, later, None, session.start - 30 * HOUR)
    deliver(notify)

    # The old time's reminders are gone: nothing at the old day-before and hour-before
    old = [swept(world, travel, session.start - h * HOUR).reminders_fired for h in (24, 1)]
    assert old == [0, 0]
    assert deliver(notify) == []
    # The new time's come at their own time
    assert swept(world, travel, later - 24 * HOUR).reminders_fired >= 1
    mails = deliver(notify)
    assert "Reminder: your session with Cho, Sunday 6 December 2026, 09:00 (Europe/London)" in to(
        mails, ann
    )


def test_no_reminder_for_a_time_the_session_was_moved_away_from_after_the_mark(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    # Given the sweep marked the hour-before reminder
    ann, cho, session = reminded(world, notify, travel)
    moment = session.start - HOUR
    assert swept(world, travel, moment).reminders_fired == 1

    # When support moves the session a day later before the mark reaches the notify function
    later = session.start + 24 * HOUR
    operations.reschedule(world.store, support(), session.id, later, None, moment + 10 * SECOND)
    mails = deliver(notify)

    # Then each hears of the move, and nobody of the time it left
    assert to(mails, ann) == ["Your session with Cho has a new time"]
    assert to(mails, cho) == ["Your session with Ann has a new time"]


def test_a_late_sweep_sends_the_latest_reminder_due_not_every_one(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, cho, session = reminded(world, notify, travel)

    # The sweep first runs half an hour before the start (the day-before reminder and the last
    # call were due long ago)
    assert swept(world, travel, session.start - HOUR / 2).reminders_fired == 1
    mails = deliver(notify)

    assert to(mails, ann) == [f"Reminder: your session with Cho, {ANN_START}"]
    assert to(mails, cho) == [f"Reminder: your session with Ann, {CHO_START}"]


def test_a_session_booked_inside_its_window_gets_no_last_call_and_no_day_before_reminder(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, cho = booked(world)[:2]
    deliver(notify)
    service = world.service(cho, credits=3)
    soon = world.book(ann, service, in_hours=20)
    deliver(notify)

    fired = [swept(world, travel, soon.start - h * HOUR).reminders_fired for h in (18, 2, 1)]

    assert fired == [0, 0, 1]  # only the hour-before reminder


def test_each_refund_tier_is_called_with_what_comes_back_before_and_after(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, _, session = booked(world, refund_tiers=[(24, 100), (2, 50)], reminders=[])
    deliver(notify)

    swept(world, travel, session.start - 26 * HOUR)
    first = deliver(notify)
    swept(world, travel, session.start - 4 * HOUR)
    second = deliver(notify)

    [full] = first
    [half] = second
    assert "your 3 credits come back" in full.readable
    assert "After that, a cancellation gives back 1 credit." in full.readable
    assert full.subject.startswith("Cancel by Thursday 3 December 2026, 09:00")
    assert "your 1 credit comes back" in half.readable
    assert "the cancellation window has closed" in half.readable
    assert half.subject.startswith("Cancel by Friday 4 December 2026, 07:00 (Europe/London)")
    assert [m.to for m in first + second] == [[ann.email], [ann.email]]


def test_a_booking_request_is_reminded_of_only_once_it_is_accepted(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, cho, session = booked(world, requires_approval=True)
    deliver(notify)
    assert world.store.reminders_of(session.id) is None  # not on anyone's calendar yet

    operations.answer_booking(world.store, cho, session.id, True, world.now + HOUR)
    deliver(notify)
    swept(world, travel, session.start - HOUR)
    mails = deliver(notify)

    assert to(mails, ann) == [f"Reminder: your session with Cho, {ANN_START}"]
    assert to(mails, cho) == [f"Reminder: your session with Ann, {CHO_START}"]


def test_a_service_that_asks_for_no_reminders_sends_none(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    _, _, session = booked(world, reminders=[], refund_reminder_minutes=None)
    deliver(notify)

    fired = [swept(world, travel, session.start - h * HOUR).reminders_fired for h in (26, 24, 1)]

    assert fired == [0, 0, 0]
    assert deliver(notify) == []
