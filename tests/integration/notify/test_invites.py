"""Calendar invites, read back with the iCalendar library from the MIME messages SES accepted.

A session keeps one UID for its whole life; each change raises the sequence, so calendars keep
the newest copy; a cancel, decline or lapse cancels that same UID.
"""

from datetime import timedelta

from icalendar import Calendar

from coaching import operations
from tests.builders import NOW, World
from tests.integration.notify.conftest import BASE_URL, SENDER, Notify, Sent
from tests.integration.notify.steps import booked, deliver, only


def vevent(mail: Sent) -> tuple[str, Calendar]:
    calendar = mail.calendar()
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


def test_a_session_keeps_its_uid_the_sequence_grows_and_the_cancel_removes_it(
    world: World, notify: Notify
) -> None:
    # Given Ann's booking with Cho
    ann, cho, session = booked(world)
    booking = deliver(notify)

    # When Cho moves it, then Ann cancels it
    later = session.start + timedelta(hours=24)
    operations.reschedule(world.store, cho, session.id, later, None, NOW)
    moved = deliver(notify)
    operations.cancel(world.store, ann, session.id, "Ill", NOW + timedelta(hours=1))
    canceled = deliver(notify)

    # Then each of Ann's emails carries an invite for one and the same event
    invites = [vevent(only(mails, ann)) for mails in (booking, moved, canceled)]
    assert [method for method, _ in invites] == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(event["UID"]) for _, event in invites}) == 1
    sequences = [int(event["SEQUENCE"]) for _, event in invites]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    # ... at the session's time in UTC, Ann's zone named, and the move's new time
    (_, first), (_, second), (_, last) = invites
    assert first.decoded("DTSTART") == session.start
    assert first["DTSTART"].to_ical().endswith(b"Z")  # in UTC, no zone definitions
    assert first.decoded("DTEND") - first.decoded("DTSTART") == timedelta(minutes=60)
    assert second.decoded("DTSTART") == later
    assert str(last["STATUS"]) == "CANCELLED"
    assert str(only(booking, ann).calendar()["X-WR-TIMEZONE"]) == "Europe/London"
    assert str(only(booking, cho).calendar()["X-WR-TIMEZONE"]) == "America/New_York"

    # And the coach's copy is the same event, from the same organizer, for the coach alone
    _, coach_event = vevent(only(booking, cho))
    assert coach_event["UID"] == first["UID"]
    assert str(coach_event["ORGANIZER"]) == f"mailto:{SENDER}"
    assert str(coach_event["ATTENDEE"]) == f"mailto:{cho.email}"
    assert str(first["ATTENDEE"]) == f"mailto:{ann.email}"
    assert str(first["URL"]) == f"{BASE_URL}/sessions/{session.id}"
    assert ann.email not in only(booking, cho).attachments[0][2]


def test_the_cancel_receipt_cancels_the_event_in_the_calendar_of_whoever_canceled(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.cancel(world.store, ann, session.id, None, NOW)
    mails = deliver(notify)

    receipt, told = only(mails, ann), only(mails, cho)
    assert receipt.subject.startswith("Canceled:")
    for mail in (receipt, told):
        method, event = vevent(mail)
        assert (method, str(event["UID"])) == ("CANCEL", f"{session.id}@coaching-sessions")
        assert [filename for filename, _, _ in mail.attachments] == ["cancel.ics"]


def test_an_approved_request_invites_and_a_declined_one_cancels(
    world: World, notify: Notify
) -> None:
    # Given two booking requests waiting for Cho
    ann, cho, accepted = booked(world, requires_approval=True)
    bea, other_cho, refused = booked(world, requires_approval=True)
    asked = deliver(notify)
    assert all(mail.attachments == [] for mail in asked)  # nothing is on a calendar yet

    # When Cho accepts one and declines the other
    operations.answer_booking(world.store, cho, accepted.id, True, NOW + timedelta(hours=1))
    approved = only(deliver(notify), ann)
    operations.answer_booking(
        world.store, other_cho, refused.id, False, NOW + timedelta(hours=1), reason="Full"
    )
    declined = only(deliver(notify), bea)

    # Then the accepted one is on Ann's calendar, and the declined one is canceled in Bea's
    assert vevent(approved)[0] == "REQUEST"
    assert str(vevent(approved)[1]["UID"]) == f"{accepted.id}@coaching-sessions"
    method, event = vevent(declined)
    assert (method, str(event["UID"])) == ("CANCEL", f"{refused.id}@coaching-sessions")


def test_emails_that_change_no_calendar_carry_no_invite_and_keep_their_text(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    booking = deliver(notify)

    operations.cancel(world.store, ann, session.id, None, session.start - timedelta(hours=1))
    deliver(notify)
    operations.refund(world.store, cho, session.id, 1, None, session.end + timedelta(hours=1))
    refunded = only(deliver(notify), ann)

    assert refunded.attachments == []
    # The text part is the one written for plain-text readers, not one derived from the HTML
    mail = only(booking, ann)
    assert mail.text.startswith("Hi Ann,\n\n")
    assert "\nView the session: " in mail.text and "<" not in mail.text
