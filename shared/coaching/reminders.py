"""Reminders, and the last call for a refund: the emails a session's time sends before it. Pure.

A SCHEDULED session has one reminders record (``Reminders``, an item beside the session) for its
current time: each email still to send and when (``plan``). The record is written in the same
transaction as the change that gives the session that time (a booking, an approval, a move), and
deleted in the one that ends it (a cancel, a decline, an expiry, a no-show, its completion):
``replan`` says which changes do. So no reminder outlives the time it is about, and a move
replaces the old ones with those of the new time.

The sweep finds the record through the Due index once its next email is due and marks what to
send (``fire``), in one conditional write; the sessions table's stream brings that mark to the
notifier (``fired``), which reads the session and the record again and sends only what is still
true (``still_due``; which emails that is, ``mail.notifications.of_marks``): the session
scheduled at that time, the reminder before its start, the last call while a cancel still gives
back what it promises. Each email is claimed under a key that names the session's time (the
version that set it) and the reminder (``occasion``), so a sweep that runs twice, a crash, or a
stream record delivered again sends nothing twice.

A sweep that comes late sends the latest reminder due (never two at once, nor one after the
start) and the last call of the soonest deadline still open; the rest of what is due is dropped.
"""

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from coaching import rules
from coaching.models import NO_LAST_CALL, Identifier, Model, Session, SessionStatus, UtcDatetime

DueKind = Literal["REMINDER", "LAST_CALL"]


class Due(Model):
    """One email the session's time still owes, and when it is due."""

    kind: DueKind
    at: UtcDatetime
    minutes: int
    """REMINDER: minutes before the start; LAST_CALL: minutes before the deadline."""
    deadline: UtcDatetime | None = None
    """LAST_CALL: the last second at which a cancel gives back ``credits``."""
    credits: int | None = None
    """LAST_CALL: what a cancel until the deadline gives back."""
    credits_after: int | None = None
    """LAST_CALL: what a cancel just after the deadline gives back (0: nothing)."""

    @property
    def name(self) -> str:
        """Which email of the session's time this is, for its claim: ``R60``, ``L202612...``."""
        if self.kind == "REMINDER":
            return f"R{self.minutes}"
        assert self.deadline is not None
        return f"L{self.deadline:%Y%m%dT%H%M%SZ}"


class Reminders(Model):
    """The reminders record of a session: the emails its current time still owes."""

    session_id: Identifier
    start: UtcDatetime
    """The session's time they are about."""
    end: UtcDatetime
    """The session's end: the record is of no use after it (its item expires a week on)."""
    for_version: int
    """The version of the session that gave it this time: with ``start``, names the time."""
    pending: list[Due] = Field(default_factory=list)
    """Still to send, soonest first."""
    fired: list[Due] = Field(default_factory=list)
    """What the latest sweep marked to send."""
    fired_count: int = 0
    """How many times a sweep marked this record: each mark is one write, told apart by it."""

    @property
    def next_at(self) -> datetime | None:
        """When the sweep next has something to do here; None when nothing is left."""
        return self.pending[0].at if self.pending else None


def plan(session: Session, now: datetime) -> Reminders | None:
    """What the session's current time will send, from ``now`` on; None when nothing.

    Only a SCHEDULED session is reminded of (a request is not on anyone's calendar yet). A
    reminder or a last call whose time is already past at ``now`` is not sent at all: a session
    booked an hour ahead gets no day-before reminder, and none tells of a deadline already near.
    """
    if session.status is not SessionStatus.SCHEDULED:
        return None
    start = session.start
    pending = [
        Due(kind="REMINDER", at=start - timedelta(minutes=minutes), minutes=minutes)
        for minutes in session.policy.reminders
        if start - timedelta(minutes=minutes) > now
    ]
    pending += _last_calls(session, now)
    if not pending:
        return None
    return Reminders(
        session_id=session.id,
        start=start,
        end=session.end,
        for_version=session.version,
        pending=sorted(pending, key=lambda due: (due.at, due.kind)),
    )


def _last_calls(session: Session, now: datetime) -> list[Due]:
    """One last call per refund deadline (each tier that ever applies), ``refund_reminder_minutes``
    before it, saying what a cancel until then gives back and what it gives after."""
    lead = session.policy.refund_reminder_minutes
    if lead == NO_LAST_CALL:
        return []
    steps = rules.refund_schedule(session)
    returned = [
        min(rules.tier_credits(session.credits, step.percent), session.refundable_credits)
        for step in steps
    ]
    calls = []
    for index, step in enumerate(steps):
        at = step.until - timedelta(minutes=lead)
        if returned[index] <= 0 or at <= now:
            continue
        calls.append(
            Due(
                kind="LAST_CALL",
                at=at,
                minutes=lead,
                deadline=step.until,
                credits=returned[index],
                credits_after=returned[index + 1] if index + 1 < len(steps) else 0,
            )
        )
    return calls


def replan(before: Session | None, after: Session) -> bool:
    """Whether a change gives the session a time to remind of anew, or ends the one it had:
    then its reminders record is written again from ``plan`` (or deleted)."""
    had = before is not None and before.status is SessionStatus.SCHEDULED
    has = after.status is SessionStatus.SCHEDULED
    if had and has:
        assert before is not None
        return before.start != after.start
    return had or has


def fire(record: Reminders, now: datetime) -> Reminders | None:
    """The record once the sweep has marked what is due at ``now``; None when nothing is.

    Of what is due, the latest reminder goes out while the session has not started, and the last
    call of the soonest deadline still open; anything else due is dropped, never sent late.
    """
    due = [item for item in record.pending if item.at <= now]
    if not due:
        return None
    send: list[Due] = []
    reminders = [item for item in due if item.kind == "REMINDER"]
    if reminders and now < record.start:
        send.append(min(reminders, key=lambda item: item.minutes))
    calls = [
        item
        for item in due
        if item.kind == "LAST_CALL" and item.deadline is not None and now <= item.deadline
    ]
    if calls:
        send.append(min(calls, key=lambda item: item.at))
    return record.model_copy(
        update={
            "pending": [item for item in record.pending if item.at > now],
            "fired": send,
            "fired_count": record.fired_count + 1,
        }
    )


def fired(old: Reminders | None, new: Reminders | None) -> list[Due]:
    """What a write of a reminders record asks to send: a sweep's mark, never a plan written
    by a change (a new time starts with nothing fired) nor a record deleted."""
    if new is None or not new.fired:
        return []
    if old is not None and (old.for_version, old.fired_count) == (new.for_version, new.fired_count):
        return []
    return new.fired


def still_due(
    due: Due,
    record: Reminders,
    session: Session | None,
    current: Reminders | None,
    now: datetime,
) -> bool:
    """Whether an email a sweep marked is still true when it is about to go out.

    ``session`` and ``current`` are read again just before: a cancel deleted the record with the
    change, a move replaced it with another time's (another ``for_version``). A reminder goes out
    only before the start; a last call only while a cancel still gives back what it promises.
    """
    if session is None or current is None or current.for_version != record.for_version:
        return False
    if session.status is not SessionStatus.SCHEDULED or session.start != record.start:
        return False
    if due.kind == "REMINDER":
        return now < session.start
    if due.deadline is None or now > due.deadline:
        return False
    return rules.cancellation_quote(session, now).refund_credits == due.credits


def occasion(record: Reminders, due: Due) -> str:
    """What an email of the session's time is about, in place of a change: the version that
    set the time, and which of its emails (one claim per occasion and recipient)."""
    return f"{record.for_version}@{due.name}"
