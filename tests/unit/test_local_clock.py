"""The functions' clock: the layer reads it, the local stack and the tests move it from outside,
and the local stack's events carry it, time travel included."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from coaching import clock
from local import time_travel
from local.lambda_runtime import http_event
from local.scheduler import scheduled_event
from local.streams import lambda_record
from local.time_travel import TimeTravel

DAY = 86_400


class Stopped:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def travel() -> Iterator[TimeTravel]:
    """Here the clock under test is the local stack's: a fresh one, at the system time (the
    suite's own starts at the builders' fixed moment)."""
    with clock.use_clock(TimeTravel()) as fresh:
        yield fresh


@pytest.fixture
def a_day_ahead(travel: TimeTravel) -> datetime:
    travel.advance(DAY)
    return datetime.now(UTC) + timedelta(days=1)


def _near(found: datetime, expected: datetime) -> bool:
    return abs(found - expected) < timedelta(minutes=1)


def test_the_layer_reads_the_installed_clock_in_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=1))
    with clock.use_clock(Stopped(datetime(2026, 12, 1, 11, 30, 5, 999_999, tzinfo=paris))):
        assert clock.now() == datetime(2026, 12, 1, 10, 30, 5, tzinfo=UTC)
        assert clock.now().tzinfo is UTC


def test_use_clock_puts_back_the_clock_it_replaced(travel: TimeTravel) -> None:
    with clock.use_clock(Stopped(datetime(2030, 1, 1, tzinfo=UTC))):
        assert clock.now().year == 2030
    assert clock.current() is travel


def test_set_clock_with_none_is_the_system_clock_again(travel: TimeTravel) -> None:
    travel.advance(DAY)
    previous = clock.set_clock(None)
    try:
        assert previous is travel
        assert _near(clock.now(), datetime.now(UTC))
    finally:
        clock.set_clock(previous)


def test_time_travel_moves_forward_and_never_back(travel: TimeTravel) -> None:
    assert travel.advance(3600) == clock.now()
    assert _near(clock.now(), datetime.now(UTC) + timedelta(hours=1))
    assert travel.offset() >= timedelta(hours=1)

    with pytest.raises(ValueError, match="only moves forward"):
        travel.advance(-1)
    assert _near(clock.now(), datetime.now(UTC) + timedelta(hours=1))


def test_time_travel_jumps_to_a_moment_to_the_second(travel: TimeTravel) -> None:
    deadline = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    assert travel.set(deadline) == deadline
    assert clock.now() == deadline  # not a second past: a deadline test lands on it exactly


def test_the_offset_is_that_of_whatever_clock_is_installed() -> None:
    week_ago = datetime.now(UTC) - timedelta(days=7)
    with clock.use_clock(Stopped(week_ago)):
        assert abs(time_travel.offset() + timedelta(days=7)) < timedelta(minutes=1)


def test_the_http_event_is_stamped_with_the_functions_clock(a_day_ahead: datetime) -> None:
    event = http_event(method="GET", path="/x", route_key="GET /x")

    epoch = event["requestContext"]["timeEpoch"] / 1000
    stamped = datetime.strptime(event["requestContext"]["time"], "%d/%b/%Y:%H:%M:%S %z")
    assert _near(datetime.fromtimestamp(epoch, UTC), a_day_ahead)
    assert _near(stamped, a_day_ahead)


def test_the_scheduled_event_is_stamped_with_the_functions_clock(a_day_ahead: datetime) -> None:
    stamped = datetime.fromisoformat(scheduled_event("rule")["time"])

    assert _near(stamped, a_day_ahead)


def test_a_stream_record_moto_stamped_now_reads_as_the_functions_now(
    a_day_ahead: datetime,
) -> None:
    record = {"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": datetime.now(UTC)}}

    created = lambda_record(record, "arn:stream")["dynamodb"]["ApproximateCreationDateTime"]

    assert _near(datetime.fromtimestamp(created, UTC), a_day_ahead)
