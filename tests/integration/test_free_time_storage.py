"""Storage behind free times: a coach's claims by range, their services, their hours.

The claims are read through ByCoach (partition ``SLOTS#{coach}``); these tests pin that the
read returns exactly the coach's claimed slots inside the range, follows bookings, moves and
cancels, and never mixes in another coach's or the coach's own sessions and services.
"""

from datetime import timedelta

from coaching import operations
from coaching.models import Availability, WorkingHours
from coaching.storage import Storage
from tests.builders import World, coach, member

SLOT = timedelta(minutes=15)


def test_claimed_slots_are_the_coach_s_own_inside_the_range(world: World, store: Storage) -> None:
    carol, dave, alice = coach(), coach(), member()
    world.fund(alice, 30)
    first = world.book(alice, world.service(by=carol), in_hours=48)
    later = world.book(alice, world.service(by=carol), in_hours=52)
    world.book(alice, world.service(by=dave), in_hours=48)  # another coach, same time

    everything = store.claimed_slots(carol.id, world.now, world.now + timedelta(days=3))
    only_first = store.claimed_slots(carol.id, first.start, first.end)
    edge = store.claimed_slots(carol.id, first.start + 3 * SLOT, later.start)

    assert everything == {first.start + n * SLOT for n in range(4)} | {
        later.start + n * SLOT for n in range(4)
    }
    assert only_first == {first.start + n * SLOT for n in range(4)}
    assert edge == {first.start + 3 * SLOT}  # the end of the range is not included


def test_claims_follow_a_move_and_a_cancel(world: World, store: Storage) -> None:
    carol, alice = coach(), member()
    world.fund(alice, 10)
    session = world.book(alice, world.service(by=carol), in_hours=72)
    moved_to = session.start + timedelta(hours=3)
    span = (world.now, world.now + timedelta(days=5))

    operations.reschedule(store, carol, session.id, moved_to, None, world.now)
    after_move = store.claimed_slots(carol.id, *span)
    operations.cancel(store, carol, session.id, None, world.now)
    after_cancel = store.claimed_slots(carol.id, *span)

    assert after_move == {moved_to + n * SLOT for n in range(4)}
    assert after_cancel == set()


def test_a_coach_s_services_and_sessions_do_not_mix_in_the_index(
    world: World, store: Storage
) -> None:
    carol, alice = coach(), member()
    world.fund(alice, 10)
    service = world.service(by=carol)
    session = world.book(alice, service, in_hours=72)

    services, token = store.services_of(carol.id, 10, None)
    past, _ = store.sessions_of("coach", carol.id, "past", world.now, 10, None)
    upcoming, _ = store.sessions_of("coach", carol.id, "upcoming", world.now, 10, None)

    assert [s.id for s in services] == [service.id] and token is None
    assert past == []
    assert [s.id for s in upcoming] == [session.id]


def test_hours_are_stored_whole_and_read_back(world: World, store: Storage) -> None:
    carol = coach(tz="Asia/Tokyo")
    weekly = [WorkingHours(day="FRI", start="08:00", end="12:00")]

    saved = operations.set_availability(store, carol, timezone=None, weekly=weekly, now=world.now)

    assert store.get_availability(carol.id) == saved
    assert saved.timezone == "Asia/Tokyo" and saved.updated_at == world.now
    assert store.get_availability("nobody") is None
    assert operations.availability_of(store, "nobody") == Availability(coach_id="nobody")
