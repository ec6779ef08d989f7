"""The help page's story, walked as a client would against `make run`'s stack."""

import signal
import socket
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from local import auth
from tests.e2e.conftest import RunningStack

MEMBER, COACH, SUPPORT = "demo-member", "demo-coach", "demo-support"


def _mail_to(stack: RunningStack, address: str) -> list[dict[str, str]]:
    items = stack.call("GET", "/_local/mailbox").json()["items"]
    return [m for m in items if address in m["to"]]


def _balance(stack: RunningStack, token: str, account_id: str) -> int:
    answer = stack.call("GET", f"/accounts/{account_id}", token)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["balance"])


def test_docs_and_openapi_are_served(stack: RunningStack) -> None:
    spec = stack.call("GET", "/openapi.json")
    assert spec.status_code == 200
    assert "/sessions/{session_id}/cancel" in spec.json()["paths"]
    page = stack.call("GET", "/docs")
    assert page.status_code == 200
    assert "swagger" in page.text.lower()


def test_member_cancels_inside_the_window_and_the_coach_is_emailed(stack: RunningStack) -> None:
    member = stack.token(
        MEMBER, "member", "--email", "maya@example.com", "--zoneinfo", "Europe/London"
    )
    session_id = stack.seeded["sessions"]["upcoming_refundable"]
    before = _balance(stack, member, "personal-demo-member")

    quote = stack.call("GET", f"/sessions/{session_id}/cancellation", member).json()
    canceled = stack.call(
        "POST",
        f"/sessions/{session_id}/cancel",
        member,
        json={"reason": "Flight moved <b>again</b>"},
    )

    assert quote["refundable"] is True
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["refund"]["status"] == "AUTOMATIC"
    assert _balance(stack, member, "personal-demo-member") == before + quote["refund_credits"]
    to_coach = [m for m in _mail_to(stack, "colin@example.com") if "Flight moved" in m["text"]]
    assert len(to_coach) == 1
    assert "&lt;b&gt;again&lt;/b&gt;" in to_coach[0]["html"]
    past = stack.call("GET", "/sessions", member, params={"view": "past"}).json()["items"]
    assert any(s["id"] == session_id and s["status"] == "CANCELED" for s in past)


def test_late_cancel_is_not_refunded_until_the_coach_refunds(stack: RunningStack) -> None:
    member = stack.token(MEMBER, "member")
    coach = stack.token(COACH, "coach")
    session_id = stack.seeded["sessions"]["upcoming_not_refundable"]
    group = stack.seeded["group_account_id"]
    before = _balance(stack, member, group)

    quote = stack.call("GET", f"/sessions/{session_id}/cancellation", member).json()
    canceled = stack.call("POST", f"/sessions/{session_id}/cancel", member, json={})
    assert quote["refundable"] is False
    assert canceled.json()["cancellation"]["refundable"] is False
    assert _balance(stack, member, group) == before

    refunded = stack.call(
        "POST", f"/sessions/{session_id}/refund", coach, json={"note": "Happy to"}
    )
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["refund"]["status"] == "EXCEPTION"
    assert _balance(stack, member, group) == before + refunded.json()["credits"]
    assert any("refund" in m["subject"].lower() for m in _mail_to(stack, "maya@example.com"))


def test_book_again_then_the_coach_reschedules_and_the_member_hears(stack: RunningStack) -> None:
    member = stack.token(
        MEMBER, "member", "--email", "maya@example.com", "--zoneinfo", "Europe/London"
    )
    coach = stack.token(COACH, "coach", "--email", "colin@example.com")
    canceled_id = stack.seeded["sessions"]["canceled"]
    detail = stack.call("GET", f"/sessions/{canceled_id}", member).json()
    assert detail["actions"]["can_rebook"] is True
    rebook = detail["rebook"]
    start = datetime.fromisoformat(detail["start"]) + timedelta(days=2)

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
    new_id = booked.json()["id"]
    mails_before = len(_mail_to(stack, "maya@example.com"))
    moved = stack.call(
        "POST",
        f"/sessions/{new_id}/reschedule",
        coach,
        json={"start": (start + timedelta(hours=2)).isoformat()},
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["credits"] == booked.json()["credits"]
    assert moved.json()["history"][-1]["previous_start"] == booked.json()["start"]
    assert len(_mail_to(stack, "maya@example.com")) > mails_before


def test_time_travel_and_a_sweep_complete_sessions(own_stack: RunningStack) -> None:
    stack = own_stack
    member = stack.token(MEMBER, "member")
    upcoming = stack.call("GET", "/sessions", member, params={"view": "upcoming"}).json()["items"]
    assert upcoming, "the demo data has upcoming sessions"

    moved = stack.call("POST", "/_local/clock", json={"advance_seconds": 30 * 86400})
    swept = stack.call("POST", "/_local/sweep")

    assert moved.status_code == 200
    assert swept.status_code == 200
    assert stack.call("GET", "/sessions", member, params={"view": "upcoming"}).json()["items"] == []
    past = {
        s["id"]: s["status"]
        for s in stack.call(
            "GET", "/sessions", member, params={"view": "past", "limit": 100}
        ).json()["items"]
    }
    assert all(past[s["id"]] == "COMPLETED" for s in upcoming)


@pytest.mark.parametrize("problem", ["garbage", "expired", "other-key", "wrong-audience", "none"])
def test_bad_tokens_get_401_before_any_function_runs(stack: RunningStack, problem: str) -> None:
    if problem == "garbage":
        token: str | None = "not-a-jwt"
    elif problem == "expired":
        token = auth.mint(MEMBER, "member", lifetime=-60)
    elif problem == "other-key":
        with tempfile.TemporaryDirectory() as folder:
            token = auth.mint(MEMBER, "member", key_file=Path(folder) / "other.pem")
    elif problem == "wrong-audience":
        token = auth.mint(MEMBER, "member", audience="someone-else")
    else:
        token = None
    answer = stack.call(
        "POST", f"/sessions/{stack.seeded['sessions']['past']}/cancel", token, json={}
    )
    assert answer.status_code == 401
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["code"] == "UNAUTHENTICATED"


def test_stopping_leaves_nothing_behind(own_stack: RunningStack) -> None:
    """Ctrl-C stops the gateway, the emulator and every thread."""
    stack = own_stack
    stack.process.send_signal(signal.SIGINT)
    assert stack.process.wait(timeout=20) == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", stack.port)) != 0
    children = subprocess.run(
        ["ps", "--ppid", str(stack.process.pid), "-o", "pid="], capture_output=True, text=True
    ).stdout.split()
    assert children == []
