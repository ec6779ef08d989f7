"""Who is told what: the pure decision from a session's old and new image to notifications.

Each change is built the way the policy layer writes it: the next version of the session with
one more event in its history. MEMBER (Ann) booked COACH (Cho); SUPPORT acts on anything.
"""

from datetime import datetime

import pytest

from coaching.mail.notifications import (
    Audience,
    Notification,
    NotificationKind,
    Party,
    decide,
    recipients,
)
from coaching.models import (
    AccountKind,
    AccountRef,
    Caller,
    Cancellation,
    HistoryEvent,
    HistoryKind,
    NoShow,
    NoShowParty,
    Person,
    Policy,
    Refund,
    RefundStatus,
    Session,
    SessionStatus,
)
from tests.builders import (
    COACH,
    IN_THREE_DAYS,
    MEMBER,
    NOW,
    SUPPORT,
    hours,
    reschedule_request,
    session,
)

ACTORS: dict[str, Caller] = {"member": MEMBER, "coach": COACH, "support": SUPPORT}


def booked(status: SessionStatus = SessionStatus.SCHEDULED, **options: object) -> Session:
    """Version 1, as booking writes it."""
    kind: HistoryKind = "REQUESTED" if status is SessionStatus.REQUESTED else "BOOKED"
    first = session(status=status, **options)  # type: ignore[arg-type]
    return first.model_copy(
        update={
            "history": [HistoryEvent(at=NOW, kind=kind, by=MEMBER.actor, start=first.start)],
            "version": 1,
        }
    )


def changed(
    before: Session,
    kind: HistoryKind,
    by: Caller | None,
    *,
    event_from: datetime | None = None,
    event_to: datetime | None = None,
    reason: str | None = None,
    **updates: object,
) -> Session:
    """The next version of ``before``: ``updates`` applied, one ``kind`` event appended (with
    the times it moved from and to, where it is about a time)."""
    event = HistoryEvent(
        at=NOW,
        kind=kind,
        by=None if by is None else by.actor,
        previous_start=event_from,
        start=event_to,
        reason=reason,
    )
    return before.model_copy(
        update={**updates, "history": [*before.history, event], "version": before.version + 1}
    )


def canceled(before: Session, by: Caller, reason: str | None, refunded: int) -> Session:
    return changed(
        before,
        "CANCELED",
        by,
        status=SessionStatus.CANCELED,
        cancellation=Cancellation(
            canceled_at=NOW, canceled_by=by.actor, reason=reason, refundable=refunded > 0
        ),
        refund=Refund(status=RefundStatus.AUTOMATIC, credits=refunded, refunded_at=NOW)
        if refunded
        else Refund(),
    )


def told(notes: list[Notification]) -> list[tuple[NotificationKind, Audience, str]]:
    return [(n.kind, n.audience, n.recipient.id) for n in notes]


# --- bookings -------------------------------------------------------------------------------------


def test_a_booking_tells_the_member_and_the_coach() -> None:
    new = booked()

    notes = decide(None, new)

    assert told(notes) == [
        (NotificationKind.BOOKED, "member", MEMBER.id),
        (NotificationKind.BOOKED, "coach", COACH.id),
    ]
    facts = notes[0].facts
    assert (facts.credits, facts.refundable_until) == (3, new.policy.refundable_until)
    assert facts.personal_account


def test_a_booking_request_tells_the_coach_when_it_lapses_and_the_member_it_was_sent() -> None:
    new = booked(SessionStatus.REQUESTED)

    notes = decide(None, new)

    assert told(notes) == [
        (NotificationKind.BOOKING_REQUESTED, "coach", COACH.id),
        (NotificationKind.BOOKING_REQUEST_SENT, "member", MEMBER.id),
    ]
    assert {n.facts.respond_by for n in notes} == {new.request_expires_at}
    assert {n.facts.credits for n in notes} == {3}


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (
            "coach",
            [
                (NotificationKind.BOOKING_APPROVED, "member"),
                (NotificationKind.BOOKING_APPROVAL_CONFIRMED, "coach"),
            ],
        ),
        (
            "support",
            [
                (NotificationKind.BOOKING_APPROVED, "member"),
                (NotificationKind.BOOKING_APPROVED, "coach"),
            ],
        ),
    ],
)
def test_an_accepted_request_tells_those_who_did_not_accept_it_and_gives_the_coach_a_receipt(
    by: str, expected: list[tuple[NotificationKind, Audience]]
) -> None:
    old = booked(SessionStatus.REQUESTED)
    new = changed(old, "APPROVED", ACTORS[by], status=SessionStatus.SCHEDULED)

    notes = decide(old, new)

    assert [(n.kind, n.audience) for n in notes] == expected


@pytest.mark.parametrize(
    ("event", "status", "by", "kind"),
    [
        ("DECLINED", SessionStatus.DECLINED, COACH, NotificationKind.BOOKING_DECLINED),
        ("EXPIRED", SessionStatus.EXPIRED, None, NotificationKind.BOOKING_EXPIRED),
    ],
)
def test_a_request_that_came_to_nothing_tells_the_member_the_credits_came_back(
    event: HistoryKind, status: SessionStatus, by: Caller | None, kind: NotificationKind
) -> None:
    old = booked(SessionStatus.REQUESTED)
    new = changed(
        old,
        event,
        by,
        status=status,
        refund=Refund(status=RefundStatus.AUTOMATIC, credits=3, refunded_at=NOW),
    )

    [note] = decide(old, new)

    assert told([note]) == [(kind, "member", MEMBER.id)]
    assert note.facts.credits_returned == 3


# --- cancels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "expected"),
    [("member", ["coach"]), ("coach", ["member"]), ("support", ["member", "coach"])],
)
def test_a_cancel_tells_the_parties_who_did_not_cancel(by: str, expected: list[Audience]) -> None:
    old = booked()
    new = canceled(old, ACTORS[by], "Flu", refunded=3)

    notes = [n for n in decide(old, new) if n.kind is not NotificationKind.CANCEL_CONFIRMED]

    assert [n.audience for n in notes] == expected
    for note in notes:
        assert note.kind is NotificationKind.CANCELED
        assert note.facts.acted_by == by
        assert (note.facts.reason, note.facts.refundable, note.facts.credits_returned) == (
            "Flu",
            True,
            3,
        )


def test_a_late_coach_cancel_tells_the_member_nothing_came_back() -> None:
    old = booked()
    new = canceled(old, COACH, None, refunded=0)

    [note, receipt] = decide(old, new)

    assert receipt.kind is NotificationKind.CANCEL_CONFIRMED

    assert note.recipient.id == MEMBER.id
    assert (note.facts.reason, note.facts.refundable, note.facts.credits_returned) == (
        None,
        False,
        0,
    )


# --- reschedules ----------------------------------------------------------------------------------


_MOVED, _MOVED_RECEIPT = NotificationKind.RESCHEDULED, NotificationKind.RESCHEDULE_CONFIRMED


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("member", [(_MOVED, "coach"), (_MOVED_RECEIPT, "member")]),
        ("coach", [(_MOVED, "member"), (_MOVED_RECEIPT, "coach")]),
        ("support", [(_MOVED, "member"), (_MOVED, "coach")]),
    ],
)
def test_a_reschedule_tells_those_who_did_not_move_it_and_gives_the_mover_a_receipt(
    by: str, expected: list[tuple[NotificationKind, Audience]]
) -> None:
    old = booked()
    later = old.start + hours(24)
    new = changed(
        old,
        "RESCHEDULED",
        ACTORS[by],
        event_from=old.start,
        event_to=later,
        start=later,
        end=later + hours(1),
    )

    notes = decide(old, new)

    assert [(n.kind, n.audience) for n in notes] == expected
    assert {(n.facts.previous_start, n.facts.start) for n in notes} == {(old.start, later)}


def _asked(old: Session) -> Session:
    request = reschedule_request(
        to=old.start + hours(24), asked_at=NOW, expires_at=old.start, by=MEMBER
    )
    return changed(
        old,
        "RESCHEDULE_REQUESTED",
        MEMBER,
        event_from=old.start,
        event_to=request.start,
        reschedule_request=request,
    )


def test_a_reschedule_request_tells_the_coach_what_was_asked_and_until_when() -> None:
    old = booked()
    new = _asked(old)

    [note, sent] = decide(old, new)

    assert told([note, sent]) == [
        (NotificationKind.RESCHEDULE_REQUESTED, "coach", COACH.id),
        (NotificationKind.RESCHEDULE_REQUEST_SENT, "member", MEMBER.id),
    ]
    assert sent.facts == note.facts
    assert note.facts.requested_start == old.start + hours(24)
    assert note.facts.respond_by == old.start
    assert note.facts.reason == "Travel"
    assert note.facts.start == old.start


def test_an_approved_reschedule_tells_the_member_the_old_and_new_time() -> None:
    asked = _asked(booked())
    later = asked.start + hours(24)
    new = changed(
        asked,
        "RESCHEDULE_APPROVED",
        COACH,
        event_from=asked.start,
        event_to=later,
        reschedule_request=None,
        start=later,
        end=later + hours(1),
    )

    [note, receipt] = decide(asked, new)

    assert told([note, receipt]) == [
        (NotificationKind.RESCHEDULE_APPROVED, "member", MEMBER.id),
        (NotificationKind.RESCHEDULE_APPROVAL_CONFIRMED, "coach", COACH.id),
    ]
    assert (note.facts.previous_start, note.facts.start) == (asked.start, later)
    assert receipt.facts == note.facts


def test_a_declined_reschedule_tells_the_member_what_was_asked() -> None:
    asked = _asked(booked())
    wanted = asked.start + hours(24)
    new = changed(asked, "RESCHEDULE_DECLINED", COACH, event_to=wanted, reschedule_request=None)

    [note] = decide(asked, new)

    assert told([note]) == [(NotificationKind.RESCHEDULE_DECLINED, "member", MEMBER.id)]
    assert (note.facts.requested_start, note.facts.start) == (wanted, asked.start)


def test_an_expired_reschedule_request_tells_both_the_time_stays() -> None:
    asked = _asked(booked())
    new = changed(
        asked,
        "RESCHEDULE_EXPIRED",
        None,
        event_to=asked.start + hours(24),
        reschedule_request=None,
    )

    notes = decide(asked, new)

    assert told(notes) == [
        (NotificationKind.RESCHEDULE_EXPIRED, "member", MEMBER.id),
        (NotificationKind.RESCHEDULE_EXPIRED, "coach", COACH.id),
    ]
    assert {n.facts.acted_by for n in notes} == {"system"}


# --- refunds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["coach", "support"])
def test_a_refund_tells_the_member_how_much_and_to_which_account(by: str) -> None:
    old = canceled(booked(), MEMBER, None, refunded=0)
    new = changed(
        old,
        "REFUNDED",
        ACTORS[by],
        refund=Refund(status=RefundStatus.PARTIAL, credits=2, refunded_at=NOW),
    )

    [note, *others] = decide(old, new)

    assert told([note]) == [(NotificationKind.REFUNDED, "member", MEMBER.id)]
    # The coach hears only when support refunded their session (they know what they did).
    assert told(others) == (
        [(NotificationKind.REFUNDED, "coach", COACH.id)] if by == "support" else []
    )
    facts = note.facts
    assert (facts.credits_returned, facts.credits_returned_in_total, facts.credits) == (2, 2, 3)
    assert (facts.account_id, facts.personal_account) == (f"personal-{MEMBER.id}", True)


def test_a_refund_to_a_shared_account_names_it() -> None:
    old = canceled(booked(), MEMBER, None, refunded=0).model_copy(
        update={"account_id": "group-acme"}
    )
    new = changed(
        old,
        "REFUNDED",
        COACH,
        refund=Refund(status=RefundStatus.EXCEPTION, credits=3, refunded_at=NOW),
    )

    [note] = decide(old, new)

    assert (note.facts.account_id, note.facts.personal_account) == ("group-acme", False)


# --- changes that tell nobody ---------------------------------------------------------------------


def test_a_completed_session_tells_nobody() -> None:
    old = booked()
    assert decide(old, changed(old, "COMPLETED", None, status=SessionStatus.COMPLETED)) == []


def test_a_version_bump_without_an_event_tells_nobody() -> None:
    old = booked()
    assert decide(old, old.model_copy(update={"version": old.version + 1})) == []


def test_the_same_image_twice_tells_nobody() -> None:
    old = booked()
    assert decide(old, old) == []


def test_a_deleted_session_tells_nobody() -> None:
    assert decide(booked(), None) == []


def test_an_image_older_than_the_one_before_it_tells_nobody() -> None:
    old = booked()
    new = canceled(old, MEMBER, None, refunded=3)
    assert decide(new, old) == []


def test_a_cancel_event_on_a_session_that_is_not_canceled_tells_nobody() -> None:
    old = booked()
    assert decide(old, changed(old, "CANCELED", MEMBER)) == []


def test_someone_without_an_address_is_not_told() -> None:
    no_address = Person(id=COACH.id, name="Cho", email=None, timezone="America/New_York")
    old = booked().model_copy(update={"coach": no_address})

    # The member's cancel would tell the coach, who has no address: only the receipt goes out.
    assert told(decide(old, canceled(old, MEMBER, "Flu", refunded=3))) == [
        (NotificationKind.CANCEL_CONFIRMED, "member", MEMBER.id)
    ]


# --- invariants -----------------------------------------------------------------------------------


MADE_BY: dict[NotificationKind, tuple[str, ...]] = {
    NotificationKind.BOOKED: ("member",),
    NotificationKind.BOOKING_REQUESTED: ("member",),
    NotificationKind.BOOKING_APPROVED: ("coach", "support"),
    NotificationKind.BOOKING_DECLINED: ("coach", "support"),
    NotificationKind.BOOKING_EXPIRED: ("system",),
    NotificationKind.CANCELED: ("member", "coach", "support"),
    NotificationKind.RESCHEDULED: ("member", "coach", "support"),
    NotificationKind.RESCHEDULE_REQUESTED: ("member",),
    NotificationKind.RESCHEDULE_APPROVED: ("coach", "support"),
    NotificationKind.RESCHEDULE_DECLINED: ("coach", "support"),
    NotificationKind.RESCHEDULE_EXPIRED: ("system",),
    NotificationKind.RESCHEDULE_WITHDRAWN: ("member",),
    NotificationKind.REFUNDED: ("coach", "support"),
}
"""Who can make each kind of change, by the rules."""


@pytest.mark.parametrize(
    ("kind", "by"), [(kind, by) for kind, makers in MADE_BY.items() for by in makers]
)
def test_someone_always_hears_and_the_actor_only_to_confirm_a_booking(
    kind: NotificationKind, by: Party
) -> None:
    audiences = recipients(kind, by)

    assert audiences
    assert (by in audiences) == (kind is NotificationKind.BOOKED)
    if by in ("support", "system"):
        assert "member" in audiences


def test_the_change_id_is_the_session_and_its_new_version() -> None:
    old = booked()
    new = canceled(old, SUPPORT, None, refunded=3)

    notes = decide(old, new)

    assert [n.claim_key for n in notes] == [
        f"{new.id}#2#CANCELED#member",
        f"{new.id}#2#CANCELED#coach",
    ]
    assert decide(old, new) == notes  # a redelivered record means the very same emails


def test_the_recipient_is_who_the_session_names_at_the_time_of_the_change() -> None:
    moved = Person(id=MEMBER.id, name="Ann", email="ann@new.example", timezone="Asia/Tokyo")
    old = booked().model_copy(update={"member": moved})

    [note, _receipt] = decide(old, canceled(old, COACH, None, refunded=3))

    assert note.recipient == moved
    assert note.facts.start == IN_THREE_DAYS


def test_a_new_item_is_announced_by_the_event_that_created_it_only() -> None:
    # An item that reappears with a long history (restored, say) does not replay its past
    old = booked()
    history = canceled(old, COACH, "Flu", refunded=3)

    notes = decide(None, history)

    assert {n.kind for n in notes} == {
        NotificationKind.CANCELED,
        NotificationKind.CANCEL_CONFIRMED,
    }


# --- after the first product walk -----------------------------------------------------------------


@pytest.mark.parametrize("by", ["member", "coach"])
def test_whoever_cancels_gets_a_receipt_and_the_other_side_the_news(by: str) -> None:
    old = booked()
    new = canceled(old, ACTORS[by], "Flu", refunded=3)

    notes = decide(old, new)

    other = "coach" if by == "member" else "member"
    assert [(n.kind, n.audience) for n in notes] == [
        (NotificationKind.CANCELED, other),
        (NotificationKind.CANCEL_CONFIRMED, by),
    ]
    receipt = notes[1].facts
    assert (receipt.credits_returned, receipt.refundable, receipt.reason) == (3, True, "Flu")


def test_support_gets_a_receipt_at_the_address_their_token_gave() -> None:
    desk = Person(id=SUPPORT.id, name="Sam", email="sam@help.example", timezone="UTC")
    old = booked()
    new = canceled(old, SUPPORT, None, refunded=0)
    assert new.cancellation is not None
    new = new.model_copy(
        update={"cancellation": new.cancellation.model_copy(update={"canceled_by_contact": desk})}
    )

    notes = decide(old, new)

    assert told(notes) == [
        (NotificationKind.CANCELED, "member", MEMBER.id),
        (NotificationKind.CANCELED, "coach", COACH.id),
        (NotificationKind.CANCEL_CONFIRMED, "support", SUPPORT.id),
    ]
    assert notes[2].recipient == desk


def test_support_without_an_address_gets_no_receipt() -> None:
    old = booked()

    notes = decide(old, canceled(old, SUPPORT, None, refunded=3))

    assert [n.kind for n in notes] == [NotificationKind.CANCELED] * 2


def test_a_withdrawn_request_tells_the_coach_with_the_members_reason() -> None:
    asked = _asked(booked())
    wanted = asked.start + hours(24)
    new = changed(
        asked,
        "RESCHEDULE_WITHDRAWN",
        MEMBER,
        event_to=wanted,
        reason="Sorted it out",
        reschedule_request=None,
    )

    [note] = decide(asked, new)

    assert told([note]) == [(NotificationKind.RESCHEDULE_WITHDRAWN, "coach", COACH.id)]
    assert (note.facts.requested_start, note.facts.start) == (wanted, asked.start)
    assert note.facts.reason == "Sorted it out"


@pytest.mark.parametrize(
    ("kind", "by", "to"),
    [
        ("RESCHEDULED", COACH, "member"),
        ("RESCHEDULE_DECLINED", COACH, "member"),
        ("DECLINED", SUPPORT, "member"),
    ],
)
def test_the_reason_given_with_a_change_reaches_the_other_side(
    kind: HistoryKind, by: Caller, to: Audience
) -> None:
    requested = kind == "DECLINED"
    old = booked(SessionStatus.REQUESTED) if requested else _asked(booked())
    updates: dict[str, object] = {"reschedule_request": None}
    if requested:
        updates["status"] = SessionStatus.DECLINED
    new = changed(old, kind, by, reason="Away that week", event_to=old.start, **updates)

    notes = [n for n in decide(old, new) if n.audience == to]

    assert [n.facts.reason for n in notes] == ["Away that week"]


def test_a_shared_pool_is_named_by_its_name_and_a_personal_account_by_nobody() -> None:
    pool = AccountRef(id="group-acme", kind=AccountKind.GROUP, name="Acme team")
    old = booked().model_copy(update={"account_id": pool.id, "account": pool})

    notes = decide(old, canceled(old, MEMBER, None, refunded=3))
    mine = decide(booked(), canceled(booked(), MEMBER, None, refunded=3))

    assert {(n.facts.account_name, n.facts.personal_account) for n in notes} == {
        ("Acme team", False)
    }
    assert {n.facts.account_name for n in mine} == {None}


def test_a_coach_move_tells_the_member_their_refund_is_kept_until_the_start() -> None:
    old = booked()
    sooner = NOW + hours(10)
    kept = Policy(
        window_hours=24, refundable_until=sooner, request_ttl_hours=48, kept_after_move=True
    )
    new = changed(
        old,
        "RESCHEDULED",
        COACH,
        event_from=old.start,
        event_to=sooner,
        start=sooner,
        end=sooner + hours(1),
        policy=kept,
    )

    [note, receipt] = decide(old, new)

    assert (note.audience, receipt.kind) == ("member", NotificationKind.RESCHEDULE_CONFIRMED)
    facts = note.facts
    assert (facts.kept_after_move, facts.refundable_until, facts.at) == (True, sooner, NOW)


def test_a_booking_says_when_it_happened_so_its_email_can_tell_a_past_deadline() -> None:
    new = booked()

    [to_member, _] = decide(None, new)

    facts = to_member.facts
    assert (facts.at, facts.refundable_until, facts.window_hours) == (
        NOW,
        new.policy.refundable_until,
        24,
    )


# --- no-shows -------------------------------------------------------------------------------------


def marked(before: Session, by: Caller, party: NoShowParty, refunded: int) -> Session:
    after = changed(
        before,
        "NO_SHOW",
        by,
        status=SessionStatus.NO_SHOW,
        no_show=NoShow(party=party, marked_by=by.actor, marked_at=NOW),
        refund=Refund(status=RefundStatus.AUTOMATIC, credits=refunded, refunded_at=NOW)
        if refunded
        else before.refund,
    )
    return after


@pytest.mark.parametrize(
    ("by", "party", "refunded"),
    [("coach", "MEMBER", 0), ("support", "MEMBER", 0), ("support", "COACH", 3)],
)
def test_a_no_show_tells_both_sides_whoever_marked_it(
    by: str, party: NoShowParty, refunded: int
) -> None:
    old = booked(start=NOW - hours(2))
    new = marked(old, ACTORS[by], party, refunded)

    notes = decide(old, new)

    assert told(notes) == [
        (NotificationKind.NO_SHOW, "member", MEMBER.id),
        (NotificationKind.NO_SHOW, "coach", COACH.id),
    ]
    assert {(n.facts.absent, n.facts.credits_returned, n.facts.acted_by) for n in notes} == {
        (party, refunded, by)
    }


def test_a_no_show_event_on_a_session_not_marked_tells_nobody() -> None:
    old = booked(start=NOW - hours(2))

    assert decide(old, changed(old, "NO_SHOW", COACH)) == []


def test_a_booking_under_partial_tiers_carries_each_share_and_the_default_carries_none() -> None:
    tiered = booked(refund_tiers=[(24, 100), (2, 50)])
    plain = booked()

    [to_member, _] = decide(None, tiered)
    [plain_member, _] = decide(None, plain)

    start = tiered.start
    assert [(s.percent, s.until) for s in to_member.facts.refund_steps] == [
        (100, start - hours(24)),
        (50, start - hours(2)),
    ]
    assert to_member.facts.refundable_until == start - hours(24)
    assert plain_member.facts.refund_steps == []
    assert plain_member.facts.refundable_until == plain.policy.refundable_until
