"""Time zones follow the pinned zone database (tzdata, which the layer ships), never the
machine's: template.yaml gives every function an empty PYTHONTZPATH, and the tests run with it.

tzdata 2026.6 knows that British Columbia keeps UTC-7 all year from November 2026; a machine
whose own database is older (Debian's 2025b here) puts Vancouver at UTC-8 in December 2027, an
hour off for every email and free time (Cal.com #30104).
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

from coaching import clock, operations
from coaching.models import WorkingHours
from local import template
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import World, coach, member

from .api_steps import assert_ok, iso, parse

# A Friday in December 2027: 09:00 in Vancouver is 16:00 UTC at UTC-7 (17:00 at UTC-8).
FRIDAY = datetime(2027, 12, 10, tzinfo=UTC)


def test_every_function_reads_zones_from_the_pinned_package() -> None:
    assert template.global_variables()["PYTHONTZPATH"] == ""
    assert zoneinfo.TZPATH == ()  # the suite runs as the functions do
    vancouver = datetime(2027, 12, 10, 16, tzinfo=UTC).astimezone(
        zoneinfo.ZoneInfo("America/Vancouver")
    )
    assert vancouver.utcoffset() == timedelta(hours=-7)


def test_a_vancouver_coach_s_free_times_in_december_2027_are_at_utc_minus_7(
    api: Api, given: World, travel: TimeTravel
) -> None:
    travel.set(FRIDAY - timedelta(days=3))
    carol = coach(tz="America/Vancouver")
    operations.set_availability(
        given.store,
        carol,
        timezone=None,
        weekly=[WorkingHours(day="FRI", start="09:00", end="10:00")],
        now=clock.now(),
    )
    service = given.service(by=carol, minutes=60)

    reply = api.get(
        member(),
        f"/services/{service.id}/slots",
        query={"session_type_id": "t1", "from": iso(FRIDAY), "to": iso(FRIDAY + timedelta(days=1))},
    )

    assert [parse(i["start"]) for i in assert_ok(reply)["items"]] == [FRIDAY.replace(hour=16)]
