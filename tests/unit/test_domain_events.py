"""Which domain events a change means, and what they say: the pure step before the bus."""

import json
from datetime import timedelta

import pytest

from coaching.events.domain_events import SESSION_EVENT_TYPES, credit_events, session_events
from coaching.models import (
    Actor,
    EntryKind,
    HistoryKind,
    LedgerEntry,
    LotMove,
    Refund,
    RefundStatus,
    Role,
    SessionStatus,
)
from tests.builders import COACH, IN_THREE_DAYS, MEMBER, NOW, SUPPORT, hours
from tests.unit.test_notifications import booked, canceled, changed


def test_a_booking_is_one_event_named_by_the_session_and_its_version() -> None:
    [event] = session_events(None, booked())

    assert event.detail_type == "session.booked"
    assert event.event_id == "session:session-1:1:session.booked"
    assert event.time == NOW
    detail = event.detail.model_dump(mode="json")
    assert detail["member_id"] == MEMBER.id and detail["coach_id"] == COACH.id
    assert (detail["credits"], detail["credits_returned"]) == (3, 0)
    assert detail["actor"] == {"id": MEMBER.id, "role": "member"}


def test_the_same_change_read_twice_has_the_same_id_and_a_stale_one_has_none() -> None:
    before = booked()
    after = canceled(before, COACH, "Ill", refunded=3)

    assert session_events(before, after) == session_events(before, after)
    assert session_events(after, before) == []  # an older image after a newer one
    assert session_events(before, None) == []


def test_a_cancel_tells_the_credits_it_returned_and_a_move_where_it_was() -> None:
    before = booked()
    [cancel] = session_events(before, canceled(before, COACH, "Ill", refunded=3))
    later = IN_THREE_DAYS + hours(24)
    moved = changed(
        before,
        "RESCHEDULED",
        COACH,
        event_from=before.start,
        event_to=later,
        start=later,
        end=later + hours(1),
    )
    [move] = session_events(before, moved)

    assert cancel.detail.model_dump()["credits_returned"] == 3
    assert cancel.detail.model_dump()["refundable"] is True
    assert move.detail_type == "session.rescheduled"
    assert move.detail.model_dump()["previous_start"] == before.start
    assert move.detail.model_dump()["start"] == later


@pytest.mark.parametrize(
    ("kind", "detail_type"),
    [
        ("APPROVED", "session.approved"),
        ("DECLINED", "session.declined"),
        ("EXPIRED", "session.expired"),
        ("RESCHEDULE_APPROVED", "session.rescheduled"),
        ("REFUNDED", "session.refunded"),
        ("COMPLETED", "session.completed"),
        ("NO_SHOW", "session.no_show"),
    ],
)
def test_each_kind_of_change_has_its_type(kind: HistoryKind, detail_type: str) -> None:
    [event] = session_events(booked(), changed(booked(), kind, SUPPORT))

    assert event.detail_type == detail_type


@pytest.mark.parametrize(
    "kind",
    ["RESCHEDULE_REQUESTED", "RESCHEDULE_DECLINED", "RESCHEDULE_EXPIRED", "RESCHEDULE_WITHDRAWN"],
)
def test_a_reschedule_request_that_moves_nothing_publishes_nothing(kind: HistoryKind) -> None:
    assert session_events(booked(), changed(booked(), kind, MEMBER)) == []


def test_every_type_is_a_dotted_lower_case_name() -> None:
    for detail_type in SESSION_EVENT_TYPES.values():
        assert detail_type.startswith("session.") and detail_type == detail_type.lower()


def test_a_session_event_holds_no_name_address_zone_or_reason() -> None:
    before = booked(status=SessionStatus.SCHEDULED, timezone="Asia/Tokyo")
    [event] = session_events(before, canceled(before, MEMBER, "Private matter", refunded=3))

    text = json.dumps(event.detail.model_dump(mode="json"))
    for personal in ("Ann", "Cho", "@example.com", "Private matter", "Asia/Tokyo", "London"):
        assert personal not in text


def test_a_grant_is_credits_granted_named_by_its_account_and_number() -> None:
    entry = LedgerEntry(
        id="personal-member-ann:4",
        account_id="personal-member-ann",
        seq=4,
        kind=EntryKind.GRANT,
        credits=5,
        balance_after=12,
        actor=Actor(id=SUPPORT.id, role=Role.SUPPORT),
        at=NOW,
        note="Apology for Ann",
    )

    [event] = credit_events(entry)

    assert (event.detail_type, event.event_id) == (
        "credits.granted",
        "credits:personal-member-ann:4",
    )
    assert "Apology" not in json.dumps(event.detail.model_dump(mode="json"))
    refund = entry.model_copy(update={"kind": EntryKind.REFUND})
    assert credit_events(refund) == []  # a refund is told by its session's event


def test_a_coach_no_show_tells_who_was_absent_and_what_came_back() -> None:
    before = booked(status=SessionStatus.SCHEDULED)
    after = changed(
        before,
        "NO_SHOW",
        SUPPORT,
        status=SessionStatus.NO_SHOW,
        refund=Refund(status=RefundStatus.AUTOMATIC, credits=3, refunded_at=NOW),
    )
    after.history[-1] = after.history[-1].model_copy(update={"party": "COACH", "credits": 3})

    [event] = session_events(before, after)

    assert event.detail_type == "session.no_show"
    detail = event.detail.model_dump(mode="json")
    assert detail["no_show_party"] == "COACH"
    assert (detail["credits_returned"], detail["status"]) == (3, "NO_SHOW")


def test_an_expiry_is_credits_expired_naming_its_lot_and_when_it_ended() -> None:
    ends = NOW - timedelta(hours=1)
    entry = LedgerEntry(
        id="personal-member-ann:9",
        account_id="personal-member-ann",
        seq=9,
        kind=EntryKind.EXPIRE,
        credits=-3,
        balance_after=5,
        actor=None,
        at=NOW,
        lots=[LotMove(lot=2, credits=-3, expires_at=ends)],
    )

    [event] = credit_events(entry)

    assert (event.detail_type, event.event_id) == (
        "credits.expired",
        "credits:personal-member-ann:9",
    )
    detail = event.detail.model_dump(mode="json")
    assert (detail["credits"], detail["balance_after"], detail["actor"]) == (-3, 5, None)
    assert (detail["lot"], detail["expires_at"]) == (2, "2026-12-01T08:00:00Z")
