"""Credits that expire: which lots a booking takes from, where refunds go back, what the sweep
does to a lot that is due, and what a reader is shown (``coaching.lots``, pure)."""

import json
from datetime import datetime, timedelta

import pytest

from coaching import lots
from coaching.errors import InsufficientCredits, ValidationFailed
from coaching.models import (
    HISTORY_KEPT,
    MAX_EXPIRING_LOTS,
    MAX_REASON_LENGTH,
    MAX_SESSION_ITEM_BYTES,
    NEVER_EXPIRES,
    Account,
    Actor,
    HistoryEvent,
    Lot,
    LotMove,
    LotRecord,
    LotShare,
    Person,
    Refund,
    RefundStatus,
    Renewal,
    RescheduleRequest,
    Role,
    Session,
)
from coaching.storage import session_item
from tests.builders import NOW, SECOND, personal_account, session

DAY = timedelta(days=1)


def account(*held: tuple[int, int, datetime | None], opened: int | None = None) -> Account:
    """A member's account holding ``(number, credits_left, expires_at)`` lots."""
    found = [Lot(number=n, credits_left=c, expires_at=e) for n, c, e in held]
    numbers = [n for n, _, _ in held]
    return personal_account().model_copy(
        update={
            "balance": sum(c for _, c, _ in held),
            "lots": found,
            "lots_opened": max(numbers, default=0) if opened is None else opened,
        }
    )


def held(after: lots.LotChange) -> list[tuple[int, int, datetime | None]]:
    return [(lot.number, lot.credits_left, lot.expires_at) for lot in after.lots]


def moved(after: lots.LotChange) -> list[tuple[int, int]]:
    return [(m.lot, m.credits) for m in after.moves]


def paid(credits: int, *shares: tuple[int, int, datetime | None], returned: int = 0) -> Session:
    """A session of ``credits`` paid from ``shares`` (lot, credits, expiry), ``returned`` of
    them given back already."""
    booked = session(credits=credits).model_copy(
        update={
            "paid_from": [LotShare(lot=n, credits=c, expires_at=e) for n, c, e in shares],
            "refund": Refund(status=RefundStatus.PARTIAL, credits=returned)
            if returned
            else Refund(),
        }
    )
    return booked


# --- a booking ---------------------------------------------------------------------------------


def test_a_booking_takes_from_the_lots_that_expire_soonest_and_never_expiring_ones_last() -> None:
    wallet = account((NEVER_EXPIRES, 5, None), (2, 2, NOW + 30 * DAY), (1, 1, NOW + 10 * DAY))

    after = lots.take(wallet, 4, NOW)

    assert moved(after) == [(1, -1), (2, -2), (NEVER_EXPIRES, -1)]
    assert held(after) == [(1, 0, NOW + 10 * DAY), (2, 0, NOW + 30 * DAY), (0, 4, None)]
    assert lots.shares(after) == [
        LotShare(lot=1, credits=1, expires_at=NOW + 10 * DAY),
        LotShare(lot=2, credits=2, expires_at=NOW + 30 * DAY),
        LotShare(lot=NEVER_EXPIRES, credits=1, expires_at=None),
    ]


def test_a_booking_never_takes_from_a_lot_that_expired_before_the_sweep_came() -> None:
    wallet = account((1, 3, NOW), (2, 2, NOW + DAY))

    with pytest.raises(InsufficientCredits) as refused:
        lots.take(wallet, 3, NOW)

    assert refused.value.detail == (
        "The account holds 2 credits that can be spent now (3 more have expired and leave it at "
        "the next sweep); this needs 3."
    )
    assert moved(lots.take(wallet, 2, NOW)) == [(2, -2)]
    # one second earlier the first lot was still good, and went first
    assert moved(lots.take(wallet, 3, NOW - SECOND)) == [(1, -3)]


def test_a_booking_beyond_the_balance_is_refused_in_the_usual_words() -> None:
    with pytest.raises(InsufficientCredits) as refused:
        lots.take(account((NEVER_EXPIRES, 2, None)), 3, NOW)

    assert refused.value.detail == "The account holds 2 credits; this needs 3."


def test_used_up_lots_stay_until_they_expire_and_then_drop_off() -> None:
    wallet = account((1, 2, NOW + DAY), (2, 0, NOW - SECOND), (NEVER_EXPIRES, 3, None))

    after = lots.take(wallet, 2, NOW)

    # lot 1 is used up but may take a refund back; lot 2 expired used up: gone
    assert held(after) == [(1, 0, NOW + DAY), (0, 3, None)]


def test_an_account_from_before_lots_holds_its_balance_in_the_lot_that_never_expires() -> None:
    stored = Account.model_validate(
        {"id": "personal-ann", "kind": "PERSONAL", "name": "Personal credits", "balance": 7}
    )

    assert stored.lots == [Lot(number=NEVER_EXPIRES, credits_left=7, expires_at=None)]
    assert moved(lots.take(stored, 2, NOW)) == [(NEVER_EXPIRES, -2)]


# --- credits coming back -----------------------------------------------------------------------


def test_a_refund_goes_back_to_the_lots_it_came_from() -> None:
    booked = paid(3, (1, 2, NOW + 10 * DAY), (NEVER_EXPIRES, 1, None))
    wallet = account((1, 0, NOW + 10 * DAY), (NEVER_EXPIRES, 4, None))

    after = lots.give_back(wallet, booked, 3, NOW, grace=7)

    assert moved(after) == [(NEVER_EXPIRES, 1), (1, 2)]
    assert held(after) == [(1, 2, NOW + 10 * DAY), (NEVER_EXPIRES, 5, None)]
    assert after.renewed is None


def test_a_partial_refund_gives_back_first_what_would_have_lasted_longest() -> None:
    booked = paid(3, (1, 2, NOW + 10 * DAY), (NEVER_EXPIRES, 1, None))
    wallet = account((1, 0, NOW + 10 * DAY))

    first = lots.give_back(wallet, booked, 2, NOW, grace=7)
    assert moved(first) == [(NEVER_EXPIRES, 1), (1, 1)]

    # the rest, later: only what is left of lot 1's share
    after_first = wallet.model_copy(update={"lots": list(first.lots), "balance": 2})
    second = lots.give_back(after_first, paid(3, *_shares(booked), returned=2), 1, NOW, grace=7)
    assert moved(second) == [(1, 1)]


def _shares(booked: Session) -> list[tuple[int, int, datetime | None]]:
    return [(s.lot, s.credits, s.expires_at) for s in booked.paid_from]


def test_credits_of_a_lot_that_expired_meanwhile_come_back_as_a_new_lot_after_the_grace() -> None:
    booked = paid(3, (1, 2, NOW - DAY), (2, 1, NOW + DAY))
    wallet = account((2, 4, NOW + DAY), opened=2)  # lot 1 expired and was swept

    after = lots.give_back(wallet, booked, 3, NOW, grace=7)

    ends = NOW + 7 * DAY
    assert moved(after) == [(2, 1), (3, 2)]
    assert after.moves[1] == LotMove(lot=3, credits=2, expires_at=ends, replaces=1)
    assert held(after) == [(2, 5, NOW + DAY), (3, 2, ends)]
    assert (after.opened, after.new_lots) == (3, (Lot(number=3, credits_left=2, expires_at=ends),))
    assert after.renewed == Renewal(credits=2, expires_at=ends)


def test_a_lot_that_expired_but_was_not_swept_yet_is_not_refilled_either() -> None:
    booked = paid(2, (1, 2, NOW))
    wallet = account((1, 5, NOW))  # expired at NOW, still waiting for the sweep

    after = lots.give_back(wallet, booked, 2, NOW, grace=3)

    assert moved(after) == [(2, 2)]
    assert held(after) == [(1, 5, NOW), (2, 2, NOW + 3 * DAY)]


def test_with_no_room_for_another_lot_returning_credits_go_to_those_that_never_expire() -> None:
    full = [(n, 1, NOW + n * DAY + SECOND) for n in range(1, MAX_EXPIRING_LOTS + 1)]
    booked = paid(2, (500, 2, NOW - DAY))

    after = lots.give_back(account(*full, opened=500), booked, 2, NOW, grace=7)

    assert moved(after) == [(NEVER_EXPIRES, 2)]
    assert after.renewed == Renewal(credits=2, expires_at=None)
    assert after.new_lots == ()


def test_a_refund_never_gives_back_more_than_was_taken() -> None:
    booked = paid(3, (1, 3, NOW + DAY), returned=2)

    with pytest.raises(ValueError, match="more credits given back"):
        lots.give_back(account((1, 0, NOW + DAY)), booked, 2, NOW, grace=7)


def test_a_session_from_before_lots_gives_back_to_credits_that_never_expire() -> None:
    booked = session(credits=3)

    after = lots.give_back(account(), booked, 3, NOW, grace=7)

    assert moved(after) == [(NEVER_EXPIRES, 3)]


def test_the_grace_is_the_services_then_the_accounts_then_seven_days() -> None:
    booked = session()
    with_service_grace = booked.model_copy(
        update={"policy": booked.policy.model_copy(update={"refund_grace_days": 3})}
    )
    group = account().model_copy(update={"refund_grace_days": 14})

    assert lots.grace_days(with_service_grace, group) == 3
    assert lots.grace_days(booked, group) == 14
    assert lots.grace_days(booked, account()) == 7


# --- grants ------------------------------------------------------------------------------------


def test_a_grant_opens_a_lot_for_its_expiry_and_one_of_the_same_moment_joins_it() -> None:
    ends = NOW + 30 * DAY

    first = lots.grant(account((NEVER_EXPIRES, 5, None)), 3, ends, NOW, "expires_at")
    assert (moved(first), first.opened) == ([(1, 3)], 1)
    assert first.new_lots == (Lot(number=1, credits_left=3, expires_at=ends),)

    wallet = account((1, 3, ends), (NEVER_EXPIRES, 5, None))
    second = lots.grant(wallet, 2, ends, NOW, "valid_days")
    assert (moved(second), second.new_lots, held(second)[0]) == ([(1, 2)], (), (1, 5, ends))

    never = lots.grant(wallet, 4, None, NOW, "expires_at")
    assert moved(never) == [(NEVER_EXPIRES, 4)]


def test_a_grant_that_would_open_one_lot_too_many_is_refused_naming_its_field() -> None:
    full = [(n, 0, NOW + n * DAY) for n in range(1, MAX_EXPIRING_LOTS + 1)]

    with pytest.raises(ValidationFailed) as refused:
        lots.grant(account(*full), 1, NOW + 400 * DAY, NOW, "valid_days")

    assert [e.field for e in refused.value.errors] == ["valid_days"]
    # the same moment as a lot it holds, or no expiry, still fits
    assert moved(lots.grant(account(*full), 1, NOW + DAY, NOW, "valid_days")) == [(1, 1)]
    # and one that has expired makes room
    assert lots.grant(account(*full), 1, NOW + 400 * DAY, NOW + 2 * DAY, "valid_days").opened == 101


# --- the sweep ---------------------------------------------------------------------------------


def test_an_expired_lot_loses_its_credits_at_once_and_leaves_the_account() -> None:
    wallet = account((1, 3, NOW), (NEVER_EXPIRES, 5, None))

    assert lots.expire(wallet, 1, NOW - SECOND) is None
    after = lots.expire(wallet, 1, NOW)

    assert after is not None
    assert moved(after) == [(1, -3)]
    assert held(after) == [(NEVER_EXPIRES, 5, None)]
    assert lots.expire(account((1, 0, NOW)), 1, NOW) is None


def record(due: datetime, *, expires: datetime, warned: bool = False) -> LotRecord:
    return LotRecord(
        account_id="personal-ann",
        number=1,
        expires_at=expires,
        opened_at=NOW - 30 * DAY,
        warned_at=NOW - DAY if warned else None,
        due_at=due,
    )


def test_the_sweep_tells_the_owner_a_week_ahead_then_expires_what_is_left() -> None:
    ends = NOW + 7 * DAY
    wallet = account((1, 3, ends))

    assert lots.sweep_step(record(ends - 7 * DAY, expires=ends), wallet, NOW - SECOND) is None
    assert lots.sweep_step(record(NOW, expires=ends), wallet, NOW) == lots.LotStep("WARN", ends)
    told = record(ends, expires=ends, warned=True)
    assert lots.sweep_step(told, wallet, ends - SECOND) is None
    assert lots.sweep_step(told, wallet, ends) == lots.LotStep("EXPIRE", None)


def test_a_used_up_lot_is_not_announced_and_is_forgotten_an_hour_after_it_expires() -> None:
    ends = NOW + 7 * DAY
    used_up = account((1, 0, ends))

    assert lots.sweep_step(record(NOW, expires=ends), used_up, NOW) == lots.LotStep("WAIT", ends)
    at_end = record(ends, expires=ends)
    assert lots.sweep_step(at_end, used_up, ends) == lots.LotStep("WAIT", ends + lots.CLOSE_AFTER)
    later = record(ends + lots.CLOSE_AFTER, expires=ends)
    assert lots.sweep_step(later, account(), ends + lots.CLOSE_AFTER) == lots.LotStep("CLOSE", None)
    # ... unless credits came back to it meanwhile: then they leave as any others
    refilled = account((1, 2, ends))
    assert lots.sweep_step(later, refilled, ends + lots.CLOSE_AFTER) == lots.LotStep("EXPIRE", None)


def test_a_lot_that_is_done_with_is_never_due() -> None:
    done = record(NOW, expires=NOW).model_copy(update={"due_at": None})

    assert lots.sweep_step(done, account((1, 3, NOW)), NOW + DAY) is None


def test_owners_are_told_by_the_first_movement_inside_the_notice_and_only_once() -> None:
    wallet = [
        Lot(number=1, credits_left=3, expires_at=NOW + 2 * DAY),
        Lot(number=2, credits_left=3, expires_at=NOW + 30 * DAY),  # not within the week
        Lot(number=3, credits_left=0, expires_at=NOW + DAY),  # used up
        Lot(number=4, credits_left=1, expires_at=NOW + DAY, told=True),
        Lot(number=5, credits_left=2, expires_at=NOW),  # expired
        Lot(number=NEVER_EXPIRES, credits_left=5, expires_at=None),
    ]

    assert [lot.number for lot in lots.to_tell(wallet, NOW)] == [1]
    told = lots.mark_told(wallet, lots.to_tell(wallet, NOW))
    assert lots.to_tell(told, NOW) == []
    assert [lot.number for lot in lots.to_tell(told, NOW + 23 * DAY)] == [2]
    assert lots.first_due(wallet[1], NOW) == NOW + 23 * DAY
    assert lots.first_due(wallet[0], NOW) == NOW


def test_a_movement_tells_of_a_few_lots_at_most() -> None:
    many = [Lot(number=n, credits_left=1, expires_at=NOW + n * SECOND) for n in range(1, 9)]

    assert [lot.number for lot in lots.to_tell(many, NOW)] == [1, 2, 3, 4, 5]


def test_the_sweep_tells_nobody_it_cannot_reach_and_nobody_twice() -> None:
    ends = NOW + 7 * DAY
    due = record(NOW, expires=ends)

    waits = lots.LotStep("WAIT", ends)
    assert lots.sweep_step(due, account((1, 3, ends)), NOW, can_tell=False) == waits
    told = account((1, 3, ends)).model_copy(
        update={"lots": [Lot(number=1, credits_left=3, expires_at=ends, told=True)]}
    )
    assert lots.sweep_step(due, told, NOW) == waits


# --- what a reader sees ------------------------------------------------------------------------


def test_expiring_soon_adds_up_what_expires_in_the_next_seven_days() -> None:
    wallet = account(
        (1, 0, NOW + DAY),  # used up
        (2, 2, NOW + 2 * DAY),
        (3, 3, NOW + 7 * DAY),
        (4, 4, NOW + 7 * DAY + SECOND),
        (5, 9, NOW - SECOND),  # expired, waiting for the sweep
        (NEVER_EXPIRES, 5, None),
    )

    soon = lots.expiring_soon(wallet, NOW)

    assert soon == lots.ExpiringSoon(credits=5, expires_at=NOW + 2 * DAY)
    assert lots.expiring_soon(account((NEVER_EXPIRES, 5, None)), NOW) is None
    assert [lot.number for lot in lots.shown(wallet)] == [5, 2, 3, 4, NEVER_EXPIRES]


def test_every_change_is_checked_to_add_up_before_it_is_written() -> None:
    wallet = account((1, 3, NOW + DAY))
    change = lots.take(wallet, 2, NOW)

    lots.check(wallet, change, -2)
    with pytest.raises(ValueError, match="the lots move -2 credits, the entry -3"):
        lots.check(wallet, change, -3)
    wrong = lots.LotChange(moves=change.moves, lots=(), opened=1)
    with pytest.raises(ValueError, match="the lots would hold 0"):
        lots.check(wallet, wrong, -2)


def test_a_session_paid_from_every_lot_an_account_may_hold_stays_under_its_bound() -> None:
    """The longest of everything a session keeps (12 reasons and a request's of 500 four-byte
    characters, names of 200, ids of 128), and the lots of a booking that took from every lot an
    account can hold: the item stays under ``MAX_SESSION_ITEM_BYTES``."""
    longest, name = "\U0001d54f" * MAX_REASON_LENGTH, "\U0001d54f" * 200
    by = Actor(id="c" * 128, role=Role.COACH)
    person = Person(id="m" * 128, name=name, email="e" * 242 + "@example.com")
    booked = session(credits=10_000).model_copy(
        update={
            "member": person,
            "coach": person,
            "history": [
                HistoryEvent(at=NOW, kind="RESCHEDULED", by=by, start=NOW, reason=longest)
                for _ in range(HISTORY_KEPT)
            ],
            "reschedule_request": RescheduleRequest(
                start=NOW,
                end=NOW,
                requested_by=by,
                requested_at=NOW,
                expires_at=NOW,
                reason=longest,
            ),
            "paid_from": [
                LotShare(lot=n, credits=99, expires_at=NOW + n * DAY)
                for n in range(1, MAX_EXPIRING_LOTS + 2)
            ],
        }
    )

    item = session_item(booked, due_shards=32)

    assert len(json.dumps(item, ensure_ascii=False).encode()) < MAX_SESSION_ITEM_BYTES
