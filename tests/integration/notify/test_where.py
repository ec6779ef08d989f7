"""Where a session takes place, in its emails and invites.

Ann (London) books Cho (New York) three days out, through the policy layer; the notify function
sends the emails from the stream, read back as SES accepted them.
"""

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
