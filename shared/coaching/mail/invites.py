"""Calendar invites for the emails about a session's time: iCalendar (RFC 5545/5546). Pure, no I/O.

An email that puts a session on the reader's calendar (booked, accepted, moved, and the receipt
of whoever did it; a reminder) carries a ``METHOD:REQUEST``; one that takes it off (canceled,
declined, lapsed) carries the matching ``METHOD:CANCEL``. Calendars match the two by ``UID``,
one per session for its whole life, and keep the copy with the highest ``SEQUENCE``: the
session's version, which every write raises, so a later change always replaces an earlier one,
and a redelivered email changes nothing.

Times are in UTC (no time zone definitions to get wrong); the reader's zone is named in
``X-WR-TIMEZONE`` and the description states the time on their clock, as the email does.
Where the session takes place is its ``LOCATION``; a link (a video call) is its ``URL`` too,
else the ``URL`` is the session's page. Only
the reader is an attendee: the other side's address is never in what one side receives, and
the reader is marked as having accepted, so no calendar offers to send a reply nobody reads.
"""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from icalendar import Calendar, Event, vCalAddress

from coaching.mail.emails import session_url, when
from coaching.mail.notifications import Notification, NotificationKind
from coaching.models import is_link

PRODID = "-//Coaching sessions//Session invites//EN"
UID_DOMAIN = "coaching-sessions"
"""Fixed rather than taken from a setting: a UID that changed with the configuration would
leave the old event behind in every calendar."""


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


_METHODS: dict[NotificationKind, Method] = {
    NotificationKind.BOOKED: Method.REQUEST,
    NotificationKind.BOOKING_APPROVED: Method.REQUEST,
    NotificationKind.RESCHEDULED: Method.REQUEST,
    NotificationKind.RESCHEDULE_APPROVED: Method.REQUEST,
    NotificationKind.RESCHEDULE_CONFIRMED: Method.REQUEST,
    NotificationKind.BOOKING_APPROVAL_CONFIRMED: Method.REQUEST,
    NotificationKind.RESCHEDULE_APPROVAL_CONFIRMED: Method.REQUEST,
    NotificationKind.REMINDER: Method.REQUEST,
    NotificationKind.CANCELED: Method.CANCEL,
    NotificationKind.CANCEL_CONFIRMED: Method.CANCEL,
    NotificationKind.BOOKING_DECLINED: Method.CANCEL,
    NotificationKind.BOOKING_EXPIRED: Method.CANCEL,
}
"""The emails that change what a calendar should show (a reminder states it again, with the
session's latest ``SEQUENCE``); the rest (requests waiting for an answer, a refund, a move that
did not happen, the last call for a refund) leave the session where it is."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes
    params: tuple[tuple[str, str], ...] = ()
    """Content-Type parameters beside the charset (``method`` for a calendar)."""


def uid(session_id: str) -> str:
    return f"{session_id}@{UID_DOMAIN}"


def method_for(kind: NotificationKind) -> Method | None:
    return _METHODS.get(kind)


def invite(notification: Notification, *, organizer: str, base_url: str) -> Attachment | None:
    """The calendar attachment this email carries, or None when it carries none.

    ``organizer`` is the address the emails come from: a calendar accepts updates to an event
    only from its organizer, and every update comes from there.
    """
    method = method_for(notification.kind)
    # Support is told of its own cancel only; no invite ever put the session in its calendar.
    if method is None or notification.audience == "support":
        return None
    facts = notification.facts
    reader = notification.recipient
    if not reader.email:
        return None
    other = facts.coach_name if notification.audience == "member" else facts.member_name
    url = session_url(base_url, facts)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method.value)
    calendar.add("x-wr-timezone", reader.timezone)

    event = Event()
    event.add("uid", uid(facts.session_id))
    event.add("sequence", facts.version)
    event.add("dtstamp", facts.at or facts.start)
    event.add("dtstart", facts.start)
    event.add("dtend", facts.start + timedelta(minutes=facts.minutes))
    event.add("summary", f"{facts.service_name} with {other}")
    place = f"Where: {facts.location}\n" if facts.location else ""
    event.add(
        "description",
        f"{facts.service_name}, {facts.minutes} minutes, with {other}.\n"
        f"{when(facts.start, reader.timezone)}\n"
        f"{place}"
        f"View the session: {url}",
    )
    if facts.location:
        event.add("location", facts.location)
    event.add("url", facts.location if is_link(facts.location) else url)
    event.add("status", "CONFIRMED" if method is Method.REQUEST else "CANCELLED")
    event.add("transp", "OPAQUE")
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    attendee = vCalAddress(f"mailto:{reader.email}")
    attendee.params["CN"] = reader.name
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "ACCEPTED"
    attendee.params["RSVP"] = "FALSE"
    event.add("attendee", attendee)
    calendar.add_component(event)

    return Attachment(
        filename="invite.ics" if method is Method.REQUEST else "cancel.ics",
        maintype="text",
        subtype="calendar",
        data=calendar.to_ical(),
        params=(("method", method.value),),
    )
