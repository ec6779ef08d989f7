"""The one duplicate the notifier can send, and why it is bounded.

An email's claim is marked SENT only after SES has accepted the message. A function that dies in
between (SES said yes, the invocation was killed before ``mark_sent``) leaves a leased claim and
a delivered email. While the lease lasts, a redelivered record waits or fails without sending;
once the lease has run out, the claim is taken over and the email goes out a second time. That
second copy is the price of never losing an email: SES gives no way to ask "did you already
accept this?", so the alternative would be to mark first and risk sending nothing.
"""

import time
from typing import Any

import pytest

from coaching import runtime
from coaching.storage.email_claims import ClaimStatus
from tests.builders import World
from tests.integration.notify.conftest import Notify
from tests.integration.notify.steps import booked


class Killed(BaseException):
    """The invocation died (BaseException: nothing in the function may catch it)."""


def test_a_crash_between_ses_accepting_and_marking_sent_sends_one_duplicate_after_the_lease(
    world: World, notify: Notify, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, cho, session = booked(world)
    event = notify.stream.event()
    killed: list[str] = []

    def die_after_the_first_send(**_: Any) -> None:
        if not killed:
            killed.append("once")
            raise Killed("killed after SES accepted the message")

    runtime.ses().meta.events.register("after-call.sesv2.SendEmail", die_after_the_first_send)

    # When the function dies right after SES accepted the first email
    with pytest.raises(Killed):
        notify.invoke(event)
    [first] = notify.sent
    audience, other = ("coach", ann) if cho.email in first.to else ("member", cho)
    key = f"{session.id}#1#BOOKED#{audience}"
    claim = notify.claims.read(key)
    assert claim is not None and claim.status is not ClaimStatus.SENT

    # Then a redelivery while the lease lasts does not send it again and fails that record
    retried = notify.invoke(event, timeout=12.0)
    assert retried["batchItemFailures"], "the leased email should have been left to retry"
    assert len(notify.sent_to(first.to[0])) == 1
    assert len(notify.sent_to(other.email)) == 1  # the other side's email is not held up

    # And once the lease has run out, the email is sent again: one duplicate, then settled
    lease = runtime.notifier().timing.lease_seconds
    monkeypatch.setattr(runtime.notifier(), "_clock", lambda: time.time() + lease + 1)
    assert notify.invoke(event) == {"batchItemFailures": []}
    assert len(notify.sent_to(first.to[0])) == 2
    settled = notify.claims.read(key)
    assert settled is not None and settled.status is ClaimStatus.SENT
    assert notify.invoke(event) == {"batchItemFailures": []}
    assert len(notify.sent_to(first.to[0])) == 2
    assert len(notify.sent_to(other.email)) == 1
