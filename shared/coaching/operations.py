"""What each request does: read, ask the rules, write one transaction.

Handlers call these; the sweep calls ``sweep_session`` and ``fire_reminders``. Each takes
``now`` so that the same code runs under the local stack's moved clock and in tests at any
chosen moment.

Optimistic concurrency: every write is conditioned on the versions we read. When another writer
got there first the write is refused (``StaleRead``); we read again and let the rules decide
again, so the second of two cancels is told the session is no longer upcoming, and the second
of two refunds that there is nothing left to refund.
"""

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from coaching import free_times, lots, reminders, rules
from coaching.errors import Conflict, Forbidden, NotFound, ValidationFailed
from coaching.manage_links import Grant, InvalidLink
from coaching.models import (
    ACTIVE_STATUSES,
    HISTORY_KEPT,
    MAX_ACTIVE_SERVICES,
    Account,
    AccountChange,
    AccountKind,
    AccountRef,
    Availability,
    Caller,
    Cancellation,
    CoachEntry,
    EntryKind,
    HistoryEvent,
    LedgerEntry,
    LotRecord,
    NoShow,
    NoShowParty,
    Person,
    Policy,
    Refund,
    RefundStatus,
    Renewal,
    RescheduleRequest,
    Role,
    Service,
    ServiceRef,
    Session,
    SessionStatus,
    SessionType,
    TimeOff,
    TimeOffTaken,
    WorkingHours,
    personal_account_id,
)
from coaching.reminders import Reminders
from coaching.storage import Count, Movement, StaleRead, Storage, TransientConflict

T = TypeVar("T")

MAX_ATTEMPTS = 12


def retrying(attempt: Callable[[], T], what: str = "session") -> T:
    """Run ``attempt`` again while others keep changing what it read, with jittered backoff."""
    for number in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except (StaleRead, TransientConflict):
            time.sleep(random.uniform(0, min(0.2, 0.005 * 2**number)))  # noqa: S311
    raise Conflict(f"The {what} kept changing while we worked on it; try again.")


def _new_id() -> str:
    return uuid.uuid4().hex


SPILLED_AT_ONCE = 25
"""The most history entries one write moves out of a session item (a session written before
the bound may hold many more): each is one more item of the change's transaction."""


def _bump(session: Session, event: HistoryEvent, **changes: object) -> Session:
    """The next version of a session, with one more event in its history.

    The item keeps the latest ``HISTORY_KEPT`` entries; storage writes the ones that leave it
    beside it in the same transaction. Validated like any new session (not ``model_copy``,
    which takes values as they come): a time given with another offset is kept in UTC.
    """
    history = [*session.history, event]
    kept = max(HISTORY_KEPT, len(history) - SPILLED_AT_ONCE)
    return Session.model_validate(
        {
            **dict(session),
            **changes,
            "history": history[-kept:],
            "history_count": session.changes + 1,
            "member_moves": rules.member_moves(session) + rules.is_member_move(event),
            "version": session.version + 1,
        }
    )


def _bump_step(
    session: Session, change: rules.Change, event: dict[str, Any], **changes: object
) -> Session:
    """The session's next version after ``change``: the status it moves to and the history
    entry that says so, both as the lifecycle says (``rules.LIFECYCLE``). ``event`` is what else
    the entry tells: when, by whom, the credits, the reason."""
    step = rules.step(session, change)
    return _bump(session, HistoryEvent(kind=step.history, **event), status=step.to, **changes)


def _slots(start: datetime, session_type: SessionType) -> set[datetime]:
    """The slots a session of this type from ``start`` holds, its buffers included."""
    return set(rules.held_slots(start, session_type))


def _held_slots(session: Session) -> set[datetime]:
    """Slots a session holds: its own time, plus the time a pending reschedule asked for."""
    held = _slots(session.start, session.session_type)
    if session.reschedule_request is not None:
        held |= _slots(session.reschedule_request.start, session.session_type)
    return held


_RELEASED = frozenset({SessionStatus.CANCELED, SessionStatus.DECLINED, SessionStatus.EXPIRED})


def _recount(
    before: Session | None,
    after: Session,
    hours: Availability | None,
    *,
    day_limit: int | None = None,
    member_limit: int | None = None,
) -> tuple[list[Count], dict[str, object]]:
    """The counted limits a change moves, and the session's fields that say what counts it.

    A session is counted on its coach's day while it holds time (a request or a scheduled
    session; one that took place stays counted on its day), and among its member's upcoming
    sessions of the service while it is upcoming. ``day_limit`` and ``member_limit`` bind what
    is added (a member's booking or move); the coach and support are not bound. A session written
    before it was counted is counted only from its next move or booking on.
    """
    counts: list[Count] = []
    fields: dict[str, object] = {}
    was_day = before.counted_day if before is not None else None
    was_member = before.counted_for_member if before is not None else False
    active = after.status in ACTIVE_STATUSES
    want_day = was_day
    if after.status in _RELEASED:
        want_day = None
    elif active and hours is not None:
        want_day = rules.coach_day(hours, after.start)
    if want_day != was_day:
        if was_day is not None:
            counts.append(Count("day-count", after.coach.id, was_day, -1))
        if want_day is not None:
            counts.append(Count("day-count", after.coach.id, want_day, 1, below=day_limit))
        fields["counted_day"] = want_day
    want_member = active and (was_member or before is None)
    if want_member != was_member:
        by: Literal[1, -1] = 1 if want_member else -1
        counts.append(
            Count("member-count", after.member.id, after.service.id, by, below=member_limit)
        )
        fields["counted_for_member"] = want_member
    return counts, fields


def _save_counted(
    store: Storage,
    before: Session | None,
    after: Session,
    hours: Availability | None,
    *,
    day_limit: int | None = None,
    member_limit: int | None = None,
    claim: set[datetime] | None = None,
    release: set[datetime] | None = None,
    movement: Movement | None = None,
    service: Service | None = None,
) -> Session:
    """Save a session's new state with the counts it moves and the rules it was decided under
    (``hours``, whose version the write is conditioned on)."""
    counts, fields = _recount(before, after, hours, day_limit=day_limit, member_limit=member_limit)
    if fields:
        after = after.model_copy(update=fields)
    store.save_session(
        before=before,
        after=after,
        claim=sorted(claim or ()),
        release=sorted(release or ()),
        movement=movement,
        service=service,
        hours=hours,
        counts=counts,
    )
    return after


def _account(store: Storage, account_id: str) -> Account:
    account = store.get_account(account_id)
    if account is None:
        raise NotFound("No such account.")
    return account


def _visible_session(store: Storage, caller: Caller, session_id: str) -> Session:
    session = store.get_session(session_id)
    if session is None:
        raise NotFound("No such session.")
    rules.require_visible(caller, session)
    return session


def _visible_session_and_likely_payer(
    store: Storage, caller: Caller, session_id: str
) -> tuple[Session, dict[str, Account]]:
    """The session and, in the same read, the account a member caller most likely paid from.

    A member usually pays from their personal account, so reading it beside the session lets a
    refunded cancel make two round trips in all (this read and the transaction).
    """
    likely = [personal_account_id(caller.id)] if caller.role is Role.MEMBER else []
    session, accounts = store.session_and_accounts(session_id, likely)
    if session is None:
        raise NotFound("No such session.")
    rules.require_visible(caller, session)
    return session, accounts


def _payer(store: Storage, session: Session, already_read: dict[str, Account]) -> Account:
    """The account the session was paid from: from ``already_read`` if it is there."""
    return already_read.get(session.account_id) or _account(store, session.account_id)


def _giving_back(
    account: Account,
    session: Session,
    kind: EntryKind,
    credits: int,
    now: datetime,
    caller: Caller | None,
    note: str | None = None,
) -> Movement:
    """``credits`` of the session going back to the lots it was paid from (``lots.give_back``);
    those whose lot expired meanwhile come back as a new lot, named on the change's history
    event as ``renewed``."""
    return Movement(
        account=account,
        kind=kind,
        credits=credits,
        at=now,
        actor=None if caller is None else caller.actor,
        lots=lots.give_back(account, session, credits, now, lots.grace_days(session, account)),
        session_id=session.id,
        note=note,
        contact=None if caller is None else rules.contact_for(caller, account),
    )


def _give_back(
    store: Storage,
    session: Session,
    kind: EntryKind,
    credits: int,
    now: datetime,
    caller: Caller | None,
    already_read: dict[str, Account] | None = None,
) -> tuple[Movement | None, Refund]:
    """What giving back ``credits`` of the session of its own accord moves (a cancel, a coach's
    no-show, a request that ends): the movement, and the session's refund after it. Nothing
    moves, and the payer is not read, when there is nothing to give back."""
    if credits <= 0:
        return None, session.refund
    account = _payer(store, session, already_read or {})
    movement = _giving_back(account, session, kind, credits, now, caller)
    return movement, Refund(
        status=RefundStatus.AUTOMATIC, credits=session.refund.credits + credits, refunded_at=now
    )


# --- services --------------------------------------------------------------------------------


def create_service(
    store: Storage,
    caller: Caller,
    *,
    name: str,
    session_types: Sequence[Mapping[str, int]],
    now: datetime,
    **settings: Any,
) -> Service:
    """A coach offers a service: its session types (``minutes``, ``credits`` and buffers each)
    and its settings, each a field of ``Service`` (left out: the default). The coach is listed
    in the directory with it."""
    if caller.role is not Role.COACH:
        raise Forbidden("Only coaches offer services.")
    service = Service(
        # A coach's services list by creation time and id; creation times are whole seconds,
        # and the id starts with the nanoseconds of its making, so those of one second keep
        # the order they were made in.
        id=store.new_service_id(caller.id, time.time_ns()),
        coach=caller.as_person(),
        name=name,
        session_types=[
            SessionType(id=f"t{n}", **session_type)
            for n, session_type in enumerate(session_types, start=1)
        ],
        created_at=now,
        updated_at=now,
        last_session_type_number=len(session_types),
        **settings,
    )

    def attempt() -> Service:
        entry = _directory_entry(store, service, caller.as_person())
        store.put_service(service, entry)
        return service

    return retrying(attempt, "coach's list of services")


def get_service(store: Storage, service_id: str) -> Service:
    service = store.get_service(service_id)
    if service is None:
        raise NotFound("No such service.")
    return service


def services_of(
    store: Storage, coach_id: str, limit: int, token: str | None, include_retired: bool = False
) -> tuple[list[Service], str | None]:
    """A coach's services: what anyone signed in may book with them (and, when asked for,
    what they no longer offer)."""
    return store.services_of(coach_id, limit, token, include_retired=include_retired)


def _directory_entry(store: Storage, service: Service, coach: Person | None) -> CoachEntry:
    """The coach's next directory entry, with ``service`` as it is about to be written.

    A coach whose services were all created before the directory existed has no entry yet:
    it starts from their services on offer (read from the index, where services that old
    have long been).
    """
    entry = store.coach_entry(service.coach_id)
    if entry is None:
        offered, _ = store.services_of(service.coach_id, MAX_ACTIVE_SERVICES, None)
        who = coach or service.coach
        entry = CoachEntry(
            coach_id=service.coach_id,
            name=who.name,
            timezone=who.timezone,
            services=[ServiceRef(id=s.id, name=s.name) for s in offered if s.id != service.id],
            version=0,
        )
    return rules.directory_entry(entry, service, coach)


def _coach_contact(caller: Caller, service: Service) -> Person | None:
    """The coach's own details when they are the one changing their service."""
    return caller.as_person() if caller.id == service.coach_id else None


def edit_service(
    store: Storage,
    caller: Caller,
    service_id: str,
    *,
    settings: Mapping[str, Any],
    session_types: rules.SessionTypeEdits,
    now: datetime,
) -> Service:
    """Change a service for the bookings made after it: every session keeps the policy and
    price it was booked under. Two edits never lose each other's change: each applies to the
    service as it stands when it is written (read again and applied again when another got
    there first)."""

    def attempt() -> Service:
        service = get_service(store, service_id)
        rules.require_can_change_service(caller, service)
        edited = rules.edit_service(service, settings, session_types, now)
        if edited is service:
            return service  # nothing changes: nothing is written
        entry = None
        if edited.name != service.name or edited.coach_id == caller.id:
            entry = _directory_entry(store, edited, _coach_contact(caller, edited))
        store.save_service(service, edited, entry)
        return edited

    return retrying(attempt, "service")


def retire_service(store: Storage, caller: Caller, service_id: str, now: datetime) -> Service:
    """The coach stops offering a service: no new bookings and no free times; sessions already
    booked go on under their own policy."""

    def attempt() -> Service:
        service = get_service(store, service_id)
        rules.require_can_change_service(caller, service)
        retired = rules.retire_service(service, now)
        entry = _directory_entry(store, retired, _coach_contact(caller, retired))
        store.save_service(service, retired, entry)
        return retired

    return retrying(attempt, "service")


def coach_directory(
    store: Storage, query: str | None, limit: int, token: str | None
) -> tuple[list[CoachEntry], str | None]:
    """Coaches who offer at least one active service, by name; ``query`` keeps those whose
    name starts with it (case and accents aside)."""
    return store.coach_directory(query or "", limit, token)


# --- working hours and free times --------------------------------------------------------------


def set_availability(
    store: Storage,
    caller: Caller,
    *,
    timezone: str | None,
    weekly: list[WorkingHours],
    now: datetime,
    max_sessions_per_day: int | None = None,
) -> Availability:
    """A coach replaces their weekly hours, in their own zone unless they name another, and
    their limit of sessions a day; their time off stays as it is."""
    if caller.role is not Role.COACH:
        raise Forbidden("Only coaches have working hours.")

    def attempt() -> Availability:
        before = availability_of(store, caller.id)
        after = Availability(
            coach_id=caller.id,
            timezone=timezone or caller.timezone,
            weekly=weekly,
            max_sessions_per_day=max_sessions_per_day,
            time_off=rules.time_off_ahead(before.time_off, now),
            updated_at=now,
            version=before.version + 1,
        )
        store.put_availability(before, after)
        return after

    return retrying(attempt, "coach's hours")


def add_time_off(
    store: Storage,
    caller: Caller,
    *,
    start: datetime,
    end: datetime,
    reason: str | None,
    now: datetime,
) -> TimeOffTaken:
    """A coach takes time off: members can no longer book or move sessions into it. Sessions
    already booked inside it are not touched: they are answered, for the coach to move or
    cancel."""
    if caller.role is not Role.COACH:
        raise Forbidden("Only coaches take time off.")
    off = TimeOff(id=_new_id(), start=start, end=end, reason=reason or None)
    rules.require_time_off_ahead(off, now)

    def attempt() -> TimeOffTaken:
        before = availability_of(store, caller.id)
        after = before.model_copy(
            update={
                "time_off": rules.with_time_off(before.time_off, off, now),
                "updated_at": now,
                "version": before.version + 1,
            }
        )
        # Read before the write, so that a keyed request's stored answer (written with it)
        # names them as the first answer does.
        inside = store.coach_sessions_between(caller.id, off.start, off.end)
        taken = TimeOffTaken(off, tuple(s for s in inside if s.status in ACTIVE_STATUSES))
        store.put_availability(before, after, taken)
        return taken

    return retrying(attempt, "coach's hours")


def remove_time_off(store: Storage, caller: Caller, time_off_id: str, now: datetime) -> None:
    """A coach takes back time off: 404 for one that is not theirs (or has passed)."""
    if caller.role is not Role.COACH:
        raise Forbidden("Only coaches take time off.")

    def attempt() -> None:
        before = availability_of(store, caller.id)
        kept = [off for off in before.time_off if off.id != time_off_id]
        if len(kept) == len(before.time_off):
            raise NotFound("No such time off.")
        after = before.model_copy(
            update={"time_off": kept, "updated_at": now, "version": before.version + 1}
        )
        store.put_availability(before, after)

    retrying(attempt, "coach's hours")


def time_off_of(
    store: Storage, caller: Caller, coach_id: str, start: datetime, end: datetime
) -> tuple[list[TimeOff], bool]:
    """A coach's time off that overlaps ``start`` to ``end``, soonest first, and whether the
    caller may read the reasons (the coach and support; anyone else sees only the times)."""
    free_times.require_range(start, end)
    wanted = caller.id if coach_id == "me" else coach_id
    hours = availability_of(store, wanted)
    found = [off for off in hours.time_off if off.start < end and start < off.end]
    return found, caller.role is Role.SUPPORT or caller.id == wanted


def availability_of(store: Storage, coach_id: str) -> Availability:
    """A coach's hours; none (an empty week) until they set them."""
    return store.get_availability(coach_id) or Availability(coach_id=coach_id)


def free_times_of(
    store: Storage,
    *,
    service_id: str,
    session_type_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
    caller: Caller | None = None,
) -> list[free_times.FreeTime]:
    """Where a session of this type could be booked between ``start`` and ``end``: what the
    member's booking rule (``rules.require_member_may_hold``) allows, and no one holds.

    Two or three reads: the service with its coach's booking rules, the coach's claims in the
    range (only the part of it still ahead of ``now``), and, when a limit is set, the counts it
    needs (the coach's days in the range, and the asking member's upcoming sessions of the
    service).
    """
    free_times.require_range(start, end)
    service, _, hours = store.service_accounts_and_hours(service_id, [])
    if service is None or hours is None:
        raise NotFound("No such service.")
    session_type = service.session_type(session_type_id)
    if session_type is None and not service.was_retired(session_type_id):
        raise ValidationFailed.on("session_type_id", "is not a session type of this service")
    if session_type is None or service.retired_at is not None:
        return []  # retired: nothing new is booked on it
    first = free_times.grid_at_or_after(max(start, now))
    if not hours.has_hours or first >= end:
        return []
    # The first start may have a buffer before it, and the last one's time (its buffer after it
    # too) runs past ``end``.
    reach = free_times.reach(session_type)
    last = free_times.grid_at_or_after(end)
    taken = store.claimed_slots(service.coach_id, first - reach, last + reach)
    # The counts are read only for the limits that are set (none set: no third read).
    limits = rules.BookingLimits.of_service(service)
    member = caller.id if caller is not None and caller.role is Role.MEMBER else None
    if limits.max_upcoming_per_member is None:
        member = None
    days = free_times.days_between(hours, first, end) if hours.max_sessions_per_day else []
    day_counts: dict[str, int] | None = None
    member_count: int | None = None
    if days or member is not None:
        day_counts, member_count = store.counts(service.coach_id, days, member, service.id)
    return free_times.free_times(
        hours,
        limits,
        session_type,
        taken,
        start,
        end,
        now,
        day_counts=day_counts,
        member_count=member_count,
    )


# --- booking ---------------------------------------------------------------------------------


def book(
    store: Storage,
    caller: Caller,
    *,
    service_id: str,
    session_type_id: str,
    start: datetime,
    account_id: str | None,
    timezone: str | None,
    now: datetime,
) -> Session:
    """Debit the credits, claim the coach's time and create the session, all or nothing.

    The session is made under one version of the service, read once per try with the paying
    account, and lands only while the service is still at that version: an edit or retirement
    racing the booking applies to it entirely (the booking is refused, read again and decided
    again) or not at all.
    """
    paying = account_id or personal_account_id(caller.id)

    def attempt() -> Session:
        # One read: the service, the paying account and the coach's booking rules.
        service, accounts, hours = store.service_accounts_and_hours(service_id, [paying])
        if service is None or hours is None:
            raise NotFound("No such service.")
        rules.require_can_book(caller, service, start, now)
        session_type = rules.bookable_type(service, session_type_id)
        limits = rules.BookingLimits.of_service(service)
        rules.require_member_may_hold(hours, limits, session_type, start, now)
        session_id = store.new_session_id(service.coach_id)
        end = start + timedelta(minutes=session_type.minutes)
        status = rules.booking_status(service)
        account = accounts.get(paying) or _account(store, paying)
        rules.require_can_spend(caller, account)
        # The lots that expire soonest pay, from what came with the one read.
        taken = lots.take(account, session_type.credits, now)
        session = Session(
            id=session_id,
            status=status,
            member=caller.as_person()
            if timezone is None
            else caller.as_person().model_copy(update={"timezone": timezone}),
            coach=service.coach,
            service=ServiceRef(id=service.id, name=service.name),
            session_type=session_type,
            start=start,
            end=end,
            timezone=timezone or caller.timezone,
            credits=session_type.credits,
            account_id=account.id,
            account=AccountRef(id=account.id, kind=account.kind, name=account.name),
            location=service.location,
            policy=Policy(
                window_hours=service.cancellation_window_hours,
                refundable_until=rules.refundable_until(start, service.cancellation_window_hours),
                late_reschedule_requires_approval=service.late_reschedule_requires_approval,
                request_ttl_hours=service.request_ttl_hours,
                max_reschedules=service.max_reschedules,
                cancel_reason_required=service.cancel_reason_required,
                refund_tiers=service.effective_refund_tiers,
                reminders=service.reminders,
                refund_reminder_minutes=service.refund_reminder_minutes,
                min_notice_minutes=service.min_notice_minutes,
                max_days_ahead=service.max_days_ahead,
                refund_grace_days=service.refund_grace_days,
            ),
            paid_from=lots.shares(taken),
            request_expires_at=rules.request_deadline(now, service.request_ttl_hours, start)
            if status is SessionStatus.REQUESTED
            else None,
            history=[
                HistoryEvent(
                    at=now,
                    kind="REQUESTED" if status is SessionStatus.REQUESTED else "BOOKED",
                    by=caller.actor,
                    start=start,
                    credits=session_type.credits,
                )
            ],
            history_count=1,
            member_moves=0,
            created_at=now,
        )
        return _save_counted(
            store,
            None,
            session,
            hours,
            day_limit=hours.max_sessions_per_day,
            member_limit=service.max_upcoming_per_member,
            claim=_slots(start, session_type),
            movement=Movement(
                account=account,
                kind=EntryKind.DEBIT,
                credits=-session_type.credits,
                at=now,
                actor=caller.actor,
                lots=taken,
                session_id=session_id,
                contact=rules.contact_for(caller, account),
            ),
            service=service,
        )

    return retrying(attempt)


def list_sessions(
    store: Storage,
    caller: Caller,
    *,
    view: Literal["upcoming", "past"],
    statuses: frozenset[SessionStatus],
    member_id: str | None,
    coach_id: str | None,
    limit: int,
    token: str | None,
    now: datetime,
    account_id: str | None = None,
    member_email: str | None = None,
) -> tuple[list[Session], str | None]:
    """The caller's sessions; for support the named member's (by id or address), coach's or
    group account's; for a group's admin, the sessions the group paid for."""
    listing = rules.session_listing(caller, member_id, coach_id, account_id, member_email)
    if listing.role == "account":
        rules.require_can_view_group_sessions(caller, store.get_account(listing.user_id))
    if listing.role == "email":
        members = store.members_with_email(listing.user_id)
        return store.sessions_of_members(
            members, view, now, limit, token, statuses=statuses, with_coach=listing.with_coach
        )
    return store.sessions_of(
        listing.role,
        listing.user_id,
        view,
        now,
        limit,
        token,
        statuses=statuses,
        with_coach=listing.with_coach,
    )


def view_session(store: Storage, caller: Caller, session_id: str) -> Session:
    """A session for those it concerns; a group's admins may read one their group paid for."""
    session = store.get_session(session_id)
    if session is None:
        raise NotFound("No such session.")
    if rules.relation(caller, session) is None:
        payer = store.get_account(session.account_id) if caller.role is Role.ADMIN else None
        if not rules.can_read_as_group_admin(caller, session, payer):
            raise NotFound("No such session.")
    return session


def history_of(
    store: Storage, caller: Caller, session_id: str, limit: int, token: str | None
) -> tuple[list[tuple[int, HistoryEvent]], str | None]:
    """Every change of a session, oldest first, for those who may read it."""
    return store.history_of(view_session(store, caller, session_id), limit, token)


def quote_cancellation(
    store: Storage, caller: Caller, session_id: str, now: datetime
) -> rules.CancellationQuote:
    session = _visible_session(store, caller, session_id)
    return rules.cancellation_quote(session, now)


# --- closing --------------------------------------------------------------------------------


def _close(
    store: Storage,
    session: Session,
    change: Literal["CANCEL", "DECLINE", "EXPIRE"],
    event: dict[str, Any],
    movement: Movement | None,
    refund: Refund,
    **changes: object,
) -> Session:
    """End a session for good (canceled, declined, expired): every slot it holds is freed, any
    request on it is dropped, and its credits move back in the same transaction."""
    after = _bump_step(
        session,
        change,
        event,
        refund=refund,
        reschedule_request=None,
        request_expires_at=None,
        **changes,
    )
    return _save_counted(
        store, session, after, None, release=_held_slots(session), movement=movement
    )


# --- cancel ----------------------------------------------------------------------------------


def cancel(
    store: Storage,
    caller: Caller,
    session_id: str,
    reason: str | None,
    now: datetime,
    expected_refund_credits: int | None = None,
) -> Session:
    """Cancel an upcoming session; inside the free window the credits go back in the same step.

    With ``expected_refund_credits`` (what the caller's quote said), only while a cancel still
    gives back exactly that (``rules.plan_cancel``).
    """

    def attempt() -> Session:
        session, accounts = _visible_session_and_likely_payer(store, caller, session_id)
        quote = rules.plan_cancel(caller, session, now, reason, expected_refund_credits)
        movement, refund = _give_back(
            store, session, quote.entry_kind, quote.refund_credits, now, caller, accounts
        )
        return _close(
            store,
            session,
            "CANCEL",
            {
                "at": now,
                "by": caller.actor,
                "credits": quote.refund_credits,
                "reason": reason or None,
                "renewed": _renewed(movement),
            },
            movement,
            refund,
            cancellation=Cancellation(
                canceled_at=now,
                canceled_by=caller.actor,
                reason=reason or None,
                refundable=quote.refundable,
                # Support is on neither side of the session: keep where to send their receipt.
                canceled_by_contact=caller.as_person()
                if caller.role is Role.SUPPORT and caller.email
                else None,
            ),
        )

    return retrying(attempt)


# --- reschedule ------------------------------------------------------------------------------


def _moved(
    session: Session, start: datetime, mover: rules.Relation, now: datetime
) -> dict[str, object]:
    """The fields that change when a session moves to ``start``; the policy's window moves too."""
    end = start + timedelta(minutes=session.session_type.minutes)
    policy = rules.policy_after_move(session, start, mover, now)
    moved: dict[str, object] = {"start": start, "end": end, "policy": policy}
    if session.request_expires_at is not None:
        # A booking request moved earlier must still lapse before it would start.
        moved["request_expires_at"] = min(session.request_expires_at, start)
    return moved


def _save_move(
    store: Storage,
    before: Session,
    after: Session,
    target: set[datetime],
    hours: Availability | None = None,
    *,
    day_limit: int | None = None,
) -> Session:
    """Save a session whose held slots become ``target``: claim what is new, free the rest; a
    move to another day of the coach's is counted there (``day_limit`` binds a member's)."""
    held = _held_slots(before)
    return _save_counted(
        store,
        before,
        after,
        hours,
        day_limit=day_limit,
        claim=target - held,
        release=held - target,
    )


def _drop_request(store: Storage, session: Session, event: HistoryEvent) -> Session:
    """A reschedule request ends without a move (declined, withdrawn, expired): the session
    keeps its time, and the time the request held is freed."""
    after = _bump(session, event, reschedule_request=None)
    return _save_move(store, session, after, _slots(session.start, session.session_type))


def _request_answered(
    kind: Literal["RESCHEDULE_DECLINED", "RESCHEDULE_WITHDRAWN"],
    caller: Caller,
    request: RescheduleRequest,
    reason: str | None,
    now: datetime,
) -> HistoryEvent:
    """The history entry of a request the coach declined or the member withdrew."""
    return HistoryEvent(
        at=now, kind=kind, by=caller.actor, start=request.start, reason=reason or None
    )


def reschedule(
    store: Storage,
    caller: Caller,
    session_id: str,
    start: datetime,
    reason: str | None,
    now: datetime,
) -> tuple[Session, Literal["DIRECT", "REQUEST"]]:
    """Move the session, or ask the coach to, keeping the booking and its credits."""

    def attempt() -> tuple[Session, Literal["DIRECT", "REQUEST"]]:
        stored, hours = store.session_and_hours(session_id)
        if stored is None:
            raise NotFound("No such session.")
        session = stored
        mover = rules.require_visible(caller, session)
        mode = rules.plan_reschedule(caller, session, start, now)
        end = start + timedelta(minutes=session.session_type.minutes)
        rules_hold = hours or Availability(coach_id=session.coach.id)
        day_limit = None
        if mover == "member":
            # The member's own rules: the coach's hours, time off, the service's notice and
            # horizon, as for a booking (the service's settings as the session was booked).
            rules.require_member_may_hold(
                rules_hold,
                rules.BookingLimits.of_session(session),
                session.session_type,
                start,
                now,
            )
            day_limit = rules_hold.max_sessions_per_day
        outside = not rules.member_may_hold(
            rules_hold, rules.BookingLimits.of_session(session), session.session_type, start, now
        )
        event = HistoryEvent(
            at=now,
            kind="RESCHEDULED" if mode == "DIRECT" else "RESCHEDULE_REQUESTED",
            by=caller.actor,
            previous_start=session.start,
            start=start,
            reason=reason or None,
        )
        if mode == "DIRECT":
            after = _bump(
                session,
                event,
                reschedule_request=None,
                outside_hours=outside,
                **_moved(session, start, mover, now),
            )
            target = _slots(start, session.session_type)
        else:
            request = RescheduleRequest(
                start=start,
                end=end,
                requested_by=caller.actor,
                requested_at=now,
                # Unanswered, it lapses an hour before either time it is about comes round.
                expires_at=rules.reschedule_request_deadline(
                    now, session.policy.request_ttl_hours, session.start, start
                ),
                reason=reason or None,
            )
            after = _bump(session, event, reschedule_request=request)
            # The asked-for time is held while the coach decides, so approving cannot fail.
            target = _slots(session.start, session.session_type) | _slots(
                start, session.session_type
            )
        after = _save_move(store, session, after, target, hours, day_limit=day_limit)
        return after, mode

    return retrying(attempt)


def answer_reschedule(
    store: Storage,
    caller: Caller,
    session_id: str,
    approve: bool,
    now: datetime,
    reason: str | None = None,
) -> Session:
    def attempt() -> Session:
        session, hours = store.session_and_hours(session_id)
        if session is None:
            raise NotFound("No such session.")
        rules.require_visible(caller, session)
        rules.require_pending_reschedule(caller, session, now)
        request = session.reschedule_request
        assert request is not None  # checked by the rule above
        if approve:
            after = _bump(
                session,
                HistoryEvent(
                    at=now,
                    kind="RESCHEDULE_APPROVED",
                    by=caller.actor,
                    previous_start=session.start,
                    start=request.start,
                ),
                reschedule_request=None,
                # The member asked for this time, so the window moves with it as usual.
                **_moved(session, request.start, "member", now),
            )
            return _save_move(
                store, session, after, _slots(request.start, session.session_type), hours
            )
        return _drop_request(
            store, session, _request_answered("RESCHEDULE_DECLINED", caller, request, reason, now)
        )

    return retrying(attempt)


def withdraw_reschedule(
    store: Storage, caller: Caller, session_id: str, reason: str | None, now: datetime
) -> Session:
    """The member takes back a request to move the session; it keeps its time."""

    def attempt() -> Session:
        session = _visible_session(store, caller, session_id)
        rules.require_can_withdraw(caller, session, now)
        request = session.reschedule_request
        assert request is not None  # checked by the rule above
        return _drop_request(
            store, session, _request_answered("RESCHEDULE_WITHDRAWN", caller, request, reason, now)
        )

    return retrying(attempt)


# --- booking requests ------------------------------------------------------------------------


def given_back(session: Session) -> int:
    """The credits the change that made this version of ``session`` gave back (its history
    entry's; 0 when none moved): what a cancel, a refund or a no-show counts as refunded."""
    return session.history[-1].credits or 0


def _renewed(movement: Movement | None) -> Renewal | None:
    """What of a movement's credits came back as a new lot (their own had expired)."""
    return None if movement is None else movement.lots.renewed


def _release_all(
    store: Storage, session: Session, now: datetime, caller: Caller | None
) -> tuple[Movement | None, Refund]:
    """Give back every credit still held by a session that will never take place."""
    return _give_back(store, session, EntryKind.RELEASE, session.refundable_credits, now, caller)


def answer_booking(
    store: Storage,
    caller: Caller,
    session_id: str,
    approve: bool,
    now: datetime,
    reason: str | None = None,
) -> Session:
    def attempt() -> Session:
        session = _visible_session(store, caller, session_id)
        rules.require_pending_booking(caller, session, now)
        if approve:
            after = _bump_step(
                session, "APPROVE", {"at": now, "by": caller.actor}, request_expires_at=None
            )
            store.save_session(before=session, after=after)
            return after
        movement, refund = _release_all(store, session, now, caller)
        return _close(
            store,
            session,
            "DECLINE",
            {
                "at": now,
                "by": caller.actor,
                "credits": refund.credits,
                "reason": reason or None,
                "renewed": _renewed(movement),
            },
            movement,
            refund,
        )

    return retrying(attempt)


# --- refund ----------------------------------------------------------------------------------


def refund(
    store: Storage,
    caller: Caller,
    session_id: str,
    credits: int | None,
    note: str | None,
    now: datetime,
) -> Session:
    """Coach or support gives back credits that did not come back automatically."""

    def attempt() -> Session:
        session = _visible_session(store, caller, session_id)
        decision = rules.plan_refund(caller, session, credits, now)
        movement = _giving_back(
            _account(store, session.account_id),
            session,
            EntryKind.REFUND,
            decision.credits,
            now,
            caller,
            note,
        )
        after = _bump(
            session,
            HistoryEvent(
                at=now,
                kind="REFUNDED",
                by=caller.actor,
                credits=decision.credits,
                reason=note or None,
                renewed=_renewed(movement),
            ),
            refund=Refund(
                status=decision.status,
                credits=session.refund.credits + decision.credits,
                refunded_at=now,
            ),
        )
        store.save_session(before=session, after=after, movement=movement)
        return after

    return retrying(attempt)


# --- no-shows --------------------------------------------------------------------------------


def mark_no_show(
    store: Storage, caller: Caller, session_id: str, party: NoShowParty, now: datetime
) -> Session:
    """Record who did not turn up. A coach's no-show gives back every credit not yet
    refunded, in the same transaction as the mark."""

    def attempt() -> Session:
        stored = _visible_session(store, caller, session_id)
        # A reschedule request that lapsed before the start, not yet swept, ends with the mark.
        session = rules.as_read(stored, now)
        credits = rules.plan_no_show(caller, session, party, now)
        movement, refund = _give_back(store, session, EntryKind.REFUND, credits, now, caller)
        after = _bump_step(
            session,
            "MARK_NO_SHOW",
            {
                "at": now,
                "by": caller.actor,
                "credits": credits,
                "party": party,
                "renewed": _renewed(movement),
            },
            no_show=NoShow(party=party, marked_by=caller.actor, marked_at=now),
            refund=refund,
            reschedule_request=None,
        )
        # The session keeps its own time (it is in the past); time a lapsed request held goes.
        freed = _held_slots(stored) - _slots(session.start, session.session_type)
        return _save_counted(store, stored, after, None, release=freed, movement=movement)

    return retrying(attempt)


# --- accounts --------------------------------------------------------------------------------


def visible_account(store: Storage, caller: Caller, account_id: str) -> Account:
    account = store.get_account(account_id)
    if account is None or not rules.can_view_account(caller, account):
        raise NotFound("No such account.")
    return account


def ledger_of(
    store: Storage, caller: Caller, account_id: str, limit: int, token: str | None
) -> tuple[list[LedgerEntry], str | None]:
    """An account's entries, newest first, for those who may see the account."""
    visible_account(store, caller, account_id)
    return store.ledger(account_id, limit, token)


def grant(
    store: Storage,
    caller: Caller,
    account_id: str,
    credits: int,
    note: str | None,
    now: datetime,
    expires_at: datetime | None = None,
    valid_days: int | None = None,
) -> LedgerEntry:
    """Credits for an account, that never expire, or expire at ``expires_at`` or ``valid_days``
    days on (24 hours each): one or the other, never both."""
    if credits < 1:
        raise ValidationFailed.on("credits", "must be at least 1")
    ends, field = rules.grant_expiry(expires_at, valid_days, now)

    def attempt() -> LedgerEntry:
        account = _account(store, account_id)
        rules.require_can_grant(caller, account)
        return store.move_credits(
            Movement(
                account=account,
                kind=EntryKind.GRANT,
                credits=credits,
                at=now,
                actor=caller.actor,
                lots=lots.grant(account, credits, ends, now, field),
                note=note,
                contact=rules.contact_for(caller, account),
            )
        )

    return retrying(attempt)


def create_group_account(
    store: Storage,
    caller: Caller,
    *,
    name: str,
    member_ids: list[str],
    admin_ids: list[str],
    now: datetime,
    refund_grace_days: int | None = None,
) -> Account:
    if caller.role not in (Role.ADMIN, Role.SUPPORT):
        raise Forbidden("Only admins and support create group accounts.")
    admins = list(dict.fromkeys(admin_ids or ([caller.id] if caller.role is Role.ADMIN else [])))
    account = Account(
        id=f"group-{_new_id()}",
        kind=AccountKind.GROUP,
        name=name,
        member_ids=list(dict.fromkeys(member_ids)),
        admin_ids=admins,
        created_at=now,
        refund_grace_days=refund_grace_days,
    )
    # An admin who runs it is told about its credits from the start.
    contact = rules.contact_for(caller, account)
    if contact is not None:
        account = account.model_copy(update={"contacts": [contact]})
    store.create_group_account(account)
    return account


def edit_group(
    store: Storage, caller: Caller, account_id: str, edit: rules.GroupEdit, now: datetime
) -> Account:
    """Change a group's name and people, recording who did what when. Members removed can no
    longer book on the group; sessions they booked on it keep their refunds to it."""

    def attempt() -> Account:
        account = _account(store, account_id)
        after, change = rules.edit_group(caller, account, edit, now)
        if change is not None:
            store.save_group(account, after, change)
        return after

    return retrying(attempt, "account")


def group_changes(
    store: Storage, caller: Caller, account_id: str, limit: int, token: str | None
) -> tuple[list[AccountChange], str | None]:
    """A group's changes of name and people, newest first, for its admins and support."""
    rules.require_group_admin(caller, _account(store, account_id), "read its changes")
    return store.account_changes(account_id, limit, token)


def accounts_of(store: Storage, caller: Caller) -> list[Account]:
    """The caller's personal account (members) and the groups they belong to or run."""
    found: list[Account] = []
    if caller.role is Role.MEMBER:
        found.append(_account(store, personal_account_id(caller.id)))
    for account_id in store.group_account_ids(caller.id):
        account = store.get_account(account_id)
        if account is not None:
            found.append(account)
    return found


# --- sweeps ----------------------------------------------------------------------------------


def sweep_session(store: Storage, session: Session, now: datetime) -> rules.SweepAction | None:
    """Do what is due to one stale session; None when nothing was (or is any longer) due.

    ``session`` may be stale (read from an index): the write is conditioned on its version, and
    when it lost to another change we read again and decide again.
    """
    current: Session | None = session

    def attempt() -> rules.SweepAction | None:
        nonlocal current
        if current is None:
            current = store.get_session(session.id)
        if current is None:
            return None
        before, current = current, None  # a retry re-reads
        action = rules.sweep_action(before, now)
        if action is None:
            return None
        if action == "EXPIRE_BOOKING":
            movement, refund = _release_all(store, before, now, None)
            _close(
                store,
                before,
                "EXPIRE",
                {"at": now, "credits": refund.credits, "renewed": _renewed(movement)},
                movement,
                refund,
            )
        elif action == "EXPIRE_RESCHEDULE":
            request = before.reschedule_request
            assert request is not None  # the rule found it expired
            _drop_request(
                store,
                before,
                # Dated when it lapsed, as readers were shown it before the sweep came.
                HistoryEvent(
                    at=min(request.expires_at, request.start),
                    kind="RESCHEDULE_EXPIRED",
                    start=request.start,
                ),
            )
        else:
            after = _bump_step(before, "COMPLETE", {"at": now})
            _save_counted(store, before, after, None)
        return action

    return retrying(attempt)


# --- manage links ----------------------------------------------------------------------------


def link_holder(store: Storage, grant: Grant, now: datetime) -> tuple[Caller, Session]:
    """The member a manage link lets act, and the one session it names.

    The link works until the session's end as the session stands now (a session moved earlier
    ends its links earlier too), and only for the member who booked it: any other answer is
    ``InvalidLink`` (401), exactly as for a token that was altered. What the member may then do
    is decided by the same rules as in the app: their window, tiers, limits, required reason.
    """
    session = store.get_session(grant.session_id)
    if session is None or session.member.id != grant.member_id or now >= session.end:
        raise InvalidLink()
    member = session.member
    caller = Caller(
        id=member.id,
        role=Role.MEMBER,
        email=member.email,
        name=member.name,
        timezone=member.timezone,
    )
    return caller, session


# --- reminders -------------------------------------------------------------------------------


def fire_reminders(store: Storage, records: list[Reminders], now: datetime) -> int:
    """Mark what each reminders record has due at ``now`` (``reminders.fire``): the stream
    takes each mark to the notifier, which sends it. Returns how many emails' occasions were
    marked (a late sweep drops what is too late to send).

    A record that changed since it was read (another sweep marked it, a move replaced it, a
    cancel deleted it) is read again and decided again, so it is marked once or not at all.
    """
    marked = 0
    pending = records
    for _ in range(MAX_ATTEMPTS):
        marks = [(record, after) for record in pending if (after := reminders.fire(record, now))]
        if not marks:
            break
        changed = store.mark_reminders(marks)
        marked += sum(
            len(after.fired) for before, after in marks if before.session_id not in changed
        )
        pending = [
            record
            for session_id in sorted(changed)
            if (record := store.reminders_of(session_id)) is not None
        ]
    return marked


# --- credits that expire ---------------------------------------------------------------------


def sweep_lot(
    store: Storage, record: LotRecord, account: Account, now: datetime
) -> lots.LotAction | None:
    """Do what is due to one lot with an expiry; None when nothing was (or is any longer) due.

    ``record`` and ``account`` may be stale (read from a page of the index): every write is
    conditioned on what was read (the record still due as read; the account's version for an
    EXPIRE), and when it lost to another change we read both again and decide again. So a
    booking and the sweep racing for a lot's last credits never both have them, and the sweep
    never expires credits twice, however often it runs or dies.
    """
    current: tuple[LotRecord | None, Account | None] | None = (record, account)

    def attempt() -> lots.LotAction | None:
        nonlocal current
        if current is None:
            current = store.lot_and_account(record.account_id, record.number)
        (read, holder), current = current, None  # a retry re-reads
        if read is None or holder is None:
            return None
        step = lots.sweep_step(read, holder, now, can_tell=bool(rules.notice_recipients(holder)))
        if step is None:
            return None
        if step.action == "WARN":
            store.warn_lot(read, holder, now)
        elif step.action == "EXPIRE":
            change = lots.expire(holder, read.number, now)
            assert change is not None  # the step found credits left in an expired lot
            store.expire_lot(
                read,
                Movement(
                    account=holder,
                    kind=EntryKind.EXPIRE,
                    credits=change.credits,
                    at=now,
                    actor=None,
                    lots=change,
                ),
            )
        else:
            store.reschedule_lot(read, holder, step.due_at)
        return step.action

    return retrying(attempt, "account")
