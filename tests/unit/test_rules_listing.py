"""Whose sessions GET /sessions lists: the caller's own, or for support the one it names."""

import pytest

from coaching import rules
from coaching.errors import Forbidden, ValidationFailed
from coaching.models import MAX_SESSION_MINUTES, Caller, Role, SessionStatus
from tests import builders

MEMBER = Caller(id="m-1", role=Role.MEMBER)
COACH = Caller(id="c-1", role=Role.COACH)
SUPPORT = Caller(id="s-1", role=Role.SUPPORT)
ADMIN = Caller(id="a-1", role=Role.ADMIN)


def test_members_and_coaches_list_their_own() -> None:
    assert rules.session_listing(MEMBER, None, None) == rules.Listing("member", "m-1")
    assert rules.session_listing(COACH, None, None) == rules.Listing("coach", "c-1")


def test_support_lists_the_member_or_coach_it_names() -> None:
    assert rules.session_listing(SUPPORT, "m-9", None) == rules.Listing("member", "m-9")
    assert rules.session_listing(SUPPORT, None, "c-9") == rules.Listing("coach", "c-9")
    assert rules.session_listing(SUPPORT, "m-9", "c-9") == rules.Listing(
        "member", "m-9", with_coach="c-9"
    )


def test_support_must_name_someone() -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.session_listing(SUPPORT, None, None)

    assert {e.field for e in refused.value.errors} == {"member_id", "coach_id"}


@pytest.mark.parametrize(
    ("caller", "member_id", "coach_id"),
    [
        (ADMIN, None, None),
        (ADMIN, "m-1", None),
        (MEMBER, "m-1", None),
        (MEMBER, None, "c-1"),
        (COACH, None, "c-1"),
        (COACH, "m-1", None),
    ],
)
def test_nobody_else_may_name_whose_sessions(
    caller: Caller, member_id: str | None, coach_id: str | None
) -> None:
    with pytest.raises(Forbidden):
        rules.session_listing(caller, member_id, coach_id)


# --- which sessions a listing shows ------------------------------------------------------------


def test_upcoming_lists_active_sessions_until_the_second_they_end() -> None:
    running = builders.session(start=builders.NOW - builders.minutes(30), length=60)
    end = builders.NOW + builders.minutes(30)

    assert rules.listed(running, "upcoming", end - builders.SECOND)
    assert not rules.listed(running, "past", end - builders.SECOND)
    assert rules.listed(running, "past", end)
    assert not rules.listed(running, "upcoming", end)


@pytest.mark.parametrize(
    "status", [SessionStatus.CANCELED, SessionStatus.DECLINED, SessionStatus.EXPIRED]
)
def test_closed_sessions_are_past_whatever_their_time(status: SessionStatus) -> None:
    closed = builders.with_status(builders.session(), status)

    assert rules.listed(closed, "past", builders.NOW)
    assert not rules.listed(closed, "upcoming", builders.NOW)


def test_a_listing_keeps_only_the_statuses_asked_for() -> None:
    requested = builders.session(status=SessionStatus.REQUESTED)
    asked = {SessionStatus.REQUESTED}

    assert rules.listed(requested, "upcoming", builders.NOW, asked)
    assert not rules.listed(requested, "upcoming", builders.NOW, {SessionStatus.SCHEDULED})


def test_a_listing_with_a_coach_keeps_only_their_sessions() -> None:
    theirs = builders.session(coach=builders.COACH)

    assert rules.listed(theirs, "upcoming", builders.NOW, with_coach=builders.COACH.id)
    assert not rules.listed(theirs, "upcoming", builders.NOW, with_coach=builders.OTHER_COACH.id)


def test_no_session_that_started_before_the_longest_length_can_still_be_upcoming() -> None:
    earliest = rules.earliest_upcoming_start(builders.NOW)
    longest = builders.session(start=earliest, length=MAX_SESSION_MINUTES)

    assert earliest == builders.NOW - builders.minutes(MAX_SESSION_MINUTES)
    assert not rules.listed(longest, "upcoming", builders.NOW)  # it ends right now
