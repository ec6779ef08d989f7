"""The rules added after the first product walk, against `make run`'s stack, read back from the
mailbox as the people involved would read them.

Each test has a coach, a member and a service of its own (so no two tests share a slot or a
mailbox address), and takes its times from the stack's own clock, which tests only move forward.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import RunningStack


@dataclass
class Cast:
    stack: RunningStack
    member: str
    coach: str
    support: str
    member_id: str
    member_email: str
    coach_email: str
    service_id: str

    def post(self, token: str, path: str, body: Any = None) -> Any:
        return self.stack.call("POST", path, token, json=body if body is not None else {})

    def get(self, token: str, path: str, **params: Any) -> Any:
        return self.stack.call("GET", path, token, params=params)

    def book(self, start: datetime, account_id: str | None = None) -> dict[str, Any]:
        body = {"service_id": self.service_id, "session_type_id": "t1", "start": start.isoformat()}
        if account_id:
            body["account_id"] = account_id
        answer = self.post(self.member, "/sessions", body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def mail(self, address: str, subject_has: str = "") -> list[dict[str, Any]]:
        items = self.stack.call("GET", "/_local/mailbox").json()["items"]
        return [m for m in items if address in m["to"] and subject_has in m["subject"]]

    def balance(self, account_id: str) -> int:
        return int(self.get(self.member, f"/accounts/{account_id}").json()["balance"])


def _cast(stack: RunningStack, *, credits: int = 10) -> Cast:
    tag = uuid.uuid4().hex[:8]
    member_id, coach_id = f"walk-member-{tag}", f"walk-coach-{tag}"
    member_email, coach_email = f"{member_id}@example.com", f"{coach_id}@example.com"
    member = stack.token(
        member_id, "member", "--email", member_email, "--name", "Mia", "--zoneinfo", "UTC"
    )
    coach = stack.token(
        coach_id, "coach", "--email", coach_email, "--name", "Cole", "--zoneinfo", "UTC"
    )
    support = stack.token(f"walk-support-{tag}", "support", "--email", f"desk-{tag}@example.com")
    service = stack.call(
        "POST",
        "/services",
        coach,
        json={
            "name": "Walk coaching",
            "session_types": [{"minutes": 60, "credits": 3}],
            "late_reschedule_requires_approval": True,
        },
    )
    assert service.status_code == 201, service.text
    granted = stack.call(
        "POST",
        f"/accounts/personal-{member_id}/grants",
        support,
        json={"credits": credits, "note": "walk"},
    )
    assert granted.status_code == 201, granted.text
    return Cast(
        stack,
        member,
        coach,
        support,
        member_id,
        member_email,
        coach_email,
        service.json()["id"],
    )


def _now(stack: RunningStack) -> datetime:
    return datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])


def _slot(stack: RunningStack, hours: float) -> datetime:
    at = _now(stack) + timedelta(hours=hours)
    at = at.replace(second=0, microsecond=0)
    return at + timedelta(minutes=(-at.minute) % 15)


def _advance_to(stack: RunningStack, moment: datetime) -> None:
    seconds = max(0.0, (moment - _now(stack)).total_seconds())
    assert stack.call("POST", "/_local/clock", json={"advance_seconds": seconds}).ok


def test_a_coachs_move_keeps_the_members_refund_and_the_cancel_sends_receipts(
    stack: RunningStack,
) -> None:
    cast = _cast(stack)
    session = cast.book(_slot(stack, 72))
    account = f"personal-{cast.member_id}"

    # The coach moves the session to ten hours from now, inside the 24-hour window
    moved = cast.post(
        cast.coach,
        f"/sessions/{session['id']}/reschedule",
        {"start": _slot(stack, 10).isoformat(), "reason": "Conference moved"},
    )
    assert moved.status_code == 200, moved.text
    [told] = cast.mail(cast.member_email, "has a new time")
    assert "you keep your free cancellation" in told["text"]
    assert "Conference moved" in told["text"]

    # and the member, who did not choose the new time, cancels with every credit back
    canceled = cast.post(cast.member, f"/sessions/{session['id']}/cancel", {"reason": "Can't"})
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["refund"]["status"] == "AUTOMATIC"
    assert cast.balance(account) == 10
    [receipt] = cast.mail(cast.member_email, "Canceled:")
    assert "You canceled this session" in receipt["text"]
    assert "The 3 credits went back to your personal account." in receipt["text"]
    [to_coach] = cast.mail(cast.coach_email, "was canceled")
    assert "Can't" in to_coach["text"]
    assert "The 3 credits went back to Mia's personal account." in to_coach["text"]


def test_a_reschedule_request_lapses_an_hour_before_and_both_sides_hear_in_time(
    stack: RunningStack,
) -> None:
    cast = _cast(stack)
    start = _slot(stack, 12)
    session = cast.book(start)

    asked = cast.post(
        cast.member,
        f"/sessions/{session['id']}/reschedule",
        {"start": (start + timedelta(hours=3)).isoformat(), "reason": "Train strike"},
    )
    assert asked.status_code == 202, asked.text
    deadline = datetime.fromisoformat(asked.json()["reschedule_request"]["expires_at"])
    assert deadline == start - timedelta(hours=1)
    [to_coach] = cast.mail(cast.coach_email, "asked to move")
    assert "Train strike" in to_coach["text"]

    # Past the deadline the request reads as expired at once, before any sweep
    _advance_to(stack, deadline)
    detail = cast.get(cast.member, f"/sessions/{session['id']}").json()
    assert detail["reschedule_request"] is None
    assert detail["history"][-1]["kind"] == "RESCHEDULE_EXPIRED"

    # and the sweep tells both sides, before the session starts, that it stays where it was
    assert stack.call("POST", "/_local/sweep").ok
    for address in (cast.member_email, cast.coach_email):
        [lapsed] = cast.mail(address, "has lapsed")
        assert "the session stays at" in lapsed["text"]
        assert datetime.fromisoformat(lapsed["sent_at"]) < start


def test_the_member_withdraws_a_request_and_the_coach_reads_why(stack: RunningStack) -> None:
    cast = _cast(stack)
    start = _slot(stack, 12)
    session = cast.book(start)
    asked = cast.post(
        cast.member,
        f"/sessions/{session['id']}/reschedule",
        {"start": (start + timedelta(hours=3)).isoformat()},
    )
    assert asked.status_code == 202, asked.text

    withdrawn = cast.post(
        cast.member,
        f"/sessions/{session['id']}/reschedule-request/withdraw",
        {"reason": "The old time works after all"},
    )
    again = cast.post(cast.member, f"/sessions/{session['id']}/reschedule-request/withdraw")

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["reschedule_request"] is None
    assert withdrawn.json()["start"] == session["start"]
    assert (again.status_code, again.json()["code"]) == (409, "NOT_PENDING")
    [told] = cast.mail(cast.coach_email, "withdrew a request")
    assert "The old time works after all" in told["text"]
    assert "Nothing changes" in told["text"]


def test_a_late_booking_is_told_it_is_not_refundable_and_support_refunds_tell_the_coach(
    stack: RunningStack,
) -> None:
    cast = _cast(stack)
    session = cast.book(_slot(stack, 5))
    [booked] = cast.mail(cast.member_email, "Booked:")
    assert "a cancellation will not return the credits" in booked["text"]
    assert "cancel by" not in booked["text"]

    canceled = cast.post(cast.member, f"/sessions/{session['id']}/cancel")
    assert canceled.json()["cancellation"]["refundable"] is False
    [receipt] = cast.mail(cast.member_email, "Canceled:")
    assert "the credits stay spent" in receipt["text"]

    refunded = cast.post(cast.support, f"/sessions/{session['id']}/refund", {"credits": 1})
    assert refunded.status_code == 200, refunded.text
    [to_member] = cast.mail(cast.member_email, "refunded")
    [to_coach] = cast.mail(cast.coach_email, "refunded")
    assert to_member["subject"] == "1 credit refunded for your session"
    assert "It is back in your personal account." in to_member["text"]
    assert "1 credits" not in to_member["text"] + to_coach["text"]
    assert "Our support team refunded 1 credit" in to_coach["text"]


def test_a_shared_pool_is_named_by_its_name_in_every_email(stack: RunningStack) -> None:
    cast = _cast(stack)
    pool = stack.call(
        "POST",
        "/accounts",
        cast.support,
        json={"name": "Walk team", "member_ids": [cast.member_id], "admin_ids": []},
    )
    assert pool.status_code == 201, pool.text
    pool_id = pool.json()["id"]
    granted = cast.post(cast.support, f"/accounts/{pool_id}/grants", {"credits": 6})
    assert granted.status_code == 201, granted.text

    session = cast.book(_slot(stack, 72), account_id=pool_id)
    cast.post(cast.member, f"/sessions/{session['id']}/cancel")

    mails = cast.mail(cast.member_email) + cast.mail(cast.coach_email)
    assert {m["subject"].split(":")[0] for m in mails} >= {"Booked", "Canceled"}
    for mail in mails:
        assert 'the shared account "Walk team"' in mail["text"], mail["subject"]
        assert pool_id not in mail["text"] + mail["html"]
        assert "you paid" not in mail["text"]


def test_a_session_in_progress_lists_as_upcoming_and_cannot_be_canceled(
    stack: RunningStack,
) -> None:
    cast = _cast(stack)
    start = _slot(stack, 2)
    session = cast.book(start)

    _advance_to(stack, start + timedelta(minutes=15))
    upcoming = cast.get(cast.member, "/sessions", view="upcoming").json()["items"]
    canceled = cast.post(cast.member, f"/sessions/{session['id']}/cancel")

    assert [s["id"] for s in upcoming] == [session["id"]]
    assert upcoming[0]["view"] == "upcoming"
    assert (canceled.status_code, canceled.json()["code"]) == (409, "SESSION_NOT_UPCOMING")
    assert cast.mail(cast.coach_email, "was canceled") == []

    _advance_to(stack, start + timedelta(minutes=60))
    past = cast.get(cast.member, "/sessions", view="past").json()["items"]
    assert [s["id"] for s in past] == [session["id"]]
    assert cast.get(cast.member, "/sessions", view="upcoming").json()["items"] == []
