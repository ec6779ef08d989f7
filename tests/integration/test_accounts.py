"""Accounts: grants, group pools and their members, and the ledger read newest first."""

import base64
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from coaching import operations, sweep
from coaching.errors import (
    Forbidden,
    InsufficientCredits,
    NotFound,
    ValidationFailed,
)
from coaching.models import (
    MAX_BALANCE,
    Account,
    AccountKind,
    Caller,
    EntryKind,
    RefundStatus,
    Session,
    SessionStatus,
    personal_account_id,
)
from tests.builders import World, admin, coach, member, support
from tests.integration.steps import every_page, stored


def _group(world: World, boss: Caller, members: list[Caller], name: str = "Team") -> Account:
    return operations.create_group_account(
        world.store,
        boss,
        name=name,
        member_ids=[m.id for m in members],
        admin_ids=[boss.id],
        now=world.now,
    )


def _token(key: object) -> str:
    """A page token as a client could forge one."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


# --- grants ---------------------------------------------------------------------------------


def test_support_grants_credits_to_a_personal_account(world: World) -> None:
    # Given Alice, whose personal account was never funded
    alice, helpdesk = member(), support()
    account = personal_account_id(alice.id)
    assert world.balance(account) == 0

    # When support grants her credits
    entry = operations.grant(world.store, helpdesk, account, 12, "Welcome pack", world.now)

    # Then the entry records it and the balance follows
    assert entry.kind is EntryKind.GRANT
    assert (entry.account_id, entry.seq, entry.credits, entry.balance_after) == (account, 1, 12, 12)
    assert entry.actor == helpdesk.actor
    assert entry.note == "Welcome pack"
    assert entry.at == world.now
    assert entry.session_id is None
    assert world.entries(account) == [entry]
    assert world.balance(account) == 12
    world.assert_ledger_consistent(account)


def test_grants_add_up(world: World) -> None:
    alice = member()
    account = personal_account_id(alice.id)

    for credits in (5, 7, 1):
        operations.grant(world.store, support(), account, credits, None, world.now)

    assert world.balance(account) == 13
    assert [e.balance_after for e in world.entries(account)] == [13, 12, 5]
    world.assert_ledger_consistent(account)


def test_a_new_group_account_can_be_funded_by_its_admin(world: World) -> None:
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])
    assert (group.balance, group.version) == (0, 0)

    entry = operations.grant(world.store, boss, group.id, 20, "Q1 budget", world.now)

    assert (entry.seq, entry.credits, entry.balance_after) == (1, 20, 20)
    assert entry.actor == boss.actor
    assert world.balance(group.id) == 20
    world.assert_ledger_consistent(group.id)


def test_the_groups_admin_grants_again(world: World) -> None:
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])
    operations.grant(world.store, boss, group.id, 20, None, world.now)

    operations.grant(world.store, boss, group.id, 5, None, world.now)

    assert world.balance(group.id) == 25
    world.assert_ledger_consistent(group.id)


def test_support_grants_to_a_group_account(world: World) -> None:
    group = _group(world, admin(), [member()])

    operations.grant(world.store, support(), group.id, 8, None, world.now)

    assert world.balance(group.id) == 8
    world.assert_ledger_consistent(group.id)


def test_a_member_of_the_group_may_not_grant_to_it(world: World) -> None:
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])

    with pytest.raises(Forbidden):
        operations.grant(world.store, alice, group.id, 5, None, world.now)

    assert world.balance(group.id) == 0
    assert world.entries(group.id) == []


def test_an_admin_who_is_only_a_member_may_not_grant(world: World) -> None:
    boss, other_admin = admin(), admin()
    group = operations.create_group_account(
        world.store,
        boss,
        name="Team",
        member_ids=[other_admin.id],
        admin_ids=[boss.id],
        now=world.now,
    )

    with pytest.raises(Forbidden):
        operations.grant(world.store, other_admin, group.id, 5, None, world.now)

    assert world.entries(group.id) == []


def test_a_member_may_not_grant_to_herself(world: World) -> None:
    alice = member()

    with pytest.raises(Forbidden):
        operations.grant(world.store, alice, personal_account_id(alice.id), 5, None, world.now)

    assert world.balance(personal_account_id(alice.id)) == 0


@pytest.mark.parametrize("stranger", [admin, coach, member])
def test_a_stranger_does_not_see_a_group_account(
    world: World, stranger: Callable[[], Caller]
) -> None:
    group = _group(world, admin(), [member()])

    with pytest.raises(NotFound):
        operations.grant(world.store, stranger(), group.id, 5, None, world.now)

    assert world.entries(group.id) == []


def test_an_admin_does_not_see_someone_elses_personal_account(world: World) -> None:
    alice = member()

    with pytest.raises(NotFound):
        operations.grant(world.store, admin(), personal_account_id(alice.id), 5, None, world.now)

    assert world.balance(personal_account_id(alice.id)) == 0


@pytest.mark.parametrize("account_id", ["group-nonexistent", "personal-", "nothing"])
def test_a_grant_to_no_such_account_is_not_found(world: World, account_id: str) -> None:
    with pytest.raises(NotFound):
        operations.grant(world.store, support(), account_id, 5, None, world.now)


@pytest.mark.parametrize("credits", [0, -3])
def test_a_grant_must_add_credits(world: World, credits: int) -> None:
    # Given Alice holds 10 credits
    alice = member()
    account = personal_account_id(alice.id)
    world.fund(alice, 10)

    # When support "grants" nothing, or a negative amount
    with pytest.raises(ValidationFailed):
        operations.grant(world.store, support(), account, credits, None, world.now)

    # Then no entry is written and the balance is as it was
    assert world.balance(account) == 10
    assert len(world.entries(account)) == 1
    world.assert_ledger_consistent(account)


def test_a_grant_beyond_the_largest_balance_is_refused_cleanly(world: World) -> None:
    alice = member()
    account = personal_account_id(alice.id)
    world.fund(alice, 999_999)

    with pytest.raises(ValidationFailed):
        operations.grant(world.store, support(), account, 2, None, world.now)

    assert world.balance(account) == 999_999
    world.assert_ledger_consistent(account)


def _at_the_cap_with_a_booking(
    world: World, *, requires_approval: bool = False
) -> tuple[str, Caller, Session]:
    """A member who booked 3 credits and was then granted up to the cap."""
    alice = member()
    account = personal_account_id(alice.id)
    world.fund(alice, 3)
    service = world.service(credits=3, requires_approval=requires_approval)
    session = world.book(alice, service, in_hours=72)
    world.fund(alice, MAX_BALANCE)
    assert world.balance(account) == MAX_BALANCE
    return account, alice, session


def test_a_refund_at_the_cap_still_comes_back(world: World) -> None:
    account, alice, session = _at_the_cap_with_a_booking(world)

    canceled = operations.cancel(world.store, alice, session.id, None, world.now)

    assert canceled.refund.credits == 3
    assert world.balance(account) == MAX_BALANCE + 3
    world.assert_ledger_consistent(account)
    with pytest.raises(ValidationFailed):  # grants stay capped
        operations.grant(world.store, support(), account, 1, None, world.now)


def test_an_expiring_request_at_the_cap_releases_its_credits(world: World) -> None:
    account, _, session = _at_the_cap_with_a_booking(world, requires_approval=True)
    assert session.request_expires_at is not None
    later = session.request_expires_at + timedelta(seconds=1)

    result = sweep.run(world.store, later, budget=lambda: 60.0)

    assert (result.expired_bookings, result.failed) == (1, 0)
    assert world.balance(account) == MAX_BALANCE + 3
    stored_session = world.store.get_session(session.id)
    assert stored_session is not None and stored_session.status is SessionStatus.EXPIRED
    world.assert_ledger_consistent(account)


# --- group accounts and who belongs to them ---------------------------------------------------


def test_an_admin_creates_a_group_account_and_runs_it(world: World) -> None:
    boss, alice, bob = admin(), member(), member()

    group = operations.create_group_account(
        world.store,
        boss,
        name="Sales team",
        member_ids=[alice.id, bob.id, alice.id],
        admin_ids=[],
        now=world.now,
    )

    assert group.kind is AccountKind.GROUP
    assert group.name == "Sales team"
    assert group.balance == 0
    assert group.member_ids == [alice.id, bob.id]
    assert group.admin_ids == [boss.id]  # the creating admin runs it when none is named
    assert world.store.get_account(group.id) == group
    assert operations.visible_account(world.store, alice, group.id) == group
    assert operations.visible_account(world.store, boss, group.id) == group
    with pytest.raises(NotFound):
        operations.visible_account(world.store, member(), group.id)


def test_support_creates_a_group_account_for_named_admins(world: World) -> None:
    boss, alice = admin(), member()

    group = operations.create_group_account(
        world.store,
        support(),
        name="Team",
        member_ids=[alice.id],
        admin_ids=[boss.id],
        now=world.now,
    )

    assert group.admin_ids == [boss.id]
    assert [a.id for a in operations.accounts_of(world.store, boss)] == [group.id]


@pytest.mark.parametrize("who", [member, coach])
def test_only_admins_and_support_create_group_accounts(
    world: World, who: Callable[[], Caller]
) -> None:
    caller = who()

    with pytest.raises(Forbidden):
        operations.create_group_account(
            world.store, caller, name="Mine", member_ids=[caller.id], admin_ids=[], now=world.now
        )

    assert world.store.group_account_ids(caller.id) == []


def test_accounts_of_lists_what_each_person_may_spend_from_or_runs(world: World) -> None:
    boss, alice, bob = admin(), member(), member()
    team = _group(world, boss, [alice, bob], name="Team")
    leads = _group(world, boss, [alice], name="Leads")

    alices = operations.accounts_of(world.store, alice)
    bobs = operations.accounts_of(world.store, bob)
    boss_accounts = operations.accounts_of(world.store, boss)
    outsider = member()

    assert alices[0].id == personal_account_id(alice.id)
    assert alices[0].kind is AccountKind.PERSONAL
    assert {a.id for a in alices[1:]} == {team.id, leads.id}
    assert [a.id for a in bobs] == [personal_account_id(bob.id), team.id]
    assert {a.id for a in boss_accounts} == {team.id, leads.id}
    assert [a.id for a in operations.accounts_of(world.store, outsider)] == [
        personal_account_id(outsider.id)
    ]


# --- spending from a group ------------------------------------------------------------------


def test_a_member_books_from_the_group_account(world: World) -> None:
    # Given Alice belongs to a funded team pool and has credits of her own
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])
    operations.grant(world.store, boss, group.id, 10, None, world.now)
    world.fund(alice, 5)
    service = world.service(credits=3)

    # When she books from the pool
    session = world.book(alice, service, account_id=group.id)

    # Then the pool pays, and the session remembers it
    assert session.account_id == group.id
    assert world.balance(group.id) == 7
    debit = world.entries(group.id)[0]
    assert (debit.kind, debit.credits, debit.session_id) == (EntryKind.DEBIT, -3, session.id)
    assert debit.actor == alice.actor
    assert world.balance(personal_account_id(alice.id)) == 5
    world.assert_ledger_consistent(group.id)
    world.assert_ledger_consistent(personal_account_id(alice.id))


def test_a_non_member_cannot_book_from_the_group_account(world: World) -> None:
    boss, alice, mallory = admin(), member(), member()
    group = _group(world, boss, [alice])
    operations.grant(world.store, boss, group.id, 10, None, world.now)
    service = world.service(credits=3)

    with pytest.raises(NotFound):
        world.book(mallory, service, account_id=group.id)

    assert world.balance(group.id) == 10
    assert world.store.sessions_of("member", mallory.id, "upcoming", world.now, 10, None) == (
        [],
        None,
    )
    world.assert_ledger_consistent(group.id)


def test_a_member_cannot_book_from_someone_elses_personal_account(world: World) -> None:
    alice, mallory = member(), member()
    world.fund(alice, 10)
    service = world.service(credits=3)

    with pytest.raises(NotFound):
        world.book(mallory, service, account_id=personal_account_id(alice.id))

    assert world.balance(personal_account_id(alice.id)) == 10


def test_an_admin_who_is_not_a_member_cannot_book_from_it(world: World) -> None:
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])
    operations.grant(world.store, boss, group.id, 10, None, world.now)
    service = world.service(credits=3)
    # the boss also has a member identity with the same id
    boss_as_member = Caller(id=boss.id, role=alice.role)

    with pytest.raises(NotFound):
        world.book(boss_as_member, service, account_id=group.id)

    assert world.balance(group.id) == 10


def test_an_empty_group_account_refuses_the_booking(world: World) -> None:
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])
    operations.grant(world.store, boss, group.id, 2, None, world.now)
    service = world.service(credits=3)

    with pytest.raises(InsufficientCredits):
        world.book(alice, service, account_id=group.id)

    assert world.balance(group.id) == 2
    world.assert_ledger_consistent(group.id)


def test_a_cancel_inside_the_window_refunds_the_group_account(world: World) -> None:
    boss, alice = admin(), member()
    group = _group(world, boss, [alice])
    operations.grant(world.store, boss, group.id, 10, None, world.now)
    world.fund(alice, 5)
    service = world.service(credits=3, window_hours=24)
    session = world.book(alice, service, in_hours=72, account_id=group.id)

    canceled = operations.cancel(world.store, alice, session.id, None, world.now)

    assert canceled.refund.status is RefundStatus.AUTOMATIC
    assert world.balance(group.id) == 10
    refund = world.entries(group.id)[0]
    assert (refund.kind, refund.credits, refund.session_id) == (EntryKind.REFUND, 3, session.id)
    assert world.balance(personal_account_id(alice.id)) == 5
    assert len(world.entries(personal_account_id(alice.id))) == 1
    world.assert_ledger_consistent(group.id)
    assert stored(world, session.id) == canceled


# --- the ledger -----------------------------------------------------------------------------


def test_the_ledger_reads_newest_first_in_pages(world: World) -> None:
    # Given five grants and a booking on Alice's account
    alice = member()
    account = personal_account_id(alice.id)
    for credits in (1, 2, 3, 4, 5):
        operations.grant(world.store, support(), account, credits, None, world.now)
    world.book(alice, world.service(credits=3))
    everything = world.entries(account)

    # When the ledger is read two entries at a time
    pages = every_page(lambda token: world.store.ledger(account, 2, token))

    # Then the pages run newest first, without gaps or repeats, and end
    assert [e.seq for e in everything] == [6, 5, 4, 3, 2, 1]
    assert [[e.seq for e in page] for page in pages] == [[6, 5], [4, 3], [2, 1], []][: len(pages)]
    assert [e for page in pages for e in page] == everything
    assert all(len(page) == 2 for page in pages[:3])
    assert everything[0].kind is EntryKind.DEBIT
    world.assert_ledger_consistent(account)


def test_a_page_token_stays_on_its_own_account(world: World) -> None:
    alice, bob = member(), member()
    for _ in range(4):
        world.fund(alice, 1)
        world.fund(bob, 1)
    _, alices_token = world.store.ledger(personal_account_id(alice.id), 2, None)
    assert alices_token is not None

    bobs_entries, _ = world.store.ledger(personal_account_id(bob.id), 10, alices_token)

    assert {e.account_id for e in bobs_entries} == {personal_account_id(bob.id)}


def test_an_empty_ledger_has_no_pages(world: World) -> None:
    assert world.store.ledger(personal_account_id(member().id), 5, None) == ([], None)


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "%%%",
        "bm90IGpzb24",  # base64 of "not json"
        _token([1, 2]),
        _token({"sk": {"N": "3"}}),
        _token({"sk": "ENTRY#0000000002"}),
    ],
)
def test_a_garbage_ledger_token_is_refused(world: World, token: str) -> None:
    alice = member()
    world.fund(alice, 1)

    with pytest.raises(ValidationFailed) as refused:
        world.store.ledger(personal_account_id(alice.id), 2, token)

    assert [e.field for e in refused.value.errors] == ["next_token"]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda key: {"foo": {"S": "bar"}}, id="unknown-key-name"),
        pytest.param(lambda key: {**key, "sk": {"S": 2}}, id="number-inside-S"),
        pytest.param(lambda key: {**key, "extra": {"S": "x"}}, id="extra-key"),
    ],
)
def test_a_tampered_ledger_token_is_refused(
    world: World, tamper: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    # Given a real token from Alice's ledger
    alice = member()
    account = personal_account_id(alice.id)
    for _ in range(3):
        world.fund(alice, 1)
    _, token = world.store.ledger(account, 2, None)
    assert token is not None
    key = json.loads(base64.urlsafe_b64decode(token))

    # When a client edits it and sends it back, it is refused as a bad token
    with pytest.raises(ValidationFailed) as refused:
        world.store.ledger(account, 2, _token(tamper(key)))

    assert [e.field for e in refused.value.errors] == ["next_token"]
