"""Reminders and the last call for a refund: what a session's time sends before it, and when.

The session is Ann's with Cho, three days from NOW (Friday 4 December 2026, 09:00 UTC), 3
credits, the help page's 24-hour window, and the default reminders (a day and an hour ahead)
and last call (two hours before the refund deadline) unless a test says otherwise.
"""

from datetime import datetime, timedelta

import pytest

from coaching.mail import notifications
from coaching.mail.notifications import NotificationKind
from coaching.models import NO_LAST_CALL, Policy, Session, SessionStatus
from coaching.reminders import Due, Reminders, fire, fired, plan, replan, still_due
from local import template
from local.scheduler import rate_seconds
from tests.builders import IN_THREE_DAYS, NOW, canceled, hours, minutes, session

START = IN_THREE_DAYS


def ann(**options: object) -> Session:
    """Version 1 of the session, booked at NOW."""
    return session(**options).model_copy(update={"version": 1})  # type: ignore[arg-type]


def with_policy(before: Session, **changes: object) -> Session:
    return before.model_copy(update={"policy": before.policy.model_copy(update=changes)})


def moved(before: Session, to: datetime) -> Session:
    return before.model_copy(
        update={
            "start": to,
            "end": to + hours(1),
            "policy": before.policy.model_copy(update={"refundable_until": to - hours(24)}),
            "version": before.version + 1,
        }
    )


def summary(record: Reminders | None) -> list[tuple[str, datetime, int | None]]:
    assert record is not None
    return [(due.kind, due.at, due.credits) for due in record.pending]


# --- what a time plans --------------------------------------------------------------------------


def test_a_session_booked_days_ahead_plans_two_reminders_and_the_last_call() -> None:
    record = plan(ann(), NOW)

    assert summary(record) == [
        ("LAST_CALL", START - hours(24) - minutes(120), 3),
        ("REMINDER", START - hours(24), None),
        ("REMINDER", START - hours(1), None),
    ]
    assert record is not None
    assert (record.start, record.for_version, record.fired_count) == (START, 1, 0)
    call = record.pending[0]
    assert (call.deadline, call.credits_after) == (START - hours(24), 0)


def test_what_is_already_past_or_near_when_booked_is_never_planned() -> None:
    # Booked 2 hours ahead: no day-before reminder, and the refund deadline is long gone
    late = ann(start=NOW + hours(2))

    assert summary(plan(late, NOW)) == [("REMINDER", NOW + hours(1), None)]
    # Booked 25 hours ahead: the deadline is an hour away, nearer than the last call's two hours
    near = ann(start=NOW + hours(25))
    assert [due.kind for due in plan(near, NOW).pending] == ["REMINDER", "REMINDER"]  # type: ignore[union-attr]


def test_a_reminder_due_the_very_moment_of_the_booking_is_not_sent() -> None:
    exactly = ann(start=NOW + hours(1))

    assert plan(with_policy(exactly, refund_reminder_minutes=NO_LAST_CALL), NOW) is None


def test_each_refund_tier_gets_its_own_last_call_saying_what_comes_back_before_and_after() -> None:
    tiered = ann(refund_tiers=[(24, 100), (2, 50)])

    calls = [d for d in plan(tiered, NOW).pending if d.kind == "LAST_CALL"]  # type: ignore[union-attr]

    assert [(d.deadline, d.at, d.credits, d.credits_after) for d in calls] == [
        (START - hours(24), START - hours(26), 3, 1),
        (START - hours(2), START - hours(4), 1, 0),
    ]


def test_a_kept_refund_after_a_coach_move_is_called_before_the_start() -> None:
    kept = with_policy(ann(), kept_after_move=True, refundable_until=START)

    [call] = [d for d in plan(kept, NOW).pending if d.kind == "LAST_CALL"]  # type: ignore[union-attr]

    assert (call.deadline, call.at, call.credits) == (START, START - hours(2), 3)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"reminders": [], "refund_reminder_minutes": NO_LAST_CALL}, []),
        ({"reminders": [30], "refund_reminder_minutes": NO_LAST_CALL}, ["REMINDER"]),
        ({"reminders": [], "refund_reminder_minutes": 60}, ["LAST_CALL"]),
    ],
)
def test_the_service_says_which_reminders_and_whether_a_last_call(
    policy: dict[str, object], expected: list[str]
) -> None:
    record = plan(with_policy(ann(), **policy), NOW)

    assert ([d.kind for d in record.pending] if record else []) == expected


def test_a_request_waiting_for_the_coach_is_reminded_of_nothing() -> None:
    assert plan(ann(status=SessionStatus.REQUESTED), NOW) is None


def test_a_session_that_gave_back_its_credits_gets_no_last_call() -> None:
    paid_back = ann().model_copy(update={"refund": ann().refund.model_copy(update={"credits": 3})})

    assert [d.kind for d in plan(paid_back, NOW).pending] == ["REMINDER", "REMINDER"]  # type: ignore[union-attr]


# --- which changes plan again ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, "scheduled", True),  # booked
        (None, "requested", False),  # a request: nothing to plan, nothing to drop
        ("requested", "scheduled", True),  # accepted
        ("scheduled", "moved", True),
        ("scheduled", "scheduled", False),  # a refund, a request asked or declined
        ("scheduled", "canceled", True),
        ("requested", "canceled", False),
        ("scheduled", "completed", True),
        ("completed", "no_show", False),
    ],
)
def test_only_a_change_of_the_time_or_of_its_being_on_plans_again(
    before: str | None, after: str, expected: bool
) -> None:
    scheduled = ann()
    states = {
        "scheduled": scheduled,
        "requested": ann(status=SessionStatus.REQUESTED),
        "moved": moved(scheduled, START + hours(3)),
        "canceled": canceled(scheduled, at=NOW, refunded=True),
        "completed": scheduled.model_copy(update={"status": SessionStatus.COMPLETED}),
        "no_show": scheduled.model_copy(update={"status": SessionStatus.NO_SHOW}),
    }

    assert replan(None if before is None else states[before], states[after]) is expected


# --- the sweep's mark ---------------------------------------------------------------------------


def test_nothing_is_marked_before_it_is_due() -> None:
    record = plan(ann(), NOW)
    assert record is not None

    assert fire(record, START - hours(26) - minutes(1)) is None


def test_the_mark_takes_what_is_due_and_leaves_the_rest_for_later() -> None:
    record = plan(ann(), NOW)
    assert record is not None

    # The day-before reminder and the last call both due, the refund deadline this very second
    marked = fire(record, START - hours(24))
    # ... and three minutes on, the deadline has passed: its last call is dropped, not sent late
    later = fire(record, START - hours(24) + minutes(3))

    assert marked is not None and later is not None
    assert [(d.kind, d.at) for d in marked.fired] == [
        ("REMINDER", START - hours(24)),
        ("LAST_CALL", START - hours(26)),
    ]
    assert [d.kind for d in later.fired] == ["REMINDER"]
    assert [d.at for d in marked.pending] == [START - hours(1)]
    assert (marked.fired_count, marked.next_at) == (1, START - hours(1))


def test_a_late_sweep_sends_the_latest_reminder_only_and_never_one_after_the_start() -> None:
    record = plan(with_policy(ann(), refund_reminder_minutes=NO_LAST_CALL), NOW)
    assert record is not None

    late = fire(record, START - minutes(30))
    too_late = fire(record, START + minutes(1))

    assert late is not None and [d.minutes for d in late.fired] == [60]
    assert too_late is not None and (too_late.fired, too_late.pending) == ([], [])


def test_a_last_call_whose_deadline_passed_is_dropped_the_next_open_one_is_sent() -> None:
    record = plan(with_policy(ann(refund_tiers=[(24, 100), (2, 50)]), reminders=[]), NOW)
    assert record is not None

    marked = fire(record, START - hours(3))

    assert marked is not None
    assert [(d.deadline, d.credits) for d in marked.fired] == [(START - hours(2), 1)]


def test_a_mark_is_told_from_a_plan_and_from_itself() -> None:
    record = plan(ann(), NOW)
    assert record is not None
    marked = fire(record, START - hours(24))
    assert marked is not None

    assert fired(None, record) == []  # a booking's plan
    assert fired(record, marked) == marked.fired  # the sweep's mark
    assert fired(marked, None) == []  # deleted by a cancel
    replanned = plan(moved(ann(), START + hours(48)), NOW)
    assert fired(marked, replanned) == []  # replaced by a move


# --- still true when it goes out ---------------------------------------------------------------


def _marked(scheduled: Session, at: datetime) -> tuple[Reminders, Due]:
    record = plan(scheduled, NOW)
    assert record is not None
    marked = fire(record, at)
    assert marked is not None
    return marked, marked.fired[0]


def test_a_marked_reminder_goes_out_while_the_session_is_still_at_that_time() -> None:
    scheduled = ann()
    record, due = _marked(scheduled, START - hours(1))

    assert still_due(due, record, scheduled, record, START - hours(1))
    assert not still_due(due, record, scheduled, record, START)  # it has started


def test_a_marked_reminder_never_goes_out_after_a_cancel_or_a_move_away() -> None:
    scheduled = ann()
    record, due = _marked(scheduled, START - hours(1))
    elsewhere = moved(scheduled, START + hours(2))
    now = START - hours(1)

    assert not still_due(due, record, canceled(scheduled, at=now, refunded=False), None, now)
    assert not still_due(due, record, elsewhere, plan(elsewhere, now), now)
    assert not still_due(due, record, None, None, now)  # gone
    # Moved away and back at once: the time's record is another one, its own reminders to come
    back = moved(elsewhere, START)
    assert not still_due(due, record, back, plan(back, now), now)


def test_a_last_call_goes_out_only_while_a_cancel_gives_back_what_it_promises() -> None:
    scheduled = ann()
    record, call = _marked(scheduled, START - hours(26))
    assert call.kind == "LAST_CALL"

    assert still_due(call, record, scheduled, record, START - hours(26))
    assert not still_due(call, record, scheduled, record, START - hours(24) + timedelta(seconds=1))


def test_what_a_mark_sends_is_a_reminder_to_both_sides_and_a_last_call_to_the_member() -> None:
    scheduled = ann()
    record = plan(scheduled, NOW)
    assert record is not None
    marked = fire(record, START - hours(24))
    assert marked is not None

    notes = notifications.of_marks(marked, marked.fired, scheduled, marked, START - hours(24))

    assert [(n.kind, n.audience) for n in notes] == [
        (NotificationKind.REMINDER, "member"),
        (NotificationKind.REMINDER, "coach"),
        (NotificationKind.REFUND_LAST_CALL, "member"),
    ]
    assert {n.facts.version for n in notes} == {scheduled.version}
    assert [n.claim_key for n in notes] == [
        f"{scheduled.id}#1@R1440#REMINDER#member",
        f"{scheduled.id}#1@R1440#REMINDER#coach",
        f"{scheduled.id}#1@L20261203T090000Z#REFUND_LAST_CALL#member",
    ]
    last_call = notes[2].facts.last_call
    assert last_call is not None and (last_call.until, last_call.credits) == (START - hours(24), 3)


def test_the_policy_defaults_remind_sessions_booked_before_reminders_existed() -> None:
    stored = Policy.model_validate({"window_hours": 24, "refundable_until": START - hours(24)})

    assert (stored.reminders, stored.refund_reminder_minutes) == ([1440, 60], 120)


def test_the_sweep_runs_often_enough_for_each_reminder_to_go_out_within_five_minutes() -> None:
    # A reminder due at T is marked by the first sweep after T, and reaches the notifier within
    # the stream's batching window: both must leave room in the five minutes for a retried batch
    loaded = template.load()
    every = rate_seconds(loaded["Parameters"]["SweepSchedule"]["Default"])
    notify = loaded["Resources"]["NotifyFunction"]["Properties"]["Events"]["SessionChanges"]
    window = notify["Properties"]["MaximumBatchingWindowInSeconds"]

    assert every + window <= 5 * 60 / 2
