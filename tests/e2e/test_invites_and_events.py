"""Calendar invites in the mailbox and domain events on the bus, over the local stack's HTTP."""

import json
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

from icalendar import Calendar

from local import auth
from tests.e2e.conftest import RunningStack

MAYA = "maya@example.com"


def _mails_about(stack: RunningStack, session_id: str, address: str) -> list[dict[str, Any]]:
    items = stack.call("GET", "/_local/mailbox").json()["items"]
    return [m for m in items if address in m["to"] and f"/sessions/{session_id}" in m["text"]]


def _events_of(stack: RunningStack, session_id: str) -> list[dict[str, Any]]:
    answer = stack.call("GET", "/_local/events")  # no token: a local route
    assert answer.status_code == 200
    items: list[dict[str, Any]] = answer.json()["items"]
    return [e for e in items if e["detail"].get("session_id") == session_id]


def test_a_booking_moved_then_canceled_updates_one_calendar_event_and_the_bus(
    stack: RunningStack,
) -> None:
    member = stack.token("demo-member", "member", "--email", MAYA, "--zoneinfo", "Europe/London")
    coach = stack.token("demo-coach", "coach", "--email", "colin@example.com")
    rebook = stack.call("GET", f"/sessions/{stack.seeded['sessions']['canceled']}", member).json()
    start = datetime.fromisoformat(rebook["start"]) + timedelta(days=3)

    # Given Maya books a session, Colin moves it, and Maya cancels it
    booked = stack.call(
        "POST",
        "/sessions",
        member,
        json={
            "service_id": rebook["rebook"]["service_id"],
            "session_type_id": rebook["rebook"]["session_type_id"],
            "start": start.isoformat(),
        },
    )
    assert booked.status_code == 201, booked.text
    session_id = booked.json()["id"]
    moved = stack.call(
        "POST",
        f"/sessions/{session_id}/reschedule",
        coach,
        json={"start": (start + timedelta(hours=3)).isoformat(), "reason": "Clash at noon"},
    )
    assert moved.status_code == 200, moved.text
    canceled = stack.call(
        "POST", f"/sessions/{session_id}/cancel", member, json={"reason": "Private matter"}
    )
    assert canceled.status_code == 200, canceled.text

    # Then Maya's three emails carry one calendar event: invited, updated, canceled
    mails = _mails_about(stack, session_id, MAYA)
    calendars = [
        Calendar.from_ical(a["content"])
        for mail in mails
        for a in mail["attachments"]
        if a["content_type"] == "text/calendar"
    ]
    assert [str(c["METHOD"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    events = [c.walk("VEVENT")[0] for c in calendars]
    assert {str(e["UID"]) for e in events} == {f"{session_id}@coaching-sessions"}
    sequences = [int(e["SEQUENCE"]) for e in events]
    assert sequences == sorted(set(sequences))
    assert [a["filename"] for m in mails for a in m["attachments"]] == [
        "invite.ics",
        "invite.ics",
        "cancel.ics",
    ]
    # ... and the text part is the one written for it, not one taken from the HTML
    assert mails[0]["text"].startswith("Hi Maya Member,\n\n")
    assert "<" not in mails[0]["text"]
    # ... and each is kept as sent: its sender, and the calendar part's method
    for mail, method in zip(mails, ["REQUEST", "REQUEST", "CANCEL"], strict=True):
        assert mail["from"] == mail["headers"]["From"] and "@" in mail["from"]
        [calendar] = [p for p in mail["parts"] if p["content_type"].startswith("text/calendar")]
        assert f"method={method}" in calendar["content_type"].replace('"', "")
        assert calendar["content"] == next(
            a["content"] for a in mail["attachments"] if a["content_type"] == "text/calendar"
        )

    # And the bus has the session's three changes, in order, with nothing personal
    published = _events_of(stack, session_id)
    assert [e["detail_type"] for e in published] == [
        "session.booked",
        "session.rescheduled",
        "session.canceled",
    ]
    assert {e["source"] for e in published} == {"coaching.sessions"}
    assert [e["detail"]["version"] for e in published] == [1, 2, 3]
    assert published[-1]["detail"]["credits_returned"] == booked.json()["credits"]
    text = json.dumps(published)
    for personal in ("Maya", "Colin", "@example.com", "Clash at noon", "Private matter"):
        assert personal not in text


def test_the_mailbox_keeps_each_message_byte_for_byte_as_delivered(stack: RunningStack) -> None:
    member = stack.token("demo-member", "member", "--email", MAYA)
    session = stack.seeded["sessions"]["upcoming_refundable"]
    before = len(stack.call("GET", "/_local/mailbox").json()["items"])
    assert stack.call("POST", f"/sessions/{session}/cancel", member, json={}).status_code == 200

    items = stack.call("GET", "/_local/mailbox").json()["items"][before:]
    files = sorted((auth.STATE / "mailbox").glob("*.eml"))

    assert items
    for item in items:
        raw = item["raw"].encode()
        parsed = message_from_bytes(raw, policy=policy.default)
        # SES's own Date and Message-ID come first; the rest is what the function wrote
        assert raw.startswith(b"Date: ") and b"\r\nMessage-ID: <" in raw
        assert str(parsed["From"]) == item["from"] and str(parsed["Subject"]) == item["subject"]
        assert any(f.read_bytes() == raw for f in files)


def test_a_grant_is_published_as_credits_granted(stack: RunningStack) -> None:
    support = stack.token("demo-support", "support")
    before = len(stack.call("GET", "/_local/events").json()["items"])

    granted = stack.call(
        "POST",
        "/accounts/personal-demo-member/grants",
        support,
        json={"credits": 4, "note": "Sorry for the wait, Maya"},
    )
    assert granted.status_code == 201, granted.text

    items = stack.call("GET", "/_local/events").json()["items"][before:]
    [event] = [e for e in items if e["detail_type"] == "credits.granted"]
    assert event["detail"]["account_id"] == "personal-demo-member"
    assert event["detail"]["credits"] == 4
    assert (
        event["detail"]["event_id"]
        == f"credits:personal-demo-member:{granted.json()['id'].split(':')[-1]}"
    )
    assert "Maya" not in json.dumps(event)
    assert event["time"] == event["detail"]["occurred_at"]
