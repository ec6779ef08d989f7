"""Time travel for the local stack and the tests: the functions' clock, moved from outside.

The layer reads time through ``coaching.clock``; the local stack installs a ``TimeTravel`` there
(``POST /_local/clock`` moves it on) and the tests install one per case. It keeps ticking with the
system clock, only shifted, so a session's deadline arrives after the move as it would have.
"""

import threading
from datetime import UTC, datetime, timedelta

from coaching import clock


class TimeTravel:
    """The system time plus an offset that the owner of this clock moves."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()  # the stack's gateway serves requests on many threads

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def offset(self) -> timedelta:
        return self._offset

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds``; the local stack's ``POST /_local/clock``."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now().replace(microsecond=0)

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` exactly (a test reaching a deadline to the second)."""
        with self._lock:
            self._offset = moment - datetime.now(UTC)
        return self.now().replace(microsecond=0)


def install() -> TimeTravel:
    """A fresh ``TimeTravel`` (no offset) as the functions' clock, for the rest of the process."""
    travel = TimeTravel()
    clock.set_clock(travel)
    return travel


def offset() -> timedelta:
    """How far the functions' clock is from the system clock, whatever clock is installed:
    what AWS stamps with real time (a stream record, an API request) is shifted by this much."""
    return clock.current().now() - datetime.now(UTC)
