"""Emails that keep sessions, walked over `make run`'s stack as member and coach meet them.

Maya (London) books two sessions with Cole (New York), who meets online. She moves the second
from her email's link, without signing in. As the stack's clock moves on and its sweep runs,
the last call for a refund and the reminders arrive, each in its reader's zone, with the
invite. Maya cancels the first from the link in a reminder. Every mailbox is then read as its
recipient reads it, and each calendar replayed from the invites in it.
"""

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar

from coaching.mail.emails import when
from tests.e2e.conftest import RunningStack

LINK = "https://meet.example.com/cole"
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
LONDON, NEW_YORK = "Europe/London", "America/New_York"


def _now(stack: RunningStack) -> datetime:
    return datetime.fromisoformat(stack.call("GET", "/_local/clock").json()["now"])


def _advance_to(stack: RunningStack, moment: datetime) -> None:
    """Move the stack's clock to ``moment`` and let the sweep run, as its schedule would."""
    seconds = max(0.0, (moment - _now(stack)).total_seconds())
    assert stack.call("POST", "/_local/clock", json={"advance_seconds": seconds}).ok
    assert stack.call("POST", "/_local/sweep").ok


def _mailbox_of(stack: RunningStack, address: str) -> list[dict[str, Any]]:
    """Everything SES took for ``address``, oldest first: what its owner's inbox shows."""
    items = stack.call("GET", "/_local/mailbox").json()["items"]
    return [m for m in items if address in m["to"]]


def _token_in(mail: dict[str, Any]) -> str:
    [token] = re.findall(r"https://app\.example\.com/manage#([A-Za-z0-9._-]+)", mail["text"])
    return str(token)


def _calendar(mails: list[dict[str, Any]]) -> dict[str, tuple[str, datetime, int]]:
    """The reader's calendar after their invites, in order: UID -> (method, start, sequence)."""
    held: dict[str, tuple[str, datetime, int]] = {}
    for mail in mails:
        for attachment in mail["attachments"]:
            if attachment["content_type"] != "text/calendar":
                continue
            invite = Calendar.from_ical(attachment["content"])
            for event in invite.walk("VEVENT"):
                uid, sequence = str(event["UID"]), int(event["SEQUENCE"])
                if uid in held and sequence < held[uid][2]:
                    continue
                held[uid] = (str(invite["METHOD"]), event.decoded("DTSTART"), sequence)
    return held


def test_book_be_reminded_and_manage_from_the_email_without_signing_in(
    own_stack: RunningStack,
) -> None:
    stack = own_stack
    tag = uuid.uuid4().hex[:8]
    maya_email, cole_email = f"maya-{tag}@example.com", f"cole-{tag}@example.com"
    maya = stack.token(
        f"maya-{tag}", "member", "--email", maya_email, "--name", "Maya", "--zoneinfo",
        "Europe/London",
    )  # fmt: skip
    cole = stack.token(
        f"cole-{tag}", "coach", "--email", cole_email, "--name", "Cole", "--zoneinfo",
        "America/New_York",
    )  # fmt: skip
    support = stack.token(f"desk-{tag}", "support")
    service = stack.call(
        "POST",
        "/services",
        cole,
        json={"name": "Online coaching", "session_types": [{"minutes": 60, "credits": 3}],
              "location": LINK},
    )  # fmt: skip
    assert service.status_code == 201, service.text
    assert service.json()["reminders"] == [1440, 60]
    granted = stack.call(
        "POST", f"/accounts/personal-maya-{tag}/grants", support, json={"credits": 10}
    )
    assert granted.status_code == 201, granted.text

    # Given Maya books two sessions, three and four days out, both on the hour
    now = _now(stack).replace(minute=0, second=0, microsecond=0)
    first_start, second_start = now + 72 * HOUR, now + 96 * HOUR
    booked = []
    for start in (first_start, second_start):
        answer = stack.call(
            "POST",
            "/sessions",
            maya,
            json={
                "service_id": service.json()["id"],
                "session_type_id": "t1",
                "start": start.isoformat(),
            },
        )
        assert answer.status_code == 201, answer.text
        booked.append(answer.json())
    first, second = booked
    assert first["location"] == LINK

    # When she moves the second a day later from its confirmation's link, with no sign-in
    confirmations = [m for m in _mailbox_of(stack, maya_email) if m["subject"].startswith("Booked")]
    assert len(confirmations) == 2
    second_token = next(_token_in(m) for m in confirmations if second["id"] in m["text"])
    moved_start = second_start + 24 * HOUR
    moved = stack.call(
        "POST",
        "/manage/reschedule",
        second_token,
        json={"start": moved_start.isoformat(), "reason": "Travelling that day"},
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["start"]) == moved_start

    # And the clock moves on: the first session's last call, then its day-before reminders
    _advance_to(stack, first_start - 26 * HOUR + 2 * MINUTE)
    _advance_to(stack, first_start - 24 * HOUR + 2 * MINUTE)
    [reminder] = [
        m
        for m in _mailbox_of(stack, maya_email)
        if m["subject"].startswith("Reminder") and first["id"] in m["text"]
    ]

    # Maya cancels the first from the reminder's link: the quote first, then the cancel, sent
    # twice with one key (a double click); the window closed a moment ago
    token = _token_in(reminder)
    quote = stack.call("GET", "/manage/cancellation", token)
    assert quote.status_code == 200, quote.text
    assert (quote.json()["refundable"], quote.json()["refund_credits"]) == (False, 0)
    body = {"reason": "Feeling unwell", "expected_refund_credits": 0}
    key = {"Idempotency-Key": f"walk-{tag}"}
    canceled = stack.call("POST", "/manage/cancel", token, json=body, headers=key)
    again = stack.call("POST", "/manage/cancel", token, json=body, headers=key)
    assert canceled.status_code == 200, canceled.text
    assert again.status_code == 200 and again.json() == canceled.json()
    assert canceled.json()["status"] == "CANCELED"

    # The link opens nothing else: the session by its id, a refund, another session's cancel
    for method, path in (
        ("GET", f"/sessions/{first['id']}"),
        ("POST", f"/sessions/{first['id']}/refund"),
        ("POST", f"/sessions/{second['id']}/cancel"),
    ):
        refused = stack.call(method, path, token, json={})
        assert refused.status_code == 401, (path, refused.text)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert stack.call("GET", "/manage/session", altered).status_code == 401

    # The clock moves on through the old time of the second (its reminders went with it), to
    # its new time's last call and the day before it
    for moment in (
        first_start - HOUR,
        second_start - 24 * HOUR,
        moved_start - 26 * HOUR,
        moved_start - 24 * HOUR,
    ):
        _advance_to(stack, moment + 2 * MINUTE)

    # Then Maya's inbox, as she reads it, on her clock
    to_maya = _mailbox_of(stack, maya_email)
    assert [m["subject"] for m in to_maya] == [
        "Booked: your session with Cole",
        "Booked: your session with Cole",
        "Moved: your session with Cole",
        f"Cancel by {when(first_start - 24 * HOUR, LONDON)} to get 3 credits back",
        f"Reminder: your session with Cole, {when(first_start, LONDON)}",
        "Canceled: your session with Cole",
        f"Cancel by {when(moved_start - 24 * HOUR, LONDON)} to get 3 credits back",
        f"Reminder: your session with Cole, {when(moved_start, LONDON)}",
    ]
    # ... every one of them with a link to manage that session
    assert all("https://app.example.com/manage#" in m["text"] for m in to_maya)
    # ... and Cole's, as he reads his: the bookings, the move, the reminder, the cancel, the
    # new time's reminder; never a last call, never a link to manage
    to_cole = _mailbox_of(stack, cole_email)
    assert [m["subject"] for m in to_cole] == [
        "New session booked by Maya",
        "New session booked by Maya",
        "Your session with Maya has a new time",
        f"Reminder: your session with Maya, {when(first_start, NEW_YORK)}",
        "Your session with Maya was canceled",
        f"Reminder: your session with Maya, {when(moved_start, NEW_YORK)}",
    ]
    assert not any("/manage#" in m["text"] for m in to_cole)
    # ... where each reminder says where to join, and carries the session's invite
    for mail in [m for m in to_maya + to_cole if m["subject"].startswith("Reminder")]:
        assert f"Join the session: {LINK}" in mail["text"]
        [invite] = [a for a in mail["attachments"] if a["content_type"] == "text/calendar"]
        assert f"LOCATION:{LINK}" in invite["content"]

    # And each calendar, replayed from its invites, holds the truth: the first canceled, the
    # second at its new time
    for mails in (to_maya, to_cole):
        held = _calendar(mails)
        assert held[f"{first['id']}@coaching-sessions"][0] == "CANCEL"
        method, start, _ = held[f"{second['id']}@coaching-sessions"]
        assert (method, start) == ("REQUEST", moved_start)
