"""Per-service policy beyond the help page: refund tiers, the member's move limit, a required
cancel reason, and no-shows. Every boundary is tested to the second, and each role in turn."""

from datetime import timedelta

import pytest

from coaching import rules
from coaching.errors import (
    Forbidden,
    NotFound,
    RescheduleLimitReached,
    SessionNotUpcoming,
    SessionStillUpcoming,
    ValidationFailed,
)
from coaching.models import HistoryEvent, NoShowParty, RefundStatus, SessionStatus
from tests.builders import (
    CALLERS,
    COACH,
    MEMBER,
    NOW,
    STRANGERS,
    SUPPORT,
    hours,
    moved_by_member,
    refunded,
    session,
    with_status,
)

SECOND = timedelta(seconds=1)
START = NOW + hours(24 * 5)

# --- refund tiers ------------------------------------------------------------------------------

# 100% a day ahead, 50% two hours ahead, nothing after; 7 credits so that 50% rounds down.
TIERED = session(start=START, credits=7, refund_tiers=[(24, 100), (2, 50)])


@pytest.mark.parametrize(
    ("before_start", "percent", "credits", "until_hours"),
    [
        (hours(48), 100, 7, 24),
        (hours(24), 100, 7, 24),  # exactly a day ahead: still the full tier
        (hours(24) - SECOND, 50, 3, 2),  # a second later: half, rounded down
        (hours(2), 50, 3, 2),  # exactly two hours ahead: still half
        (hours(2) - SECOND, 0, 0, 2),  # a second later: nothing, and the last tier's end shown
    ],
    ids=["well-ahead", "at-24h", "just-after-24h", "at-2h", "just-after-2h"],
)
def test_each_tier_holds_to_the_second_and_rounds_down(
    before_start: timedelta, percent: int, credits: int, until_hours: int
) -> None:
    quote = rules.cancellation_quote(TIERED, START - before_start)

    assert quote.refund_percent == percent
    assert quote.refund_credits == credits
    assert quote.refundable is (credits > 0)
    assert quote.refundable_until == START - hours(until_hours)


def test_the_highest_percent_that_applies_wins_whatever_the_order() -> None:
    # A tier with more notice but a lower percent never beats one that also applies.
    odd = session(start=START, credits=10, refund_tiers=[(48, 25), (12, 80)])

    assert rules.cancellation_quote(odd, START - hours(72)).refund_percent == 80
    assert rules.cancellation_quote(odd, START - hours(12)).refund_percent == 80
    assert rules.cancellation_quote(odd, START - hours(12) + SECOND).refund_percent == 0


def test_a_tier_that_rounds_to_nothing_is_not_refundable() -> None:
    one_credit = session(start=START, credits=1, refund_tiers=[(24, 50)])

    quote = rules.cancellation_quote(one_credit, START - hours(30))

    assert (quote.refund_percent, quote.refund_credits, quote.refundable) == (50, 0, False)


@pytest.mark.parametrize("window", [0, 2, 24, 48])
@pytest.mark.parametrize("offset", [-SECOND, timedelta(0), SECOND])
def test_the_default_tier_behaves_exactly_as_the_window(window: int, offset: timedelta) -> None:
    plain = session(start=START, credits=3, window_hours=window)
    explicit = session(start=START, credits=3, window_hours=window, refund_tiers=[(window, 100)])
    now = START - hours(window) + offset

    # A session that has started cannot be canceled at all (a window of 0 meets its start).
    inside = now <= plain.policy.refundable_until and now < START
    for booked in (plain, explicit):
        quote = rules.cancellation_quote(booked, now)
        assert quote.refundable is inside
        assert quote.refund_credits == (3 if inside else 0)
        assert quote.refund_percent == (100 if inside else 0)
        assert quote.refundable_until == plain.policy.refundable_until


def test_a_request_nobody_accepted_is_released_in_full_whatever_the_tiers() -> None:
    waiting = session(
        status=SessionStatus.REQUESTED, start=NOW + hours(1), credits=7, refund_tiers=[(24, 50)]
    )

    quote = rules.cancellation_quote(waiting, NOW)

    assert (quote.refund_percent, quote.refund_credits) == (100, 7)


def test_a_move_the_member_did_not_make_keeps_their_full_refund_but_not_a_partial_one() -> None:
    new_start = START + hours(24)
    # In the full tier when the coach moves it: kept in full until the new start.
    full = rules.policy_after_move(TIERED, new_start, "coach", START - hours(30))
    # In the half tier: the tiers simply apply to the new time.
    half = rules.policy_after_move(TIERED, new_start, "coach", START - hours(3))

    assert full.kept_after_move is True
    assert half.kept_after_move is False
    moved = TIERED.model_copy(update={"start": new_start, "policy": full})
    assert rules.cancellation_quote(moved, new_start - SECOND).refund_percent == 100


# --- a required reason -------------------------------------------------------------------------

STRICT = session(start=START, cancel_reason_required=True)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_member_must_say_why_where_the_service_asks(reason: str | None) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.plan_cancel(MEMBER, STRICT, NOW, reason)

    assert [e.field for e in refused.value.errors] == ["reason"]


@pytest.mark.parametrize("who", ["coach", "support"])
def test_coach_and_support_need_give_no_reason(who: str) -> None:
    assert rules.plan_cancel(CALLERS[who], STRICT, NOW, None).refundable


def test_a_member_with_a_reason_cancels_and_services_without_the_setting_ask_none() -> None:
    assert rules.plan_cancel(MEMBER, STRICT, NOW, "Ill").refundable
    assert rules.plan_cancel(MEMBER, session(start=START), NOW, None).refundable


# --- the member's move limit -------------------------------------------------------------------


def test_the_members_own_moves_count_and_the_last_one_allowed_goes_through() -> None:
    limited = session(start=START, max_reschedules=2)
    once = moved_by_member(limited)

    assert rules.reschedules_left(limited) == 2
    assert rules.reschedules_left(once) == 1
    assert rules.plan_reschedule(MEMBER, once, START + hours(24), NOW) == "DIRECT"
    with pytest.raises(RescheduleLimitReached):
        rules.plan_reschedule(MEMBER, moved_by_member(once), START + hours(24), NOW)


def test_moves_by_the_coach_or_support_do_not_count_and_are_never_limited() -> None:
    limited = session(start=START, max_reschedules=1)
    by_staff = moved_by_member(moved_by_member(limited, by=COACH), by=SUPPORT)
    used_up = moved_by_member(limited)

    assert rules.reschedules_left(by_staff) == 1
    for who in (COACH, SUPPORT):
        assert rules.plan_reschedule(who, used_up, START + hours(24), NOW) == "DIRECT"


def test_an_approved_request_counts_and_a_declined_one_does_not() -> None:
    limited = session(start=START, max_reschedules=1)
    declined = HistoryEvent(at=NOW, kind="RESCHEDULE_DECLINED", by=COACH.actor)
    approved = HistoryEvent(at=NOW, kind="RESCHEDULE_APPROVED", by=COACH.actor)

    assert rules.reschedules_left(limited.model_copy(update={"history": [declined]})) == 1
    assert rules.reschedules_left(limited.model_copy(update={"history": [approved]})) == 0


def test_zero_means_a_member_may_not_move_it_at_all_and_none_means_the_default_five() -> None:
    with pytest.raises(RescheduleLimitReached):
        rules.plan_reschedule(
            MEMBER, session(start=START, max_reschedules=0), START + hours(1), NOW
        )
    # A session booked before every service had a limit: the default bounds it too.
    assert rules.reschedules_left(session(start=START, max_reschedules=None)) == 5


# --- no-shows ----------------------------------------------------------------------------------

HELD = session(start=START, credits=5)
END = HELD.end


@pytest.mark.parametrize(
    ("who", "party", "allowed"),
    [
        ("coach", "MEMBER", True),
        ("coach", "COACH", True),
        ("support", "MEMBER", True),
        ("support", "COACH", True),
        ("member", "MEMBER", False),
        ("member", "COACH", False),
    ],
)
def test_who_may_say_who_did_not_turn_up(who: str, party: NoShowParty, allowed: bool) -> None:
    if allowed:
        rules.plan_no_show(CALLERS[who], HELD, party, START)
    else:
        with pytest.raises(Forbidden):
            rules.plan_no_show(CALLERS[who], HELD, party, START)


@pytest.mark.parametrize("who", STRANGERS)
def test_strangers_do_not_see_the_session(who: str) -> None:
    with pytest.raises(NotFound):
        rules.plan_no_show(CALLERS[who], HELD, "MEMBER", START)


def test_a_coach_no_show_gives_back_what_is_left_and_a_member_no_show_nothing() -> None:
    partly = refunded(with_status(HELD, SessionStatus.COMPLETED), 2, RefundStatus.PARTIAL, END)

    assert rules.plan_no_show(SUPPORT, HELD, "COACH", START) == 5
    assert rules.plan_no_show(SUPPORT, partly, "COACH", END + hours(1)) == 3
    assert rules.plan_no_show(COACH, HELD, "MEMBER", START) == 0


def test_from_the_start_to_the_second() -> None:
    with pytest.raises(SessionStillUpcoming):
        rules.plan_no_show(COACH, HELD, "MEMBER", START - SECOND)
    rules.plan_no_show(COACH, HELD, "MEMBER", START)


def test_until_seven_days_after_the_end_to_the_second() -> None:
    done = with_status(HELD, SessionStatus.COMPLETED)
    last = END + timedelta(days=7)

    rules.plan_no_show(COACH, done, "MEMBER", last)
    with pytest.raises(SessionNotUpcoming):
        rules.plan_no_show(COACH, done, "MEMBER", last + SECOND)


@pytest.mark.parametrize(
    "status",
    [SessionStatus.CANCELED, SessionStatus.DECLINED, SessionStatus.EXPIRED, SessionStatus.NO_SHOW],
)
def test_a_session_that_did_not_take_place_or_is_already_marked_cannot_be(
    status: SessionStatus,
) -> None:
    with pytest.raises(SessionNotUpcoming):
        rules.plan_no_show(SUPPORT, with_status(HELD, status), "COACH", START + hours(1))


def test_a_canceled_session_before_its_start_is_not_upcoming_either() -> None:
    with pytest.raises(SessionNotUpcoming):
        rules.plan_no_show(COACH, with_status(HELD, SessionStatus.CANCELED), "MEMBER", NOW)


def test_the_sweep_leaves_a_no_show_alone() -> None:
    marked = with_status(HELD, SessionStatus.NO_SHOW)

    assert rules.due_at(marked) is None
    assert rules.sweep_action(marked, END + hours(24 * 30)) is None
    assert rules.is_upcoming(marked, START) is False


# --- what a cancel returns over time, as emails tell it ---------------------------------------


def test_the_schedule_lists_each_share_that_ever_applies_earliest_first() -> None:
    steps = rules.refund_schedule(TIERED)

    assert [(s.percent, s.until) for s in steps] == [
        (100, START - hours(24)),
        (50, START - hours(2)),
    ]


def test_a_tier_outlasted_by_a_higher_one_never_shows_and_kept_is_full_until_the_start() -> None:
    odd = session(start=START, refund_tiers=[(48, 25), (12, 80)])
    kept = TIERED.model_copy(
        update={
            "policy": TIERED.policy.model_copy(
                update={"kept_after_move": True, "refundable_until": START}
            )
        }
    )

    assert [(s.percent, s.until) for s in rules.refund_schedule(odd)] == [(80, START - hours(12))]
    assert [(s.percent, s.until) for s in rules.refund_schedule(kept)] == [(100, START)]
    assert [(s.percent, s.until) for s in rules.refund_schedule(session(start=START))] == [
        (100, START - hours(24))
    ]
