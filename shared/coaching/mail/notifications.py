"""Which emails a change to a session means: who is told what. Pure, no I/O.

A change is the pair of images the sessions table's stream gives for one write: the session
before (None for a new booking) and after (None when the item was deleted). Every write of a
session bumps its ``version`` by one and appends one event to its ``history``, so the events
the new image has beyond the old one say what happened and who did it; the images give the
facts (reason, refund, times).

Who is told:

=======================  ======================================================================
what happened            recipients
=======================  ======================================================================
booked                   member (confirmation) and coach
booking requested        coach, who must answer; the member hears the request was sent
booking approved         the parties who did not act (coach -> member; support -> both), and a
                         receipt to the coach who approved it
booking declined         the parties who did not act
booking expired          member (the credits held for it came back)
canceled                 the parties who did not act (member -> coach, coach -> member,
                         support -> both), and a receipt to whoever canceled (the member, the
                         coach, or support when their token carried an address)
rescheduled              the parties who did not act, and a receipt to the member or coach who
                         moved it
reschedule requested     the parties who did not act (the coach); the member hears the request
                         was sent
reschedule approved      the parties who did not act, and a receipt to the coach who approved it
reschedule declined      the parties who did not act
reschedule withdrawn     the parties who did not act (the coach)
reschedule expired       member and coach: the session keeps its old time, and both should be
                         sure which time holds (the coach was holding the asked-for time too)
refund granted           member, whose credits came back; the coach too when support refunded
no-show marked           member and coach, whoever marked it: each should know what was recorded
                         about them or their session (and, for a coach no-show, the refund)
completed                nobody: a sweep's bookkeeping
=======================  ======================================================================

Calendars: every change that puts the session on a calendar, moves it or takes it off tells
both sides with the matching invite (``coaching.mail.invites``), so each calendar that holds it
keeps its real state; the one who acted gets it with their receipt (the member's booking
confirmation, a receipt of their move, approval or cancel), never as an email of its own.
Support is on nobody's calendar and gets no receipt but for a cancel. A request (a booking or a
move waiting for the coach) puts nothing on a calendar until it is accepted.

Time-driven mail (reminders, the last call for a refund) is not a change: ``coaching.reminders``
decides it, and its notifications name their ``occasion`` instead of a change.

A person without an email address on the session cannot be told and gets no notification.
"""

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from coaching import reminders, rules
from coaching.models import (
    AccountKind,
    HistoryEvent,
    HistoryKind,
    Model,
    NoShowParty,
    Person,
    Renewal,
    Role,
    Session,
    SessionStatus,
    UtcDatetime,
    personal_account_id,
)

Audience = Literal["member", "coach", "support"]
"""Which side of the session a recipient is on; the wording of the email depends on it.
Support is told only of what they did themselves (a cancel's receipt)."""

Party = Literal["member", "coach", "support", "system"]
"""Who made the change: one of the session's two sides, support, or the sweep."""


class NotificationKind(StrEnum):
    BOOKED = "BOOKED"
    BOOKING_REQUESTED = "BOOKING_REQUESTED"
    BOOKING_APPROVED = "BOOKING_APPROVED"
    BOOKING_DECLINED = "BOOKING_DECLINED"
    BOOKING_EXPIRED = "BOOKING_EXPIRED"
    CANCELED = "CANCELED"
    RESCHEDULED = "RESCHEDULED"
    RESCHEDULE_REQUESTED = "RESCHEDULE_REQUESTED"
    RESCHEDULE_APPROVED = "RESCHEDULE_APPROVED"
    RESCHEDULE_DECLINED = "RESCHEDULE_DECLINED"
    RESCHEDULE_EXPIRED = "RESCHEDULE_EXPIRED"
    RESCHEDULE_WITHDRAWN = "RESCHEDULE_WITHDRAWN"
    REFUNDED = "REFUNDED"
    CANCEL_CONFIRMED = "CANCEL_CONFIRMED"
    """The receipt to whoever canceled: it is done, and what became of the credits."""
    NO_SHOW = "NO_SHOW"
    # Receipts of the one who acted, with the invite their own calendar needs.
    RESCHEDULE_CONFIRMED = "RESCHEDULE_CONFIRMED"
    """To the member or coach who moved the session: its new time."""
    BOOKING_APPROVAL_CONFIRMED = "BOOKING_APPROVAL_CONFIRMED"
    """To the coach who accepted a booking request: it is on their calendar now."""
    RESCHEDULE_APPROVAL_CONFIRMED = "RESCHEDULE_APPROVAL_CONFIRMED"
    """To the coach who accepted a request to move: the session's new time."""
    BOOKING_REQUEST_SENT = "BOOKING_REQUEST_SENT"
    """To the member whose booking waits for the coach: what was asked, until when the coach
    may answer, and that the credits are held meanwhile."""
    RESCHEDULE_REQUEST_SENT = "RESCHEDULE_REQUEST_SENT"
    """To the member whose move waits for the coach: what was asked, until when, and that the
    session keeps its time until then."""
    # Time-driven (``coaching.reminders``): sent before the session, not for a change.
    REMINDER = "REMINDER"
    REFUND_LAST_CALL = "REFUND_LAST_CALL"
    """To the member: a refund deadline is near; cancel before it and the credits come back."""


class RefundStep(Model):
    """Until ``until``, a cancel returns ``percent`` of the credits (rounded down)."""

    until: UtcDatetime
    percent: int


class LastCall(Model):
    """A refund deadline about to pass: a cancel until ``until`` gives back ``credits``."""

    until: UtcDatetime
    credits: int
    credits_after: int
    """What a cancel gives back once ``until`` has passed (0: nothing)."""


class Facts(Model):
    """Everything an email about one change says, taken from the change's images."""

    session_id: str
    version: int
    """The session's version after the change: with the id, names the change."""
    service_id: str
    service_name: str
    minutes: int
    start: UtcDatetime
    """When the session takes place after the change."""
    member_name: str
    coach_name: str
    coach_id: str
    acted_by: Party
    at: UtcDatetime | None = None
    """When the change happened: no email promises a deadline before it."""
    reason: str | None = None
    """The reason the person who acted gave (cancel, reschedule, decline, withdraw), as typed."""
    previous_start: UtcDatetime | None = None
    """For a move: the time the session had before it."""
    requested_start: UtcDatetime | None = None
    """For a reschedule request, and its answer or expiry: the time that was asked for."""
    respond_by: UtcDatetime | None = None
    """For a request waiting for the coach: when it lapses without an answer."""
    credits: int
    """What the session cost."""
    credits_returned: int = 0
    """Credits that went back to the account with this change."""
    credits_returned_in_total: int = 0
    refundable: bool | None = None
    """For a cancel: whether it came inside the free window."""
    refundable_until: UtcDatetime | None = None
    """For a booking or a move: until when a cancel gets the credits back."""
    window_hours: int | None = None
    kept_after_move: bool = False
    """The coach or support moved the session, and the member keeps their refund until the start."""
    account_id: str
    personal_account: bool
    """True when the credits came from the member's own account, not a shared pool."""
    account_name: str | None = None
    """The shared pool's name as it stood at booking (None for personal accounts, or unknown)."""
    absent: NoShowParty | None = None
    """For a no-show: who did not turn up."""
    refund_steps: list[RefundStep] = Field(default_factory=list)
    """For a service with partial refund tiers: what a cancel returns until when, earliest
    first. Empty for the help page's rule (all of it until ``refundable_until``, then nothing)."""
    change: int | None = None
    """Which of the session's changes this is (1: the booking): to tell whether later ones have
    overtaken it."""
    location: str | None = None
    """Where the session takes place (text or an https link), as its service said at booking."""
    reminder_minutes: int | None = None
    """For a reminder: how long before the start it was meant to go out."""
    last_call: LastCall | None = None
    """For the last call for a refund: the deadline, and what a cancel gives back."""
    renewed: Renewal | None = None
    """Of the credits returned, those whose lot had expired meanwhile: back as a new lot,
    usable until its expiry (None: never expires)."""


class Notification(Model):
    """One email to send: what kind, to whom, on which side, and what it says."""

    kind: NotificationKind
    audience: Audience
    recipient: Person
    facts: Facts

    occasion: str | None = None
    """For time-driven mail: which email of the session's time this is (the version that set
    the time, and which reminder), in place of the change; None for mail about a change."""

    @property
    def change_id(self) -> str:
        """Stable across redeliveries of the stream record: the session and its new version
        (or, for time-driven mail, its occasion)."""
        return f"{self.facts.session_id}#{self.occasion or self.facts.version}"

    @property
    def claim_key(self) -> str:
        """One email per (change, kind, recipient): the key its claim is stored under."""
        return f"{self.change_id}#{self.kind.value}#{self.audience}"


_KINDS: dict[HistoryKind, NotificationKind] = {
    "BOOKED": NotificationKind.BOOKED,
    "REQUESTED": NotificationKind.BOOKING_REQUESTED,
    "APPROVED": NotificationKind.BOOKING_APPROVED,
    "DECLINED": NotificationKind.BOOKING_DECLINED,
    "EXPIRED": NotificationKind.BOOKING_EXPIRED,
    "CANCELED": NotificationKind.CANCELED,
    "RESCHEDULED": NotificationKind.RESCHEDULED,
    "RESCHEDULE_REQUESTED": NotificationKind.RESCHEDULE_REQUESTED,
    "RESCHEDULE_APPROVED": NotificationKind.RESCHEDULE_APPROVED,
    "RESCHEDULE_DECLINED": NotificationKind.RESCHEDULE_DECLINED,
    "RESCHEDULE_EXPIRED": NotificationKind.RESCHEDULE_EXPIRED,
    "RESCHEDULE_WITHDRAWN": NotificationKind.RESCHEDULE_WITHDRAWN,
    "REFUNDED": NotificationKind.REFUNDED,
    "NO_SHOW": NotificationKind.NO_SHOW,
}
"""History events that mean something to people; the rest (COMPLETED) tell nobody."""

_TOLD_WHATEVER_ACTED: dict[NotificationKind, tuple[Audience, ...]] = {
    NotificationKind.BOOKED: ("member", "coach"),
    NotificationKind.BOOKING_REQUESTED: ("coach",),
    NotificationKind.BOOKING_EXPIRED: ("member",),
    NotificationKind.RESCHEDULE_EXPIRED: ("member", "coach"),
    NotificationKind.NO_SHOW: ("member", "coach"),
}
"""Kinds with fixed recipients; every other kind tells the parties who did not act."""

_RECEIPTS: dict[NotificationKind, tuple[NotificationKind, tuple[Party, ...]]] = {
    NotificationKind.CANCELED: (NotificationKind.CANCEL_CONFIRMED, ("member", "coach", "support")),
    NotificationKind.RESCHEDULED: (NotificationKind.RESCHEDULE_CONFIRMED, ("member", "coach")),
    NotificationKind.BOOKING_APPROVED: (NotificationKind.BOOKING_APPROVAL_CONFIRMED, ("coach",)),
    NotificationKind.RESCHEDULE_APPROVED: (
        NotificationKind.RESCHEDULE_APPROVAL_CONFIRMED,
        ("coach",),
    ),
    NotificationKind.BOOKING_REQUESTED: (NotificationKind.BOOKING_REQUEST_SENT, ("member",)),
    NotificationKind.RESCHEDULE_REQUESTED: (NotificationKind.RESCHEDULE_REQUEST_SENT, ("member",)),
}
"""The receipt each kind sends the one who acted, and who of them gets one: a member or coach
(whose calendar holds the session); support only for a cancel, when their token had an address."""


def decide(
    old: Session | None,
    new: Session | None,
    current: Callable[[], Session | None] | None = None,
) -> list[Notification]:
    """The emails one write of a session means, in a stable order (member first).

    ``current`` reads the session as it is now. When given, the coach's email about a member's
    move, move request or withdrawal is left out if later changes, all of them the member's own
    moves, requests or withdrawals, have overtaken it: a burst of moves tells the coach once,
    at the state it settled in (``overtaken``). It is read only when such an email is due.
    """
    if new is None:
        return []
    if old is not None and (old.id != new.id or new.version <= old.version):
        return []
    # A new item is explained by the event that created it; a changed one by the events it
    # gained (one per write, as every write appends one).
    events = new.events_since(old)
    first = new.changes - len(events) + 1
    due = [
        notification
        for number, event in enumerate(events, start=first)
        for notification in _notifications(old, new, event, number)
    ]
    if current is None or not any(_overtakable(n) for n in due):
        return due
    now = current()
    return [n for n in due if now is None or not overtaken(n, now)]


_MEMBER_MOVES = frozenset(
    {
        NotificationKind.RESCHEDULED,
        NotificationKind.RESCHEDULE_REQUESTED,
        NotificationKind.RESCHEDULE_WITHDRAWN,
    }
)
_MEMBER_MOVE_EVENTS: frozenset[HistoryKind] = frozenset(
    {"RESCHEDULED", "RESCHEDULE_REQUESTED", "RESCHEDULE_WITHDRAWN"}
)


def _overtakable(notification: Notification) -> bool:
    return (
        notification.audience == "coach"
        and notification.facts.acted_by == "member"
        and notification.kind in _MEMBER_MOVES
    )


def overtaken(notification: Notification, current: Session) -> bool:
    """Whether the coach's email about a member's move is old news: the session has changed
    since, and every later change is another move, request or withdrawal of the member's, the
    last of which the coach is told about instead. An email that moved the coach's calendar is
    old news only once a later move (with its own invite) has moved it again."""
    if not _overtakable(notification) or notification.facts.change is None:
        return False
    later = current.changes - notification.facts.change
    if later <= 0 or later > len(current.history):
        return False  # nothing later, or later changes no longer kept to look at: tell it
    events = current.history[-later:]
    if not all(event.kind in _MEMBER_MOVE_EVENTS and party(event) == "member" for event in events):
        return False
    # A move carries the coach's calendar to its new time: only a later move carries it on.
    return notification.kind is not NotificationKind.RESCHEDULED or any(
        event.kind == "RESCHEDULED" for event in events
    )


def _notifications(
    old: Session | None, new: Session, event: HistoryEvent, number: int
) -> list[Notification]:
    kind = _KINDS.get(event.kind)
    if kind is None or not _consistent(kind, new):
        return []
    acted_by = party(event)
    facts = _facts(kind, old, new, event, acted_by).model_copy(update={"change": number})
    people: dict[Audience, Person | None] = {
        "member": new.member,
        "coach": new.coach,
        "support": new.cancellation.canceled_by_contact if new.cancellation else None,
    }
    told = [(kind, audience) for audience in recipients(kind, acted_by)]
    receipt, takers = _RECEIPTS.get(kind, (None, ()))
    if receipt is not None and acted_by in takers and acted_by != "system":
        told.append((receipt, acted_by))
    return [
        Notification(kind=told_kind, audience=audience, recipient=person, facts=facts)
        for told_kind, audience in told
        if (person := people[audience]) is not None and person.email
    ]


def party(event: HistoryEvent) -> Party:
    if event.by is None:
        return "system"
    if event.by.role is Role.MEMBER:
        return "member"
    if event.by.role is Role.COACH:
        return "coach"
    return "support"


def recipients(kind: NotificationKind, acted_by: Party) -> tuple[Audience, ...]:
    """Who hears about a change of this kind made by ``acted_by``."""
    fixed = _TOLD_WHATEVER_ACTED.get(kind)
    if fixed is not None:
        return fixed
    if kind is NotificationKind.REFUNDED:
        # The coach hears when support gives back credits for their session.
        return ("member", "coach") if acted_by == "support" else ("member",)
    sides: tuple[Audience, ...] = ("member", "coach")
    return tuple(side for side in sides if side != acted_by)


def _consistent(kind: NotificationKind, new: Session) -> bool:
    """The image agrees with the event, so the email states what is true of the session."""
    if kind is NotificationKind.CANCELED:
        return new.status is SessionStatus.CANCELED and new.cancellation is not None
    if kind is NotificationKind.BOOKING_DECLINED:
        return new.status is SessionStatus.DECLINED
    if kind is NotificationKind.BOOKING_EXPIRED:
        return new.status is SessionStatus.EXPIRED
    if kind is NotificationKind.RESCHEDULE_REQUESTED:
        return new.reschedule_request is not None
    if kind is NotificationKind.RESCHEDULE_WITHDRAWN:
        return new.reschedule_request is None
    if kind is NotificationKind.NO_SHOW:
        return new.status is SessionStatus.NO_SHOW and new.no_show is not None
    return True


def _facts(
    kind: NotificationKind,
    old: Session | None,
    new: Session,
    event: HistoryEvent,
    acted_by: Party,
) -> Facts:
    returned_before = old.refund.credits if old is not None else 0
    particular = _PARTICULAR.get(kind)
    return Facts(
        **_about(new),
        acted_by=acted_by,
        at=event.at,
        credits_returned=max(0, new.refund.credits - returned_before),
        credits_returned_in_total=new.refund.credits,
        renewed=event.renewed,
        **_cancel_terms(new, kind in _TELLS_CANCEL_TERMS),
        **{"reason": event.reason, **(particular(old, new, event) if particular else {})},
    )


def _cancel_terms(new: Session, tells_terms: bool) -> dict[str, Any]:
    """What a cancel would now return, for the emails that tell it (``_TELLS_CANCEL_TERMS``)."""
    if not tells_terms:
        return {}
    schedule = rules.refund_schedule(new)
    full = next((step.until for step in schedule if step.percent == 100), None)
    partial = any(step.percent < 100 for step in schedule)
    return {
        "refundable_until": full if partial else new.policy.refundable_until,
        "window_hours": new.policy.window_hours,
        "kept_after_move": new.policy.kept_after_move,
        "refund_steps": [RefundStep(until=s.until, percent=s.percent) for s in schedule]
        if partial
        else [],
    }


# --- what only some kinds of email state, each kind's own --------------------------------------
# Each takes the change (the session before and after, and its history event) and gives the facts
# its kind adds, or states otherwise than the event does. Events written before reasons were kept
# on them: the reason lived on the record itself.

_Particular = Callable[[Session | None, Session, HistoryEvent], dict[str, Any]]


def _canceled(old: Session | None, new: Session, event: HistoryEvent) -> dict[str, Any]:
    if new.cancellation is None:
        return {}
    return {
        "reason": event.reason or new.cancellation.reason,
        "refundable": new.cancellation.refundable,
    }


def _moved(old: Session | None, new: Session, event: HistoryEvent) -> dict[str, Any]:
    return {"previous_start": event.previous_start or (old.start if old is not None else None)}


def _move_asked(old: Session | None, new: Session, event: HistoryEvent) -> dict[str, Any]:
    request = new.reschedule_request
    if request is None:
        return {}
    return {
        "reason": event.reason or request.reason,
        "requested_start": request.start,
        "respond_by": request.expires_at,
    }


def _move_refused(old: Session | None, new: Session, event: HistoryEvent) -> dict[str, Any]:
    asked = old.reschedule_request if old is not None else None
    return {"requested_start": event.start or (asked.start if asked is not None else None)}


def _booking_asked(old: Session | None, new: Session, event: HistoryEvent) -> dict[str, Any]:
    return {"respond_by": new.request_expires_at}


def _no_show(old: Session | None, new: Session, event: HistoryEvent) -> dict[str, Any]:
    return {"absent": new.no_show.party if new.no_show is not None else None}


_PARTICULAR: dict[NotificationKind, _Particular] = {
    NotificationKind.CANCELED: _canceled,
    NotificationKind.RESCHEDULED: _moved,
    NotificationKind.RESCHEDULE_APPROVED: _moved,
    NotificationKind.RESCHEDULE_REQUESTED: _move_asked,
    NotificationKind.RESCHEDULE_DECLINED: _move_refused,
    NotificationKind.RESCHEDULE_EXPIRED: _move_refused,
    NotificationKind.RESCHEDULE_WITHDRAWN: _move_refused,
    NotificationKind.BOOKING_REQUESTED: _booking_asked,
    NotificationKind.NO_SHOW: _no_show,
}


def _about(session: Session) -> dict[str, Any]:
    """The facts every email about the session states, whatever happened to it."""
    personal = session.account_id == personal_account_id(session.member.id)
    shared_name = (
        session.account.name
        if session.account is not None and session.account.kind is AccountKind.GROUP
        else None
    )
    return {
        "session_id": session.id,
        "version": session.version,
        "service_id": session.service.id,
        "service_name": session.service.name,
        "minutes": session.session_type.minutes,
        "start": session.start,
        "member_name": session.member.name,
        "coach_name": session.coach.name,
        "coach_id": session.coach.id,
        "credits": session.credits,
        "account_id": session.account_id,
        "personal_account": personal,
        "account_name": None if personal else shared_name,
        "location": session.location,
    }


def time_driven(
    kind: NotificationKind,
    session: Session,
    occasion: str,
    at: datetime,
    *,
    reminder_minutes: int | None = None,
    last_call: LastCall | None = None,
) -> list[Notification]:
    """The emails a session's time sends before it (``coaching.reminders`` decides when): a
    reminder to both sides, the last call for a refund to the member, in the session's state at
    ``at``. Claimed by ``occasion``, not by a change."""
    facts = Facts(
        **_about(session),
        acted_by="system",
        at=at,
        reminder_minutes=reminder_minutes,
        last_call=last_call,
    )
    audiences: tuple[Audience, ...] = (
        ("member", "coach") if kind is NotificationKind.REMINDER else ("member",)
    )
    people: dict[Audience, Person] = {"member": session.member, "coach": session.coach}
    return [
        Notification(
            kind=kind, audience=audience, recipient=people[audience], facts=facts, occasion=occasion
        )
        for audience in audiences
        if people[audience].email
    ]


_TELLS_CANCEL_TERMS = frozenset(
    {
        NotificationKind.BOOKED,
        NotificationKind.BOOKING_APPROVED,
        NotificationKind.RESCHEDULED,
        NotificationKind.RESCHEDULE_APPROVED,
    }
)
"""Emails about a session's (new) time that tell the member what a cancel would now return."""


def of_marks(
    record: reminders.Reminders,
    marked: list[reminders.Due],
    session: Session | None,
    current: reminders.Reminders | None,
    now: datetime,
) -> list[Notification]:
    """The emails a sweep's mark sends, of what is still true at ``now`` (``still_due``):
    a reminder to the member and the coach, the last call to the member."""
    found: list[Notification] = []
    for due in marked:
        if session is None or not reminders.still_due(due, record, session, current, now):
            continue
        if due.kind == "REMINDER":
            found += time_driven(
                NotificationKind.REMINDER,
                session,
                reminders.occasion(record, due),
                now,
                reminder_minutes=due.minutes,
            )
        elif due.deadline is not None and due.credits is not None:
            call = LastCall(
                until=due.deadline, credits=due.credits, credits_after=due.credits_after or 0
            )
            found += time_driven(
                NotificationKind.REFUND_LAST_CALL,
                session,
                reminders.occasion(record, due),
                now,
                last_call=call,
            )
    return found
