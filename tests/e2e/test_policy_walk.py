"""Per-service policy and no-shows against `make run`'s stack, read back from the mailbox.

Each test has its own coach, member and service, and moves the stack's clock only forward.
"""

from datetime import timedelta

from tests.e2e.conftest import RunningStack
from tests.e2e.test_product_walk import _advance_to, _cast, _slot


def test_no_shows_are_marked_refunded_where_due_and_told_to_both_sides(
    stack: RunningStack,
) -> None:
    cast = _cast(stack)
    account = f"personal-{cast.member_id}"
    first_start, second_start = _slot(stack, 2), _slot(stack, 4)
    first, second = cast.book(first_start), cast.book(second_start)
    assert cast.balance(account) == 4

    # Before the start, nobody can be said to be absent yet
    early = cast.post(cast.coach, f"/sessions/{first['id']}/no-show", {"party": "MEMBER"})
    assert (early.status_code, early.json()["code"]) == (409, "SESSION_STILL_UPCOMING")

    # The member does not come to the first: the coach marks them, and the credits stay spent
    _advance_to(stack, first_start + timedelta(minutes=20))
    marked = cast.post(cast.coach, f"/sessions/{first['id']}/no-show", {"party": "MEMBER"})
    assert marked.status_code == 200, marked.text
    assert marked.json()["status"] == "NO_SHOW"
    assert marked.json()["no_show"]["marked_by"]["role"] == "coach"
    assert cast.balance(account) == 4
    [to_member] = cast.mail(cast.member_email, "Missed session")
    assert "Cole recorded that you did not attend this session." in to_member["text"]
    [to_coach] = cast.mail(cast.coach_email, "marked as not attending")
    assert "You recorded that Mia did not attend this session." in to_coach["text"]

    # The coach does not come to the second: the member may not mark it (support, or the coach
    # owning up, may), and support's mark gives the credits back
    _advance_to(stack, second_start + timedelta(hours=2))
    refused = cast.post(cast.member, f"/sessions/{second['id']}/no-show", {"party": "COACH"})
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")
    absent = cast.post(cast.support, f"/sessions/{second['id']}/no-show", {"party": "COACH"})
    assert absent.status_code == 200, absent.text
    assert absent.json()["refund"] == {**absent.json()["refund"], "credits": 3}
    assert cast.balance(account) == 7
    [refunded] = cast.mail(cast.member_email, "Your coach missed your session")
    assert "The 3 credits went back to your personal account." in refunded["text"]
    [recorded] = cast.mail(cast.coach_email, "Recorded: you missed")
    assert "Our support team recorded that you did not attend this session." in recorded["text"]

    # The sweep leaves both alone
    assert stack.call("POST", "/_local/sweep").ok
    for session in (first, second):
        detail = cast.get(cast.member, f"/sessions/{session['id']}").json()
        assert detail["status"] == "NO_SHOW" and detail["view"] == "past"

    # Each mark reached the bus once, saying who was absent and what came back
    on_the_bus = stack.call("GET", "/_local/events").json()["items"]
    for session, party, returned in ((first, "MEMBER", 0), (second, "COACH", 3)):
        [event] = [
            e
            for e in on_the_bus
            if e["detail_type"] == "session.no_show" and e["detail"]["session_id"] == session["id"]
        ]
        assert event["detail"]["no_show_party"] == party
        assert event["detail"]["credits_returned"] == returned


def test_a_tiered_service_refunds_half_late_and_a_member_must_say_why(
    stack: RunningStack,
) -> None:
    cast = _cast(stack)
    service = stack.call(
        "POST",
        "/services",
        cast.coach,
        json={
            "name": "Tiered coaching",
            "session_types": [{"minutes": 60, "credits": 5}],
            "cancel_reason_required": True,
            "max_reschedules": 1,
            "refund_tiers": [
                {"hours_before": 24, "percent": 100},
                {"hours_before": 2, "percent": 50},
            ],
        },
    )
    assert service.status_code == 201, service.text
    cast.service_id = service.json()["id"]
    account = f"personal-{cast.member_id}"
    session = cast.book(_slot(stack, 48))
    path = f"/sessions/{session['id']}"
    [booked] = cast.mail(cast.member_email, "Booked:")
    assert "50% of the credits come back (rounded down)" in " ".join(booked["text"].split())

    # One move is allowed, the next is not
    new_start = _slot(stack, 50)
    moved = cast.post(cast.member, f"{path}/reschedule", {"start": new_start.isoformat()})
    assert moved.status_code == 200, moved.text
    assert moved.json()["policy"]["reschedules_left"] == 0
    again = cast.post(cast.member, f"{path}/reschedule", {"start": _slot(stack, 52).isoformat()})
    assert (again.status_code, again.json()["code"]) == (409, "RESCHEDULE_LIMIT_REACHED")

    # Ten hours before the start, inside the half tier
    _advance_to(stack, new_start - timedelta(hours=10))
    quote = cast.get(cast.member, f"{path}/cancellation").json()
    assert (quote["refund_percent"], quote["refund_credits"]) == (50, 2)
    no_reason = cast.post(cast.member, f"{path}/cancel")
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]

    canceled = cast.post(cast.member, f"{path}/cancel", {"reason": "Ill"})
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["refund"]["credits"] == 2
    assert cast.balance(account) == 10 - 5 + 2
    [receipt] = cast.mail(cast.member_email, "Canceled:")
    assert "The 2 credits went back to your personal account." in receipt["text"]
