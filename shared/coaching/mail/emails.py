"""How a notification reads: subject, plain text and HTML. Pure, no I/O.

Each email is first drafted as plain parts (paragraphs, quoted notes, a list of details, links),
and both bodies are produced from that one draft: the text body as written, the HTML body with
every part escaped on the way out. Nothing typed by a person (names, reasons, service names)
can therefore reach the HTML unescaped, whichever email it appears in.

Times are shown in the recipient's own time zone, with the zone named, so that a member in
London and a coach in New York each read the session's time on their own clock.
"""

import html
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from coaching.credit_notices import CreditNoticeKind, CreditNotification
from coaching.mail.notifications import (
    Audience,
    Facts,
    Notification,
    NotificationKind,
    Party,
    RefundStep,
)
from coaching.models import AccountKind, Model, is_link

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SUPPORT_NAME = "Our support team"


class Email(Model):
    """A rendered email, ready for SES (and, when it cannot be sent, for the dead letter queue)."""

    to: str
    subject: str
    text: str
    html: str


def when(moment: datetime, zone: str) -> str:
    """``Tuesday 1 December 2026, 10:00 (Europe/London)``: a time on the recipient's clock.

    Day and month names are spelled here rather than by ``strftime``, so the locale of the
    machine cannot change them.
    """
    local = moment.astimezone(ZoneInfo(zone))
    day, month = _DAYS[local.weekday()], _MONTHS[local.month - 1]
    return f"{day} {local.day} {month} {local.year}, {local:%H:%M} ({zone})"


def session_url(base_url: str, facts: Facts) -> str:
    return f"{base_url.rstrip('/')}/sessions/{quote(facts.session_id, safe='')}"


def book_again_url(base_url: str, facts: Facts) -> str:
    """Where a member books another session with the same coach and service."""
    query = urlencode({"coach_id": facts.coach_id, "service_id": facts.service_id})
    return f"{base_url.rstrip('/')}/book?{query}"


def render(notification: Notification, base_url: str, manage_url: str | None = None) -> Email:
    """The email for ``notification``. ``manage_url`` is the member's link to manage the
    session without signing in (``coaching.manage_links``); member emails carry it."""
    email = notification.recipient.email
    if not email:
        raise ValueError("a notification without an address cannot be rendered")
    draft = _Writer(notification, base_url, manage_url).draft()
    return Email(
        to=email,
        subject=_one_line(draft.subject),
        text=draft.as_text(),
        html=draft.as_html(),
    )


# --- the draft ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paragraph:
    text: str
    quoted: bool = False
    """A person's own words (a reason), shown set apart from ours."""


@dataclass
class _Draft:
    subject: str
    greeting: str
    paragraphs: list[_Paragraph] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    footer: str = ""

    def say(self, text: str) -> None:
        self.paragraphs.append(_Paragraph(text))

    def quote(self, text: str) -> None:
        self.paragraphs.append(_Paragraph(text, quoted=True))

    def as_text(self) -> str:
        parts = [self.greeting]
        for paragraph in self.paragraphs:
            if paragraph.quoted:
                parts.append("\n".join(f"> {line}" for line in paragraph.text.splitlines()))
            else:
                parts.append(paragraph.text)
        if self.details:
            parts.append("\n".join(f"{label}: {value}" for label, value in self.details))
        parts += [f"{label}: {url}" for label, url in self.links]
        parts.append(f"--\n{self.footer}")
        return "\n\n".join(parts) + "\n"

    def as_html(self) -> str:
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{_escape(self.subject)}</title></head>",
            '<body style="font-family: Helvetica, Arial, sans-serif; color: #1f2933; '
            'line-height: 1.5; max-width: 600px;">',
            f"<p>{_escape(self.greeting)}</p>",
        ]
        for paragraph in self.paragraphs:
            if paragraph.quoted:
                out.append(
                    '<blockquote style="margin: 0 0 1em; padding-left: 12px; '
                    f'border-left: 3px solid #cbd2d9;">{_escape(paragraph.text)}</blockquote>'
                )
            else:
                out.append(f"<p>{_escape(paragraph.text)}</p>")
        if self.details:
            out.append('<table role="presentation" style="border-collapse: collapse;">')
            out += [
                '<tr><th align="left" style="padding: 2px 12px 2px 0;">'
                f"{_escape(label)}</th><td>{_escape(value)}</td></tr>"
                for label, value in self.details
            ]
            out.append("</table>")
        out += [
            f'<p><a href="{_escape(url)}">{_escape(label)}</a></p>' for label, url in self.links
        ]
        out.append(f'<p style="color: #616e7c; font-size: 12px;">{_escape(self.footer)}</p>')
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _credits(count: int) -> str:
    return f"{count} credit" if count == 1 else f"{count} credits"


def _are(count: int) -> str:
    """The verb that agrees with ``_credits(count)``: "1 credit is", "3 credits are"."""
    return "is" if count == 1 else "are"


def _were(count: int) -> str:
    """The verb that agrees with ``_credits(count)``: "1 credit was", "3 credits were"."""
    return "was" if count == 1 else "were"


def _they_come(count: int) -> str:
    """ "it comes" or "they come", agreeing with ``_credits(count)``."""
    return "it comes" if count == 1 else "they come"


# --- what each kind says -------------------------------------------------------------------------


_NOTHING_TO_JOIN = frozenset(
    {
        NotificationKind.BOOKING_REQUESTED,
        NotificationKind.BOOKING_REQUEST_SENT,
        NotificationKind.CANCELED,
        NotificationKind.CANCEL_CONFIRMED,
        NotificationKind.BOOKING_DECLINED,
        NotificationKind.BOOKING_EXPIRED,
        NotificationKind.REFUNDED,
        NotificationKind.NO_SHOW,
    }
)
"""Emails about a session nobody joins (not booked yet, or over): they say where, with no link
to join."""


class _Writer:
    def __init__(
        self, notification: Notification, base_url: str, manage_url: str | None = None
    ) -> None:
        self.kind = notification.kind
        self.audience: Audience = notification.audience
        self.facts = notification.facts
        self.zone = notification.recipient.timezone
        self.name = notification.recipient.name
        self.base_url = base_url
        self.manage_url = manage_url

    # Names as this recipient reads them.

    @property
    def other(self) -> str:
        """The person on the other side of the session from the recipient."""
        if self.audience == "support":
            return f"{self.facts.member_name} and {self.facts.coach_name}"
        return self.facts.coach_name if self.audience == "member" else self.facts.member_name

    def by(self, who: Party) -> str:
        if who == "member":
            return self.facts.member_name
        if who == "coach":
            return self.facts.coach_name
        return SUPPORT_NAME

    def at(self, moment: datetime | None) -> str:
        return "another time" if moment is None else when(moment, self.zone)

    def account(self) -> str:
        """The account that paid, as this reader knows it: a shared pool by its name, never its
        id (sessions booked before names were kept say only that it was shared)."""
        facts = self.facts
        if facts.personal_account:
            if self.audience == "member":
                return "your personal account"
            return f"{facts.member_name}'s personal account"
        if facts.account_name:
            return f'the shared account "{facts.account_name}"'
        return "a shared account"

    def paid(self) -> str:
        """Who paid: "3 credits from the shared account "Acme team"" and the like."""
        return f"{_credits(self.facts.credits)} from {self.account()}"

    def open_deadline(self) -> datetime | None:
        """Until when a cancel returns the credits, if that is still ahead of the change."""
        facts = self.facts
        if facts.refundable_until is None or facts.at is None:
            return None
        return facts.refundable_until if facts.refundable_until > facts.at else None

    def cancel_terms(self, draft: _Draft) -> None:
        """What cancelling would now return, for the member; never a deadline already gone."""
        facts = self.facts
        if self.audience != "member":
            return
        if facts.refund_steps:
            self.tiered_terms(draft)
            return
        if facts.refundable_until is None:
            return
        deadline = self.open_deadline()
        if facts.kept_after_move and deadline is not None:
            draft.say(
                "As you did not choose the new time, you keep your free cancellation: cancel "
                f"any time before it starts, {self.at(deadline)}, and the credits come back in "
                "full."
            )
        elif deadline is not None:
            draft.say(
                f"If your plans change, cancel by {self.at(deadline)} and the credits come back "
                "in full. Later cancellations are still possible, but the credits stay spent."
            )
        else:
            window = facts.window_hours
            starts = f"less than {window} hours before it starts" if window else "this late"
            draft.say(
                f"It is now {starts}, so its cancellation window has closed: you can still "
                "cancel it, but a cancellation will not return the credits."
            )

    def tiered_terms(self, draft: _Draft) -> None:
        """A service with partial refunds: each share still ahead, and its deadline."""
        facts = self.facts
        ahead = [s for s in facts.refund_steps if facts.at is None or s.until > facts.at]
        if not ahead:
            draft.say(
                "The session is too close to its start for a cancellation to return any "
                "credits: you can still cancel it, but the credits stay spent."
            )
            return

        def back(step: RefundStep) -> str:
            if step.percent == 100:
                return "the credits come back in full"
            return f"{step.percent}% of the credits come back (rounded down)"

        first, *rest = ahead
        shares = [f"cancel by {self.at(first.until)} and {back(first)}"]
        shares += [f"by {self.at(step.until)}, {back(step)}" for step in rest]
        draft.say(
            f"If your plans change, {'; '.join(shares)}. Later cancellations are still "
            "possible, but the credits stay spent."
        )

    def draft(self) -> _Draft:
        facts = self.facts
        place = facts.location
        where = [("Where", place)] if place else []
        join = (
            [("Join the session", place)]
            if place and is_link(place) and self.kind not in _NOTHING_TO_JOIN
            else []
        )
        manage = (
            [("Manage this session (cancel or move it, no sign-in needed)", self.manage_url)]
            if self.manage_url and self.audience == "member"
            else []
        )
        draft = _Draft(
            subject="",
            greeting=f"Hi {self.name},",
            details=[
                ("Session", f"{facts.service_name}, {facts.minutes} minutes"),
                ("With", self.other),
                ("When", self.at(facts.start)),
                *where,
                ("Paid with", self.paid()),
            ],
            links=[*join, ("View the session", session_url(self.base_url, facts)), *manage],
            footer="You are receiving this because you canceled this session."
            if self.audience == "support"
            else f"You are receiving this because you are the {self.audience} of this session.",
        )
        writers = {
            NotificationKind.BOOKED: self._booked,
            NotificationKind.BOOKING_REQUESTED: self._booking_requested,
            NotificationKind.BOOKING_APPROVED: self._booking_approved,
            NotificationKind.BOOKING_DECLINED: self._booking_declined,
            NotificationKind.BOOKING_EXPIRED: self._booking_expired,
            NotificationKind.CANCELED: self._canceled,
            NotificationKind.RESCHEDULED: self._rescheduled,
            NotificationKind.RESCHEDULE_REQUESTED: self._reschedule_requested,
            NotificationKind.RESCHEDULE_APPROVED: self._reschedule_approved,
            NotificationKind.RESCHEDULE_DECLINED: self._reschedule_declined,
            NotificationKind.RESCHEDULE_EXPIRED: self._reschedule_expired,
            NotificationKind.RESCHEDULE_WITHDRAWN: self._reschedule_withdrawn,
            NotificationKind.REFUNDED: self._refunded,
            NotificationKind.CANCEL_CONFIRMED: self._cancel_confirmed,
            NotificationKind.NO_SHOW: self._no_show,
            NotificationKind.RESCHEDULE_CONFIRMED: self._reschedule_confirmed,
            NotificationKind.BOOKING_APPROVAL_CONFIRMED: self._booking_approval_confirmed,
            NotificationKind.RESCHEDULE_APPROVAL_CONFIRMED: self._reschedule_approval_confirmed,
            NotificationKind.BOOKING_REQUEST_SENT: self._booking_request_sent,
            NotificationKind.RESCHEDULE_REQUEST_SENT: self._reschedule_request_sent,
            NotificationKind.REMINDER: self._reminder,
            NotificationKind.REFUND_LAST_CALL: self._refund_last_call,
        }
        writers[self.kind](draft)
        self._renewed(draft)
        return draft

    def _renewed(self, draft: _Draft) -> None:
        """Credits returned after the lot they were paid from expired: when they expire now."""
        renewed = self.facts.renewed
        if renewed is None or self.audience == "coach":
            return
        lead = (
            f"{_credits(renewed.credits)} of what came back {_were(renewed.credits)} paid from "
            f"credits that have expired since the booking, so {_they_come(renewed.credits)} back"
        )
        if renewed.expires_at is None:
            draft.say(f"{lead} as credits that do not expire.")
        else:
            until = self.at(renewed.expires_at)
            draft.say(f"{lead} as new credits that can be used until {until}.")

    def _book_again(self, draft: _Draft) -> None:
        if self.audience == "member":
            draft.links.append(
                (
                    f"Book again with {self.facts.coach_name}",
                    book_again_url(self.base_url, self.facts),
                )
            )

    def _credits_back(self, draft: _Draft) -> None:
        returned = self.facts.credits_returned
        if returned > 0:
            draft.say(f"The {_credits(returned)} held for it went back to {self.account()}.")

    def _reason(self, draft: _Draft, lead: str) -> None:
        """The acting person's own words, set apart, after ``lead`` ("Cho explained:")."""
        if self.facts.reason:
            draft.say(lead)
            draft.quote(self.facts.reason)

    # One method per NotificationKind.

    def _booked(self, draft: _Draft) -> None:
        facts = self.facts
        if self.audience == "member":
            draft.subject = f"Booked: your session with {facts.coach_name}"
            draft.say(f"Your session with {facts.coach_name} is confirmed.")
            draft.say(
                f"{_credits(facts.credits)} {_were(facts.credits)} taken from {self.account()}."
            )
            self.cancel_terms(draft)
        else:
            draft.subject = f"New session booked by {facts.member_name}"
            draft.say(f"{facts.member_name} booked a session with you, paid from {self.account()}.")

    def _booking_requested(self, draft: _Draft) -> None:
        facts = self.facts
        draft.subject = f"{facts.member_name} asked to book a session with you"
        draft.say(f"{facts.member_name} would like to book the time below and is waiting for you.")
        if facts.respond_by is not None:
            draft.say(
                f"Please accept or decline before {self.at(facts.respond_by)}. If the request "
                "is still open then, it lapses and the held credits go back to the member."
            )

    def _booking_approved(self, draft: _Draft) -> None:
        facts = self.facts
        if self.audience == "member":
            draft.subject = "Your booking request was accepted"
            draft.say(f"{self.by(facts.acted_by)} accepted your request: the session is booked.")
            self.cancel_terms(draft)
        else:
            draft.subject = f"A booking request from {facts.member_name} was accepted"
            draft.say(
                f"{self.by(facts.acted_by)} accepted {facts.member_name}'s request for you; "
                "the session is now on your calendar."
            )

    def _booking_declined(self, draft: _Draft) -> None:
        facts = self.facts
        if self.audience == "member":
            draft.subject = "Your booking request was not accepted"
            draft.say(f"{self.by(facts.acted_by)} could not take on the session you asked for.")
            self._reason(draft, f"{self.by(facts.acted_by)} explained:")
            self._credits_back(draft)
            self._book_again(draft)
        else:
            draft.subject = f"A booking request from {facts.member_name} was declined"
            draft.say(
                f"{self.by(facts.acted_by)} declined {facts.member_name}'s request for you; "
                "the time stays free on your calendar."
            )
            self._reason(draft, f"{self.by(facts.acted_by)} explained:")

    def _booking_expired(self, draft: _Draft) -> None:
        draft.subject = "Your booking request has lapsed"
        draft.say(
            f"{self.facts.coach_name} did not answer your request in time, so it has lapsed and "
            "no session was booked."
        )
        self._credits_back(draft)
        self._book_again(draft)

    def _canceled(self, draft: _Draft) -> None:
        facts = self.facts
        actor = self.by(facts.acted_by)
        if self.audience == "member":
            draft.subject = f"Your session with {facts.coach_name} was canceled"
            draft.say(f"{actor} canceled your session. It will not take place.")
        else:
            draft.subject = f"Your session with {facts.member_name} was canceled"
            draft.say(f"{actor} canceled this session, so the time is free again.")
        self._reason(draft, f"{actor} left this note:")
        if facts.credits_returned > 0:
            draft.say(f"The {_credits(facts.credits_returned)} went back to {self.account()}.")
        elif facts.refundable is False and self.audience == "member":
            draft.say(
                "The cancellation came after the free cancellation window had closed, so the "
                "credits were not returned automatically. Your coach may still choose to "
                "refund them, and our support team can help if you think an exception is fair."
            )
        elif facts.refundable is False:
            draft.say(
                "It came after the free cancellation window had closed, so the member's credits "
                "stayed spent. You can still refund them from the session page if you wish."
            )
        self._book_again(draft)

    def _cancel_confirmed(self, draft: _Draft) -> None:
        """The receipt to whoever canceled."""
        facts = self.facts
        if self.audience == "member":
            draft.subject = f"Canceled: your session with {facts.coach_name}"
        elif self.audience == "coach":
            draft.subject = f"Canceled: your session with {facts.member_name}"
        else:
            draft.subject = f"Canceled: {facts.member_name}'s session with {facts.coach_name}"
        told = "have" if self.audience == "support" else "has"
        draft.say(
            f"You canceled this session. It will not take place, and {self.other} {told} been told."
        )
        self._reason(draft, "Your note:")
        returned = facts.credits_returned
        if returned > 0:
            draft.say(f"The {_credits(returned)} went back to {self.account()}.")
        elif facts.refundable is False and self.audience == "member":
            draft.say(
                "It came after the free cancellation window had closed, so the credits stay "
                "spent. Your coach may still choose to refund them."
            )
        elif facts.refundable is False:
            draft.say(
                "It came after the free cancellation window had closed, so the credits stayed "
                "spent. You can still refund them from the session page."
            )
        else:
            draft.say("No credits were due back.")
        self._book_again(draft)

    def _rescheduled(self, draft: _Draft) -> None:
        facts = self.facts
        actor = self.by(facts.acted_by)
        draft.subject = f"Your session with {self.other} has a new time"
        draft.say(f"{actor} moved your session to a new time.")
        self._moved(draft, facts.previous_start, facts.start)
        self._reason(draft, f"{actor} explained:")
        if self.audience == "member":
            self.cancel_terms(draft)
            draft.say("If the new time does not suit you, you can cancel it from its page.")
        else:
            draft.say("If the new time does not suit you, you can move or cancel it from its page.")

    def _reschedule_requested(self, draft: _Draft) -> None:
        facts = self.facts
        actor = self.by(facts.acted_by)
        draft.subject = f"{actor} asked to move your session"
        draft.say(
            f"{actor} would like to move your session from {self.at(facts.start)} "
            f"to {self.at(facts.requested_start)}."
        )
        self._reason(draft, f"{actor} explained:")
        if facts.respond_by is not None:
            draft.say(
                f"Please approve or decline before {self.at(facts.respond_by)}. Without an "
                "answer by then, the session keeps its current time."
            )

    def _reschedule_approved(self, draft: _Draft) -> None:
        facts = self.facts
        draft.subject = f"Your session with {self.other} has a new time"
        draft.say(f"{self.by(facts.acted_by)} approved the request to move the session.")
        self._moved(draft, facts.previous_start, facts.start)
        self.cancel_terms(draft)

    def _reschedule_declined(self, draft: _Draft) -> None:
        facts = self.facts
        draft.subject = "A request to move your session was declined"
        draft.say(
            f"{self.by(facts.acted_by)} declined the request to move the session to "
            f"{self.at(facts.requested_start)}. It keeps its current time, "
            f"{self.at(facts.start)}."
        )
        self._reason(draft, f"{self.by(facts.acted_by)} explained:")

    def _reschedule_withdrawn(self, draft: _Draft) -> None:
        facts = self.facts
        draft.subject = f"{facts.member_name} withdrew a request to move your session"
        draft.say(
            f"{self.by(facts.acted_by)} withdrew the request to move the session to "
            f"{self.at(facts.requested_start)}; that time is free again. Nothing changes: the "
            f"session stays at {self.at(facts.start)}."
        )
        self._reason(draft, f"{self.by(facts.acted_by)} explained:")

    def _reschedule_expired(self, draft: _Draft) -> None:
        facts = self.facts
        draft.subject = "A request to move your session has lapsed"
        asked = self.at(facts.requested_start)
        if self.audience == "member":
            draft.say(f"Your request to move the session to {asked} was not answered in time.")
        else:
            draft.say(f"{facts.member_name}'s request to move the session to {asked} lapsed.")
        draft.say(f"Nothing changes: the session stays at {self.at(facts.start)}.")

    def _refunded(self, draft: _Draft) -> None:
        facts = self.facts
        returned = _credits(facts.credits_returned)
        if self.audience == "member":
            draft.subject = f"{returned} refunded for your session"
        else:
            draft.subject = f"{returned} refunded for your session with {facts.member_name}"
        draft.say(
            f"{self.by(facts.acted_by)} refunded {returned} for this session. "
            f"{'It is' if facts.credits_returned == 1 else 'They are'} back in {self.account()}."
        )
        if facts.credits_returned_in_total < facts.credits:
            draft.say(
                f"In all, {facts.credits_returned_in_total} of the {_credits(facts.credits)} "
                "paid for it have now been returned."
            )
        self._reason(draft, f"{self.by(facts.acted_by)} left this note:")

    def _no_show(self, draft: _Draft) -> None:
        """Both sides read what was recorded; the side said to be absent can dispute it."""
        facts = self.facts
        marker = "You" if self.audience == facts.acted_by else self.by(facts.acted_by)
        returned = facts.credits_returned
        if facts.absent == "MEMBER":
            if self.audience == "member":
                draft.subject = f"Missed session with {facts.coach_name}"
                draft.say(f"{marker} recorded that you did not attend this session.")
                draft.say(
                    "The credits for it stay spent. If you did attend, or something kept you "
                    "away that you would like us to know about, our support team can look at it."
                )
            else:
                draft.subject = f"{facts.member_name} marked as not attending"
                draft.say(
                    f"{marker} recorded that {facts.member_name} did not attend this session."
                )
                draft.say("The member's credits stay spent.")
            return
        if self.audience == "member":
            draft.subject = "Your coach missed your session: credits returned"
            if facts.acted_by == "coach":
                draft.say(f"{facts.coach_name} recorded that they could not attend this session.")
            else:
                draft.say(f"{marker} recorded that {facts.coach_name} did not attend this session.")
            if returned > 0:
                draft.say(f"We are sorry. The {_credits(returned)} went back to {self.account()}.")
            self._book_again(draft)
        else:
            draft.subject = f"Recorded: you missed your session with {facts.member_name}"
            draft.say(f"{marker} recorded that you did not attend this session.")
            mistake = (
                ""
                if facts.acted_by == "coach"
                else " If this is a mistake, please contact our support team."
            )
            if returned > 0:
                draft.say(
                    f"The member's {_credits(returned)} went back to {self.account()}.{mistake}"
                )
            elif mistake:
                draft.say(mistake.strip())

    # Receipts with the invite the actor's own calendar needs.

    def _reschedule_confirmed(self, draft: _Draft) -> None:
        """The receipt of whoever moved the session (the member or the coach)."""
        facts = self.facts
        draft.subject = f"Moved: your session with {self.other}"
        draft.say(f"You moved this session to a new time, and {self.other} has been told.")
        self._moved(draft, facts.previous_start, facts.start)
        self._reason(draft, "Your note:")
        self.cancel_terms(draft)

    def _booking_approval_confirmed(self, draft: _Draft) -> None:
        """The receipt of the coach who accepted a booking request."""
        facts = self.facts
        draft.subject = f"Accepted: your session with {facts.member_name}"
        draft.say(
            f"You accepted {facts.member_name}'s request: the session is booked, it is on your "
            f"calendar, and {facts.member_name} has been told."
        )

    def _reschedule_approval_confirmed(self, draft: _Draft) -> None:
        """The receipt of the coach who accepted a request to move the session."""
        facts = self.facts
        draft.subject = f"Moved: your session with {facts.member_name}"
        draft.say(
            f"You approved {facts.member_name}'s request to move the session, and "
            f"{facts.member_name} has been told."
        )
        self._moved(draft, facts.previous_start, facts.start)

    # What a member who asked is told at once.

    def _booking_request_sent(self, draft: _Draft) -> None:
        facts = self.facts
        coach = facts.coach_name
        draft.subject = f"Request sent: your session with {coach}"
        draft.say(
            f"Your request to book the time below was sent to {coach}, who reviews requests "
            "before they are booked. It is not booked yet."
        )
        draft.say(
            f"{_credits(facts.credits)} from {self.account()} {_are(facts.credits)} held for it "
            f"meanwhile. If {coach} declines, or does not answer in time, they come back."
        )
        if facts.respond_by is not None:
            draft.say(
                f"{coach} can answer until {self.at(facts.respond_by)}. We will email you as "
                "soon as they do."
            )

    def _reschedule_request_sent(self, draft: _Draft) -> None:
        facts = self.facts
        coach = facts.coach_name
        draft.subject = f"Request sent: moving your session with {coach}"
        draft.say(
            f"You asked {coach} to move your session from {self.at(facts.start)} to "
            f"{self.at(facts.requested_start)}."
        )
        self._reason(draft, "Your note:")
        when = f" until {self.at(facts.respond_by)}" if facts.respond_by is not None else " shortly"
        draft.say(
            f"{coach} can approve or decline it{when}. Meanwhile the session keeps its current "
            "time and its credits, and without an answer it stays where it is. We will email you "
            "as soon as they answer."
        )

    # Time-driven: sent before the session (``coaching.reminders``).

    def _reminder(self, draft: _Draft) -> None:
        facts = self.facts
        draft.subject = f"Reminder: your session with {self.other}, {self.at(facts.start)}"
        draft.say(f"Your session with {self.other} is coming up: {self.at(facts.start)}.")
        if facts.location:
            place = "Join it here" if is_link(facts.location) else "It takes place at"
            draft.say(f"{place}: {facts.location}")
        if self.audience == "member":
            draft.say(
                "If your plans have changed, you can still move or cancel it from the link below."
            )
        else:
            draft.say("If something has come up, you can move or cancel it from its page.")

    def _refund_last_call(self, draft: _Draft) -> None:
        """To the member, before a refund deadline passes: the credits still come back."""
        facts = self.facts
        call = facts.last_call
        if call is None:
            raise ValueError("a last call for a refund needs its deadline")
        back = _credits(call.credits)
        draft.subject = f"Cancel by {self.at(call.until)} to get {back} back"
        draft.say(
            f"If you cannot make your session with {facts.coach_name} "
            f"({self.at(facts.start)}), cancel by {self.at(call.until)} and your {back} "
            f"{'comes' if call.credits == 1 else 'come'} back to {self.account()}."
        )
        if call.credits_after > 0:
            draft.say(f"After that, a cancellation gives back {_credits(call.credits_after)}.")
        else:
            draft.say(
                "After that, the cancellation window has closed: you can still cancel, but the "
                "credits stay spent."
            )
        draft.say("If you are coming, there is nothing to do.")

    def _moved(self, draft: _Draft, before: datetime | None, after: datetime) -> None:
        """The session's time shown as the move: where it was, and where it is now."""
        at = [label for label, _ in draft.details].index("When")
        draft.details[at : at + 1] = [("Was", self.at(before)), ("Now", self.at(after))]


# --- credits that expire (``coaching.credit_notices``) -----------------------------------------


def account_url(base_url: str, account_id: str) -> str:
    return f"{base_url.rstrip('/')}/accounts/{quote(account_id, safe='')}"


def render_credit_notice(notification: CreditNotification, base_url: str) -> Email:
    """The email to an account's owner (or a group's admin) about credits that expire."""
    email = notification.recipient.email
    if not email:
        raise ValueError("a notification without an address cannot be rendered")
    notice, zone = notification.notice, notification.recipient.timezone
    account = (
        "your personal account"
        if notice.account_kind is AccountKind.PERSONAL
        else f'the shared account "{notice.account_name}"'
    )
    credits, ends = _credits(notice.credits), when(notice.expires_at, zone)
    one = notice.credits == 1
    draft = _Draft(
        subject="",
        greeting=f"Hi {notification.recipient.name},",
        details=[("Account", account[0].upper() + account[1:]), ("Credits", credits)],
        links=[("View the account", account_url(base_url, notice.account_id))],
        footer="You are receiving this because you own this account."
        if notification.audience == "owner"
        else "You are receiving this because you are an admin of this account.",
    )
    if notification.kind is CreditNoticeKind.EXPIRING:
        expire = "expires" if one else "expire"
        draft.subject = f"{credits} {expire} on {_day(notice.expires_at, zone)}"
        draft.say(f"{credits} in {account} {expire} on {ends}.")
        draft.say(
            f"Book a session before then to use {'it' if one else 'them'}: a booking always "
            "spends the credits that expire soonest first. Whatever is left then leaves the "
            "balance."
        )
        draft.details.append(("Expire", ends))
    else:
        draft.subject = f"{credits} expired"
        draft.say(
            f"{credits} in {account} expired on {ends} and {'has' if one else 'have'} left its "
            "balance."
        )
        if notice.balance_after is not None:
            draft.say(f"The balance is now {_credits(notice.balance_after)}.")
        draft.details.append(("Expired", ends))
    return Email(
        to=email,
        subject=_one_line(draft.subject),
        text=draft.as_text(),
        html=draft.as_html(),
    )


def _day(moment: datetime, zone: str) -> str:
    """``Thursday 3 December``: the day on the reader's clock, for a subject line."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"
