"""The local stack's events carry the functions' clock, time travel included."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from coaching import clock
from local.lambda_runtime import http_event
from local.scheduler import scheduled_event
from local.streams import lambda_record

DAY = 86_400


@pytest.fixture
def a_day_ahead() -> Iterator[datetime]:
    clock.reset()
    clock.advance(DAY)
    yield datetime.now(UTC) + timedelta(days=1)
    clock.reset()


def _near(found: datetime, expected: datetime) -> bool:
    return abs(found - expected) < timedelta(minutes=1)


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
