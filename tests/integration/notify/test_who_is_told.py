"""Each kind of change, made through the policy layer, reaches exactly the people it concerns.

The member (Ann) lives in London and the coach (Cho) in New York; the session starts on Friday
4 December 2026 at 09:00 UTC, so each reads its time on their own clock.
"""

import json
from datetime import timedelta
from pathlib import Path

from coaching import operations
from coaching.models import Caller, Session
from tests.builders import NOW, World, support
from tests.integration.notify.conftest import BASE_URL, SENDER, Notify
from tests.integration.notify.steps import booked, deliver, only

ANN_START = "Friday 4 December 2026, 09:00 (Europe/London)"
CHO_START = "Friday 4 December 2026, 04:00 (America/New_York)"
EVENTS = Path(__file__).resolve().parents[3] / "events"


# --- bookings ------------------------------------------------------------------------------------


def test_a_booking_tells_the_member_and_the_coach_and_nothing_else(
    world: World, notify: Notify
) -> None:
    # Given a coach's service (its item is on the stream too) and a member who books it
    ann, cho, _ = booked(world)

    # When the stream's records reach the function
    mails = deliver(notify)

    # Then one email each, from the verified sender, at their own local time
    assert len(mails) == 2
    to_ann, to_cho = only(mails, ann), only(mails, cho)
    assert {mail.source for mail in mails} == {SENDER}
    assert ANN_START in to_ann.readable
    assert "3 credits were taken from your personal account" in to_ann.readable
    assert "Thursday 3 December 2026, 09:00 (Europe/London)" in to_ann.readable  # free cancel
    assert CHO_START in to_cho.readable
    assert "Ann booked a session with you" in to_cho.readable


def test_a_booking_request_asks_the_coach_only(world: World, notify: Notify) -> None:
    _, cho, _ = booked(world, requires_approval=True, request_ttl_hours=48)

    mails = deliver(notify)

    to_cho = only(mails, cho)
    assert len(mails) == 1
    assert to_cho.subject == "Ann asked to book a session with you"
    assert "before Thursday 3 December 2026, 04:00 (America/New_York)" in to_cho.readable


def test_an_accepted_request_tells_the_member(world: World, notify: Notify) -> None:
    ann, cho, session = booked(world, requires_approval=True)
    deliver(notify)

    operations.answer_booking(world.store, cho, session.id, True, NOW + timedelta(hours=1))
    mails = deliver(notify)

    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert "Cho accepted your request" in to_ann.readable
    assert ANN_START in to_ann.readable


def test_a_declined_request_tells_the_member_the_credits_came_back(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world, requires_approval=True)
    deliver(notify)

    operations.answer_booking(world.store, cho, session.id, False, NOW + timedelta(hours=1))
    mails = deliver(notify)

    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert to_ann.subject == "Your booking request was not accepted"
    assert "The 3 credits held for it went back to your personal account" in to_ann.readable
    assert f"{BASE_URL}/book?coach_id={cho.id}&service_id={session.service.id}" in to_ann.readable


def test_an_expired_request_tells_the_member(world: World, notify: Notify) -> None:
    ann, _, session = booked(world, requires_approval=True, request_ttl_hours=48)
    deliver(notify)

    action = operations.sweep_session(world.store, session, NOW + timedelta(hours=48))
    mails = deliver(notify)

    assert action == "EXPIRE_BOOKING"
    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert "Cho did not answer your request in time" in to_ann.readable
    assert "The 3 credits held for it went back" in to_ann.readable


# --- cancels -------------------------------------------------------------------------------------


def test_a_member_cancel_tells_the_coach_with_the_reason(world: World, notify: Notify) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.cancel(world.store, ann, session.id, "My flight was moved", NOW)
    mails = deliver(notify)

    to_cho, receipt = only(mails, cho), only(mails, ann)
    assert len(mails) == 2
    assert to_cho.subject == "Your session with Ann was canceled"
    assert "My flight was moved" in to_cho.readable
    assert "The 3 credits went back to Ann's personal account" in to_cho.readable
    assert CHO_START in to_cho.readable
    assert receipt.subject == "Canceled: your session with Cho"
    assert "The 3 credits went back to your personal account" in receipt.readable


def test_a_coach_cancel_inside_the_window_tells_the_member_the_credits_came_back(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.cancel(world.store, cho, session.id, "I am unwell", NOW)
    mails = deliver(notify)

    to_ann, receipt = only(mails, ann), only(mails, cho)
    assert len(mails) == 2
    assert to_ann.subject == "Your session with Cho was canceled"
    assert "I am unwell" in to_ann.readable
    assert "The 3 credits went back to your personal account" in to_ann.readable
    assert receipt.subject == "Canceled: your session with Ann"
    assert ANN_START in to_ann.readable
    rebook = f"{BASE_URL}/book?coach_id={cho.id}&amp;service_id={session.service.id}"
    assert rebook in to_ann.html


def test_a_coach_cancel_outside_the_window_tells_the_member_nothing_came_back(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.cancel(world.store, cho, session.id, None, session.start - timedelta(hours=2))
    mails = deliver(notify)

    to_ann, receipt = only(mails, ann), only(mails, cho)
    assert len(mails) == 2
    assert "the credits stayed spent. You can still refund them" in receipt.readable
    assert "credits were not returned automatically" in to_ann.readable
    assert "Your coach may still choose to refund them" in to_ann.readable
    assert "left this note" not in to_ann.readable


def test_a_support_cancel_tells_both(world: World, notify: Notify) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.cancel(world.store, support(), session.id, "Coach account closed", NOW)
    mails = deliver(notify)

    to_ann, to_cho = only(mails, ann), only(mails, cho)
    assert len(mails) == 2
    for mail in (to_ann, to_cho):
        assert "Our support team canceled" in mail.readable
        assert "Coach account closed" in mail.readable


# --- reschedules ---------------------------------------------------------------------------------


def test_a_coach_reschedule_tells_the_member_the_old_and_new_time(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.reschedule(
        world.store, cho, session.id, session.start + timedelta(hours=24), None, NOW
    )
    mails = deliver(notify)

    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert "Cho moved your session to a new time" in to_ann.readable
    assert f"Was</th><td>{ANN_START}" in to_ann.html
    assert "Now</th><td>Saturday 5 December 2026, 09:00 (Europe/London)" in to_ann.html


def test_a_member_reschedule_tells_the_coach_on_their_clock(world: World, notify: Notify) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.reschedule(
        world.store, ann, session.id, session.start + timedelta(hours=1), None, NOW
    )
    mails = deliver(notify)

    to_cho = only(mails, cho)
    assert len(mails) == 1
    assert f"Was</th><td>{CHO_START}" in to_cho.html
    assert "Now</th><td>Friday 4 December 2026, 05:00 (America/New_York)" in to_cho.html


def test_a_burst_of_moves_by_the_member_tells_the_coach_once_at_its_final_time(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    # Three moves before the stream's records reach the function: one email, the last move's
    for hours in (1, 2, 3):
        operations.reschedule(
            world.store, ann, session.id, session.start + timedelta(hours=hours), None, NOW
        )
    burst = deliver(notify)
    # A move after the function caught up is news again
    operations.reschedule(
        world.store, ann, session.id, session.start + timedelta(hours=4), None, NOW
    )
    later = deliver(notify)

    assert [mail.to for mail in burst] == [[cho.email]]
    assert "Now</th><td>Friday 4 December 2026, 07:00 (America/New_York)" in burst[0].html
    assert [mail.to for mail in later] == [[cho.email]]
    assert "Now</th><td>Friday 4 December 2026, 08:00 (America/New_York)" in later[0].html


def test_a_coach_s_move_after_the_member_s_keeps_the_member_s_email(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    deliver(notify)

    operations.reschedule(
        world.store, ann, session.id, session.start + timedelta(hours=1), None, NOW
    )
    operations.reschedule(
        world.store, cho, session.id, session.start + timedelta(hours=2), None, NOW
    )
    mails = deliver(notify)

    # The member's move is not overtaken by another of the member's own: the coach hears of it
    assert sorted(mail.to[0] for mail in mails) == sorted([str(cho.email), str(ann.email)])


def _late_request(world: World, notify: Notify) -> tuple[Caller, Caller, Session]:
    """Ann asks, after the window closed, to move the session a day later; Cho must decide."""
    ann, cho, session = booked(world, late_reschedule_requires_approval=True)
    deliver(notify)
    asked_at = session.start - timedelta(hours=12)
    moved, mode = operations.reschedule(
        world.store, ann, session.id, session.start + timedelta(hours=24), "Train strike", asked_at
    )
    assert mode == "REQUEST"
    return ann, cho, moved


def test_a_reschedule_request_asks_the_coach(world: World, notify: Notify) -> None:
    _, cho, _ = _late_request(world, notify)

    mails = deliver(notify)

    to_cho = only(mails, cho)
    assert len(mails) == 1
    assert to_cho.subject == "Ann asked to move your session"
    assert (
        f"from {CHO_START} to Saturday 5 December 2026, 04:00 (America/New_York)" in to_cho.readable
    )
    assert "Train strike" in to_cho.readable
    # an hour before the session, so that both sides hear in time if nobody answers
    an_hour_before = "Friday 4 December 2026, 03:00 (America/New_York)"
    assert f"Please approve or decline before {an_hour_before}" in to_cho.readable


def test_an_approved_reschedule_tells_the_member(world: World, notify: Notify) -> None:
    ann, cho, session = _late_request(world, notify)
    deliver(notify)

    answered_at = session.start - timedelta(hours=11)
    operations.answer_reschedule(world.store, cho, session.id, True, answered_at)
    mails = deliver(notify)

    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert "Cho approved the request to move the session" in to_ann.readable
    assert f"Was</th><td>{ANN_START}" in to_ann.html
    assert "Now</th><td>Saturday 5 December 2026, 09:00 (Europe/London)" in to_ann.html


def test_a_declined_reschedule_tells_the_member_the_time_stays(
    world: World, notify: Notify
) -> None:
    ann, cho, session = _late_request(world, notify)
    deliver(notify)

    answered_at = session.start - timedelta(hours=11)
    operations.answer_reschedule(world.store, cho, session.id, False, answered_at)
    mails = deliver(notify)

    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert "declined the request to move the session to Saturday 5 December" in to_ann.readable
    assert f"It keeps its current time, {ANN_START}" in to_ann.readable


def test_an_expired_reschedule_request_tells_both(world: World, notify: Notify) -> None:
    ann, cho, session = _late_request(world, notify)
    deliver(notify)

    action = operations.sweep_session(world.store, session, session.start)
    mails = deliver(notify)

    assert action == "EXPIRE_RESCHEDULE"
    to_ann, to_cho = only(mails, ann), only(mails, cho)
    assert len(mails) == 2
    assert f"the session stays at {ANN_START}" in to_ann.readable
    assert f"the session stays at {CHO_START}" in to_cho.readable


# --- refunds and bookkeeping ---------------------------------------------------------------------


def test_a_refund_tells_the_member_how_much_came_back_and_where(
    world: World, notify: Notify
) -> None:
    ann, cho, session = booked(world)
    operations.cancel(world.store, ann, session.id, None, session.start - timedelta(hours=2))
    deliver(notify)

    operations.refund(world.store, cho, session.id, 2, "Goodwill", session.start)
    mails = deliver(notify)

    to_ann = only(mails, ann)
    assert len(mails) == 1
    assert to_ann.subject == "2 credits refunded for your session"
    assert "They are back in your personal account" in to_ann.readable
    assert "In all, 2 of the 3 credits paid for it have now been returned" in to_ann.readable
    assert "Cho left this note:" in to_ann.readable
    assert "> Goodwill" in to_ann.text


def test_a_session_the_sweep_completes_tells_nobody(world: World, notify: Notify) -> None:
    _, _, session = booked(world)
    deliver(notify)

    action = operations.sweep_session(world.store, session, session.end)
    records = notify.stream.records()
    answer = notify.invoke({"Records": records})

    assert action == "COMPLETE"
    # the session's COMPLETED write reached the function, beside the member's count going down
    assert sorted(r["dynamodb"]["Keys"]["sk"]["S"] for r in records) == ["COUNT", "SESSION"]
    assert answer == {"batchItemFailures": []}
    assert len(notify.sent) == 2  # the booking's two, nothing since


def test_the_sample_event_tells_the_coach_of_the_member_cancel(notify: Notify) -> None:
    event = json.loads((EVENTS / "notify.json").read_text())

    answer = notify.invoke(event)

    assert answer == {"batchItemFailures": []}
    [mail] = [m for m in notify.sent if m.to == ["cho@example.com"]]
    assert "doctor's appointment" in mail.readable
