"""The local stack after refused changes, and with faults injected, over HTTP.

Every test makes its own coach, service and member (fresh ids, fresh email addresses), so the
tests do not depend on one another or on their order, and each reads only its own mail.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from local import auth
from tests.e2e.conftest import RunningStack

SUPPORT = "demo-support"


@dataclass
class World:
    stack: RunningStack
    coach: str
    coach_email: str
    member: str
    member_email: str
    service_id: str
    session_type_id: str
    account: str

    def book(self, start: datetime, token: str | None = None) -> Any:
        return self.stack.call(
            "POST",
            "/sessions",
            token or self.member,
            json={
                "service_id": self.service_id,
                "session_type_id": self.session_type_id,
                "start": start.isoformat(),
            },
        )

    def cancel(self, session_id: str, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        return self.stack.call(
            "POST",
            f"/sessions/{session_id}/cancel",
            self.member,
            json={"reason": "Ill"},
            headers=headers,
        )

    def session(self, session_id: str) -> dict[str, Any]:
        answer = self.stack.call("GET", f"/sessions/{session_id}", self.member)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def balance(self) -> int:
        answer = self.stack.call("GET", f"/accounts/{self.account}", self.member)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["balance"])

    def mail(self, address: str) -> list[dict[str, Any]]:
        items = self.stack.call("GET", "/_local/mailbox").json()["items"]
        return [m for m in items if address in m["to"]]

    def subjects(self, address: str) -> list[str]:
        return [m["subject"] for m in self.mail(address)]


def _world(stack: RunningStack, credits: int = 30) -> World:
    tag = uuid.uuid4().hex[:8]
    coach_email, member_email = f"coach-{tag}@example.com", f"member-{tag}@example.com"
    coach = stack.token(f"coach-{tag}", "coach", "--email", coach_email, "--name", "Cora Coach")
    member = stack.token(
        f"member-{tag}", "member", "--email", member_email, "--name", "Milo Member"
    )
    service = stack.call(
        "POST",
        "/services",
        coach,
        json={"name": "Mentoring", "session_types": [{"minutes": 60, "credits": 3}]},
    )
    assert service.status_code == 201, service.text
    account = f"personal-member-{tag}"
    support = stack.token(SUPPORT, "support")
    granted = stack.call(
        "POST", f"/accounts/{account}/grants", support, json={"credits": credits, "note": "Test"}
    )
    assert granted.status_code == 201, granted.text
    return World(
        stack=stack,
        coach=coach,
        coach_email=coach_email,
        member=member,
        member_email=member_email,
        service_id=service.json()["id"],
        session_type_id=service.json()["session_types"][0]["id"],
        account=account,
    )


def _slot(days: int, hour: int = 10) -> datetime:
    """A start on the grid some days ahead: far outside any cancellation window."""
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def _arm(stack: RunningStack, function: str, when: str, count: int = 1) -> None:
    armed = stack.call(
        "POST", "/_local/faults", json={"function": function, "when": when, "count": count}
    )
    assert armed.status_code == 200, armed.text


BOOKED = "Booked: your session with Cora Coach"
NEW_BOOKING = "New session booked by Milo Member"
CANCELED = "Your session with Milo Member was canceled"
RECEIPT = "Canceled: your session with Cora Coach"
"""What the member who canceled is told: it is done, and what happened to the credits."""


# --- refused changes --------------------------------------------------------------------------


def test_a_refused_booking_sends_no_email_and_a_cancel_after_it_does(stack: RunningStack) -> None:
    world = _world(stack)
    booked = world.book(_slot(10))
    assert booked.status_code == 201, booked.text
    mailed = stack.call("GET", "/_local/mailbox").json()["items"]
    assert [m["subject"] for m in mailed if world.member_email in m["to"]] == [BOOKED]

    refused = world.book(_slot(10))

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "SLOT_TAKEN"
    assert stack.call("GET", "/_local/mailbox").json()["items"] == mailed
    canceled = world.cancel(booked.json()["id"])
    assert canceled.status_code == 200, canceled.text
    assert world.subjects(world.coach_email) == [NEW_BOOKING, CANCELED]
    assert world.subjects(world.member_email) == [BOOKED, RECEIPT]


def test_after_fifty_conflicts_in_a_row_every_change_is_mailed_once_in_order(
    stack: RunningStack,
) -> None:
    world = _world(stack)
    taken = world.book(_slot(11))
    assert taken.status_code == 201, taken.text
    balance = world.balance()

    refused = [world.book(_slot(11)) for _ in range(50)]

    assert {(r.status_code, r.json()["code"]) for r in refused} == {(409, "SLOT_TAKEN")}
    assert world.balance() == balance
    later = world.book(_slot(12))
    assert later.status_code == 201, later.text
    assert world.cancel(later.json()["id"]).status_code == 200
    assert world.cancel(taken.json()["id"]).status_code == 200
    assert world.subjects(world.coach_email) == [NEW_BOOKING, NEW_BOOKING, CANCELED, CANCELED]
    assert world.subjects(world.member_email) == [BOOKED, BOOKED, RECEIPT, RECEIPT]
    texts = [m["text"] for m in world.mail(world.coach_email)]
    assert all(texts.count(t) == 1 for t in texts)


# --- fault injection --------------------------------------------------------------------------


def test_a_cancel_killed_before_its_commit_changes_nothing(stack: RunningStack) -> None:
    world = _world(stack)
    booked = world.book(_slot(13))
    assert booked.status_code == 201, booked.text
    session_id, balance = booked.json()["id"], world.balance()
    _arm(stack, "cancel", "before_commit")

    killed = world.cancel(session_id)

    assert killed.status_code == 502
    assert killed.json() == {"message": "Internal Server Error"}
    assert world.session(session_id)["status"] == "SCHEDULED"
    assert world.balance() == balance
    assert world.subjects(world.coach_email) == [NEW_BOOKING]
    assert stack.call("GET", "/_local/faults").json() == {"items": []}
    # The fault was used up: the retry goes through, and is mailed once.
    retried = world.cancel(session_id)
    assert retried.status_code == 200, retried.text
    assert world.balance() == balance + 3
    assert world.subjects(world.coach_email) == [NEW_BOOKING, CANCELED]


def test_a_cancel_killed_after_its_commit_is_written_and_mailed(stack: RunningStack) -> None:
    world = _world(stack)
    booked = world.book(_slot(14))
    assert booked.status_code == 201, booked.text
    session_id, balance = booked.json()["id"], world.balance()
    _arm(stack, "cancel", "after_commit")

    killed = world.cancel(session_id)

    assert killed.status_code == 502
    assert killed.json() == {"message": "Internal Server Error"}
    session = world.session(session_id)
    assert session["status"] == "CANCELED"
    assert session["refund"]["credits"] == 3
    assert world.balance() == balance + 3
    assert world.subjects(world.coach_email) == [NEW_BOOKING, CANCELED]
    again = world.cancel(session_id)
    assert again.status_code == 409
    assert again.json()["code"] == "SESSION_NOT_UPCOMING"


@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
def test_a_killed_cancel_retried_with_its_key_refunds_once_and_answers_as_the_first_would(
    stack: RunningStack, when: str
) -> None:
    world = _world(stack)
    booked = world.book(_slot(17 if when == "before_commit" else 18))
    assert booked.status_code == 201, booked.text
    session_id, balance = booked.json()["id"], world.balance()
    _arm(stack, "cancel", when)

    killed = world.cancel(session_id, key=f"cancel-{session_id}")
    retried = world.cancel(session_id, key=f"cancel-{session_id}")
    again = world.cancel(session_id, key=f"cancel-{session_id}")

    assert killed.status_code == 502
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "CANCELED"
    assert (again.status_code, again.text) == (retried.status_code, retried.text)
    assert world.balance() == balance + 3
    assert world.subjects(world.coach_email) == [NEW_BOOKING, CANCELED]
    assert world.subjects(world.member_email) == [BOOKED, RECEIPT]


def test_a_booking_killed_after_its_commit_holds_the_slot_and_the_credits(
    stack: RunningStack,
) -> None:
    world = _world(stack)
    balance = world.balance()
    _arm(stack, "sessions", "after_commit")

    killed = world.book(_slot(15))

    assert killed.status_code == 502
    assert world.balance() == balance - 3
    upcoming = stack.call("GET", "/sessions", world.member, params={"view": "upcoming"}).json()
    assert [datetime.fromisoformat(s["start"]) for s in upcoming["items"]] == [_slot(15)]
    assert world.subjects(world.member_email) == [BOOKED]
    assert world.book(_slot(15)).json()["code"] == "SLOT_TAKEN"


def test_faults_strike_only_the_function_they_are_armed_for_as_many_times_as_armed(
    stack: RunningStack,
) -> None:
    world = _world(stack)
    _arm(stack, "cancel", "before_commit", count=2)

    booked = [world.book(_slot(16, hour=h)) for h in (9, 10, 11)]  # sessions is not armed

    assert [b.status_code for b in booked] == [201, 201, 201]
    answers = [world.cancel(b.json()["id"]).status_code for b in booked]
    assert answers == [502, 502, 200]
    assert world.subjects(world.member_email) == [BOOKED] * 3 + [RECEIPT]


def test_faults_are_listed_added_up_and_cleared(stack: RunningStack) -> None:
    stack.call("DELETE", "/_local/faults")
    _arm(stack, "refund", "after_commit", count=2)
    _arm(stack, "refund", "after_commit", count=1)
    _arm(stack, "reschedule", "before_commit")

    listed = stack.call("GET", "/_local/faults")

    assert listed.status_code == 200
    assert listed.json() == {
        "items": [
            {"function": "refund", "when": "after_commit", "count": 3},
            {"function": "reschedule", "when": "before_commit", "count": 1},
        ]
    }
    cleared = stack.call("DELETE", "/_local/faults")
    assert cleared.status_code == 200
    assert stack.call("GET", "/_local/faults").json() == {"items": []}
    world = _world(stack)
    booked = world.book(_slot(17))
    moved = stack.call(
        "POST",
        f"/sessions/{booked.json()['id']}/reschedule",
        world.member,
        json={"start": _slot(18).isoformat()},
    )
    assert moved.status_code == 200, moved.text


@pytest.mark.parametrize(
    "body",
    [
        {"function": "nope", "when": "before_commit", "count": 1},
        {"function": "cancel", "when": "during_commit", "count": 1},
        {"function": "cancel", "when": "after_commit", "count": 0},
        {"function": "cancel", "when": "after_commit", "count": -1},
        {"function": "cancel", "when": "after_commit", "count": "2"},
        {"function": "cancel", "when": "after_commit", "count": True},
        {"function": "cancel", "when": "after_commit", "count": 1.5},
        {"when": "after_commit", "count": 1},
        {"function": "cancel", "count": 1},
        ["cancel", "after_commit", 1],
        "not json",
    ],
)
def test_bad_faults_are_refused_and_arm_nothing(stack: RunningStack, body: Any) -> None:
    stack.call("DELETE", "/_local/faults")
    if isinstance(body, str):
        answer = stack.call("POST", "/_local/faults", data=body)
    else:
        answer = stack.call("POST", "/_local/faults", json=body)

    assert answer.status_code == 422
    assert answer.headers["Content-Type"] == "application/json"
    assert "error" in answer.json()
    assert stack.call("GET", "/_local/faults").json() == {"items": []}


# --- one clock --------------------------------------------------------------------------------


def test_the_mailbox_stamps_mail_with_the_functions_clock(stack: RunningStack) -> None:
    world = _world(stack)
    stack.call("POST", "/_local/clock", json={"advance_seconds": 3600})
    functions_now = datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])

    booked = world.book(_slot(20))

    assert booked.status_code == 201, booked.text
    (mail,) = world.mail(world.member_email)
    sent_at = datetime.fromisoformat(mail["sent_at"])
    assert functions_now <= sent_at < functions_now + timedelta(minutes=5)
    assert sent_at >= datetime.now(UTC) + timedelta(minutes=55)
    files = sorted((auth.STATE / "mailbox").glob("*.eml"))
    dates = {
        parsedate_to_datetime(str(message["Date"]))
        for message in (message_from_bytes(f.read_bytes()) for f in files)
        if world.member_email in str(message["To"])
    }
    assert dates == {sent_at}
