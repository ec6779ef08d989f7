"""Webhooks over the local stack, for real: a receiver on loopback subscribes; a session is
booked, moved and canceled; the receiver verifies the three signed deliveries with the
``standardwebhooks`` package, answers 500 once and sees the retry, then answers 410 and the
endpoint is disabled, its admin told by email."""

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from tests.e2e.conftest import RunningStack
from tests.webhook_receiver import Receiver

ADA = "ada@example.com"
TYPES = ["session.booked", "session.rescheduled", "session.canceled"]


def _until(found: Callable[[], Any], seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_a_receiver_on_loopback_gets_every_change_signed_and_retried_then_says_gone(
    stack: RunningStack,
) -> None:
    admin = stack.token("e2e-admin", "admin", "--email", ADA)
    member = stack.token("demo-member", "member", "--email", "maya@example.com")
    coach = stack.token("demo-coach", "coach", "--email", "colin@example.com")
    with Receiver() as receiver:
        # Given a receiver on 127.0.0.1, subscribed over http (the local stack allows loopback)
        subscribed = stack.call(
            "POST", "/webhooks", admin, json={"url": receiver.url, "event_types": TYPES}
        )
        assert subscribed.status_code == 201, subscribed.text
        endpoint, secret = subscribed.json()["id"], subscribed.json()["secret"]
        receiver.answer(200, 200, 500)  # the cancel's first attempt fails

        # When a session is booked, moved and canceled
        rebook = stack.call(
            "GET", f"/sessions/{stack.seeded['sessions']['canceled']}", member
        ).json()["rebook"]
        # 16:00 UTC, moved to 18:00: inside the demo coach's hours (08:00 to 22:00 in New York)
        start = datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"]).replace(
            hour=16, minute=0, second=0, microsecond=0
        ) + timedelta(days=9)
        booked = stack.call(
            "POST",
            "/sessions",
            member,
            json={
                "service_id": rebook["service_id"],
                "session_type_id": rebook["session_type_id"],
                "start": start.isoformat(),
            },
        )
        assert booked.status_code == 201, booked.text
        session = booked.json()["id"]
        moved = stack.call(
            "POST",
            f"/sessions/{session}/reschedule",
            coach,
            json={"start": (start + timedelta(hours=2)).isoformat(), "reason": "Clash"},
        )
        assert moved.status_code == 200, moved.text
        canceled = stack.call(
            "POST", f"/sessions/{session}/cancel", member, json={"reason": "Private matter"}
        )
        assert canceled.status_code == 200, canceled.text

        # Then the receiver verifies three signed deliveries, and the cancel's retry
        received = receiver.wait_for(4, seconds=45)
        assert len(received) == 4, [r.json for r in received]
        bodies = [Webhook(secret).verify(r.body, r.headers) for r in received]
        assert [b["type"] for b in bodies] == [*TYPES, "session.canceled"]
        assert [b["data"]["version"] for b in bodies] == [1, 2, 3, 3]
        assert {b["data"]["session_id"] for b in bodies} == {session}
        assert [r.headers["webhook-id"] for r in received] == [
            b["data"]["event_id"] for b in bodies
        ]
        assert received[3].headers["webhook-id"] == received[2].headers["webhook-id"]
        assert received[3].at - received[2].at >= 4.5  # "about 5 s" later, not at once
        text = json.dumps(bodies)
        for personal in ("Maya", "Colin", "@example.com", "Clash", "Private matter"):
            assert personal not in text
        log = stack.call("GET", f"/webhooks/{endpoint}/deliveries", admin).json()["items"]
        assert [(d["event_type"], d["state"], d["attempts"]) for d in log] == [
            ("session.canceled", "DELIVERED", 2),
            ("session.rescheduled", "DELIVERED", 1),
            ("session.booked", "DELIVERED", 1),
        ]

        # When the receiver answers 410 to the next event
        receiver.answer(410)
        again = stack.call(
            "POST",
            "/sessions",
            member,
            json={
                "service_id": rebook["service_id"],
                "session_type_id": rebook["session_type_id"],
                "start": (start + timedelta(days=1)).isoformat(),
            },
        )
        assert again.status_code == 201, again.text
        receiver.wait_for(5, seconds=30)

        # Then the endpoint is disabled, and its admin has been told
        shown = _until(
            lambda: (
                (answer := stack.call("GET", f"/webhooks/{endpoint}", admin).json())["status"]
                == "DISABLED"
                and answer
            )
        )
        assert shown["disabled_reason"] == "GONE"
        mails = _until(
            lambda: [
                m
                for m in stack.call("GET", "/_local/mailbox").json()["items"]
                if ADA in m["to"] and endpoint in m["text"]
            ]
        )
        assert len(mails) == 1 and "410" in mails[0]["text"]
        # ... and nothing more is sent to it
        stack.call("POST", f"/sessions/{again.json()['id']}/cancel", member, json={})
        stack.call("GET", "/_local/mailbox")  # drains the stack's pollers
        time.sleep(1)
        assert len(receiver.received) == 5


def test_a_retry_made_due_by_moving_the_clock_goes_out_on_request(stack: RunningStack) -> None:
    admin = stack.token("e2e-admin-2", "admin", "--email", ADA)
    support = stack.token("demo-support", "support")
    with Receiver() as receiver:
        subscribed = stack.call(
            "POST",
            "/webhooks",
            admin,
            json={"url": receiver.url, "event_types": ["credits.granted"]},
        )
        assert subscribed.status_code == 201, subscribed.text
        endpoint, secret = subscribed.json()["id"], subscribed.json()["secret"]
        receiver.answer(503, 503)  # the first attempt, and its retry 5 s later
        granted = stack.call(
            "POST", "/accounts/personal-demo-member/grants", support, json={"credits": 1}
        )
        assert granted.status_code == 201, granted.text
        waiting = _until(
            lambda: [
                d
                for d in stack.call("GET", f"/webhooks/{endpoint}/deliveries", admin).json()[
                    "items"
                ]
                if d["attempts"] == 2 and d["last_status"] == 503
            ]
        )

        # the next retry is 5 minutes on (its queue message with it): move the clock past it and
        # ask for the retries that are due now
        stack.call("POST", "/_local/clock", json={"advance_seconds": 301})
        answer = stack.call("POST", "/_local/webhooks/retries")

        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["delivered"] == 1
        first, second, third = receiver.wait_for(3)
        body = Webhook(secret).verify(third.body, third.headers)  # signed at the real time
        assert body["data"]["credits"] == 1
        assert {r.headers["webhook-id"] for r in (first, second, third)} == {waiting[0]["event_id"]}
        log = stack.call("GET", f"/webhooks/{endpoint}/deliveries", admin).json()["items"]
        assert [(d["state"], d["attempts"]) for d in log] == [("DELIVERED", 3)]
