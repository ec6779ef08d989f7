"""The help page's screens in Chromium: ``<coaching-sessions>`` against `make run`'s stack.

The member cancels inside the window (the dialog says refunded, the credits come back) and
outside it (the dialog says not refunded), finds the session under Past with its tag and
banner, books again with "Schedule Session", moves a session, asks for a late move and takes the
request back; the coach approves a move, refunds a late cancel and marks a no-show. Every
refusal the API gives on these screens shows in words next to what caused it. Each screen is
photographed at 1280 and 375 pixels wide, and checked with axe-core on the way.

Tests run in any order against one stack: each works on sessions of its own, and the one that
moves the stack's clock moves it by less than an hour, which changes nothing the others do.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.browser.conftest import Screens, axe_violations, open_app, open_embedded
from tests.e2e.conftest import RunningStack

PERSONAL = "personal-demo-member"


# --- steps, as a person takes them ----------------------------------------------------------


def row(page: Page, session_id: str) -> Locator:
    return page.locator(f'button[data-session-id="{session_id}"]')


def open_session(page: Page, session_id: str, tab: str = "Upcoming") -> None:
    page.get_by_role("tab", name=tab).click()
    row(page, session_id).click()
    expect(page.get_by_role("button", name="All sessions")).to_be_visible()


def back_to_list(page: Page) -> None:
    page.get_by_role("button", name="All sessions").click()
    expect(page.get_by_role("tab", name="Upcoming")).to_be_visible()


def choose_from_menu(page: Page, item: str) -> None:
    page.get_by_role("button", name="Session actions").click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def notice(page: Page) -> Locator:
    return page.locator(".cs-notice")


def credits_in(page: Page, account_id: str) -> Locator:
    return page.locator(f'dd[data-account-id="{account_id}"]')


def balance_shown(page: Page, account_id: str) -> int:
    expect(credits_in(page, account_id)).to_have_text(re.compile(r"^\d+ credits?$"))
    return int(credits_in(page, account_id).inner_text().split()[0])


def pick_time(dialog: Locator, *, day: str = "last", time: str = "first") -> str:
    """Choose a day, then a time on it, from the free times the dialog lists."""
    days = dialog.locator(".cs-days label")
    expect(days.first).to_be_visible()
    (days.last if day == "last" else days.first).click()
    times = dialog.locator(".cs-times label")
    expect(times.first).to_be_visible()
    (times.last if time == "last" else times.first).click()
    chosen = dialog.locator('input[name="start"]:checked').get_attribute("value")
    assert chosen
    return chosen


def refresh(page: Page) -> None:
    """What a host page does after changing something behind the element's back."""
    page.evaluate("document.querySelector('coaching-sessions').refresh()")


def session_json(stack: RunningStack, token: str, session_id: str) -> dict[str, Any]:
    answer = stack.call("GET", f"/sessions/{session_id}", token)
    assert answer.status_code == 200, answer.text
    detail: dict[str, Any] = answer.json()
    return detail


def same_time(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


# --- the help page, end to end --------------------------------------------------------------


def test_the_help_page_walked_in_the_browser(
    stack: RunningStack, browser: BrowserContext, screens: Screens
) -> None:
    ids = stack.seeded["sessions"]
    group = stack.seeded["group_account_id"]
    token = stack.token("demo-member", "member")
    member = open_app(browser, stack, "demo-member")
    expect(member.get_by_text("Signed in as Maya Member (member).")).to_be_visible()
    screens(member, "member-upcoming")
    personal_before = balance_shown(member, PERSONAL)
    group_before = balance_shown(member, group)

    # Cancel inside the window: the dialog says refunded, and the credits show
    open_session(member, ids["upcoming_refundable"])
    screens(member, "member-session")
    member.get_by_role("button", name="Session actions").click()
    expect(member.get_by_role("menuitem")).to_have_text(["Reschedule", "Cancel"])
    screens(member, "member-menu")
    member.get_by_role("menuitem", name="Cancel").click()
    dialog = member.get_by_role("dialog", name="Confirm cancellation?")
    quote = dialog.locator(".cs-quote")
    expect(quote).to_contain_text("Refundable")
    expect(quote).to_contain_text("Your 3 credits will be refunded to your personal account.")
    screens(member, "member-cancel-refundable")
    dialog.get_by_label("Reason for canceling (optional)").fill("Something came up at work")
    dialog.get_by_role("button", name="Cancel session").click()
    expect(dialog).to_be_hidden()
    expect(notice(member)).to_have_text(
        "Session canceled. 3 credits refunded to your personal account."
    )
    banner = member.get_by_role("region", name="This session is canceled")
    expect(banner).to_contain_text("Canceled by you on")
    expect(banner).to_contain_text("Reason: “Something came up at work”")
    expect(banner).to_contain_text("3 credits refunded to your personal account.")

    # ... and it is under Past, tagged and struck through, with the banner
    back_to_list(member)
    expect(credits_in(member, PERSONAL)).to_have_text(f"{personal_before + 3} credits")
    member.get_by_role("tab", name="Past").click()
    canceled_row = row(member, ids["upcoming_refundable"])
    expect(canceled_row.locator(".cs-tag")).to_have_text("Session canceled")
    expect(canceled_row.locator(".cs-struck")).to_be_visible()
    screens(member, "member-past")
    canceled_row.click()
    expect(member.get_by_role("region", name="This session is canceled")).to_be_visible()
    screens(member, "member-canceled")

    # "Schedule Session" books the same coach again, at a free time
    member.get_by_role("button", name="Schedule Session").click()
    dialog = member.get_by_role("dialog", name="Schedule a session with Colin Coach")
    booked_at = pick_time(dialog, day="last", time="last")  # days ahead: outside any window
    screens(member, "member-schedule")
    dialog.get_by_role("button", name="Book session").click()
    expect(notice(member)).to_contain_text("Booked:")
    expect(notice(member)).to_contain_text("with Colin Coach.")
    expect(credits_in(member, PERSONAL)).to_have_text(f"{personal_before} credits")
    upcoming = stack.call("GET", "/sessions", token, params={"view": "upcoming"}).json()["items"]
    (rebooked,) = [s for s in upcoming if same_time(s["start"], booked_at)]

    # Reschedule it: days ahead, so it moves at once
    open_session(member, rebooked["id"])
    choose_from_menu(member, "Reschedule")
    dialog = member.get_by_role("dialog", name="Reschedule session")
    expect(dialog.get_by_role("button", name="Reschedule", exact=True)).to_be_visible()
    moved_to = pick_time(dialog, day="last", time="first")
    screens(member, "member-reschedule")
    dialog.get_by_role("button", name="Reschedule", exact=True).click()
    expect(notice(member)).to_contain_text("Rescheduled: the session is now on")
    assert same_time(session_json(stack, token, rebooked["id"])["start"], moved_to)

    # A late move waits for the coach; the member takes the request back
    back_to_list(member)
    open_session(member, ids["upcoming_not_refundable"])
    choose_from_menu(member, "Reschedule")
    dialog = member.get_by_role("dialog", name="Reschedule session")
    expect(dialog).to_contain_text("Colin Coach must approve this move")
    pick_time(dialog)
    dialog.get_by_role("button", name="Request move").click()
    expect(notice(member)).to_contain_text("Move requested: Colin Coach must approve moving it to")
    expect(member.locator(".cs-pending")).to_contain_text("You asked to move this session to")
    screens(member, "member-move-requested")
    member.get_by_role("button", name="Withdraw request").click()
    expect(notice(member)).to_contain_text("Request withdrawn: the session stays on")
    expect(member.locator(".cs-pending")).to_have_count(0)

    # Cancel outside the window: the dialog says it will not be refunded
    choose_from_menu(member, "Cancel")
    dialog = member.get_by_role("dialog", name="Confirm cancellation?")
    expect(dialog.locator(".cs-quote")).to_contain_text("Not refundable")
    expect(dialog.locator(".cs-quote")).to_contain_text("credits will not be refunded")
    screens(member, "member-cancel-not-refundable")
    dialog.get_by_role("button", name="Cancel session").click()
    expect(notice(member)).to_have_text("Session canceled. It was not refunded.")
    banner = member.get_by_role("region", name="This session is canceled")
    expect(banner).to_contain_text("Not refunded")
    expect(banner).to_contain_text("Your coach can still refund it.")

    # A late move for the coach to answer
    back_to_list(member)
    expect(credits_in(member, group)).to_have_text(f"{group_before} credits")
    open_session(member, ids["upcoming_move_needs_approval"])
    choose_from_menu(member, "Reschedule")
    dialog = member.get_by_role("dialog", name="Reschedule session")
    asked_for = pick_time(dialog)
    dialog.get_by_role("button", name="Request move").click()
    expect(notice(member)).to_contain_text("Move requested")

    # The coach approves it ...
    coach = open_app(browser, stack, "demo-coach")
    requests = coach.get_by_role("region", name="Waiting for your answer")
    card = requests.locator(".cs-request-card", has_text="asks to move")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Maya Member asks to move Career coaching from")
    screens(coach, "coach-requests")
    card.get_by_role("button", name="Approve move").click()
    expect(notice(coach)).to_contain_text("Move approved: Career coaching with Maya Member is now")
    moved = session_json(stack, token, ids["upcoming_move_needs_approval"])
    assert same_time(moved["start"], asked_for) and moved["reschedule_request"] is None

    # ... refunds the session the member canceled too late (most coaches do) ...
    open_session(coach, ids["upcoming_not_refundable"], tab="Past")
    choose_from_menu(coach, "Refund credits")
    dialog = coach.get_by_role("dialog", name="Refund credits")
    expect(dialog.get_by_label("Credits to refund")).to_have_value("3")
    screens(coach, "coach-refund")
    dialog.get_by_role("button", name="Refund", exact=True).click()
    expect(notice(coach)).to_have_text("Refunded: 3 credits refunded to Acme team.")

    # ... and marks the member absent from the session that took place
    back_to_list(coach)
    open_session(coach, ids["past"], tab="Past")
    choose_from_menu(coach, "Mark no-show")
    dialog = coach.get_by_role("dialog", name="Mark Maya Member as a no-show?")
    dialog.get_by_role("button", name="Mark no-show").click()
    expect(notice(coach)).to_have_text("Maya Member is marked as a no-show.")
    expect(coach.locator(".cs-detail-header .cs-tag").first).to_have_text("No-show")

    # The member sees all of it
    member.reload()
    expect(credits_in(member, group)).to_have_text(f"{group_before + 3} credits")
    open_session(member, ids["upcoming_not_refundable"], tab="Past")
    expect(member.get_by_role("region", name="This session is canceled")).to_contain_text(
        "3 credits refunded to Acme team."
    )


# --- refusals, next to what caused them -----------------------------------------------------


@dataclass
class Elsewhere:
    """A coach who works around the clock and a member with credits of their own, so these
    tests find free times whatever the day and change nothing the walk above looks at."""

    stack: RunningStack
    member: str
    coach: str
    service: dict[str, Any]
    """Strict rules: a 2-hour window, a reason to cancel, one move."""
    reviewed: dict[str, Any]
    """A service whose coach accepts each booking first."""

    def now(self) -> datetime:
        return datetime.fromisoformat(self.stack.call("GET", "/_local/clock").json()["now"])

    def free_times(self, after: timedelta, service: dict[str, Any] | None = None) -> list[str]:
        service = service or self.service
        start = self.now() + after
        answer = self.stack.call(
            "GET",
            f"/services/{service['id']}/slots",
            self.member,
            params={
                "session_type_id": service["session_types"][0]["id"],
                "from": start.isoformat(),
                "to": (start + timedelta(days=2)).isoformat(),
            },
        )
        assert answer.status_code == 200, answer.text
        return [slot["start"] for slot in answer.json()["items"]]

    def book(self, after: timedelta, service: dict[str, Any] | None = None) -> dict[str, Any]:
        service = service or self.service
        for start in self.free_times(after, service):
            answer = self.stack.call(
                "POST",
                "/sessions",
                self.member,
                json={
                    "service_id": service["id"],
                    "session_type_id": service["session_types"][0]["id"],
                    "start": start,
                },
            )
            if answer.status_code == 201:
                booked: dict[str, Any] = answer.json()
                return booked
        raise AssertionError("no free time could be booked")


@pytest.fixture(scope="module")
def elsewhere(stack: RunningStack) -> Elsewhere:
    coach = stack.token("browser-coach", "coach", "--name", "Cleo Coach")
    member = stack.token("browser-member", "member", "--name", "Bea Member")
    support = stack.token("demo-support", "support")
    every_day = [
        {"day": day, "start": "00:00", "end": "24:00"}
        for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
    ]
    hours = stack.call(
        "PUT", "/coaches/me/availability", coach, json={"timezone": "UTC", "weekly": every_day}
    )
    service = stack.call(
        "POST",
        "/services",
        coach,
        json={
            "name": "Quick check-in",
            "session_types": [{"minutes": 30, "credits": 1}],
            "cancellation_window_hours": 2,
            "cancel_reason_required": True,
            "max_reschedules": 1,
            "late_reschedule_requires_approval": False,
        },
    )
    reviewed = stack.call(
        "POST",
        "/services",
        coach,
        json={
            "name": "Portfolio review",
            "session_types": [{"minutes": 45, "credits": 2}],
            "requires_approval": True,
        },
    )
    grant = stack.call(
        "POST", "/accounts/personal-browser-member/grants", support, json={"credits": 20}
    )
    assert hours.status_code == 200 and service.status_code == 201, (hours.text, service.text)
    assert reviewed.status_code == 201 and grant.status_code == 201, (reviewed.text, grant.text)
    return Elsewhere(stack, member, coach, service.json(), reviewed.json())


@pytest.fixture
def page(browser: BrowserContext, elsewhere: Elsewhere) -> Iterator[Page]:
    opened = open_embedded(browser, elsewhere.stack, elsewhere.member)
    yield opened
    opened.close()


def test_a_required_reason_is_asked_for_beside_the_reason_field(
    page: Page, elsewhere: Elsewhere, screens: Screens
) -> None:
    session = elsewhere.book(timedelta(hours=6))
    refresh(page)
    open_session(page, session["id"])
    choose_from_menu(page, "Cancel")
    dialog = page.get_by_role("dialog", name="Confirm cancellation?")
    expect(dialog.locator(".cs-quote")).to_contain_text("Refundable")
    reason = dialog.get_by_label("Reason for canceling (required)")

    reason.fill("   ")
    dialog.get_by_role("button", name="Cancel session").click()

    error = dialog.locator('[data-error-for="reason"]')
    expect(error).to_have_text("A reason is required to cancel a session of this service.")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_be_focused()
    screens(page, "refusal-reason-required")
    assert session_json(elsewhere.stack, elsewhere.member, session["id"])["status"] == "SCHEDULED"
    reason.fill("Double-booked")
    dialog.get_by_role("button", name="Cancel session").click()
    expect(notice(page)).to_have_text(
        "Session canceled. 1 credit refunded to your personal account."
    )


def test_a_window_that_closes_while_the_dialog_is_open_refuses_the_cancel(
    page: Page, elsewhere: Elsewhere, screens: Screens
) -> None:
    # Given a session whose free window (2 hours) closes within the quarter hour or so
    session = elsewhere.book(timedelta(hours=2, minutes=1))
    window_closes = datetime.fromisoformat(session["policy"]["refundable_until"])
    refresh(page)
    open_session(page, session["id"])
    choose_from_menu(page, "Cancel")
    dialog = page.get_by_role("dialog", name="Confirm cancellation?")
    expect(dialog.locator(".cs-quote")).to_contain_text("Refundable")
    dialog.get_by_label("Reason for canceling (required)").fill("Running late")

    # When the window closes before the member confirms
    late_by = (window_closes - elsewhere.now()).total_seconds() + 60
    assert 0 < late_by <= 3600, late_by
    elsewhere.stack.call("POST", "/_local/clock", json={"advance_seconds": late_by})
    dialog.get_by_role("button", name="Cancel session").click()

    # Then nothing is canceled: the dialog says why, beside the button, with the new terms
    error = dialog.locator(".cs-form-error")
    expect(error).to_contain_text("canceling now gives back 0 credits, not 1")
    expect(dialog.locator(".cs-quote")).to_contain_text("Not refundable")
    screens(page, "refusal-quote-changed")
    assert session_json(elsewhere.stack, elsewhere.member, session["id"])["status"] == "SCHEDULED"
    # and confirming the new terms cancels it without a refund
    dialog.get_by_role("button", name="Cancel session").click()
    expect(notice(page)).to_have_text("Session canceled. It was not refunded.")


def test_a_time_taken_meanwhile_is_refused_beside_the_times_and_they_reload(
    page: Page, elsewhere: Elsewhere, screens: Screens
) -> None:
    session = elsewhere.book(timedelta(hours=6))
    refresh(page)
    open_session(page, session["id"])
    choose_from_menu(page, "Reschedule")
    dialog = page.get_by_role("dialog", name="Reschedule session")
    wanted = pick_time(dialog, day="last", time="first")

    # Someone else takes that time first (here: the same member, from another tab)
    other = elsewhere.stack.call(
        "POST",
        "/sessions",
        elsewhere.member,
        json={
            "service_id": elsewhere.service["id"],
            "session_type_id": elsewhere.service["session_types"][0]["id"],
            "start": wanted,
        },
    )
    assert other.status_code == 201, other.text
    dialog.get_by_role("button", name="Reschedule", exact=True).click()

    expect(dialog.locator('[data-error-for="start"]')).to_have_text(
        "The coach already has a session at that time."
    )
    expect(dialog.locator(f'input[name="start"][value="{wanted}"]')).to_have_count(0)
    screens(page, "refusal-slot-taken")
    assert same_time(
        session_json(elsewhere.stack, elsewhere.member, session["id"])["start"], session["start"]
    )


def test_the_reschedule_limit_is_refused_and_the_menu_stops_offering_it(
    page: Page, elsewhere: Elsewhere
) -> None:
    session = elsewhere.book(timedelta(hours=6))
    refresh(page)
    open_session(page, session["id"])
    choose_from_menu(page, "Reschedule")
    dialog = page.get_by_role("dialog", name="Reschedule session")
    pick_time(dialog, day="last", time="last")

    # The one move the service allows is used meanwhile, from another tab
    elsewhere_time = elsewhere.free_times(timedelta(hours=8))[0]
    moved = elsewhere.stack.call(
        "POST",
        f"/sessions/{session['id']}/reschedule",
        elsewhere.member,
        json={"start": elsewhere_time},
    )
    assert moved.status_code == 200, moved.text
    dialog.get_by_role("button", name="Reschedule", exact=True).click()

    expect(dialog.locator('[data-error-for="start"]')).to_have_text(
        "You have moved this session as often as its service allows; ask your coach."
    )
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Session actions").click()
    expect(page.get_by_role("menuitem")).to_have_text(["Cancel"])


def test_the_coach_declines_a_booking_request_with_a_reason_the_member_reads(
    browser: BrowserContext, page: Page, elsewhere: Elsewhere, screens: Screens
) -> None:
    # Given a booking that waits for the coach, which the member sees as such
    session = elsewhere.book(timedelta(hours=6), elsewhere.reviewed)
    refresh(page)
    open_session(page, session["id"])
    expect(page.locator(".cs-detail-header .cs-tag").first).to_have_text("Awaiting coach")
    expect(page.locator(".cs-pending")).to_contain_text("Cleo Coach has until")
    back_to_list(page)
    held = balance_shown(page, "personal-browser-member")

    # When the coach declines it, saying why
    coach = open_embedded(browser, elsewhere.stack, elsewhere.coach, viewer="coach")
    card = coach.get_by_role("region", name="Waiting for your answer").locator(
        ".cs-request-card", has_text="Bea Member asks to book Portfolio review"
    )
    card.get_by_role("button", name="Decline").click()
    dialog = coach.get_by_role("dialog", name="Decline this booking?")
    dialog.get_by_label("Reason (optional)").fill("I am away that week")
    screens(coach, "coach-decline")
    dialog.get_by_role("button", name="Decline booking").click()

    # Then the coach is told, and the member sees it declined, under Past
    expect(notice(coach)).to_have_text("Booking declined: the credits went back to the member.")
    coach.close()
    refresh(page)
    expect(credits_in(page, "personal-browser-member")).to_have_text(f"{held + 2} credits")
    open_session(page, session["id"], tab="Past")
    expect(page.locator(".cs-detail-header .cs-tag").first).to_have_text("Declined")
    expect(page.get_by_role("region", name="History")).to_contain_text(
        "Declined by Cleo Coach (your coach): “I am away that week”"
    )


# --- keyboard, focus and the narrow screen ---------------------------------------------------


_FOCUSED = """() => {
    const active = document.querySelector("coaching-sessions").shadowRoot.activeElement;
    if (!active) return "";
    return active.getAttribute("aria-label") || active.textContent.trim();
}"""


def _focused(page: Page) -> str:
    """What has the focus inside the element: its text, or its accessible label."""
    found: str = page.evaluate(_FOCUSED)
    return found


def _focus_returns_to(page: Page, name: str) -> None:
    """Focus moves back when a dialog's close event has run: wait for it."""
    page.wait_for_function(f"() => ({_FOCUSED})() === {name!r}", timeout=5000)


def test_everything_works_from_the_keyboard_and_the_dialog_keeps_the_focus(
    page: Page, elsewhere: Elsewhere
) -> None:
    session = elsewhere.book(timedelta(hours=6))
    refresh(page)

    # The tabs move with the arrow keys
    page.get_by_role("tab", name="Upcoming").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Past")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Past")).to_be_focused()
    page.keyboard.press("ArrowLeft")

    # A session opens with Enter; its menu opens, moves and closes with keys
    row(page, session["id"]).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#cs-detail-title")).to_be_focused()
    page.keyboard.press("Tab")
    assert _focused(page) == "Session actions"
    page.keyboard.press("Enter")
    assert _focused(page) == "Reschedule"
    page.keyboard.press("ArrowDown")
    assert _focused(page) == "Cancel"
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_be_hidden()
    assert _focused(page) == "Session actions"

    # The dialog holds the focus until Escape, which gives it back to the menu's button
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Confirm cancellation?")
    expect(dialog.locator(".cs-quote")).to_contain_text("Refundable")
    expect(dialog.get_by_label("Reason for canceling (required)")).to_be_focused()
    stops = []
    for _ in range(4):
        page.keyboard.press("Tab")
        stops.append(_focused(page))
    assert stops == ["Keep session", "Cancel session", "", "Keep session"]  # "": the reason
    page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_label("Reason for canceling (required)")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    assert _focused(page) == "Cancel session"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    _focus_returns_to(page, "Session actions")
    assert session_json(elsewhere.stack, elsewhere.member, session["id"])["status"] == "SCHEDULED"


def test_the_demo_page_passes_axe_before_anyone_signs_in(
    browser: BrowserContext, stack: RunningStack
) -> None:
    page = browser.new_page()
    page.goto(f"{stack.base}/app/")
    expect(page.get_by_text("Pick a demo user above to sign in.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Demo users")).to_be_visible()

    assert axe_violations(page) == []
    page.close()


# --- what the stack serves -------------------------------------------------------------------


def test_the_app_route_serves_the_element_and_the_token_route_only_demo_users(
    stack: RunningStack,
) -> None:
    page = stack.call("GET", "/app/")
    module = stack.call("GET", "/app/coaching-sessions.js")
    again = stack.call(
        "GET", "/app/coaching-sessions.js", headers={"If-None-Match": module.headers["ETag"]}
    )
    missing = stack.call("GET", "/app/nothing-here.js")
    token = stack.call("GET", "/_local/token", params={"as": "demo-coach"})
    stranger = stack.call("GET", "/_local/token", params={"as": "someone-else"})

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<coaching-sessions>" in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert module.headers["Content-Type"].startswith("text/javascript")
    assert "customElements.define" in module.text
    assert again.status_code == 304 and again.text == ""
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert token.status_code == 200 and token.json()["role"] == "coach"
    listed = stack.call("GET", "/sessions", token.json()["token"])
    assert listed.status_code == 200
    assert stranger.status_code == 422
