"""The one clock every function reads.

In AWS it is the system clock. The local stack can move it forward (time travel), which is why
nothing else calls ``datetime.now`` directly: rules take ``now`` as an argument and handlers get
it from here.
"""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current time in UTC, to the second (the API speaks whole seconds)."""
    return (datetime.now(UTC) + _offset).replace(microsecond=0)


def advance(seconds: float) -> datetime:
    """Move this process's clock forward; used by the local stack's time travel only."""
    global _offset
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    _offset += timedelta(seconds=seconds)
    return now()


def offset() -> timedelta:
    return _offset


def reset() -> None:
    """Back to the system clock (tests start each case from here)."""
    global _offset
    _offset = timedelta(0)
