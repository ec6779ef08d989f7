"""The local stack reads time zones from the pinned tzdata, as the functions in AWS do (the
template's PYTHONTZPATH), not from this machine's database: a Vancouver coach's Friday 09:00 in
December 2027 is 16:00 UTC (UTC-7 all year in British Columbia from November 2026)."""

from tests.e2e.conftest import RunningStack


def test_the_stack_offers_a_vancouver_coach_s_morning_at_utc_minus_7(stack: RunningStack) -> None:
    coach = stack.token("e2e-vancouver-coach", "coach", "--zoneinfo", "America/Vancouver")
    member = stack.token("e2e-zone-member", "member")
    hours = stack.call(
        "PUT",
        "/coaches/me/availability",
        coach,
        json={"weekly": [{"day": "FRI", "start": "09:00", "end": "10:00"}]},
    )
    assert hours.status_code == 200, hours.text
    assert hours.json()["timezone"] == "America/Vancouver"
    service = stack.call(
        "POST",
        "/services",
        coach,
        json={"name": "Mornings", "session_types": [{"minutes": 60, "credits": 1}]},
    ).json()

    free = stack.call(
        "GET",
        f"/services/{service['id']}/slots",
        member,
        params={
            "session_type_id": service["session_types"][0]["id"],
            "from": "2027-12-10T00:00:00Z",
            "to": "2027-12-11T00:00:00Z",
        },
    )

    assert free.status_code == 200, free.text
    assert [i["start"] for i in free.json()["items"]] == ["2027-12-10T16:00:00Z"]
