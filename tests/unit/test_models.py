"""The models the rules reason about refuse what the rules could not handle: session lengths
under ten minutes or over four hours, time zones nobody knows, times without an offset. Every
time they keep is in UTC, so that time arithmetic is elapsed time.
"""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from coaching.models import (
    MAX_SESSION_MINUTES,
    MIN_SESSION_MINUTES,
    SLOT_MINUTES,
    Account,
    AccountKind,
    Caller,
    Person,
    Policy,
    RefundTier,
    RescheduleRequest,
    Role,
    Service,
    Session,
    SessionType,
)
from tests.builders import COACH, MEMBER, NOW, reschedule_request, service, session


def errors_of(
    raised: pytest.ExceptionInfo[ValidationError],
) -> list[tuple[tuple[object, ...], str]]:
    return [(tuple(error["loc"]), error["type"]) for error in raised.value.errors()]


# --- session types: any whole number of minutes from 10 to 240 --------------------------------


@pytest.mark.parametrize("length", [10, 15, 20, 25, 30, 45, 50, 61, 90, 100, 239, 240])
def test_a_session_type_lasts_any_whole_number_of_minutes_from_10_to_240(length: int) -> None:
    assert SessionType(id="t1", minutes=length, credits=1).minutes == length


@pytest.mark.parametrize(
    ("length", "kind"),
    [
        (0, "greater_than_equal"),
        (-15, "greater_than_equal"),
        (MIN_SESSION_MINUTES - 1, "greater_than_equal"),
        (MAX_SESSION_MINUTES + 1, "less_than_equal"),
        (MAX_SESSION_MINUTES + SLOT_MINUTES, "less_than_equal"),
    ],
)
def test_a_length_outside_10_minutes_to_four_hours_is_refused(length: int, kind: str) -> None:
    with pytest.raises(ValidationError) as raised:
        SessionType(id="t1", minutes=length, credits=1)

    assert errors_of(raised) == [(("minutes",), kind)]


@pytest.mark.parametrize("credits", [0, -1, 10_001])
def test_a_session_type_costs_between_1_and_10000_credits(credits: int) -> None:
    with pytest.raises(ValidationError):
        SessionType(id="t1", minutes=60, credits=credits)


def test_a_service_offers_session_types_off_the_quarter_hours() -> None:
    offered = Service.model_validate(
        {
            **service().model_dump(),
            "session_types": [
                {"id": "t1", "minutes": 25, "credits": 1},
                {"id": "t2", "minutes": 50, "credits": 2},
            ],
        }
    )

    assert [t.minutes for t in offered.session_types] == [25, 50]


# --- services ---------------------------------------------------------------------------------


def test_a_service_has_a_24_hour_window_and_no_review_by_default() -> None:
    offered = Service(
        id="service-1",
        coach=COACH.as_person(),
        name="Career coaching",
        session_types=[SessionType(id="t1", minutes=60, credits=3)],
        created_at=NOW,
    )

    assert offered.cancellation_window_hours == 24
    assert offered.requires_approval is False
    assert offered.request_ttl_hours == 48
    # The contract's defaults: late moves go to the coach; 5 member moves, no required reason,
    # and the help page's refund rule (everything back at least the window ahead).
    assert offered.late_reschedule_requires_approval is True
    assert offered.max_reschedules == 5
    assert offered.cancel_reason_required is False
    assert offered.refund_tiers is None
    assert offered.effective_refund_tiers == [RefundTier(hours_before=24, percent=100)]
    assert offered.coach_id == COACH.id


@pytest.mark.parametrize("window", [0, 2, 48, 24 * 30])
def test_a_service_window_may_be_anything_from_none_to_thirty_days(window: int) -> None:
    assert service(window_hours=window).cancellation_window_hours == window


@pytest.mark.parametrize("window", [-1, 24 * 30 + 1])
def test_a_window_below_zero_or_above_thirty_days_is_refused(window: int) -> None:
    with pytest.raises(ValidationError):
        service(window_hours=window)


def test_a_request_must_live_at_least_an_hour() -> None:
    with pytest.raises(ValidationError):
        service(request_ttl_hours=0)


def test_a_service_offers_at_least_one_session_type() -> None:
    with pytest.raises(ValidationError) as raised:
        Service(
            id="service-1",
            coach=COACH.as_person(),
            name="Career coaching",
            session_types=[],
            created_at=NOW,
        )

    assert errors_of(raised) == [(("session_types",), "too_short")]


def test_a_service_finds_its_session_types_by_id() -> None:
    offered = service(minutes=45, credits=2)

    assert offered.session_type("t1") == SessionType(id="t1", minutes=45, credits=2)
    assert offered.session_type("t9") is None


# --- time zones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Europe/London", "Asia/Kathmandu", "Etc/GMT+5"]
)
def test_known_time_zones_are_kept_as_given(zone: str) -> None:
    assert Caller(id="member-1", role=Role.MEMBER, timezone=zone).timezone == zone
    assert Person(id="member-1", name="Ann", timezone=zone).timezone == zone
    assert session(timezone=zone).timezone == zone


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "America/Gotham", "America/New_York ", "../../etc/passwd", "/etc/hosts"],
    ids=["unknown", "made-up-city", "trailing-space", "relative-path", "absolute-path"],
)
def test_an_unknown_time_zone_is_refused_wherever_it_appears(zone: str) -> None:
    for build in (
        lambda: Caller(id="member-1", role=Role.MEMBER, timezone=zone),
        lambda: Person(id="member-1", name="Ann", timezone=zone),
        lambda: session(timezone=zone),
    ):
        with pytest.raises(ValidationError) as raised:
            build()
        assert errors_of(raised) == [(("timezone",), "value_error")]
        assert "must be a time zone of the IANA database" in str(raised.value)


@pytest.mark.parametrize(
    ("zone", "kind"), [("", "string_too_short"), ("A" * 65, "string_too_long")]
)
def test_a_time_zone_name_has_a_sane_length(zone: str, kind: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Caller(id="member-1", role=Role.MEMBER, timezone=zone)

    assert errors_of(raised) == [(("timezone",), kind)]


def test_a_caller_without_a_zone_is_in_utc() -> None:
    assert Caller(id="member-1", role=Role.MEMBER).timezone == "UTC"


# --- times are normalised to UTC --------------------------------------------------------------


def test_a_start_with_an_offset_is_stored_as_the_same_instant_in_utc() -> None:
    # Given 10:00 in New York on the Sunday the clocks spring forward, written with its offset
    booked = Session.model_validate(
        {
            **session().model_dump(),
            "start": "2026-03-08T10:00:00-04:00",
            "end": "2026-03-08T11:00:00-04:00",
        }
    )

    # Then it is kept as 14:00 UTC
    assert booked.start == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
    assert booked.start.tzinfo is UTC
    assert booked.end.tzinfo is UTC
    assert booked.model_dump(mode="json")["start"] == "2026-03-08T14:00:00Z"


def test_a_start_in_a_named_zone_is_stored_in_utc() -> None:
    fall_back = datetime(2026, 11, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))

    booked = session(start=fall_back)

    assert booked.start == datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    assert booked.start.tzinfo is UTC


def test_arithmetic_on_stored_times_is_elapsed_time() -> None:
    # A stored 10:00 New York start on spring-forward Sunday, minus 24 hours, is 09:00 Saturday
    # in New York: 24 hours of notice, not 23.
    booked = session(start=datetime(2026, 3, 8, 10, 0, tzinfo=ZoneInfo("America/New_York")))

    day_before = (booked.start - timedelta(hours=24)).astimezone(ZoneInfo("America/New_York"))

    assert (day_before.day, day_before.hour) == (7, 9)


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        session(start=datetime(2026, 12, 4, 10, 0))  # noqa: DTZ001 - the point of the test

    assert (("start",), "timezone_aware") in errors_of(raised)


def test_every_time_a_session_keeps_is_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    at = datetime(2026, 12, 1, 11, 0, tzinfo=plus_two)

    policy = Policy(window_hours=24, refundable_until=at)
    request = RescheduleRequest.model_validate(
        {
            **reschedule_request(to=NOW, asked_at=NOW, expires_at=NOW).model_dump(),
            "start": at,
            "end": at,
            "requested_at": at,
            "expires_at": at,
        }
    )
    account = Account(id="group-1", kind=AccountKind.GROUP, name="Pool", created_at=at)

    for value in (
        policy.refundable_until,
        request.start,
        request.end,
        request.requested_at,
        request.expires_at,
        account.created_at,
    ):
        assert value == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        assert value.tzinfo is UTC


# --- shape ------------------------------------------------------------------------------------


def test_a_session_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError) as raised:
        Session.model_validate({**session().model_dump(), "discount": 1})

    assert errors_of(raised) == [(("discount",), "extra_forbidden")]


def test_a_session_cannot_be_changed_in_place() -> None:
    booked = session()

    with pytest.raises(ValidationError):
        booked.credits = 0  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["", "has space", "semi;colon", "x" * 129])
def test_identifiers_are_short_and_plain(bad: str) -> None:
    with pytest.raises(ValidationError):
        Caller(id=bad, role=Role.MEMBER)


@pytest.mark.parametrize("good", ["a", "auth0|5f1c", "member.ann@example.com", "x" * 128])
def test_identifiers_from_identity_providers_are_accepted(good: str) -> None:
    assert Caller(id=good, role=Role.MEMBER).id == good


def test_refundable_credits_are_what_was_paid_minus_what_came_back() -> None:
    booked = session(credits=5)

    assert booked.refundable_credits == 5
    assert (
        booked.model_copy(
            update={"refund": booked.refund.model_copy(update={"credits": 2})}
        ).refundable_credits
        == 3
    )


def test_a_sessions_window_is_its_policys_hours() -> None:
    assert session(window_hours=48).window == timedelta(hours=48)


def test_a_members_personal_account_exists_empty() -> None:
    account = Account.personal(MEMBER.id)

    assert account.id == f"personal-{MEMBER.id}"
    assert account.kind is AccountKind.PERSONAL
    assert account.owner_id == MEMBER.id
    assert (account.balance, account.member_ids, account.admin_ids) == (0, [], [])


def test_a_caller_without_a_name_is_known_by_their_id() -> None:
    person = Caller(id="member-1", role=Role.MEMBER, timezone="Europe/London").as_person()

    assert person == Person(id="member-1", name="member-1", timezone="Europe/London")
