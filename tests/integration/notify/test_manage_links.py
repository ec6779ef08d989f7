"""The member's link to manage the session, in the emails that should carry one.

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
