"""Edits of a service or a group racing bookings and each other.

Two kinds of test. The interleaved ones make the losing order happen every time: another change
lands between a booking's (or an edit's) read and its write, through a store that runs that
change right after the read. The raced ones release threads together against the serialized
moto server, round after round, as tests/integration/test_races.py does. Either way the outcome
must be one a serial order could give: a booking is made under one whole version of the
service (the one in force when it lands), and no edit is lost.
"""

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pytest

from coaching import operations, rules
from coaching.errors import NotFound, ServiceRetired, SessionTypeRetired
from coaching.models import (
    Account,
    Availability,
    Caller,
    EntryKind,
    Service,
    Session,
    personal_account_id,
)
from coaching.storage import Storage
from tests.builders import World, admin, coach, member, support
from tests.racing import race

from .test_races import ROUNDS, assert_errors, at, holders, slots, split

pytestmark = pytest.mark.race


class ChangesAfterTheRead(Storage):
    """A store on the same tables that runs ``change`` once, right after the first read of a
    service (a booking's or an edit's) or of an account: what another request committing
    between this one's read and its write looks like."""

    def __init__(self, store: Storage, change: Callable[[], object]) -> None:
        super().__init__(store._db, store.settings)
        self._change: Callable[[], object] | None = change

    def _after_read(self) -> None:
        change, self._change = self._change, None
        if change is not None:
            change()

    def service_and_accounts(
        self, service_id: str, account_ids: Sequence[str]
    ) -> tuple[Service | None, dict[str, Account]]:
        found = super().service_and_accounts(service_id, account_ids)
        self._after_read()
        return found

    def service_accounts_and_hours(
        self, service_id: str, account_ids: Sequence[str]
    ) -> tuple[Service | None, dict[str, Account], Availability | None]:
        found = super().service_accounts_and_hours(service_id, account_ids)
        self._after_read()
        return found

    def get_service(self, service_id: str) -> Service | None:
        found = super().get_service(service_id)
        self._after_read()
        return found

    def get_account(self, account_id: str) -> Account | None:
        found = super().get_account(account_id)
        self._after_read()
        return found


def _edit(
    world: World,
    who: Caller,
    service: Service,
    settings: dict[str, Any] | None = None,
    **types: Any,
) -> Service:
    return operations.edit_service(
        world.store,
        who,
        service.id,
        settings=settings or {},
        session_types=rules.SessionTypeEdits(**types),
        now=world.now,
    )


def _book(store: Storage, world: World, who: Caller, service: Service, hours: int) -> Session:
    return operations.book(
        store,
        who,
        service_id=service.id,
        session_type_id="t1",
        start=at(world, hours),
        account_id=None,
        timezone=None,
        now=world.now,
    )


def _book_on(world: World, who: Caller, service: Service, group: Account, hours: int) -> Session:
    return operations.book(
        world.store,
        who,
        service_id=service.id,
        session_type_id="t1",
        start=at(world, hours),
        account_id=group.id,
        timezone=None,
        now=world.now,
    )


PRICE_AND_WINDOW = {"cancellation_window_hours": 48}
NEW_PRICE = [{"id": "t1", "credits": 5}]


# --- an edit between a booking's read and its write ---------------------------------------------


def test_a_price_and_window_change_landing_after_the_booking_read_applies_to_it_whole(
    world: World,
) -> None:
    carol, alice = coach(), member()
    service = world.service(by=carol, credits=3, window_hours=24)
    world.fund(alice, 10)
    raise_price = partial(_edit, world, carol, service, PRICE_AND_WINDOW, change=NEW_PRICE)

    session = _book(ChangesAfterTheRead(world.store, raise_price), world, alice, service, 72)

    # The booking read the old version; the edit landed first; the booking's write was refused
    # on the service's version, read again, and made under the new version entire.
    assert (session.credits, session.policy.window_hours) == (5, 48)
    assert session.session_type.credits == 5
    account = personal_account_id(alice.id)
    assert [e.credits for e in world.entries(account) if e.kind is EntryKind.DEBIT] == [-5]
    assert world.balance(account) == 5
    world.assert_ledger_consistent(account)


@pytest.mark.parametrize(
    ("retire", "refusal"),
    [("the service", ServiceRetired), ("its session type", SessionTypeRetired)],
)
def test_a_retirement_landing_after_the_booking_read_refuses_the_booking(
    world: World, retire: str, refusal: type[Exception]
) -> None:
    carol, alice = coach(), member()
    service = world.service(by=carol, credits=3)
    # a second type, so that the first may be retired
    service = _edit(world, carol, service, add=[{"minutes": 30, "credits": 1}])
    world.fund(alice, 10)
    retirement = (
        partial(operations.retire_service, world.store, carol, service.id, world.now)
        if retire == "the service"
        else partial(_edit, world, carol, service, retire=["t1"])
    )

    with pytest.raises(refusal):
        _book(ChangesAfterTheRead(world.store, retirement), world, alice, service, 72)

    account = personal_account_id(alice.id)
    assert world.balance(account) == 10
    assert [e.kind for e in world.entries(account)] == [EntryKind.GRANT]
    assert holders(world.store, carol.id, slots(at(world, 72), 60)) == {None}


def test_a_removal_landing_after_the_booking_read_refuses_the_removed_member(
    world: World,
) -> None:
    boss, alice = admin(), member()
    group = operations.create_group_account(
        world.store, boss, name="Team", member_ids=[alice.id], admin_ids=[], now=world.now
    )
    world.fund(alice, 10, account_id=group.id)
    service = world.service(credits=3)
    removal = partial(
        operations.edit_group,
        world.store,
        boss,
        group.id,
        rules.GroupEdit(remove_members=[alice.id]),
        world.now,
    )

    with pytest.raises(NotFound):
        operations.book(
            ChangesAfterTheRead(world.store, removal),
            alice,
            service_id=service.id,
            session_type_id="t1",
            start=at(world, 72),
            account_id=group.id,
            timezone=None,
            now=world.now,
        )

    assert world.balance(group.id) == 10
    assert [e.kind for e in world.entries(group.id)] == [EntryKind.GRANT]


# --- an edit between another edit's read and its write -----------------------------------------


def test_an_edit_that_lost_to_another_is_applied_again_on_top_of_it(world: World) -> None:
    carol = coach()
    service = world.service(by=carol, credits=3, window_hours=24)
    other = partial(
        _edit, world, carol, service, {"name": "Renamed"}, add=[{"minutes": 30, "credits": 1}]
    )

    final = operations.edit_service(
        ChangesAfterTheRead(world.store, other),
        carol,
        service.id,
        settings=PRICE_AND_WINDOW,
        session_types=rules.SessionTypeEdits(add=[{"minutes": 90, "credits": 4}]),
        now=world.now,
    )

    assert final.name == "Renamed" and final.cancellation_window_hours == 48
    assert [(t.id, t.minutes) for t in final.session_types] == [("t1", 60), ("t2", 30), ("t3", 90)]
    assert world.store.get_service(service.id) == final


def test_a_group_change_that_lost_to_another_is_applied_again_on_top_of_it(world: World) -> None:
    boss = admin()
    group = operations.create_group_account(
        world.store, boss, name="Team", member_ids=[], admin_ids=[], now=world.now
    )
    other = partial(
        operations.edit_group,
        world.store,
        support(),
        group.id,
        rules.GroupEdit(add_members=["b"]),
        world.now,
    )

    final = operations.edit_group(
        ChangesAfterTheRead(world.store, other),
        boss,
        group.id,
        rules.GroupEdit(name="Acme", add_members=["a"]),
        world.now,
    )

    assert (final.name, final.member_ids, final.revision) == ("Acme", ["b", "a"], 2)
    changes, _ = world.store.account_changes(group.id, 10, None)
    assert [(c.seq, c.by.role.value, c.added_members) for c in changes] == [
        (2, "admin", ["a"]),
        (1, "support", ["b"]),
    ]


# --- threads racing against the serialized moto server ------------------------------------------


def test_an_edit_racing_bookings_applies_to_each_whole_or_not_at_all(server_world: World) -> None:
    world = server_world
    for n in range(ROUNDS):
        carol = coach()
        service = world.service(by=carol, credits=3, window_hours=24)
        people = [member() for _ in range(3)]
        for who in people:
            world.fund(who, 10)

        results = race(
            partial(_edit, world, carol, service, PRICE_AND_WINDOW, change=NEW_PRICE),
            *(
                partial(_book, world.store, world, who, service, 48 + 2 * m + 10 * n)
                for m, who in enumerate(people)
            ),
        )

        split(results)
        edited, *booked = results
        assert isinstance(edited, Service), results
        for session, who in zip(booked, people, strict=True):
            assert isinstance(session, Session), results
            # One version or the other, never a mix of them.
            assert (session.credits, session.policy.window_hours) in {(3, 24), (5, 48)}
            assert session.session_type.credits == session.credits
            account = personal_account_id(who.id)
            assert world.balance(account) == 10 - session.credits
            world.assert_ledger_consistent(account)


def test_a_retirement_racing_bookings_leaves_no_booking_made_after_it(
    server_world: World,
) -> None:
    world = server_world
    for n in range(ROUNDS):
        carol = coach()
        service = world.service(by=carol, credits=3)
        people = [member() for _ in range(3)]
        for who in people:
            world.fund(who, 10)

        results = race(
            partial(operations.retire_service, world.store, carol, service.id, world.now),
            *(
                partial(_book, world.store, world, who, service, 48 + 2 * m + 10 * n)
                for m, who in enumerate(people)
            ),
        )

        winners, losers = split(results)
        assert_errors(losers, ServiceRetired)
        retired = next(r for r in winners if isinstance(r, Service))
        assert retired.retired_at is not None
        # Which bookings land depends on the order; that none lands once the retirement has is
        # what the interleaved test above makes happen every time.
        for who in people:
            account = personal_account_id(who.id)
            paid = any(isinstance(w, Session) and w.member.id == who.id for w in winners)
            assert world.balance(account) == (7 if paid else 10)
            world.assert_ledger_consistent(account)


def test_racing_edits_of_one_service_lose_nothing(server_world: World) -> None:
    world = server_world
    for _ in range(ROUNDS):
        carol, helpdesk = coach(), support()
        service = world.service(by=carol, credits=3, window_hours=24)

        results = race(
            partial(_edit, world, carol, service, {"name": "Renamed"}),
            partial(_edit, world, helpdesk, service, add=[{"minutes": 30, "credits": 1}]),
            partial(_edit, world, carol, service, add=[{"minutes": 90, "credits": 4}]),
            partial(_edit, world, helpdesk, service, PRICE_AND_WINDOW, change=NEW_PRICE),
        )

        _, losers = split(results)
        assert not losers, results
        final = world.store.get_service(service.id)
        assert final is not None
        assert final.name == "Renamed" and final.cancellation_window_hours == 48
        assert final.session_types[0].credits == 5
        assert sorted((t.minutes, t.id) for t in final.session_types[1:]) in (
            [(30, "t2"), (90, "t3")],
            [(30, "t3"), (90, "t2")],
        )
        assert final.version == 5
        assert final.coach_id == carol.id
        entry = world.store.coach_entry(carol.id)
        assert entry is not None and [s.name for s in entry.services] == ["Renamed"]


def test_racing_changes_of_one_group_lose_nothing_and_are_each_recorded(
    server_world: World,
) -> None:
    world = server_world
    for _ in range(ROUNDS):
        boss, helpdesk = admin(), support()
        group = operations.create_group_account(
            world.store, boss, name="Team", member_ids=["old"], admin_ids=[], now=world.now
        )
        edits = [
            (boss, rules.GroupEdit(add_members=["a"])),
            (helpdesk, rules.GroupEdit(add_members=["b"], remove_members=["old"])),
            (boss, rules.GroupEdit(add_admins=["deputy"])),
            (helpdesk, rules.GroupEdit(name="Acme")),
        ]

        results = race(
            *(
                partial(operations.edit_group, world.store, who, group.id, edit, world.now)
                for who, edit in edits
            )
        )

        _, losers = split(results)
        assert not losers, results
        final = world.store.get_account(group.id)
        assert final is not None
        assert sorted(final.member_ids) == ["a", "b"]
        assert final.admin_ids == [boss.id, "deputy"] and final.name == "Acme"
        changes, _ = world.store.account_changes(group.id, 10, None)
        assert [c.seq for c in changes] == [4, 3, 2, 1]
        assert final.revision == 4
        memberships = {
            user: group.id in world.store.group_account_ids(user)
            for user in ("a", "b", "old", "deputy", boss.id)
        }
        assert memberships == {"a": True, "b": True, "old": False, "deputy": True, boss.id: True}


def test_a_removal_racing_the_member_s_bookings_on_the_group(server_world: World) -> None:
    world = server_world
    for n in range(ROUNDS):
        boss, alice = admin(), member()
        group = operations.create_group_account(
            world.store, boss, name="Team", member_ids=[alice.id], admin_ids=[], now=world.now
        )
        world.fund(alice, 20, account_id=group.id)
        service = world.service(credits=3)

        results = race(
            partial(
                operations.edit_group,
                world.store,
                boss,
                group.id,
                rules.GroupEdit(remove_members=[alice.id]),
                world.now,
            ),
            *(
                partial(_book_on, world, alice, service, group, 48 + 2 * m + 10 * n)
                for m in range(3)
            ),
        )

        winners, losers = split(results)
        assert_errors(losers, NotFound)
        booked = [w for w in winners if isinstance(w, Session)]
        debits = [e for e in world.entries(group.id) if e.kind is EntryKind.DEBIT]
        assert sorted(e.session_id for e in debits) == sorted(s.id for s in booked)
        assert world.balance(group.id) == 20 - 3 * len(booked)
        world.assert_ledger_consistent(group.id)
        after = world.store.get_account(group.id)
        assert after is not None and alice.id not in after.member_ids
