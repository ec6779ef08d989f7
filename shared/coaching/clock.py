"""The one clock every function reads.

Nothing in the layer calls ``datetime.now`` directly: rules take ``now`` as an argument and
handlers and operations get it from ``clock.now()``. In AWS that is the system clock. What runs
the functions from outside may put another clock in its place (``set_clock``/``use_clock``): the
local stack a clock that travels forward in time (``local/time_travel.py``), tests a clock at the
moment they need. The layer itself never moves time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol, TypeVar


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


C = TypeVar("C", bound=Clock)
SYSTEM = SystemClock()
_clock: Clock = SYSTEM


def now() -> datetime:
    """The current time in UTC, to the second (the API speaks whole seconds)."""
    return _clock.now().astimezone(UTC).replace(microsecond=0)


def current() -> Clock:
    return _clock


def set_clock(replacement: Clock | None) -> Clock:
    """Read time from ``replacement`` from now on (``None``: the system clock); returns the clock
    it replaces, so the caller can put it back."""
    global _clock
    previous, _clock = _clock, replacement or SYSTEM
    return previous


@contextmanager
def use_clock(replacement: C) -> Iterator[C]:
    """``replacement`` for the ``with`` block, then whatever clock was there before."""
    previous = set_clock(replacement)
    try:
        yield replacement
    finally:
        set_clock(previous)
