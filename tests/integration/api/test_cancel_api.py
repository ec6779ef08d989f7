"""POST /sessions/{id}/cancel and GET /sessions/{id}/cancellation through the real handler."""

from datetime import timedelta

from coaching import clock
from coaching.models import personal_account_id
from tests.api_client import Api
from tests.builders import World, coach, member


def _start_in(hours: int) -> str:
    at = (clock.now() + timedelta(hours=hours)).replace(minute=0, second=0)
    return at.isoformat()


def test_member_cancels_inside_the_window_and_gets_the_credits_back(api: Api, world: World) -> None:
    # Given a member with 10 credits booked on a 3-credit session three days out
    alice, carol = member(), coach()
    service = world.service(by=carol, credits=3)
    world.fund(alice, 10)
    booked = api.post(
        alice,
        "/sessions",
        {"service_id": service.id, "session_type_id": "t1", "start": _start_in(72)},
    )
    assert booked.status == 201, booked.text
    session_id = booked.json["id"]

    # When she asks for the quote, then cancels with a reason
    quote = api.get(alice, f"/sessions/{session_id}/cancellation")
    canceled = api.post(alice, f"/sessions/{session_id}/cancel", {"reason": "Travelling"})

    # Then the quote promised a refund and the cancel delivered it
    assert quote.status == 200 and quote.json["refundable"] is True
    assert quote.json["refund_credits"] == 3
    assert canceled.status == 200, canceled.text
    body = canceled.json
    assert body["status"] == "CANCELED" and body["view"] == "past"
    assert body["cancellation"]["reason"] == "Travelling"
    assert body["cancellation"]["canceled_by"] == {"id": alice.id, "role": "member"}
    assert body["refund"]["status"] == "AUTOMATIC" and body["refund"]["credits"] == 3
    assert body["actions"]["can_rebook"] is True and body["rebook"]["service_id"] == service.id
    assert world.balance(personal_account_id(alice.id)) == 10


def test_a_stranger_gets_404_and_a_bad_body_changes_nothing(api: Api, world: World) -> None:
    alice, mallory = member(), member()
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service)

    assert api.post(mallory, f"/sessions/{session.id}/cancel", {}).code == "NOT_FOUND"
    assert api.post(alice, f"/sessions/{session.id}/cancel", raw_body="{nope").code == (
        "MALFORMED_REQUEST"
    )
    long_reason = api.post(alice, f"/sessions/{session.id}/cancel", {"reason": "x" * 501})
    assert long_reason.status == 422 and long_reason.code == "VALIDATION_FAILED"
    assert long_reason.json["errors"][0]["field"] == "reason"
    assert world.store.get_session(session.id).status.value == "SCHEDULED"  # type: ignore[union-attr]
