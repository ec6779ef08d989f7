"""The calendar invite an email carries, parsed back with the iCalendar library."""

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from coaching.mail.invites import invite
from coaching.mail.notifications import Audience, Facts, Notification, NotificationKind
from coaching.models import Person

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ANN = Person(id="member-ann", name="Ann, Jr.", email="ann@example.com", timezone="Europe/London")
CHO = Person(id="coach-cho", name="Cho", email="cho@example.com", timezone="America/New_York")
SENDER = "sessions@example.com"


def note(
    kind: NotificationKind,
    audience: Audience = "member",
    version: int = 2,
    location: str | None = None,
) -> Notification:
    facts = Facts(
        session_id="session-1",
        version=version,
        service_id="service-leadership",
        service_name="Leadership; coaching",
        minutes=45,
        start=START,
        member_name=ANN.name,
        coach_name=CHO.name,
        coach_id=CHO.id,
        acted_by="coach",
        at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        credits=3,
        account_id="personal-member-ann",
        personal_account=True,
        location=location,
    )
    recipient = ANN if audience == "member" else CHO
    if audience == "support":
        recipient = Person(id="support-sam", name="Sam", email="help@example.com")
    return Notification(kind=kind, audience=audience, recipient=recipient, facts=facts)


def parsed(notification: Notification) -> Calendar:
    attachment = invite(notification, organizer=SENDER, base_url="https://app.example.com")
    assert attachment is not None
    return Calendar.from_ical(attachment.data)


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        (NotificationKind.BOOKED, "REQUEST"),
        (NotificationKind.BOOKING_APPROVED, "REQUEST"),
        (NotificationKind.RESCHEDULED, "REQUEST"),
        (NotificationKind.RESCHEDULE_APPROVED, "REQUEST"),
        (NotificationKind.RESCHEDULE_CONFIRMED, "REQUEST"),
        (NotificationKind.BOOKING_APPROVAL_CONFIRMED, "REQUEST"),
        (NotificationKind.RESCHEDULE_APPROVAL_CONFIRMED, "REQUEST"),
        (NotificationKind.REMINDER, "REQUEST"),
        (NotificationKind.CANCELED, "CANCEL"),
        (NotificationKind.CANCEL_CONFIRMED, "CANCEL"),
        (NotificationKind.BOOKING_DECLINED, "CANCEL"),
        (NotificationKind.BOOKING_EXPIRED, "CANCEL"),
    ],
)
def test_emails_about_the_calendar_carry_their_method(kind: NotificationKind, method: str) -> None:
    calendar = parsed(note(kind))
    [event] = calendar.walk("VEVENT")

    assert str(calendar["METHOD"]) == method
    assert str(event["UID"]) == "session-1@coaching-sessions"
    assert str(event["STATUS"]) == ("CONFIRMED" if method == "REQUEST" else "CANCELLED")


@pytest.mark.parametrize(
    "kind",
    [
        NotificationKind.BOOKING_REQUESTED,
        NotificationKind.RESCHEDULE_REQUESTED,
        NotificationKind.RESCHEDULE_DECLINED,
        NotificationKind.RESCHEDULE_EXPIRED,
        NotificationKind.RESCHEDULE_WITHDRAWN,
        NotificationKind.REFUNDED,
        NotificationKind.BOOKING_REQUEST_SENT,
        NotificationKind.RESCHEDULE_REQUEST_SENT,
        NotificationKind.REFUND_LAST_CALL,
    ],
)
def test_emails_that_move_nothing_carry_no_invite(kind: NotificationKind) -> None:
    assert invite(note(kind), organizer=SENDER, base_url="https://app.example.com") is None


def test_support_gets_no_invite_for_its_receipt() -> None:
    receipt = note(NotificationKind.CANCEL_CONFIRMED, "support")
    assert invite(receipt, organizer=SENDER, base_url="https://app.example.com") is None


def test_the_sequence_is_the_version_and_times_are_utc_with_the_zone_named() -> None:
    calendar = parsed(note(NotificationKind.RESCHEDULED, "coach", version=7))
    [event] = calendar.walk("VEVENT")

    assert int(event["SEQUENCE"]) == 7
    assert event["DTSTART"].to_ical() == b"20261201T100000Z"
    assert event["DTEND"].to_ical() == b"20261201T104500Z"
    assert str(calendar["X-WR-TIMEZONE"]) == "America/New_York"
    assert "Tuesday 1 December 2026, 05:00 (America/New_York)" in str(event["DESCRIPTION"])
    # Text is escaped by the library: the service's semicolon stays text, not syntax
    assert str(event["SUMMARY"]) == "Leadership; coaching with Ann, Jr."


def test_only_the_reader_is_an_attendee_and_the_sender_organizes() -> None:
    [event] = parsed(note(NotificationKind.BOOKED, "member")).walk("VEVENT")

    assert str(event["ORGANIZER"]) == f"mailto:{SENDER}"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:ann@example.com"
    assert (attendee.params["CN"], attendee.params["RSVP"]) == ("Ann, Jr.", "FALSE")
    assert "cho@example.com" not in parsed(note(NotificationKind.BOOKED)).to_ical().decode()


def test_a_place_is_the_location_and_the_sessions_page_its_url() -> None:
    [event] = parsed(note(NotificationKind.BOOKED, location="Room 4; east wing")).walk("VEVENT")

    assert str(event["LOCATION"]) == "Room 4; east wing"
    assert str(event["URL"]) == "https://app.example.com/sessions/session-1"
    assert "Where: Room 4; east wing" in str(event["DESCRIPTION"])


def test_a_link_to_join_is_the_location_and_the_url() -> None:
    link = "https://meet.example.com/cho?pwd=x"
    [event] = parsed(note(NotificationKind.REMINDER, "coach", location=link)).walk("VEVENT")

    assert (str(event["LOCATION"]), str(event["URL"])) == (link, link)


def test_no_place_no_location() -> None:
    [event] = parsed(note(NotificationKind.BOOKED)).walk("VEVENT")

    assert "LOCATION" not in event
