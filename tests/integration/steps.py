"""Steps shared by the reschedule, refund, account, request and listing stories.

Only reads and small conveniences: the Given-steps that write live in ``tests/builders.py``.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from coaching import operations
from coaching.models import Caller, Session
from coaching.rules import slots_between
from coaching.storage import Storage
from tests.builders import World

T = TypeVar("T")


def stored(world: World, session_id: str) -> Session:
    """The session as the table holds it now."""
    session = world.store.get_session(session_id)
    assert session is not None
    return session


def holders(world: World, coach_id: str, start: datetime, end: datetime) -> list[str | None]:
    """Who holds each 15-minute slot of the coach's calendar from start to end."""
    return [world.store.slot_holder(coach_id, slot) for slot in slots_between(start, end)]


def held_by(world: World, session: Session, start: datetime, end: datetime) -> bool:
    """True when every slot from start to end is claimed by this session."""
    return holders(world, session.coach.id, start, end) == [session.id] * len(
        slots_between(start, end)
    )


def free(world: World, coach_id: str, start: datetime, end: datetime) -> bool:
    """True when no slot from start to end is claimed by anyone."""
    return all(holder is None for holder in holders(world, coach_id, start, end))


def end_of(session: Session, start: datetime) -> datetime:
    """Where the session would end if it started at ``start``."""
    return start + timedelta(minutes=session.session_type.minutes)


def every_page(fetch: Callable[[str | None], tuple[list[T], str | None]]) -> list[list[T]]:
    """Follow next_token from the first page to the last; each page as it came."""
    pages: list[list[T]] = []
    token: str | None = None
    while True:
        items, token = fetch(token)
        pages.append(items)
        if token is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


def reschedule(
    world: World, who: Caller, session: Session, start: datetime, now: datetime
) -> tuple[Session, str]:
    return operations.reschedule(world.store, who, session.id, start, None, now)


def due(store: Storage, now: datetime) -> list[Session]:
    """Every session the sweep's Due index lists as due at ``now``, from every partition."""
    found: list[Session] = []
    for partition in store.due_partitions():
        after: dict[str, Any] | None = None
        while True:
            page = store.due_page(partition, now, 100, after)
            found += page.sessions
            if page.next_key is None:
                break
            after = page.next_key
    return found
