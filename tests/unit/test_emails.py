"""How emails read: the facts each kind states, on the recipient's clock, with user text escaped.

Ann (the member) is in London, Cho (the coach) in New York. The session starts on Tuesday
1 December 2026 at 10:00 UTC: 10:00 on Ann's clock, 05:00 on Cho's.
"""

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from coaching.credit_notices import CreditNotice, CreditNoticeKind, decide
from coaching.mail.emails import Email, render, render_credit_notice, when
from coaching.mail.notifications import Audience, Facts, Notification, NotificationKind
from coaching.models import AccountKind, Person, Renewal

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


LAST_CALL = {"until": datetime(2026, 12, 1, 8, 0, tzinfo=UTC), "credits": 3, "credits_after": 0}
"""The deadline a last call for a refund is about, unless a test names another."""


def email(kind: NotificationKind, to: Audience, **overrides: Any) -> Email:
    recipient = ANN if to == "member" else CHO
    if kind is NotificationKind.REFUND_LAST_CALL:
        overrides = {"last_call": LAST_CALL} | overrides
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


# --- after the first product walk ----------------------------------------------------------------

BOOKED_AT = datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_a_session_booked_after_its_window_closed_is_told_a_cancel_is_not_refunded() -> None:
    # Booked at 08:00 for 10:00 the same day: its 24-hour window closed yesterday
    mail = email(
        NotificationKind.BOOKED,
        "member",
        at=datetime(2026, 12, 1, 8, tzinfo=UTC),
        refundable_until=datetime(2026, 11, 30, 10, tzinfo=UTC),
        window_hours=24,
    )

    assert "less than 24 hours before it starts" in mail.text
    assert "its cancellation window has closed" in mail.text
    assert "a cancellation will not return the credits" in mail.text
    assert "cancel by" not in mail.text
    assert "30 November" not in mail.text + mail.html  # no deadline already gone


def test_one_credit_reads_as_one_credit() -> None:
    mail = email(NotificationKind.BOOKED, "member", credits=1, at=BOOKED_AT)

    assert "1 credit was taken from your personal account." in mail.text
    assert "1 credits" not in mail.text + mail.html + mail.subject


def test_a_coach_move_tells_the_member_they_keep_their_free_cancellation() -> None:
    sooner = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    mail = email(
        NotificationKind.RESCHEDULED,
        "member",
        acted_by="coach",
        at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        previous_start=datetime(2026, 12, 4, 10, tzinfo=UTC),
        start=sooner,
        refundable_until=sooner,
        window_hours=24,
        kept_after_move=True,
        reason="Conference moved",
    )

    assert "you keep your free cancellation" in mail.text
    assert "Tuesday 1 December 2026, 19:00 (Europe/London)" in mail.text
    assert "> Conference moved" in mail.text
    assert "will not return the credits" not in mail.text


def test_a_late_move_that_the_member_made_says_no_refund() -> None:
    # The coach approved the member's own late request: the usual rule applies, now closed
    mail = email(
        NotificationKind.RESCHEDULE_APPROVED,
        "member",
        acted_by="coach",
        at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        previous_start=datetime(2026, 12, 1, 20, tzinfo=UTC),
        refundable_until=datetime(2026, 11, 30, 10, tzinfo=UTC),
        window_hours=24,
    )

    assert "a cancellation will not return the credits" in mail.text
    assert "30 November" not in mail.text


def test_the_coach_reads_a_members_move_without_the_members_cancel_terms() -> None:
    mail = email(
        NotificationKind.RESCHEDULED,
        "coach",
        acted_by="member",
        at=BOOKED_AT,
        previous_start=START,
        refundable_until=datetime(2026, 11, 30, 10, tzinfo=UTC),
        reason="Dentist",
    )

    assert "you can move or cancel it from its page" in mail.text
    assert "> Dentist" in mail.text
    assert "cancel by" not in mail.text


@pytest.mark.parametrize(
    ("kind", "to", "lead"),
    [
        (NotificationKind.BOOKING_DECLINED, "member", "Cho explained:"),
        (NotificationKind.RESCHEDULE_DECLINED, "member", "Cho explained:"),
        (NotificationKind.RESCHEDULE_WITHDRAWN, "coach", "Ann explained:"),
        (NotificationKind.RESCHEDULED, "member", "Cho explained:"),
    ],
)
def test_the_reason_for_a_change_is_quoted_to_the_other_side(
    kind: NotificationKind, to: Audience, lead: str
) -> None:
    acted_by = "member" if to == "coach" else "coach"
    mail = email(kind, to, acted_by=acted_by, reason="Away that week", at=BOOKED_AT)

    assert f"{lead}\n\n> Away that week" in mail.text
    assert "Away that week</blockquote>" in mail.html


def test_a_withdrawn_request_tells_the_coach_the_time_is_free_and_the_session_stays() -> None:
    mail = email(
        NotificationKind.RESCHEDULE_WITHDRAWN,
        "coach",
        requested_start=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
    )

    assert mail.subject == "Ann withdrew a request to move your session"
    assert "to Wednesday 2 December 2026, 10:00 (America/New_York); that time is free" in mail.text
    assert f"the session stays at {CHO_START}" in mail.text


def test_the_member_who_cancels_gets_a_receipt_with_the_credits() -> None:
    mail = email(
        NotificationKind.CANCEL_CONFIRMED,
        "member",
        refundable=True,
        credits_returned=3,
        reason="Flu",
    )

    assert mail.subject == "Canceled: your session with Cho"
    assert "You canceled this session. It will not take place, and Cho has been told." in mail.text
    assert "> Flu" in mail.text
    assert "The 3 credits went back to your personal account." in mail.text
    assert "Book again with Cho" in mail.text


def test_the_coach_who_cancels_late_is_told_the_credits_stayed_spent() -> None:
    mail = email(NotificationKind.CANCEL_CONFIRMED, "coach", acted_by="coach", refundable=False)

    assert mail.subject == "Canceled: your session with Ann"
    assert "the credits stayed spent. You can still refund them" in mail.text
    assert "Book again" not in mail.text


def test_support_gets_a_receipt_naming_both_sides() -> None:
    desk = Person(id="support-sam", name="Sam", email="sam@help.example", timezone="UTC")
    notification = Notification(
        kind=NotificationKind.CANCEL_CONFIRMED,
        audience="support",
        recipient=desk,
        facts=facts(acted_by="support", refundable=True, credits_returned=3),
    )

    mail = render(notification, BASE_URL)

    assert mail.to == "sam@help.example"
    assert mail.subject == "Canceled: Ann's session with Cho"
    assert "With: Ann and Cho" in mail.text
    assert "The 3 credits went back to Ann's personal account." in mail.text
    assert "because you canceled this session" in mail.text


def test_the_coach_hears_when_support_refunds_their_session() -> None:
    mail = email(
        NotificationKind.REFUNDED,
        "coach",
        acted_by="support",
        credits_returned=3,
        credits_returned_in_total=3,
    )

    assert mail.subject == "3 credits refunded for your session with Ann"
    assert "Our support team refunded 3 credits for this session." in mail.text
    assert "They are back in Ann's personal account." in mail.text


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("to", ["member", "coach"])
def test_a_shared_pool_is_named_and_said_to_have_paid_never_its_id(
    kind: NotificationKind, to: Audience
) -> None:
    mail = email(
        kind,
        to,
        **_every_fact_of_every_kind(
            account_id="group-f2dc6f0011",
            account_name="Acme team",
            personal_account=False,
        ),
    )

    assert 'Paid with: 3 credits from the shared account "Acme team"' in mail.text
    assert "group-f2dc6f0011" not in mail.text + mail.html
    assert "you paid" not in mail.text


def test_a_pool_whose_name_was_not_kept_is_still_never_named_by_its_id() -> None:
    mail = email(
        NotificationKind.REFUNDED,
        "member",
        credits_returned=3,
        account_id="group-f2dc6f0011",
        personal_account=False,
    )

    assert "They are back in a shared account." in mail.text
    assert "group-f2dc6f0011" not in mail.text


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("to", ["member", "coach"])
def test_no_email_names_a_cancel_deadline_already_past(
    kind: NotificationKind, to: Audience
) -> None:
    gone = datetime(2026, 11, 30, 10, tzinfo=UTC)
    mail = email(
        kind,
        to,
        **_every_fact_of_every_kind(
            at=datetime(2026, 12, 1, 8, tzinfo=UTC),
            refundable_until=gone,
            previous_start=None,
            respond_by=None,
        ),
    )

    assert "30 November" not in mail.text


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
        "location": "Room 4 & the <b>annex</b>",
        "reminder_minutes": 60,
        "last_call": {
            "until": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            "credits": 3,
            "credits_after": 1,
        },
    } | overrides


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("to", ["member", "coach", "support"])
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
            account_name=f"Pool{MARKUP}",
            personal_account=False,
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


# --- no-shows -------------------------------------------------------------------------------------


def test_a_member_no_show_tells_the_member_the_credits_stay_spent_and_where_to_turn() -> None:
    mail = email(NotificationKind.NO_SHOW, "member", acted_by="coach", absent="MEMBER")

    assert mail.subject == "Missed session with Cho"
    assert "Cho recorded that you did not attend this session." in mail.text
    assert "The credits for it stay spent." in mail.text
    assert "support team" in mail.text


def test_the_coach_who_marks_the_member_gets_what_was_recorded() -> None:
    mail = email(NotificationKind.NO_SHOW, "coach", acted_by="coach", absent="MEMBER")

    assert mail.subject == "Ann marked as not attending"
    assert "You recorded that Ann did not attend this session." in mail.text


def test_a_coach_no_show_tells_the_member_the_credits_came_back_and_how_to_book_again() -> None:
    mail = email(
        NotificationKind.NO_SHOW,
        "member",
        acted_by="support",
        absent="COACH",
        credits_returned=3,
        credits_returned_in_total=3,
    )

    assert mail.subject == "Your coach missed your session: credits returned"
    assert "Our support team recorded that Cho did not attend this session." in mail.text
    assert "The 3 credits went back to your personal account." in mail.text
    assert "Book again with Cho" in mail.text


def test_a_coach_no_show_tells_the_coach_what_support_recorded_and_refunded() -> None:
    mail = email(
        NotificationKind.NO_SHOW, "coach", acted_by="support", absent="COACH", credits_returned=1
    )

    assert mail.subject == "Recorded: you missed your session with Ann"
    assert "Our support team recorded that you did not attend this session." in mail.text
    assert "The member's 1 credit went back to Ann's personal account." in mail.text


def test_a_coach_who_records_their_own_absence_reads_it_and_the_member_is_told() -> None:
    to_ann = email(
        NotificationKind.NO_SHOW, "member", acted_by="coach", absent="COACH", credits_returned=3
    )
    to_cho = email(
        NotificationKind.NO_SHOW, "coach", acted_by="coach", absent="COACH", credits_returned=3
    )

    assert "Cho recorded that they could not attend this session." in to_ann.text
    assert "The 3 credits went back to your personal account." in to_ann.text
    assert "You recorded that you did not attend this session." in to_cho.text
    assert "The member's 3 credits went back to Ann's personal account." in to_cho.text
    assert "mistake" not in to_cho.text  # they said so themselves


def test_a_tiered_booking_tells_the_member_each_share_still_ahead() -> None:
    steps = [
        {"until": datetime(2026, 11, 30, 10, tzinfo=UTC), "percent": 100},
        {"until": datetime(2026, 12, 1, 8, tzinfo=UTC), "percent": 50},
    ]

    early = email(
        NotificationKind.BOOKED,
        "member",
        at=datetime(2026, 11, 29, tzinfo=UTC),
        refundable_until=steps[0]["until"],
        window_hours=24,
        refund_steps=steps,
    )
    late = email(
        NotificationKind.BOOKED,
        "member",
        at=datetime(2026, 11, 30, 12, tzinfo=UTC),
        refund_steps=steps,
    )
    too_late = email(
        NotificationKind.BOOKED,
        "member",
        at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        refund_steps=steps,
    )

    assert (
        "If your plans change, cancel by Monday 30 November 2026, 10:00 (Europe/London) and the "
        "credits come back in full; by Tuesday 1 December 2026, 08:00 (Europe/London), 50% of "
        "the credits come back (rounded down). Later cancellations are still possible, but the "
        "credits stay spent."
    ) in " ".join(early.text.split())
    assert "in full" not in late.text
    assert (
        "cancel by Tuesday 1 December 2026, 08:00 (Europe/London) and 50% of the credits come "
        "back (rounded down)"
    ) in " ".join(late.text.split())
    assert "too close to its start for a cancellation to return any credits" in too_late.text
    assert "cancel by" not in too_late.text


# --- one vocabulary, the help page's -------------------------------------------------------------

# The help page calls the refundable time "within the cancellation window" ("inside the free
# window"); after it, the window has closed. No email may call the non-refundable time "inside"
# or "within" the window.
_WRONG_SIDE = re.compile(r"(inside|within) (its|the|your)( free)? cancellation window", re.I)


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("to", ["member", "coach"])
@pytest.mark.parametrize("refundable", [True, False])
def test_no_email_says_a_time_with_no_refund_is_within_the_window(
    kind: NotificationKind, to: Audience, refundable: bool
) -> None:
    closed_at = datetime(2026, 11, 30, 10, tzinfo=UTC)
    mail = email(
        kind,
        to,
        at=datetime(2026, 11, 29 if refundable else 30, 8 if refundable else 12, tzinfo=UTC),
        refundable_until=closed_at,
        window_hours=24,
        refundable=refundable,
        previous_start=datetime(2026, 12, 2, 10, tzinfo=UTC),
    )

    if not refundable:
        assert not _WRONG_SIDE.search(mail.text + mail.html)
    assert "inside its cancellation window" not in mail.text + mail.html


def test_a_vancouver_reader_in_december_2027_reads_the_pinned_rules_utc_minus_7() -> None:
    # tzdata 2026.6: British Columbia keeps UTC-7 all year from November 2026 (an older
    # database on the machine would say 08:00, an hour early).
    vancouver = Person(
        id="coach-v", name="Vic", email="vic@example.com", timezone="America/Vancouver"
    )
    notification = Notification(
        kind=NotificationKind.BOOKED,
        audience="coach",
        recipient=vancouver,
        facts=facts(
            start=datetime(2027, 12, 10, 16, tzinfo=UTC), at=datetime(2027, 12, 1, tzinfo=UTC)
        ),
    )

    mail = render(notification, BASE_URL)

    assert "Friday 10 December 2027, 09:00 (America/Vancouver)" in mail.text


# --- receipts, requests sent, reminders, the last call, where, the manage link -------------------

MANAGE = "https://app.example.com/manage#m1.1.payload.signature"


def test_the_member_who_moved_gets_the_new_time_and_their_new_terms() -> None:
    mail = email(
        NotificationKind.RESCHEDULE_CONFIRMED,
        "member",
        previous_start=datetime(2026, 11, 30, 10, tzinfo=UTC),
        at=datetime(2026, 11, 20, 8, tzinfo=UTC),
        refundable_until=datetime(2026, 11, 30, 10, tzinfo=UTC),
        window_hours=24,
        reason="Travelling",
    )

    assert mail.subject == "Moved: your session with Cho"
    assert "You moved this session to a new time, and Cho has been told." in mail.text
    assert "Was: Monday 30 November 2026, 10:00 (Europe/London)" in mail.text
    assert f"Now: {ANN_START}" in mail.text
    assert "> Travelling" in mail.text
    assert "cancel by Monday 30 November 2026, 10:00 (Europe/London)" in mail.text


def test_the_coach_who_accepted_gets_a_receipt_of_it() -> None:
    booking = email(NotificationKind.BOOKING_APPROVAL_CONFIRMED, "coach", acted_by="coach")
    move = email(
        NotificationKind.RESCHEDULE_APPROVAL_CONFIRMED,
        "coach",
        acted_by="coach",
        previous_start=datetime(2026, 11, 30, 10, tzinfo=UTC),
    )

    assert booking.subject == "Accepted: your session with Ann"
    assert "it is on your calendar, and Ann has been told" in booking.text
    assert move.subject == "Moved: your session with Ann"
    assert f"Now: {CHO_START}" in move.text


def test_a_booking_request_sent_says_what_was_asked_until_when_and_that_the_credits_wait() -> None:
    mail = email(
        NotificationKind.BOOKING_REQUEST_SENT,
        "member",
        respond_by=datetime(2026, 11, 29, 9, tzinfo=UTC),
    )

    assert mail.subject == "Request sent: your session with Cho"
    assert f"When: {ANN_START}" in mail.text
    assert "It is not booked yet." in mail.text
    assert "3 credits from your personal account are held for it meanwhile" in mail.text
    assert "Cho can answer until Sunday 29 November 2026, 09:00 (Europe/London)." in mail.text


def test_a_move_request_sent_says_the_session_keeps_its_time_meanwhile() -> None:
    mail = email(
        NotificationKind.RESCHEDULE_REQUEST_SENT,
        "member",
        requested_start=datetime(2026, 12, 2, 10, tzinfo=UTC),
        respond_by=datetime(2026, 12, 1, 9, tzinfo=UTC),
        reason="Train strike",
    )

    assert mail.subject == "Request sent: moving your session with Cho"
    assert (
        f"You asked Cho to move your session from {ANN_START} to "
        "Wednesday 2 December 2026, 10:00 (Europe/London)." in mail.text
    )
    assert "until Tuesday 1 December 2026, 09:00 (Europe/London)" in mail.text
    assert "keeps its current time and its credits" in mail.text


@pytest.mark.parametrize(("to", "start"), [("member", ANN_START), ("coach", CHO_START)])
def test_a_reminder_is_on_the_readers_clock(to: Audience, start: str) -> None:
    other = "Cho" if to == "member" else "Ann"
    recipient = ANN if to == "member" else CHO
    notification = Notification(
        kind=NotificationKind.REMINDER,
        audience=to,
        recipient=recipient,
        facts=facts(acted_by="system", reminder_minutes=60),
        occasion="1@R60",
    )

    mail = render(notification, BASE_URL, MANAGE)

    assert mail.subject == f"Reminder: your session with {other}, {start}"
    assert f"Your session with {other} is coming up: {start}." in mail.text
    # The member's carries the link to manage it; the coach's never does
    assert (MANAGE in mail.text) is (to == "member")


@pytest.mark.parametrize(
    ("credits", "after", "says", "then"),
    [
        (3, 0, "your 3 credits come back", "the cancellation window has closed"),
        (1, 0, "your 1 credit comes back", "the cancellation window has closed"),
        (3, 1, "your 3 credits come back", "After that, a cancellation gives back 1 credit."),
    ],
)
def test_the_last_call_says_until_when_how_many_credits_come_back_and_what_after(
    credits: int, after: int, says: str, then: str
) -> None:
    mail = email(
        NotificationKind.REFUND_LAST_CALL,
        "member",
        acted_by="system",
        last_call={
            "until": datetime(2026, 11, 30, 15, tzinfo=UTC),
            "credits": credits,
            "credits_after": after,
        },
    )

    deadline = "Monday 30 November 2026, 15:00 (Europe/London)"
    assert mail.subject == f"Cancel by {deadline} to get {credits} credit{'s' * (credits > 1)} back"
    assert f"cancel by {deadline} and {says} to your personal account" in mail.text
    assert then in mail.text


def test_where_shows_on_every_email_and_the_link_to_join_only_while_there_is_one() -> None:
    link = "https://meet.example.com/cho"
    booked = email(NotificationKind.BOOKED, "member", location=link)
    canceled = email(NotificationKind.CANCELED, "member", location=link)
    room = email(NotificationKind.BOOKED, "member", location="Room 4")

    assert f"Where: {link}" in booked.text and f"Join the session: {link}" in booked.text
    assert f"Where: {link}" in canceled.text and "Join the session" not in canceled.text
    assert "Where: Room 4" in room.text and "Join the session" not in room.text
    assert f'<a href="{link}">Join the session</a>' in booked.html


def test_the_manage_link_goes_to_members_only() -> None:
    for to, recipient in (("member", ANN), ("coach", CHO)):
        notification = Notification(
            kind=NotificationKind.BOOKED, audience=to, recipient=recipient, facts=facts()
        )
        mail = render(notification, BASE_URL, MANAGE)

        assert (MANAGE in mail.text + mail.html) is (to == "member")


# --- credits that expire ----------------------------------------------------------------------


def credit_email(
    kind: CreditNoticeKind, *, group: bool = False, credits: int = 3, **overrides: Any
) -> Email:
    notice = CreditNotice(
        kind=kind,
        account_id="group-acme" if group else f"personal-{ANN.id}",
        account_kind=AccountKind.GROUP if group else AccountKind.PERSONAL,
        account_name="Acme <b>team</b>" if group else "Personal credits",
        lot=4,
        credits=credits,
        expires_at=START,
        at=START,
        balance_after=5 if kind is CreditNoticeKind.EXPIRED else None,
        recipients=[ANN],
        **overrides,
    )
    [notification] = decide(notice)
    return render_credit_notice(notification, BASE_URL)


def test_the_owner_is_told_when_credits_expire_on_their_own_clock() -> None:
    mail = credit_email(CreditNoticeKind.EXPIRING)

    assert mail.subject == "3 credits expire on Tuesday 1 December"
    assert f"3 credits in your personal account expire on {ANN_START}." in mail.text
    assert "a booking always spends the credits that expire soonest first" in mail.text
    assert "https://app.example.com/accounts/personal-member-ann" in mail.text
    assert "because you own this account" in mail.text


def test_the_owner_is_told_what_expired_and_the_balance_left() -> None:
    mail = credit_email(CreditNoticeKind.EXPIRED, credits=1)

    assert mail.subject == "1 credit expired"
    assert f"1 credit in your personal account expired on {ANN_START} and has left" in mail.text
    assert "The balance is now 5 credits." in mail.text


def test_a_groups_admin_reads_its_name_escaped() -> None:
    mail = credit_email(CreditNoticeKind.EXPIRING, group=True, credits=1)

    assert mail.subject == "1 credit expires on Tuesday 1 December"
    assert 'the shared account "Acme <b>team</b>"' in mail.text
    assert "<b>team</b>" not in mail.html and "&lt;b&gt;team&lt;/b&gt;" in mail.html
    assert "because you are an admin of this account" in mail.text


def test_nobody_without_an_address_is_told() -> None:
    silent = ANN.model_copy(update={"email": None})
    notice = CreditNotice(
        kind=CreditNoticeKind.EXPIRED,
        account_id="group-acme",
        account_kind=AccountKind.GROUP,
        account_name="Acme",
        lot=1,
        credits=2,
        expires_at=START,
        at=START,
        recipients=[silent, CHO],
    )

    assert [(n.recipient.id, n.audience) for n in decide(notice)] == [(CHO.id, "admin")]


@pytest.mark.parametrize("kind", [NotificationKind.CANCELED, NotificationKind.CANCEL_CONFIRMED])
def test_credits_back_after_their_lot_expired_say_until_when_they_last(
    kind: NotificationKind,
) -> None:
    renewed = Renewal(credits=2, expires_at=START)
    mail = email(
        kind,
        "member",
        acted_by="coach" if kind is NotificationKind.CANCELED else "member",
        credits_returned=3,
        renewed=renewed,
    )
    coach_mail = email(
        kind,
        "coach",
        acted_by="member" if kind is NotificationKind.CANCELED else "coach",
        credits_returned=3,
        renewed=renewed,
    )

    assert (
        "2 credits of what came back were paid from credits that have expired since the "
        f"booking, so they come back as new credits that can be used until {ANN_START}."
    ) in " ".join(mail.text.split())
    assert "expired since the booking" not in coach_mail.text


def test_credits_back_into_those_that_never_expire_say_so() -> None:
    mail = email(
        NotificationKind.REFUNDED,
        "member",
        acted_by="coach",
        credits_returned=1,
        credits_returned_in_total=1,
        renewed=Renewal(credits=1, expires_at=None),
    )

    assert "1 credit of what came back was paid from credits that have expired since the " in (
        " ".join(mail.text.split())
    )
    assert "so it comes back as credits that do not expire." in mail.text
