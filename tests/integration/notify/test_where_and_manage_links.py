"""Where a session takes place, in its emails and invites; and the member's link to manage it.

Ann (London) books Cho (New York) three days out, through the policy layer; the notify function
sends the emails from the stream, read back as SES accepted them.
"""

import re
from datetime import timedelta

from coaching import clock, manage_links, operations, runtime
from local.time_travel import TimeTravel
from tests.builders import World
from tests.integration.notify.conftest import BASE_URL, Notify
from tests.integration.notify.steps import booked, deliver, only

LINK = "https://meet.example.com/cho?pwd=a&b=1"


def test_a_video_link_is_the_invites_location_and_url_and_the_emails_join_link(
    world: World, notify: Notify
) -> None:
    ann, cho, _ = booked(world, location=LINK)

    mails = deliver(notify)

    for mail in (only(mails, ann), only(mails, cho)):
        [event] = mail.calendar().walk("VEVENT")
        assert (str(event["LOCATION"]), str(event["URL"])) == (LINK, LINK)
        assert f"Where: {LINK}" in mail.text
        assert f"Join the session: {LINK}" in mail.text
        assert 'href="https://meet.example.com/cho?pwd=a&amp;b=1"' in mail.html


def test_a_place_is_the_invites_location_and_its_url_stays_the_sessions_page(
    world: World, notify: Notify
) -> None:
    ann, _, session = booked(world, location="Room 4 <east wing>")

    to_ann = only(deliver(notify), ann)

    [event] = to_ann.calendar().walk("VEVENT")
    assert str(event["LOCATION"]) == "Room 4 <east wing>"
    assert str(event["URL"]) == f"{BASE_URL}/sessions/{session.id}"
    assert "Where: Room 4 <east wing>" in to_ann.text
    assert "Room 4 &lt;east wing&gt;" in to_ann.html  # text, escaped, never a link
    assert "Join the session" not in to_ann.text


def test_every_member_email_carries_a_link_to_manage_that_session_and_no_coach_email_does(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)
    operations.reschedule(
        world.store, cho, session.id, session.start + timedelta(hours=2), None, world.now
    )
    operations.cancel(world.store, cho, session.id, None, world.now)

    mails = notify.sent + deliver(notify)

    to_ann = [m for m in mails if m.to == [ann.email]]
    to_cho = [m for m in mails if m.to == [cho.email]]
    assert len(to_ann) == 3 and len(to_cho) == 3
    for mail in to_ann:
        [found] = re.findall(rf"{re.escape(BASE_URL)}/manage#([A-Za-z0-9._-]+)", mail.text)
        grant = manage_links.verify(runtime.link_keys().keys(), found, clock.now())
        assert (grant.session_id, grant.member_id) == (session.id, ann.id)
    assert not any("/manage#" in m.text + m.html for m in to_cho)


def test_an_email_after_the_session_is_over_carries_no_dead_link(
    world: World, notify: Notify, travel: TimeTravel
) -> None:
    ann, cho, session = booked(world)
    operations.cancel(world.store, ann, session.id, None, session.start - timedelta(hours=2))
    deliver(notify)

    # Cho refunds it once it is over; the email is sent after the session's end
    operations.refund(world.store, cho, session.id, None, "Goodwill", session.end)
    travel.set(session.end + timedelta(minutes=5))
    refunded = only(deliver(notify), ann)

    assert "refunded" in refunded.subject
    assert "/manage#" not in refunded.text
