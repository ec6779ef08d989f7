"""The domain events a change means, for other systems (CRM, billing, analytics). Pure, no I/O.

Sessions: the pair of images the sessions table's stream gives for one write, read the way
``notifications.decide`` reads them: every write bumps the session's ``version`` and appends one
event to its ``history``, and that event says what happened. Credits: a grant's or an expiry's
ledger entry, as the ledger table's stream gives it when the entry is written.

Each event carries ids, times and amounts, and never a name, an address or a reason: what a
person wrote stays in the emails and the session's history. Its ``event_id`` is derived from the
change itself (the session and its version; the account and the entry's number), so a record
the stream delivers twice yields the same id twice and consumers drop the repeat.
"""

from typing import Annotated

from pydantic import Field

from coaching.models import (
    Actor,
    EntryKind,
    HistoryEvent,
    LedgerEntry,
    Model,
    NoShowParty,
    Session,
    SessionStatus,
    UtcDatetime,
)

SOURCE = "coaching.sessions"
"""The events' ``source`` on the bus: what a rule matches them by."""

SESSION_EVENT_TYPES: dict[str, str] = {
    "BOOKED": "session.booked",
    "REQUESTED": "session.requested",
    "APPROVED": "session.approved",
    "DECLINED": "session.declined",
    "EXPIRED": "session.expired",
    "CANCELED": "session.canceled",
    "RESCHEDULED": "session.rescheduled",
    "RESCHEDULE_APPROVED": "session.rescheduled",
    "REFUNDED": "session.refunded",
    "COMPLETED": "session.completed",
    "NO_SHOW": "session.no_show",
}
"""The ``detail-type`` of the event each history event (by its kind) publishes: one line per kind.

A reschedule request, and its decline, withdrawal or lapse, moves nothing and publishes nothing;
when it is approved the session moves, and that is ``session.rescheduled``."""

CREDITS_GRANTED = "credits.granted"
CREDITS_EXPIRED = "credits.expired"
CREDIT_EVENT_TYPES: dict[EntryKind, str] = {
    EntryKind.GRANT: CREDITS_GRANTED,
    EntryKind.EXPIRE: CREDITS_EXPIRED,
}
"""The entries other systems hear of: credits granted, and credits that expired unused (the
sweep's EXPIRE). Bookings and refunds are told as the session's own events."""


class SessionDetail(Model):
    event_id: str
    session_id: str
    version: int
    """The session's version after the change: orders a session's events."""
    status: SessionStatus
    occurred_at: UtcDatetime
    actor: Actor | None
    """Who made the change, by id and role; None for the system's own sweeps."""
    member_id: str
    coach_id: str
    service_id: str
    session_type_id: str
    account_id: str
    start: UtcDatetime
    end: UtcDatetime
    previous_start: UtcDatetime | None = None
    """For a move: when the session was before it."""
    credits: int
    """What the session cost."""
    credits_returned: int
    """Credits that went back to the account with this change (a refund, a released hold)."""
    credits_returned_in_total: int
    refundable: bool | None = None
    """For a cancel: whether it came inside the free window."""
    no_show_party: NoShowParty | None = None
    """For a no-show: who did not turn up (a coach's absence returns the credits)."""


class CreditsDetail(Model):
    event_id: str
    entry_id: str
    account_id: str
    seq: int
    credits: int
    """Signed: a grant adds, an expiry takes away."""
    balance_after: int
    occurred_at: UtcDatetime
    actor: Actor | None
    """None for the sweep's expiry."""
    lot: int | None = None
    """The lot the credits went to (a grant) or left (an expiry); 0 is the one that never
    expires. None on entries written before lots existed."""
    expires_at: UtcDatetime | None = None
    """When that lot expires (None: never)."""


class DomainEvent(Model):
    """One entry for ``PutEvents``: its type, when it happened, and its detail."""

    detail_type: Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$")]
    time: UtcDatetime
    detail: SessionDetail | CreditsDetail

    @property
    def event_id(self) -> str:
        return self.detail.event_id


def session_events(old: Session | None, new: Session | None) -> list[DomainEvent]:
    """The events one write of a session means, in the order they happened."""
    if new is None:
        return []
    if old is not None and (old.id != new.id or new.version <= old.version):
        return []
    gained = new.events_since(old)
    returned = new.refund.credits - (old.refund.credits if old is not None else 0)
    events: list[DomainEvent] = []
    for event in gained:
        detail_type = SESSION_EVENT_TYPES.get(event.kind)
        if detail_type is None:
            continue
        detail = _session_detail(old, new, event, detail_type, max(0, returned))
        events.append(DomainEvent(detail_type=detail_type, time=event.at, detail=detail))
    return events


def _session_detail(
    old: Session | None,
    new: Session,
    event: HistoryEvent,
    detail_type: str,
    returned: int,
) -> SessionDetail:
    previous_start = None
    if detail_type == "session.rescheduled":
        previous_start = event.previous_start or (old.start if old is not None else None)
    refundable = None
    if detail_type == "session.canceled" and new.cancellation is not None:
        refundable = new.cancellation.refundable
    no_show_party = event.party if detail_type == "session.no_show" else None
    return SessionDetail(
        # One write appends one history event, so the version names the change; the type
        # keeps the id unique should a write ever append two.
        event_id=f"session:{new.id}:{new.version}:{detail_type}",
        session_id=new.id,
        version=new.version,
        status=new.status,
        occurred_at=event.at,
        actor=event.by,
        member_id=new.member.id,
        coach_id=new.coach.id,
        service_id=new.service.id,
        session_type_id=new.session_type.id,
        account_id=new.account_id,
        start=new.start,
        end=new.end,
        previous_start=previous_start,
        credits=new.credits,
        credits_returned=returned,
        credits_returned_in_total=new.refund.credits,
        refundable=refundable,
        no_show_party=no_show_party,
    )


def credit_events(entry: LedgerEntry) -> list[DomainEvent]:
    """The events a new ledger entry means: a grant publishes ``credits.granted``, an expiry
    ``credits.expired``."""
    detail_type = CREDIT_EVENT_TYPES.get(entry.kind)
    if detail_type is None:
        return []
    # A grant's or an expiry's credits go to, or leave, one lot.
    lot = entry.lots[0] if len(entry.lots) == 1 else None
    detail = CreditsDetail(
        # An entry's number is its place in the account's ledger, fixed once written.
        event_id=f"credits:{entry.account_id}:{entry.seq}",
        entry_id=entry.id,
        account_id=entry.account_id,
        seq=entry.seq,
        credits=entry.credits,
        balance_after=entry.balance_after,
        occurred_at=entry.at,
        actor=entry.actor,
        lot=None if lot is None else lot.lot,
        expires_at=None if lot is None else lot.expires_at,
    )
    return [DomainEvent(detail_type=detail_type, time=entry.at, detail=detail)]
