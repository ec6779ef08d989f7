"""The README's walk-through is a test: a fresh copy of the project, `make run` there with
nothing else installed, the walk-through pasted as written (``local.walkthrough``), and what each
step answered checked against what the README says it shows."""

import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from local.walkthrough import ROOT, Newcomer, Step, readme_steps


class Walk:
    def __init__(self, newcomer: Newcomer, steps: list[Step], status: int) -> None:
        self.newcomer, self.steps, self.status = newcomer, steps, status

    def step(self, opening: str) -> Step:
        [found] = [s for s in self.steps if s.comment.startswith(opening)]
        return found

    def answer(self, opening: str) -> Any:
        return json.loads(self.step(opening).output)

    def answers(self, opening: str) -> list[Any]:
        """Several JSON documents printed one after another (a loop's)."""
        decoder, text, found = json.JSONDecoder(), self.step(opening).output, []
        at = 0
        while at < len(text):
            document, at = decoder.raw_decode(text, at)
            found.append(document)
            while at < len(text) and text[at].isspace():
                at += 1
        return found

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = requests.get(self.newcomer.base + path, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def walk() -> Iterator[Walk]:
    steps = readme_steps((ROOT / "README.md").read_text())
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as folder:
        newcomer = Newcomer(Path(folder))
        try:
            newcomer.start()
            status = newcomer.walk(steps)
            yield Walk(newcomer, steps, status)
        finally:
            newcomer.stop()


def test_every_step_runs_clean_with_no_server_error(walk: Walk) -> None:
    unfinished = [s.comment for s in walk.steps if s.finished_after is None]

    assert walk.status == 0, f"stopped at {unfinished[:1]}: {walk.steps[-1].output[-2000:]}"
    assert unfinished == []
    assert not [s.comment for s in walk.steps if "INTERNAL_ERROR" in s.output]


def test_the_quote_says_the_demo_session_would_be_refunded(walk: Walk) -> None:
    quote = walk.answer("would cancelling now be refunded?")

    assert quote["refundable"] is True
    assert quote["refund_credits"] == 3


def test_the_cancel_refunds_the_session_and_keeps_the_reason(walk: Walk) -> None:
    canceled = walk.answer("cancel it, with a reason the coach will read")

    assert canceled["status"] == "CANCELED"
    assert canceled["view"] == "past"
    assert canceled["cancellation"]["reason"] == "Something came up at work"
    assert canceled["refund"] == {**canceled["refund"], "status": "AUTOMATIC", "credits": 3}


def test_the_credits_shown_back_are_the_ledgers_refund(walk: Walk) -> None:
    account = walk.answer("the credits are back")
    canceled = walk.answer("cancel it, with a reason the coach will read")
    token = walk.newcomer.token("demo-member", "member")
    ledger = walk.get("/accounts/personal-demo-member/ledger?limit=100", token)

    [refund] = [
        e for e in ledger["items"] if e["session_id"] == canceled["id"] and e["kind"] != "DEBIT"
    ]
    assert refund["kind"] == "REFUND" and refund["credits"] == 3
    assert account["balance"] == refund["balance_after"]


def test_the_coach_is_emailed_the_cancel_with_the_reason(walk: Walk) -> None:
    mailbox = walk.answer("... and the coach has been emailed")

    [to_coach] = [m for m in mailbox["items"] if m["to"] == ["colin@example.com"]]
    assert "canceled" in to_coach["subject"]
    assert "Something came up at work" in to_coach["text"]


def test_a_second_cancel_is_refused_as_the_readme_says(walk: Walk) -> None:
    refused = walk.answer("a second cancel is refused")

    assert refused["status"] == 409
    assert refused["code"] == "SESSION_NOT_UPCOMING"


def test_the_same_slot_is_booked_once_then_refused(walk: Walk) -> None:
    first, second = walk.answers("book a slot, then try the same slot again")

    assert first["status"] == "SCHEDULED"
    assert second["status"] == 409 and second["code"] == "SLOT_TAKEN"


def test_mail_keeps_flowing_after_the_refusal(walk: Walk) -> None:
    subjects = walk.step("mail keeps flowing after a refusal").output.splitlines()

    assert len([s for s in subjects if "Booked: your session" in s]) == 1


def test_the_rebooked_session_starts_at_a_free_time_inside_the_coachs_hours(walk: Walk) -> None:
    hours = walk.answer("... the coach's working hours")
    booked = walk.answer("... and the first of them, booked")

    start = datetime.fromisoformat(booked["start"]).astimezone(ZoneInfo(hours["timezone"]))
    day = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[start.weekday()]
    assert booked["status"] == "SCHEDULED"
    assert any(
        h["day"] == day and h["start"] <= f"{start:%H:%M}" < h["end"] for h in hours["weekly"]
    )


def test_the_sweep_completes_what_the_week_left_behind(walk: Walk) -> None:
    clock, sweep = walk.answers("move a week ahead and let the sweep complete what is over")

    assert clock["offset_seconds"] >= 604800
    [result] = sweep["results"]
    assert result["completed"] >= 1 and result["failed"] == 0 and result["finished"] is True
