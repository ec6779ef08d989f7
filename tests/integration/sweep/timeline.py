"""Given-steps for the sweep stories: stale and fresh sessions on one timeline.

Everything is booked at ``world.now``; the sweep runs at ``sweep_at(world)``, seven hours later.

Stale at that moment (the sweep must act on each, once):
  - ``request``: a booking request nobody answered, deadline +6h: it expires, credits back
  - ``asked``: a session at +10h whose member asked late to move it, the request's deadline
    +2h: the request expires, the session keeps its time
  - ``ended``: a session from +2h to +2h30: it completes
  - ``asked_and_ended``: a session from +4h to +4h30 with a late request that expired at +2h:
    the request expires, then the session completes
Fresh (the sweep must not touch them): a session at +72h, a booking request whose deadline is
+48h, a late reschedule request whose deadline is +20h, and a canceled session.

The services send no reminders (``QUIET``): the reminders the sweep marks have stories of their
own (tests/integration/notify/test_reminders.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import boto3

from coaching import operations
from coaching.models import Caller, Service, Session, personal_account_id
from coaching.storage import session_item
from tests.builders import QUIET, World, coach, member, unique

CREDITS = 3
MINUTES = 30
"""Two 15-minute slots each: moto copies a table per item of a transaction, so fewer is faster."""
FUNDS = 10
SWEEP_AFTER = timedelta(hours=7)


def sweep_at(world: World) -> datetime:
    return world.now + SWEEP_AFTER


@dataclass
class Booked:
    who: Caller
    service: Service
    session: Session

    @property
    def account(self) -> str:
        return personal_account_id(self.who.id)


@dataclass
class Stale:
    request: Booked
    asked: Booked
    ended: Booked
    asked_and_ended: Booked

    @property
    def all(self) -> list[Booked]:
        return [self.request, self.asked, self.ended, self.asked_and_ended]


def booked_on(world: World, offered: Service, in_hours: float) -> Booked:
    """A funded new member books ``offered`` ``in_hours`` from now."""
    who = member()
    world.fund(who, FUNDS)
    return Booked(who, offered, world.book(who, offered, in_hours=in_hours))


def booking_request(world: World, ttl_hours: int = 6) -> Booked:
    offered = world.service(
        by=coach(),
        minutes=MINUTES,
        credits=CREDITS,
        requires_approval=True,
        request_ttl_hours=ttl_hours,
        **QUIET,  # type: ignore[arg-type]
    )
    return booked_on(world, offered, 72)


def late_reschedule_request(world: World, in_hours: float, ttl_hours: int = 2) -> Booked:
    """A session inside its 24-hour window whose member asked to move it three hours later."""
    offered = world.service(
        by=coach(),
        minutes=MINUTES,
        credits=CREDITS,
        window_hours=24,
        late_reschedule_requires_approval=True,
        request_ttl_hours=ttl_hours,
        **QUIET,  # type: ignore[arg-type]
    )
    booked = booked_on(world, offered, in_hours)
    later = booked.session.start + timedelta(hours=3)
    asked, mode = operations.reschedule(
        world.store, booked.who, booked.session.id, later, "Train strike", world.now
    )
    assert mode == "REQUEST"
    booked.session = asked
    return booked


def session_at(world: World, in_hours: float) -> Booked:
    offered = world.service(by=coach(), minutes=MINUTES, credits=CREDITS, **QUIET)  # type: ignore[arg-type]
    return booked_on(world, offered, in_hours)


def stale(world: World) -> Stale:
    return Stale(
        request=booking_request(world),
        asked=late_reschedule_request(world, 10),
        ended=session_at(world, 2),
        asked_and_ended=late_reschedule_request(world, 4),
    )


def fresh(world: World) -> list[Booked]:
    """Sessions the sweep must leave alone at ``sweep_at(world)``; one of each kind."""
    canceled = session_at(world, 30)
    canceled.session = operations.cancel(
        world.store, canceled.who, canceled.session.id, None, world.now
    )
    return [
        session_at(world, 72),
        booking_request(world, ttl_hours=48),
        late_reschedule_request(world, 20, ttl_hours=48),
        canceled,
    ]


def copies(world: World, originals: list[Booked], count: int) -> list[Session]:
    """``count`` more sessions like ``originals`` (new ids, later days), written straight in.

    Plain puts, not bookings: moto copies a table for every transaction, so booking hundreds of
    sessions one by one would take minutes. These only have to be there for the sweep to skip.
    """
    client = boto3.client("dynamodb", region_name="us-east-1")
    made: list[Session] = []
    stored = [world.store.get_session(b.session.id) for b in originals]
    for n in range(count):
        original = stored[n % len(stored)]
        assert original is not None
        shift = timedelta(days=n + 1)
        changes: dict[str, object] = {
            "id": unique("copy"),
            "start": original.start + shift,
            "end": original.end + shift,
        }
        if original.request_expires_at is not None:
            changes["request_expires_at"] = original.request_expires_at + shift
        if original.reschedule_request is not None:
            request = original.reschedule_request
            changes["reschedule_request"] = request.model_copy(
                update={
                    "start": request.start + shift,
                    "end": request.end + shift,
                    "expires_at": request.expires_at + shift,
                }
            )
        copy = original.model_copy(update=changes)
        client.put_item(
            TableName=world.store.sessions_table,
            Item=session_item(copy, due_shards=world.store.settings.due_shards),
        )
        made.append(copy)
    return made


def plenty() -> float:
    """A budget that never runs out."""
    return 3600.0


class Countdown:
    """A budget that allows ``checks`` more checks, then reports the time spent."""

    def __init__(self, checks: int) -> None:
        self.left = checks

    def __call__(self) -> float:
        self.left -= 1
        return 1.0 if self.left >= 0 else 0.0


def one_action_each(world: World) -> list[Booked]:
    """Five stale sessions, each needing exactly one action, due at +1h30, +2h30, +4h, +5h, +6h."""
    return [
        session_at(world, 1),
        session_at(world, 2),
        late_reschedule_request(world, 10, ttl_hours=4),
        booking_request(world, ttl_hours=5),
        booking_request(world, ttl_hours=6),
    ]


def events(session: Session, kind: str) -> int:
    """How many times the session's history records ``kind``."""
    return sum(event.kind == kind for event in session.history)
