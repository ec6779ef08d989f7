"""How emails read: the facts each kind states, on the recipient's clock, with user text escaped.

Ann (the member) is in London, Cho (the coach) in New York. The session starts on Tuesday
1 December 2026 at 10:00 UTC: 10:00 on Ann's clock, 05:00 on Cho's.
"""

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from coaching.emails import Email, render, when
from coaching.models import Person
from coaching.notifications import Audience, Facts, Notification, NotificationKind

BASE_URL = "https://app.example.com/"
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ANN = Person(id="member-ann", name="Ann", email="ann@example.com", timezone="Europe/London")
CHO = Person(id="coach-cho", name="Cho", email="cho@example.com", timezone="America/New_York")
ANN_START = "Tuesday 1 December 2026, 10:00 (Europe/London)"
CHO_START = "Tuesday 1 December 2026, 05:00 (America/New_York)"


def facts(**overrides: Any) -> Facts:
    values: dict[str, Any] = {
        "session_id": "session-1",
        "version": 2,
        "service_id": "service-leadership",
        "service_name": "Leadership coaching",
        "minutes": 60,
        "start": START,
        "member_name": ANN.name,
        "coach_name": CHO.name,
        "coach_id": CHO.id,
        "acted_by": "member",
        "credits": 3,
        "account_id": f"personal-{ANN.id}",
        "personal_account": True,
    }
    return Facts.model_validate(values | overrides)


def email(kind: NotificationKind, to: Audience, **overrides: Any) -> Email:
    recipient = ANN if to == "member" else CHO
    notification = Notification(
        kind=kind, audience=to, recipient=recipient, facts=facts(**overrides)
    )
    return render(notification, BASE_URL)


# --- times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "shown"),
    [
        (START, "Europe/London", ANN_START),
        (START, "America/New_York", CHO_START),
        (datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "Europe/London", "Wednesday 1 July 2026, 10:00"),
        (START, "Asia/Kolkata", "Tuesday 1 December 2026, 15:30 (Asia/Kolkata)"),
        (datetime(2026, 12, 1, 3, 0, tzinfo=UTC), "America/New_York", "Monday 30 November 2026"),
    ],
)
def test_a_time_reads_on_the_recipients_clock_with_the_zone_named(
    moment: datetime, zone: str, shown: str
) -> None:
    assert when(moment, zone).startswith(shown)
    assert when(moment, zone).endswith(f"({zone})")


# --- cancels --------------------------------------------------------------------------------------


def test_a_coach_cancel_tells_the_member_the_reason_the_refund_and_how_to_book_again() -> None:
    mail = email(
        NotificationKind.CANCELED,
        "member",
        acted_by="coach",
        reason="A family emergency",
        refundable=True,
        credits_returned=3,
    )

    assert mail.to == "ann@example.com"
    assert mail.subject == "Your session with Cho was canceled"
    rebook = "https://app.example.com/book?coach_id=coach-cho&service_id=service-leadership"
    for body in (mail.text, mail.html):
        assert "Cho canceled your session" in body
        assert "A family emergency" in body
        assert "3 credits went back to your personal account" in body
        assert ANN_START in body
    assert f"Book again with Cho: {rebook}" in mail.text
    assert f'<a href="{rebook.replace("&", "&amp;")}">Book again with Cho</a>' in mail.html
    assert "View the session: https://app.example.com/sessions/session-1" in mail.text


def test_a_late_coach_cancel_tells_the_member_the_credits_did_not_come_back() -> None:
    mail = email(NotificationKind.CANCELED, "member", acted_by="coach", refundable=False)

    assert "were not returned automatically" in mail.text
    assert "Your coach may still choose to refund them" in mail.text
    assert "are back in" not in mail.text
    assert "left this note" not in mail.text  # no reason was given


def test_a_member_cancel_tells_the_coach_the_reason_on_their_clock() -> None:
    mail = email(
        NotificationKind.CANCELED, "coach", reason="Sick", refundable=False, credits_returned=0
    )

    assert mail.to == "cho@example.com"
    assert mail.subject == "Your session with Ann was canceled"
    assert "Ann canceled this session" in mail.text
    assert "> Sick" in mail.text
    assert CHO_START in mail.text
    assert "You can still refund them from the session page" in mail.text
    assert "Book again" not in mail.text


def test_a_support_cancel_is_signed_by_support() -> None:
    mail = email(NotificationKind.CANCELED, "coach", acted_by="support", refundable=True)

    assert "Our support team canceled this session" in mail.text


# --- reschedules ----------------------------------------------------------------------------------


def test_a_reschedule_shows_the_old_and_the_new_time_on_the_recipients_clock() -> None:
    later = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    for_ann = email(
        NotificationKind.RESCHEDULED, "member", acted_by="coach", previous_start=START, start=later
    )
    for_cho = email(
        NotificationKind.RESCHEDULED, "coach", acted_by="member", previous_start=START, start=later
    )

    assert f"Was: {ANN_START}" in for_ann.text
    assert "Now: Wednesday 2 December 2026, 15:00 (Europe/London)" in for_ann.text
    assert f"Was: {CHO_START}" in for_cho.text
    assert "Now: Wednesday 2 December 2026, 10:00 (America/New_York)" in for_cho.text
    assert "Cho moved your session" in for_ann.text
    assert "Ann moved your session" in for_cho.text


def test_a_reschedule_request_asks_the_coach_to_answer_in_time() -> None:
    mail = email(
        NotificationKind.RESCHEDULE_REQUESTED,
        "coach",
        requested_start=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
        respond_by=START,
        reason="Train strike",
    )

    assert mail.subject == "Ann asked to move your session"
    assert f"from {CHO_START} to Wednesday 2 December 2026, 10:00 (America/New_York)" in mail.text
    assert f"Please approve or decline before {CHO_START}" in mail.text
    assert "> Train strike" in mail.text


def test_an_expired_reschedule_request_says_the_time_stays() -> None:
    mail = email(
        NotificationKind.RESCHEDULE_EXPIRED,
        "member",
        acted_by="system",
        requested_start=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
    )

    assert "was not answered in time" in mail.text
    assert f"the session stays at {ANN_START}" in mail.text


# --- refunds and bookings -------------------------------------------------------------------------


def test_a_partial_refund_says_how_much_came_back_where_and_in_all() -> None:
    mail = email(
        NotificationKind.REFUNDED,
        "member",
        acted_by="coach",
        credits_returned=1,
        credits_returned_in_total=2,
    )

    assert mail.subject == "1 credit refunded for your session"
    assert "Cho refunded 1 credit for this session. It is back in your personal account." in (
        mail.text
    )
    assert "In all, 2 of the 3 credits paid for it have now been returned." in mail.text


def test_a_refund_to_a_shared_account_names_the_account() -> None:
    mail = email(
        NotificationKind.REFUNDED,
        "member",
        acted_by="support",
        credits_returned=3,
        credits_returned_in_total=3,
        account_id="group-acme",
        personal_account=False,
        account_name="Acme team",
    )

    assert 'They are back in the shared account "Acme team".' in mail.text
    assert "group-acme" not in mail.text + mail.html
    assert "In all" not in mail.text


def test_a_booking_confirmation_says_until_when_a_cancel_is_free() -> None:
    mail = email(
        NotificationKind.BOOKED,
        "member",
        at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        refundable_until=datetime(2026, 11, 30, 10, tzinfo=UTC),
        window_hours=24,
    )

    assert "3 credits were taken from your personal account" in mail.text
    assert "cancel by Monday 30 November 2026, 10:00 (Europe/London)" in mail.text


# --- every email, and what people type ------------------------------------------------------------

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "body", "p", "blockquote", "table", "tr", "th", "td", "a",
    "br",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)


def _every_fact_of_every_kind(**overrides: Any) -> dict[str, Any]:
    return {
        "acted_by": "support",
        "reason": "Because",
        "previous_start": datetime(2026, 11, 30, 10, tzinfo=UTC),
        "requested_start": datetime(2026, 12, 2, 10, tzinfo=UTC),
        "respond_by": datetime(2026, 11, 30, 12, tzinfo=UTC),
        "refundable": False,
        "refundable_until": datetime(2026, 11, 30, 10, tzinfo=UTC),
        "credits_returned": 2,
        "credits_returned_in_total": 2,
    } | overrides


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("to", ["member", "coach"])
def test_markup_typed_by_people_never_reaches_the_html_as_markup(
    kind: NotificationKind, to: Audience
) -> None:
    # Given names, a service name and a reason that are all markup
    hostile = Person(id="p-1", name=f"Eve{MARKUP}", email="eve@example.com", timezone="UTC")
    notification = Notification(
        kind=kind,
        audience=to,
        recipient=hostile,
        facts=facts(
            **_every_fact_of_every_kind(reason=MARKUP),
            member_name=f"Ann{MARKUP}",
            coach_name=f"Cho{MARKUP}",
            service_name=f"Coaching{MARKUP}",
        ),
    )

    mail = render(notification, BASE_URL)

    # Then the HTML holds only the tags we wrote, and the text shows what was typed
    parser = _Tags()
    parser.feed(mail.html)
    assert parser.seen <= ALLOWED_TAGS
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in mail.html
    assert MARKUP in mail.text
    assert mail.subject and "\n" not in mail.subject
    assert "https://app.example.com/sessions/session-1" in mail.text


def test_a_reason_over_several_lines_keeps_its_lines() -> None:
    mail = email(NotificationKind.CANCELED, "coach", reason="Line one\nLine <two>")

    assert "> Line one\n> Line <two>" in mail.text
    assert "Line one<br>Line &lt;two&gt;" in mail.html


def test_a_subject_is_one_line_whatever_a_name_holds() -> None:
    mail = email(NotificationKind.CANCELED, "member", acted_by="coach", coach_name="Cho\r\nBcc: x")

    assert mail.subject == "Your session with Cho Bcc: x was canceled"


def test_ids_in_links_are_quoted() -> None:
    mail = email(NotificationKind.CANCELED, "member", session_id="s|1+2", coach_id="c@x")

    assert "https://app.example.com/sessions/s%7C1%2B2" in mail.text
    assert "coach_id=c%40x" in mail.text


def test_a_notification_without_an_address_cannot_be_rendered() -> None:
    nobody = Person(id="p-1", name="Nobody", email=None)
    notification = Notification(
        kind=NotificationKind.BOOKED, audience="member", recipient=nobody, facts=facts()
    )

    with pytest.raises(ValueError, match="without an address"):
        render(notification, BASE_URL)
