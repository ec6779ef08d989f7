"""A service's settings for the emails before a session: where it takes place, its reminders and
its last call for a refund; checked when set, changed by PATCH like every setting, and kept by
each session as it was booked."""

from typing import Any

import pytest

from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, coach, member

from .api_steps import assert_ok, assert_problem, book, nothing_changes

TYPES = [{"minutes": 60, "credits": 3}]


def create(api: Api, **settings: Any) -> Any:
    return api.post(coach(), "/services", {"name": "Mentoring", "session_types": TYPES, **settings})


def test_a_service_reminds_a_day_and_an_hour_ahead_and_calls_two_hours_before_by_default(
    api: Api,
) -> None:
    service = assert_ok(create(api), 201)

    assert (service["reminders"], service["refund_reminder_minutes"], service["location"]) == (
        [1440, 60],
        120,
        None,
    )


def test_a_service_says_where_which_reminders_and_no_last_call(api: Api) -> None:
    service = assert_ok(
        create(
            api,
            location="https://meet.example.com/cho",
            reminders=[30, 2880],
            refund_reminder_minutes=None,
        ),
        201,
    )

    assert service["location"] == "https://meet.example.com/cho"
    assert service["reminders"] == [2880, 30]  # the earliest first, as they are sent
    assert service["refund_reminder_minutes"] is None
    assert assert_ok(create(api, reminders=[]), 201)["reminders"] == []


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"location": "http://meet.example.com/cho"}, "location"),
        ({"location": "https://meet example.com"}, "location"),
        ({"location": "Room 4\nsecond floor"}, "location"),
        ({"location": " Room 4"}, "location"),
        ({"location": ""}, "location"),
        ({"location": "x" * 501}, "location"),
        ({"reminders": [60, 60]}, "reminders"),
        ({"reminders": [1]}, "reminders"),
        ({"reminders": [43201]}, "reminders"),
        ({"reminders": [5, 10, 15, 20, 25, 30]}, "reminders"),
        ({"reminders": ["60"]}, "reminders"),
        ({"reminders": None}, "reminders"),
        ({"refund_reminder_minutes": 4}, "refund_reminder_minutes"),
        ({"refund_reminder_minutes": 10081}, "refund_reminder_minutes"),
        ({"refund_reminder_minutes": "120"}, "refund_reminder_minutes"),
    ],
)
def test_a_setting_out_of_bounds_is_refused_naming_it(
    api: Api, store: Storage, settings: dict[str, Any], field: str
) -> None:
    with nothing_changes(store):
        reply = create(api, **settings)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_patch_changes_them_and_null_puts_back_the_default_or_turns_it_off(api: Api) -> None:
    cho = coach()
    created = assert_ok(
        api.post(
            cho,
            "/services",
            {
                "name": "Mentoring",
                "session_types": TYPES,
                "location": "Room 4",
                "reminders": [30],
                "refund_reminder_minutes": 60,
            },
        ),
        201,
    )
    path = f"/services/{created['id']}"

    moved = assert_ok(api.call(cho, "PATCH", path, {"location": "https://meet.example.com/x"}))
    reset = assert_ok(
        api.call(
            cho,
            "PATCH",
            path,
            {"reminders": None, "refund_reminder_minutes": None, "location": None},
        )
    )

    assert moved["location"] == "https://meet.example.com/x"
    assert (moved["reminders"], moved["refund_reminder_minutes"]) == ([30], 60)
    # null: reminders back to their default; the last call and the place to none
    assert (reset["reminders"], reset["refund_reminder_minutes"], reset["location"]) == (
        [1440, 60],
        None,
        None,
    )
    again = assert_ok(api.get(cho, path))
    assert (again["refund_reminder_minutes"], again["location"]) == (None, None)  # as stored


def test_a_session_keeps_the_place_and_the_reminders_it_was_booked_with(
    api: Api, given: World, store: Storage
) -> None:
    cho, ann = coach(), member()
    created = assert_ok(
        api.post(
            cho,
            "/services",
            {
                "name": "Mentoring",
                "session_types": TYPES,
                "location": "Room 4, 2nd floor",
                "refund_reminder_minutes": None,
            },
        ),
        201,
    )
    given.fund(ann, 10)
    service = store.get_service(created["id"])
    assert service is not None
    session = book(api, ann, service)

    assert_ok(api.call(cho, "PATCH", f"/services/{service.id}", {"location": "Room 9"}))
    shown = assert_ok(api.get(ann, f"/sessions/{session['id']}"))

    assert shown["location"] == "Room 4, 2nd floor"
    assert (shown["policy"]["reminders"], shown["policy"]["refund_reminder_minutes"]) == (
        [1440, 60],
        None,
    )
