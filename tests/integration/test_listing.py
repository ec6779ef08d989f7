"""Listing a member's or coach's sessions: upcoming soonest first, past latest first, in pages."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import pytest

from coaching import operations
from coaching.errors import ValidationFailed
from coaching.models import Caller, Session, SessionStatus
from tests.builders import World, coach, member
from tests.integration.steps import due, every_page

HOUR = timedelta(hours=1)

View = Literal["upcoming", "past"]


def _ids(sessions: list[Session]) -> list[str]:
    return [s.id for s in sessions]


def _list(
    world: World,
    role: Literal["member", "coach"],
    who: Caller,
    view: View,
    now: datetime,
    limit: int = 100,
    token: str | None = None,
) -> tuple[list[Session], str | None]:
    return world.store.sessions_of(role, who.id, view, now, limit, token)


def _token(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@dataclass
class Calendar:
    """Alice's sessions with two coaches, looked at 3.5 hours after they were booked."""

    alice: Caller
    bob: Caller
    first_coach: Caller
    second_coach: Caller
    now: datetime
    ended: Session  # started 1.5 hours before (so ended half an hour before), not yet swept
    in_progress: Session  # started half an hour before, ends half an hour on
    soon: Session  # 30 hours on, with the second coach
    requested: Session  # a request waiting for the first coach, 40 hours on
    bobs: Session  # Bob's, with the first coach, 45 hours on
    later: Session  # 50 hours on
    declined: Session  # a declined request, 60 hours on
    last: Session  # 70 hours on, with the second coach
    canceled: Session  # canceled, though its time (90 hours on) is still to come


@pytest.fixture
def calendar(world: World) -> Calendar:
    alice, bob, first, second = member(), member(), coach(), coach()
    plain = world.service(by=first, credits=1)
    reviewed = world.service(by=first, credits=1, requires_approval=True)
    other = world.service(by=second, credits=1)
    world.fund(alice, 50)
    world.fund(bob, 50)
    # booked out of order, so that the listing's order is the index's, not the insertion's
    last = world.book(alice, other, in_hours=70)
    canceled = world.book(alice, plain, in_hours=90)
    ended = world.book(alice, plain, in_hours=2)
    soon = world.book(alice, other, in_hours=30)
    declined = world.book(alice, reviewed, in_hours=60)
    later = world.book(alice, plain, in_hours=50)
    requested = world.book(alice, reviewed, in_hours=40)
    in_progress = world.book(alice, other, in_hours=3)
    bobs = world.book(bob, plain, in_hours=45)
    canceled = operations.cancel(world.store, alice, canceled.id, "Away", world.now)
    declined = operations.answer_booking(world.store, first, declined.id, False, world.now)
    return Calendar(
        alice=alice,
        bob=bob,
        first_coach=first,
        second_coach=second,
        now=world.now + timedelta(hours=3, minutes=30),
        ended=ended,
        in_progress=in_progress,
        soon=soon,
        requested=requested,
        bobs=bobs,
        later=later,
        declined=declined,
        last=last,
        canceled=canceled,
    )


# --- what each view holds -------------------------------------------------------------------


def test_a_member_sees_upcoming_sessions_soonest_first(world: World, calendar: Calendar) -> None:
    c = calendar

    items, token = _list(world, "member", c.alice, "upcoming", c.now)

    # a session in progress is still upcoming: it has not ended
    assert _ids(items) == _ids([c.in_progress, c.soon, c.requested, c.later, c.last])
    assert {s.status for s in items} == {SessionStatus.SCHEDULED, SessionStatus.REQUESTED}
    assert all(s.end > c.now for s in items)
    assert token is None


def test_a_member_sees_past_sessions_latest_first_with_canceled_ones(
    world: World, calendar: Calendar
) -> None:
    c = calendar

    items, token = _list(world, "member", c.alice, "past", c.now)

    # canceled and declined ones are past whatever their time; so are ended ones
    assert _ids(items) == _ids([c.canceled, c.declined, c.ended])
    canceled = items[0]
    assert canceled.status is SessionStatus.CANCELED
    assert canceled.start > c.now
    assert canceled.cancellation is not None and canceled.cancellation.reason == "Away"
    assert token is None


def test_a_coach_sees_the_sessions_they_coach_and_no_others(
    world: World, calendar: Calendar
) -> None:
    c = calendar

    first_upcoming, _ = _list(world, "coach", c.first_coach, "upcoming", c.now)
    first_past, _ = _list(world, "coach", c.first_coach, "past", c.now)
    second_upcoming, _ = _list(world, "coach", c.second_coach, "upcoming", c.now)
    second_past, _ = _list(world, "coach", c.second_coach, "past", c.now)

    assert _ids(first_upcoming) == _ids([c.requested, c.bobs, c.later])
    assert _ids(first_past) == _ids([c.canceled, c.declined, c.ended])
    assert _ids(second_upcoming) == _ids([c.in_progress, c.soon, c.last])
    assert _ids(second_past) == []


def test_a_member_does_not_see_another_members_sessions(world: World, calendar: Calendar) -> None:
    c = calendar

    upcoming, _ = _list(world, "member", c.bob, "upcoming", c.now)
    past, _ = _list(world, "member", c.bob, "past", c.now)

    assert _ids(upcoming) == [c.bobs.id]
    assert past == []


def test_the_coachs_id_as_a_member_sees_nothing(world: World, calendar: Calendar) -> None:
    c = calendar

    assert _list(world, "member", c.first_coach, "upcoming", c.now) == ([], None)
    assert _list(world, "coach", c.alice, "past", c.now) == ([], None)


def test_a_session_is_upcoming_until_the_second_it_ends(world: World, calendar: Calendar) -> None:
    c = calendar

    starting, _ = _list(world, "member", c.alice, "upcoming", c.soon.start)
    last_second, _ = _list(world, "member", c.alice, "upcoming", c.soon.end - timedelta(seconds=1))
    upcoming, _ = _list(world, "member", c.alice, "upcoming", c.soon.end)
    past, _ = _list(world, "member", c.alice, "past", c.soon.end)

    assert _ids(starting) == _ids(last_second) == _ids([c.soon, c.requested, c.later, c.last])
    assert c.soon.id not in _ids(upcoming)
    assert _ids(past)[-3:] == _ids([c.soon, c.in_progress, c.ended])
    assert _ids(upcoming) == _ids([c.requested, c.later, c.last])


def test_expired_and_completed_sessions_list_as_past(world: World, calendar: Calendar) -> None:
    c = calendar
    after_all = c.last.end + HOUR
    for session in due(world.store, after_all):
        operations.sweep_session(world.store, session, after_all)

    upcoming, _ = _list(world, "member", c.alice, "upcoming", c.now)
    past, _ = _list(world, "member", c.alice, "past", c.now)

    assert upcoming == []
    assert _ids(past) == _ids(
        [c.canceled, c.last, c.declined, c.later, c.requested, c.soon, c.in_progress, c.ended]
    )
    statuses = {s.id: s.status for s in past}
    assert statuses[c.requested.id] is SessionStatus.EXPIRED
    assert statuses[c.later.id] is SessionStatus.COMPLETED


# --- pages ----------------------------------------------------------------------------------


def _fetch(
    world: World, who: Caller, view: View, now: datetime, limit: int
) -> Callable[[str | None], tuple[list[Session], str | None]]:
    return lambda token: _list(world, "member", who, view, now, limit, token)


def _assert_paged(pages: list[list[Session]], limit: int, expected: list[Session]) -> None:
    assert [s.id for page in pages for s in page] == _ids(expected)
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages[-1]) <= limit


def test_upcoming_sessions_come_in_pages(world: World) -> None:
    alice = member()
    service = world.service(credits=1)
    world.fund(alice, 10)
    sessions = [world.book(alice, service, in_hours=h) for h in (50, 10, 40, 20, 30)]
    expected = sorted(sessions, key=lambda s: s.start)

    pages = every_page(_fetch(world, alice, "upcoming", world.now, 2))

    assert [len(p) for p in pages] == [2, 2, 1]
    _assert_paged(pages, 2, expected)


def test_past_pages_stay_full_when_active_sessions_are_filtered_out(world: World) -> None:
    # Given, in start order: two canceled far ahead, three active in between, two canceled soon
    alice = member()
    service = world.service(credits=1)
    world.fund(alice, 20)
    canceled = []
    for hours in (120, 110, 20, 10):
        session = world.book(alice, service, in_hours=hours)
        canceled.append(operations.cancel(world.store, alice, session.id, None, world.now))
    for hours in (100, 101, 102):
        world.book(alice, service, in_hours=hours)

    # When the past is read two at a time
    pages = every_page(_fetch(world, alice, "past", world.now, 2))

    # Then the active sessions in between do not leave a page short
    assert [len(p) for p in pages[:2]] == [2, 2]
    _assert_paged(pages, 2, canceled)
    assert all(page for page in pages[:-1])


@pytest.mark.parametrize("limit", [1, 3])
def test_every_session_appears_once_across_pages(world: World, limit: int) -> None:
    alice = member()
    service = world.service(credits=1)
    world.fund(alice, 20)
    sessions = [world.book(alice, service, in_hours=h) for h in (10, 20, 30, 40, 50, 60, 70)]
    operations.cancel(world.store, alice, sessions[3].id, None, world.now)
    look_at = world.now + 35 * HOUR
    upcoming = sessions[4:]
    past = [sessions[3], sessions[2], sessions[1], sessions[0]]

    upcoming_pages = every_page(_fetch(world, alice, "upcoming", look_at, limit))
    past_pages = every_page(_fetch(world, alice, "past", look_at, limit))

    _assert_paged(upcoming_pages, limit, upcoming)
    _assert_paged(past_pages, limit, past)


def test_a_page_token_stays_within_the_callers_own_sessions(world: World) -> None:
    alice, bob = member(), member()
    service = world.service(credits=1)
    world.fund(alice, 10)
    world.fund(bob, 10)
    for hours in (10, 20, 30):
        world.book(alice, service, in_hours=hours)
    bobs = world.book(bob, service, in_hours=25)
    _, alices_token = _list(world, "member", alice, "upcoming", world.now, limit=1)
    assert alices_token is not None

    items, _ = _list(world, "member", bob, "upcoming", world.now, 10, alices_token)

    assert _ids(items) == [bobs.id]


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "%%%",
        "bm90IGpzb24",  # base64 of "not json"
        _token("a string"),
        _token({"start_at": {"N": "1"}}),
        _token({"start_at": "2026-12-01T00:00:00Z"}),
    ],
)
@pytest.mark.parametrize("view", ["upcoming", "past"])
def test_a_garbage_token_is_refused(world: World, token: str, view: View) -> None:
    alice = member()

    with pytest.raises(ValidationFailed) as refused:
        _list(world, "member", alice, view, world.now, 2, token)

    assert [e.field for e in refused.value.errors] == ["next_token"]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda key: {"foo": {"S": "bar"}}, id="unknown-key-name"),
        pytest.param(lambda key: {k: v for k, v in key.items() if k != "start_at"}, id="no-sort"),
        pytest.param(lambda key: {**key, "start_at": {"S": 5}}, id="number-inside-S"),
    ],
)
def test_a_tampered_token_is_refused(
    world: World, tamper: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    # Given a real token from Alice's upcoming sessions
    alice = member()
    service = world.service(credits=1)
    world.fund(alice, 10)
    for hours in (10, 20, 30):
        world.book(alice, service, in_hours=hours)
    _, token = _list(world, "member", alice, "upcoming", world.now, limit=1)
    assert token is not None
    key = json.loads(base64.urlsafe_b64decode(token))

    # When a client edits it and sends it back, it is refused as a bad token
    with pytest.raises(ValidationFailed) as refused:
        _list(world, "member", alice, "upcoming", world.now, 1, _token(tamper(key)))

    assert [e.field for e in refused.value.errors] == ["next_token"]
