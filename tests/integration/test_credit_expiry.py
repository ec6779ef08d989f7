"""Credits that expire, on the ledger: grants with an expiry, bookings that spend the soonest
first, refunds that go back where they came from, and the sweep that expires what is left once
and tells the owners (moto, through ``Storage`` as in production)."""

from datetime import datetime, timedelta

import boto3
import pytest

from coaching import credit_expiry, operations
from coaching.credit_notices import CreditNoticeKind
from coaching.errors import InsufficientCredits, ValidationFailed
from coaching.models import (
    MAX_EXPIRING_LOTS,
    NEVER_EXPIRES,
    Account,
    Caller,
    EntryKind,
    LedgerEntry,
    LotMove,
    Renewal,
    SessionStatus,
    personal_account_id,
)
from coaching.storage import Storage
from local.faults import Faults, FunctionKilled
from tests.builders import World, admin, coach, member, support
from tests.racing import race

DAY = timedelta(days=1)


def grant(
    world: World, who: Caller, credits: int, *, days: int | None = None, at: datetime | None = None
) -> LedgerEntry:
    return operations.grant(
        world.store,
        support(),
        personal_account_id(who.id),
        credits,
        None,
        at or world.now,
        valid_days=days,
    )


def account(world: World, who: Caller) -> Account:
    found = world.store.get_account(personal_account_id(who.id))
    assert found is not None
    return found


def lots_of(world: World, who: Caller) -> list[tuple[int, int, datetime | None]]:
    return [(lot.number, lot.credits_left, lot.expires_at) for lot in account(world, who).lots]


def sweep(store: Storage, now: datetime) -> credit_expiry.ExpiryResult:
    result = credit_expiry.run(store, now, lambda: 60.0)
    assert result.ok and result.finished, result
    return result


def notices(world: World, who: Caller) -> list[tuple[CreditNoticeKind, int, int, list[str]]]:
    return [
        (n.kind, n.lot, n.credits, [p.id for p in n.recipients])
        for n in world.store.notices(personal_account_id(who.id))
    ]


def assert_lots_add_up(world: World, who: Caller) -> None:
    """balance = sum of entries = sum of lots; every lot's moves add up to what it holds."""
    world.assert_ledger_consistent(personal_account_id(who.id))
    held = account(world, who)
    assert sum(lot.credits_left for lot in held.lots) == held.balance
    per_lot: dict[int, int] = {}
    for entry in world.entries(personal_account_id(who.id)):
        assert sum(m.credits for m in entry.lots) == entry.credits, entry
        for move in entry.lots:
            per_lot[move.lot] = per_lot.get(move.lot, 0) + move.credits
    for lot in held.lots:
        assert per_lot.pop(lot.number, 0) == lot.credits_left, lot
    assert all(left == 0 for left in per_lot.values()), per_lot


# --- the walk of the issue ---------------------------------------------------------------------


def test_credits_that_expire_are_spent_first_given_back_and_expired_once(world: World) -> None:
    # Given Ann with 3 credits that expire in two days and 5 that never do
    ann, service = member(), world.service(credits=2)
    granted = grant(world, ann, 3, days=2)
    grant(world, ann, 5)
    ends = world.now + 2 * DAY
    assert granted.lots == [LotMove(lot=1, credits=3, expires_at=ends)]
    assert lots_of(world, ann) == [(1, 3, ends), (NEVER_EXPIRES, 5, None)]

    # When she books a 2-credit session, it is paid from the credits that expire
    booked = world.book(ann, service, in_hours=72)
    (debit,) = [e for e in world.entries(personal_account_id(ann.id)) if e.kind is EntryKind.DEBIT]
    assert debit.lots == [LotMove(lot=1, credits=-2, expires_at=ends)]
    assert [(s.lot, s.credits) for s in booked.paid_from] == [(1, 2)]
    # ... and she, now known to the account, is told they expire within the week
    assert notices(world, ann) == [(CreditNoticeKind.EXPIRING, 1, 1, [ann.id])]

    # When she cancels inside the window, they go back to that lot
    operations.cancel(world.store, ann, booked.id, None, world.now)
    assert lots_of(world, ann) == [(1, 3, ends), (NEVER_EXPIRES, 5, None)]

    # When three days have passed and the sweep runs (twice, as a rerun would)
    later = world.now + 3 * DAY
    first = sweep(world.store, later)
    again = sweep(world.store, later)

    # Then one EXPIRE of 3 names the lot, and 5 are left
    expired = [e for e in world.entries(personal_account_id(ann.id)) if e.kind is EntryKind.EXPIRE]
    assert [(e.credits, e.lots, e.actor, e.balance_after) for e in expired] == [
        (-3, [LotMove(lot=1, credits=-3, expires_at=ends)], None, 5)
    ]
    assert (first.expired_lots, again.expired_lots, again.items_read) == (1, 0, 0)
    assert world.balance(personal_account_id(ann.id)) == 5
    assert lots_of(world, ann) == [(NEVER_EXPIRES, 5, None)]
    assert notices(world, ann)[0] == (CreditNoticeKind.EXPIRED, 1, 3, [ann.id])
    record, _ = world.store.lot_and_account(personal_account_id(ann.id), 1)
    assert record is not None
    assert (record.expired_credits, record.due_at) == (3, None)
    assert_lots_add_up(world, ann)


# --- bookings ----------------------------------------------------------------------------------


def test_a_booking_never_spends_credits_that_expired_before_the_sweep_came(world: World) -> None:
    ann, service = member(), world.service(credits=2)
    grant(world, ann, 3, days=1)
    grant(world, ann, 1)
    a_day_on = world.now + DAY

    with pytest.raises(InsufficientCredits, match="3 more have expired"):
        operations.book(
            world.store,
            ann,
            service_id=service.id,
            session_type_id="t1",
            start=a_day_on + 3 * DAY,
            account_id=None,
            timezone=None,
            now=a_day_on,
        )

    assert lots_of(world, ann)[0] == (1, 3, a_day_on)


# --- refunds -----------------------------------------------------------------------------------


def test_credits_whose_lot_expired_meanwhile_come_back_as_a_lot_of_their_own(world: World) -> None:
    # Given a session paid from credits that expire in two days, booked a week ahead
    ann, service = member(), world.service(credits=2)
    grant(world, ann, 3, days=2)
    booked = world.book(ann, service, in_hours=24 * 7)

    # When the lot expires (1 credit left in it) and she cancels afterwards, in the window
    later = world.now + 3 * DAY
    sweep(world.store, later)
    canceled = operations.cancel(world.store, ann, booked.id, None, later)

    # Then the 2 credits come back as lot 2, for 7 days, and the cancel says so
    ends = later + 7 * DAY
    assert lots_of(world, ann) == [(2, 2, ends)]
    assert canceled.history[-1].renewed == Renewal(credits=2, expires_at=ends)
    (refund,) = [
        e for e in world.entries(personal_account_id(ann.id)) if e.kind is EntryKind.REFUND
    ]
    assert refund.lots == [LotMove(lot=2, credits=2, expires_at=ends, replaces=1)]
    # ... and the new lot, expiring within the week, is announced at once
    assert (CreditNoticeKind.EXPIRING, 2, 2, [ann.id]) in notices(world, ann)
    assert_lots_add_up(world, ann)


def test_the_services_grace_decides_how_long_renewed_credits_last(world: World) -> None:
    ann = member()
    service = operations.create_service(
        world.store,
        coach(),
        name="Short grace",
        session_types=[{"minutes": 60, "credits": 2}],
        cancellation_window_hours=24,
        requires_approval=False,
        request_ttl_hours=48,
        late_reschedule_requires_approval=False,
        refund_grace_days=2,
        now=world.now,
    )
    grant(world, ann, 2, days=1)
    booked = world.book(ann, service, in_hours=24 * 5)
    later = world.now + 2 * DAY

    canceled = operations.cancel(world.store, ann, booked.id, None, later)

    assert canceled.history[-1].renewed == Renewal(credits=2, expires_at=later + 2 * DAY)


def test_a_partial_refund_gives_back_what_would_have_lasted_longest(world: World) -> None:
    ann, coaching = member(), coach()
    service = world.service(by=coaching, credits=3)
    grant(world, ann, 2, days=30)
    grant(world, ann, 1)
    booked = world.book(ann, service, in_hours=1)
    after_end = world.now + 3 * 60 * 60 * timedelta(seconds=1)

    operations.refund(world.store, coaching, booked.id, 1, None, after_end)
    operations.refund(world.store, coaching, booked.id, 2, None, after_end)

    refunds = [e for e in world.entries(personal_account_id(ann.id)) if e.kind is EntryKind.REFUND]
    assert [[(m.lot, m.credits) for m in e.lots] for e in reversed(refunds)] == [
        [(NEVER_EXPIRES, 1)],
        [(1, 2)],
    ]
    assert_lots_add_up(world, ann)


def test_credits_held_by_a_pending_request_are_not_expired_from_under_it(world: World) -> None:
    # Given a booking request holding every credit of a lot that expires in two days
    ann, coaching = member(), coach()
    service = world.service(by=coaching, credits=3, requires_approval=True, request_ttl_hours=72)
    grant(world, ann, 3, days=2)
    request = world.book(ann, service, in_hours=24 * 5)

    # When the lot expires, nothing leaves: the credits are the request's
    later = world.now + 2 * DAY
    result = sweep(world.store, later)
    assert result.expired_lots == 0
    assert world.balance(personal_account_id(ann.id)) == 0

    # When the coach declines it, they come back for the grace, as a lot of their own
    declined = operations.answer_booking(world.store, coaching, request.id, False, later)
    assert declined.status is SessionStatus.DECLINED
    assert lots_of(world, ann) == [(2, 3, later + 7 * DAY)]
    assert_lots_add_up(world, ann)


# --- grants ------------------------------------------------------------------------------------


def test_a_grant_takes_an_expiry_or_a_number_of_days_never_both(world: World) -> None:
    ann, helpdesk = member(), support()
    account_id = personal_account_id(ann.id)
    on = world.now + 10 * DAY

    entry = operations.grant(world.store, helpdesk, account_id, 2, None, world.now, expires_at=on)
    assert entry.lots == [LotMove(lot=1, credits=2, expires_at=on)]

    for kwargs, field in (
        ({"expires_at": on, "valid_days": 3}, "valid_days"),
        ({"expires_at": world.now}, "expires_at"),
        ({"expires_at": world.now + 3651 * DAY}, "expires_at"),
        ({"valid_days": 0}, "valid_days"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            operations.grant(world.store, helpdesk, account_id, 2, None, world.now, **kwargs)
        assert [e.field for e in refused.value.errors] == [field]
    assert world.balance(account_id) == 2


def test_an_account_holds_a_bounded_number_of_lots_that_expire(world: World) -> None:
    ann = member()
    for n in range(1, MAX_EXPIRING_LOTS + 1):
        grant(world, ann, 1, at=world.now + n * timedelta(seconds=1), days=30)
    at = world.now + timedelta(minutes=5)

    with pytest.raises(ValidationFailed) as refused:
        grant(world, ann, 1, at=at, days=40)

    assert [e.field for e in refused.value.errors] == ["valid_days"]
    assert len(account(world, ann).lots) == MAX_EXPIRING_LOTS
    grant(world, ann, 1, at=at)  # credits that never expire still fit
    assert len(account(world, ann).lots) == MAX_EXPIRING_LOTS + 1


# --- the sweep ---------------------------------------------------------------------------------


def test_the_owner_is_told_a_week_ahead_and_only_of_lots_with_credits_left(world: World) -> None:
    ann, service = member(), world.service(credits=2)
    grant(world, ann, 2, days=30)  # lot 1: spent below
    grant(world, ann, 4, days=31)  # lot 2
    world.book(ann, service, in_hours=48)  # Ann acts: the account now knows her address

    early = sweep(world.store, world.now + 22 * DAY)
    assert (early.warned_lots, early.items_read) == (0, 0)

    week_ahead = sweep(world.store, world.now + 24 * DAY)
    assert (week_ahead.warned_lots, week_ahead.waited) == (1, 1)
    assert notices(world, ann) == [(CreditNoticeKind.EXPIRING, 2, 4, [ann.id])]

    used_up_ends = sweep(world.store, world.now + 30 * DAY)  # lot 1, used up: looked at later
    assert (used_up_ends.waited, used_up_ends.expired_lots) == (1, 0)
    at_the_end = sweep(world.store, world.now + 31 * DAY)
    assert (at_the_end.expired_lots, at_the_end.closed) == (1, 1)  # lot 2; lot 1 forgotten
    assert sweep(world.store, world.now + 90 * DAY).items_read == 0
    assert_lots_add_up(world, ann)


def test_a_groups_admins_are_told_as_their_tokens_last_said(world: World) -> None:
    boss, other, ann = admin(), admin(), member()
    boss = boss.model_copy(update={"email": "boss@example.com", "name": "Bo"})
    group = operations.create_group_account(
        world.store,
        boss,
        name="Acme",
        member_ids=[ann.id],
        admin_ids=[boss.id, other.id],
        now=world.now,
    )

    operations.grant(world.store, boss, group.id, 5, None, world.now, valid_days=3)

    (notice,) = world.store.notices(group.id)
    assert (notice.kind, notice.credits, notice.account_name) == (
        CreditNoticeKind.EXPIRING,
        5,
        "Acme",
    )
    # the other admin never acted with an address: nobody knows where to write to them
    assert [(p.id, p.email) for p in notice.recipients] == [(boss.id, "boss@example.com")]


def test_a_sweep_killed_at_its_commit_reruns_and_expires_once(world: World) -> None:
    ann = member()
    grant(world, ann, 3, days=1)
    later = world.now + 2 * DAY
    # The sweep's own client, with the local stack's fault hooks on it (as the functions' is)
    client = boto3.client("dynamodb", region_name="us-east-1")
    faults = Faults()
    faults.install(client)
    sweeping = Storage(client, world.store.settings)

    for when in ("before_commit", "after_commit"):
        faults.arm("sweep", when, 1)
        with faults.running("sweep"), pytest.raises(FunctionKilled):
            credit_expiry.run(sweeping, later, lambda: 60.0)

    sweep(world.store, later)
    expired = [e for e in world.entries(personal_account_id(ann.id)) if e.kind is EntryKind.EXPIRE]
    assert [e.credits for e in expired] == [-3]
    assert world.balance(personal_account_id(ann.id)) == 0


def test_the_sweep_acting_on_a_stale_read_decides_again(world: World) -> None:
    # Given the sweep's copy of an account, read before a booking took a lot's credits
    ann, service = member(), world.service(credits=2)
    grant(world, ann, 2, days=1)
    at_expiry = world.now + DAY
    record, before = world.store.lot_and_account(personal_account_id(ann.id), 1)
    assert record is not None and before is not None
    world.book(ann, service, in_hours=12)

    # When the sweep acts on its copy, it is refused, reads again and finds nothing to expire
    action = operations.sweep_lot(world.store, record, before, at_expiry)

    assert action == "WAIT"
    assert world.balance(personal_account_id(ann.id)) == 0
    assert all(e.kind is not EntryKind.EXPIRE for e in world.entries(personal_account_id(ann.id)))


def test_the_sweep_reads_only_the_lots_that_are_due(world: World) -> None:
    people = [member() for _ in range(12)]
    for who in people:
        grant(world, who, 2, days=60)  # not due for weeks
    due = people[:3]
    for who in due:
        grant(world, who, 1, days=1)

    result = sweep(world.store, world.now + DAY)

    assert (result.items_read, result.expired_lots) == (3, 3)
    for who in due:
        assert lots_of(world, who) == [(1, 2, world.now + 60 * DAY)]


# --- races, against the serialized moto server --------------------------------------------------


@pytest.mark.race
def test_a_booking_and_two_sweeps_racing_for_a_lot_move_each_credit_once(
    server_world: World,
) -> None:
    for _ in range(4):
        race_for_a_lot(server_world)


def race_for_a_lot(world: World) -> None:
    # Given 3 credits that expire at T (and nothing else), and a 2-credit service
    store, ann, service = world.store, member(), world.service(credits=2)
    grant(world, ann, 3, days=1)
    ends = world.now + DAY
    account_id = personal_account_id(ann.id)

    # When a booking made a second before T races two sweeps run at T
    def book() -> object:
        return operations.book(
            store,
            ann,
            service_id=service.id,
            session_type_id="t1",
            start=ends + 2 * DAY,
            account_id=None,
            timezone=None,
            now=ends - timedelta(seconds=1),
        )

    def sweep_at_t() -> object:
        return credit_expiry.run(store, ends, lambda: 60.0)

    booked, *sweeps = race(book, sweep_at_t, sweep_at_t)

    # Then either the booking took 2 and 1 expired, or all 3 expired and it was refused
    assert all(isinstance(r, credit_expiry.ExpiryResult) and r.ok for r in sweeps), sweeps
    expired = [e.credits for e in world.entries(account_id) if e.kind is EntryKind.EXPIRE]
    if isinstance(booked, InsufficientCredits):
        assert expired == [-3]
    else:
        assert not isinstance(booked, BaseException), booked
        assert expired == [-1]
    assert world.balance(account_id) == 0
    assert_lots_add_up(world, ann)
