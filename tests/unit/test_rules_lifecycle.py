"""The lifecycle, as a table: every status a session can have, every change that moves one
(``rules.Change``), and what comes of each pair: the status it moves to with the history entry
that says so, or the code the API refuses it with (the sweep's changes: nothing is due).

Each row is held twice: against ``rules.LIFECYCLE`` and ``rules.refusal``, which the operations
and the sweep take their steps from, and against the rule that decides the change at a moment
when its time allows it (``plan_cancel``, ``require_pending_booking``, ``plan_no_show``,
``sweep_action``): the table and the rules say the same.
"""

from datetime import datetime

import pytest

from coaching import rules
from coaching.errors import DomainError
from coaching.models import HistoryKind, NoShow, Session, SessionStatus
from tests.builders import COACH, NOW, hours, session

_S = SessionStatus
NOT_DUE = None
"""The sweep passes the session by: nothing is due."""

Result = tuple[SessionStatus, HistoryKind] | str | None

TABLE: list[tuple[SessionStatus, rules.Change, Result]] = [
    (_S.REQUESTED, "CANCEL", (_S.CANCELED, "CANCELED")),
    (_S.SCHEDULED, "CANCEL", (_S.CANCELED, "CANCELED")),
    (_S.CANCELED, "CANCEL", "SESSION_NOT_UPCOMING"),
    (_S.COMPLETED, "CANCEL", "SESSION_NOT_UPCOMING"),
    (_S.DECLINED, "CANCEL", "SESSION_NOT_UPCOMING"),
    (_S.EXPIRED, "CANCEL", "SESSION_NOT_UPCOMING"),
    (_S.NO_SHOW, "CANCEL", "SESSION_NOT_UPCOMING"),
    (_S.REQUESTED, "APPROVE", (_S.SCHEDULED, "APPROVED")),
    (_S.SCHEDULED, "APPROVE", "NOT_PENDING"),
    (_S.CANCELED, "APPROVE", "NOT_PENDING"),
    (_S.COMPLETED, "APPROVE", "NOT_PENDING"),
    (_S.DECLINED, "APPROVE", "NOT_PENDING"),
    (_S.EXPIRED, "APPROVE", "NOT_PENDING"),
    (_S.NO_SHOW, "APPROVE", "NOT_PENDING"),
    (_S.REQUESTED, "DECLINE", (_S.DECLINED, "DECLINED")),
    (_S.SCHEDULED, "DECLINE", "NOT_PENDING"),
    (_S.CANCELED, "DECLINE", "NOT_PENDING"),
    (_S.COMPLETED, "DECLINE", "NOT_PENDING"),
    (_S.DECLINED, "DECLINE", "NOT_PENDING"),
    (_S.EXPIRED, "DECLINE", "NOT_PENDING"),
    (_S.NO_SHOW, "DECLINE", "NOT_PENDING"),
    (_S.REQUESTED, "MARK_NO_SHOW", "SESSION_NOT_UPCOMING"),
    (_S.SCHEDULED, "MARK_NO_SHOW", (_S.NO_SHOW, "NO_SHOW")),
    (_S.CANCELED, "MARK_NO_SHOW", "SESSION_NOT_UPCOMING"),
    (_S.COMPLETED, "MARK_NO_SHOW", (_S.NO_SHOW, "NO_SHOW")),
    (_S.DECLINED, "MARK_NO_SHOW", "SESSION_NOT_UPCOMING"),
    (_S.EXPIRED, "MARK_NO_SHOW", "SESSION_NOT_UPCOMING"),
    (_S.NO_SHOW, "MARK_NO_SHOW", "NO_SHOW_ALREADY_MARKED"),
    (_S.REQUESTED, "EXPIRE", (_S.EXPIRED, "EXPIRED")),
    (_S.SCHEDULED, "EXPIRE", NOT_DUE),
    (_S.CANCELED, "EXPIRE", NOT_DUE),
    (_S.COMPLETED, "EXPIRE", NOT_DUE),
    (_S.DECLINED, "EXPIRE", NOT_DUE),
    (_S.EXPIRED, "EXPIRE", NOT_DUE),
    (_S.NO_SHOW, "EXPIRE", NOT_DUE),
    (_S.REQUESTED, "COMPLETE", NOT_DUE),
    (_S.SCHEDULED, "COMPLETE", (_S.COMPLETED, "COMPLETED")),
    (_S.CANCELED, "COMPLETE", NOT_DUE),
    (_S.COMPLETED, "COMPLETE", NOT_DUE),
    (_S.DECLINED, "COMPLETE", NOT_DUE),
    (_S.EXPIRED, "COMPLETE", NOT_DUE),
    (_S.NO_SHOW, "COMPLETE", NOT_DUE),
]


def test_the_table_names_every_status_and_change() -> None:
    pairs = {(status, change) for status, change, _ in TABLE}
    assert len(pairs) == len(TABLE) == len(SessionStatus) * 6
    assert {change for _, change, _ in TABLE} == set(rules.Change.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("status", "change", "result"), TABLE)
def test_the_lifecycle_says_what_the_table_says(
    status: SessionStatus, change: rules.Change, result: Result
) -> None:
    step = rules.LIFECYCLE.get((status, change))
    if isinstance(result, tuple):
        assert step == rules.Step(to=result[0], history=result[1])
        assert rules.step(session(status=status), change) == step
        return
    assert step is None
    refused = rules.refusal(status, change)
    assert (refused.code if refused is not None else None) == result
    with pytest.raises(AssertionError):
        rules.step(session(status=status), change)


def _in(status: SessionStatus, *, start: datetime) -> Session:
    """A session in ``status`` that starts at ``start``; a no-show one says who was absent."""
    found = session(status=status, start=start)
    if status is _S.NO_SHOW:
        marked = NoShow(party="MEMBER", marked_by=COACH.actor, marked_at=start)
        found = found.model_copy(update={"no_show": marked})
    return found


def _decide(status: SessionStatus, change: rules.Change) -> str | None:
    """Ask the rule that decides ``change`` about a session in ``status``, at a moment its time
    allows: None when it goes ahead, else the code it refuses with ("NOT_DUE" from the sweep)."""
    try:
        if change == "CANCEL":  # three days ahead: not started
            rules.plan_cancel(COACH, _in(status, start=NOW + hours(72)), NOW)
        elif change in ("APPROVE", "DECLINE"):  # a request still waiting for its answer
            rules.require_pending_booking(COACH, _in(status, start=NOW + hours(72)), NOW)
        elif change == "MARK_NO_SHOW":  # an hour after its end
            rules.plan_no_show(COACH, _in(status, start=NOW - hours(2)), "COACH", NOW)
        else:  # EXPIRE: a day past a request's deadline, before its start; COMPLETE: after end
            at = NOW + hours(49) if change == "EXPIRE" else NOW
            start = NOW + hours(72) if change == "EXPIRE" else NOW - hours(2)
            action = rules.sweep_action(_in(status, start=start), at)
            wanted = "EXPIRE_BOOKING" if change == "EXPIRE" else "COMPLETE"
            return None if action == wanted else "NOT_DUE"
    except DomainError as error:
        return error.code
    return None


@pytest.mark.parametrize(("status", "change", "result"), TABLE)
def test_each_rule_refuses_what_the_table_refuses_with_its_code(
    status: SessionStatus, change: rules.Change, result: Result
) -> None:
    expected = None if isinstance(result, tuple) else (result or "NOT_DUE")
    assert _decide(status, change) == expected
