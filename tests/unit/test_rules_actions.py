"""What the session screen offers each person: cancel, reschedule, refund, book again. A button
is offered exactly when pressing it would be allowed.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coaching import rules
from coaching.errors import DomainError
from coaching.models import RefundStatus, Session, SessionStatus
from tests.builders import (
    CALLERS,
    MEMBER,
    NOW,
    STAFF,
    STRANGERS,
    canceled,
    hours,
    minutes,
    moved_by_member,
    refunded,
    session,
    with_status,
)


def _completed_refunded() -> Session:
    done = with_status(session(start=NOW - hours(26)), SessionStatus.COMPLETED)
    return refunded(done, 3, RefundStatus.EXCEPTION, NOW - hours(1))


STATES: dict[str, Callable[[], Session]] = {
    "free-window": lambda: session(start=NOW + hours(72)),
    "late": lambda: session(start=NOW + hours(2)),
    "late-with-approval": lambda: session(
        start=NOW + hours(2), late_reschedule_requires_approval=True
    ),
    "moves-used-up": lambda: moved_by_member(session(start=NOW + hours(72), max_reschedules=1)),
    "long-over": lambda: with_status(
        session(start=NOW - hours(24 * 8 + 2)), SessionStatus.COMPLETED
    ),
    "requested": lambda: session(status=SessionStatus.REQUESTED, start=NOW + hours(72)),
    "in-progress": lambda: session(start=NOW - minutes(15)),
    "canceled-late": lambda: canceled(
        session(start=NOW + hours(2)), at=NOW - hours(1), refunded=False
    ),
    "canceled-refunded": lambda: canceled(
        session(start=NOW + hours(72)), at=NOW - hours(1), refunded=True
    ),
    "completed": lambda: with_status(session(start=NOW - hours(26)), SessionStatus.COMPLETED),
    "completed-refunded": _completed_refunded,
}
"""The sessions the screen must handle, as they stand at NOW, by name."""


def state(name: str) -> Session:
    """The sessions the screen must handle, as they stand at NOW."""
    return STATES[name]()


NOTHING = rules.Actions(
    can_cancel=False,
    can_reschedule=False,
    can_refund=False,
    can_rebook=False,
    can_mark_no_show=False,
)

# (state, what the member sees, what the coach and support see):
# cancel, reschedule, refund, rebook, mark a no-show
SCREENS = [
    ("free-window", (True, True, False, False, False), (True, True, False, False, False)),
    ("late", (True, False, False, False, False), (True, True, False, False, False)),
    ("late-with-approval", (True, True, False, False, False), (True, True, False, False, False)),
    ("moves-used-up", (True, False, False, False, False), (True, True, False, False, False)),
    ("requested", (True, True, False, False, False), (True, True, False, False, False)),
    # Started, not ended: still upcoming, but too late to cancel or move, too early to refund;
    # who did not turn up can be said from the start.
    ("in-progress", (False, False, False, False, False), (False, False, False, False, True)),
    ("canceled-late", (False, False, False, True, False), (False, False, True, False, False)),
    ("canceled-refunded", (False, False, False, True, False), (False, False, False, False, False)),
    ("completed", (False, False, False, True, False), (False, False, True, False, True)),
    ("completed-refunded", (False, False, False, True, False), (False, False, False, False, True)),
    ("long-over", (False, False, False, True, False), (False, False, True, False, False)),
]


@pytest.mark.parametrize(
    ("name", "member_sees", "staff_sees"), SCREENS, ids=[s[0] for s in SCREENS]
)
@pytest.mark.parametrize("who", ["member", *STAFF])
def test_each_person_is_offered_what_they_may_do(
    who: str,
    name: str,
    member_sees: tuple[bool, bool, bool, bool, bool],
    staff_sees: tuple[bool, bool, bool, bool, bool],
) -> None:
    expected = rules.Actions(*(member_sees if who == "member" else staff_sees))

    assert rules.actions(CALLERS[who], state(name), NOW) == expected


@pytest.mark.parametrize("name", [s[0] for s in SCREENS])
@pytest.mark.parametrize("who", STRANGERS)
def test_strangers_are_offered_nothing(who: str, name: str) -> None:
    assert rules.actions(CALLERS[who], state(name), NOW) == NOTHING


def test_a_canceled_session_offers_its_member_to_book_again_with_the_same_coach() -> None:
    gone = state("canceled-late")

    offered = rules.actions(MEMBER, gone, NOW)

    assert offered.can_rebook is True
    assert offered.can_cancel is offered.can_reschedule is False


def allowed(attempt: Callable[[], object]) -> bool:
    """Whether the rule lets the attempt through (a refusal is a domain error)."""
    try:
        attempt()
    except DomainError:
        return False
    return True


@settings(database=None, derandomize=True, max_examples=400, deadline=None)
@given(
    who=st.sampled_from(sorted(CALLERS)),
    status=st.sampled_from(list(SessionStatus)),
    start_quarters=st.integers(min_value=-4 * 24 * 3, max_value=4 * 24 * 5),
    now_seconds=st.integers(min_value=-3600, max_value=3600 * 24 * 3),
    window=st.sampled_from([0, 2, 24, 48]),
    late_approval=st.booleans(),
    already_refunded=st.integers(min_value=0, max_value=3),
    max_moves=st.sampled_from([None, 0, 1, 2]),
    moves_made=st.integers(min_value=0, max_value=2),
)
def test_a_button_is_offered_exactly_when_its_rule_allows_it(
    who: str,
    status: SessionStatus,
    start_quarters: int,
    now_seconds: int,
    window: int,
    late_approval: bool,
    already_refunded: int,
    max_moves: int | None,
    moves_made: int,
) -> None:
    # Given any session, any person and any moment
    caller = CALLERS[who]
    start: datetime = NOW + minutes(15 * start_quarters)
    booked = session(
        status=status,
        start=start,
        window_hours=window,
        late_reschedule_requires_approval=late_approval,
        credits=3,
        max_reschedules=max_moves,
    )
    for _ in range(moves_made):
        booked = moved_by_member(booked)
    if already_refunded:
        booked = refunded(booked, already_refunded, RefundStatus.PARTIAL, NOW)
    now = NOW + timedelta(seconds=now_seconds)
    # a time the session could move to, were moving allowed
    new_start = start + hours(24 * 7)

    # When the screen is drawn
    offered = rules.actions(caller, booked, now)

    # Then each button matches its rule
    assert offered.can_cancel == allowed(lambda: rules.plan_cancel(caller, booked, now))
    assert offered.can_reschedule == allowed(
        lambda: rules.plan_reschedule(caller, booked, new_start, now)
    )
    assert offered.can_refund == allowed(lambda: rules.plan_refund(caller, booked, None, now))
    assert offered.can_mark_no_show == allowed(
        lambda: rules.plan_no_show(caller, booked, "MEMBER", now)
    )
    # and booking again is offered to the member once the session is no longer ahead of them
    assert offered.can_rebook == (who == "member" and not rules.is_upcoming(booked, now))
