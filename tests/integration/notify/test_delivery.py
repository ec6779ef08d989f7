"""Delivery: each email once, whatever the stream redelivers; failures stay with their record.

SES is moto's, except where a botocore Stubber on the function's own SES client plays SES
answering with throttling or a refusal (and pins the exact request it was sent).
"""

import base64
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from coaching import operations, runtime
from coaching.mail import notifications
from coaching.mail.notifier import Notifier, Outcome
from coaching.models import Caller, Role
from coaching.storage.email_claims import Claim, ClaimStatus
from tests.builders import NOW, World, coach, member, unique
from tests.integration.notify.conftest import BASE_URL, REGION, SENDER, Notify, emitted_metrics
from tests.integration.notify.steps import booked, deliver


def session_record(event: dict[str, Any], session_id: str, name: str) -> dict[str, Any]:
    """The stream record of one write (INSERT or MODIFY) of one session in ``event``."""
    records: list[dict[str, Any]] = event["Records"]
    [record] = [
        r
        for r in records
        if r["dynamodb"]["Keys"] == {"pk": {"S": f"SESSION#{session_id}"}, "sk": {"S": "SESSION"}}
        and r["eventName"] == name
    ]
    return record


def failures(*records: dict[str, Any]) -> dict[str, Any]:
    """The partial batch response that reports exactly ``records`` as failed."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["dynamodb"]["SequenceNumber"]} for record in records
        ]
    }


def held_elsewhere(notify: Notify, key: str, *, lease_until: float) -> Claim:
    """Another invocation's claim on an email, leased until ``lease_until`` (epoch seconds)."""
    now = time.time()
    claim = notify.claims.take(
        key,
        owner="another-invocation",
        now=now,
        lease_seconds=lease_until - now,
        session_id=key.split("#")[0],
        kind=key.split("#")[2],
        audience=key.split("#")[3],
    )
    assert isinstance(claim, Claim)
    return claim


# --- exactly once ---------------------------------------------------------------------------------


def test_the_same_batch_delivered_twice_sends_nothing_the_second_time(
    world: World, notify: Notify, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a booking and a cancel on the stream
    ann, _, session = booked(world)
    operations.cancel(world.store, ann, session.id, "Ill", NOW)
    event = notify.stream.event()

    # When the same batch arrives twice
    first = notify.invoke(event)
    sent_once = list(notify.sent)
    capsys.readouterr()
    second = notify.invoke(event)

    # Then the second delivery sends nothing, and says so in its metrics
    assert first == second == {"batchItemFailures": []}
    assert notify.sent == sent_once
    # the booking to both, the cancel to the coach and its receipt to the member
    assert len(sent_once) == 4
    assert emitted_metrics(capsys.readouterr().out) == {"EmailsSkippedDuplicate": 4}
    # And each claim is settled with the id SES gave its email
    keys = [
        f"{session.id}#1#BOOKED#member",
        f"{session.id}#1#BOOKED#coach",
        f"{session.id}#2#CANCELED#coach",
        f"{session.id}#2#CANCEL_CONFIRMED#member",
    ]
    claims = [notify.claims.read(key) for key in keys]
    assert [c.status if c else None for c in claims] == [ClaimStatus.SENT] * 4
    assert {c.message_id for c in claims if c} == {mail.message_id for mail in sent_once}


def test_claims_expire_a_month_after_they_were_taken(world: World, notify: Notify) -> None:
    _, _, session = booked(world)
    deliver(notify)

    claim = notify.claims.read(f"{session.id}#1#BOOKED#member")

    assert claim is not None
    month = 30 * 24 * 3600
    assert time.time() + month - 60 < claim.ttl <= time.time() + month


def test_a_record_whose_email_is_in_progress_elsewhere_fails_alone(
    world: World, notify: Notify
) -> None:
    # Given two bookings on the stream, and another invocation in the middle of sending
    # Bob's booking email to his coach
    ann, cho, _ = booked(world)
    bob, dee, second = booked(world)
    event = notify.stream.event()
    other = held_elsewhere(notify, f"{second.id}#1#BOOKED#coach", lease_until=time.time() + 300)

    # When the batch is processed
    answer = notify.invoke(event)

    # Then exactly Bob's booking record is reported failed; every other email went out
    assert answer == failures(session_record(event, second.id, "INSERT"))
    assert [len(notify.sent_to(p.email)) for p in (ann, cho, bob, dee)] == [1, 1, 1, 0]

    # And when the other invocation gives up and Lambda redelivers the batch
    assert notify.claims.release(other)
    again = notify.invoke(event)

    # Then only the missing email goes out
    assert again == {"batchItemFailures": []}
    assert [len(notify.sent_to(p.email)) for p in (ann, cho, bob, dee)] == [1, 1, 1, 1]


def test_an_expired_lease_is_taken_over(world: World, notify: Notify) -> None:
    # Given an invocation that claimed the coach's email and died: its lease ran out
    _, cho, session = booked(world)
    key = f"{session.id}#1#BOOKED#coach"
    notify.claims.take(
        key,
        owner="crashed",
        now=time.time() - 120,
        lease_seconds=60,
        session_id=session.id,
        kind="BOOKED",
        audience="coach",
    )

    # When the record comes back
    deliver(notify)

    # Then the email goes out, on the claim's second taking
    claim = notify.claims.read(key)
    assert len(notify.sent_to(cho.email)) == 1
    assert claim is not None and claim.status is ClaimStatus.SENT and claim.attempts == 2


def test_a_record_that_is_not_a_session_fails_alone(world: World, notify: Notify) -> None:
    # Given two bookings, one of whose images was damaged on the way
    ann, _, _ = booked(world)
    bob, _, second = booked(world)
    event = notify.stream.event()
    broken = session_record(event, second.id, "INSERT")
    broken["dynamodb"]["NewImage"]["status"] = {"S": "NO_SUCH_STATUS"}

    answer = notify.invoke(event)

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]
    }
    assert len(notify.sent_to(ann.email)) == 1
    assert notify.sent_to(bob.email) == []


# --- what arrives ---------------------------------------------------------------------------------


def test_html_in_a_reason_or_a_name_arrives_escaped(world: World, notify: Notify) -> None:
    # Given a member whose name and cancel reason carry markup
    eve = Caller(
        id=unique("eve"),
        role=Role.MEMBER,
        email=f"{unique('eve')}@example.com",
        name='Eve <img src=x onerror="alert(1)">',
        timezone="Europe/London",
    )
    cho = coach("Cho")
    service = world.service(cho)
    world.fund(eve, 10)
    session = world.book(eve, service)
    deliver(notify)

    # When she cancels with a reason that is a script
    operations.cancel(world.store, eve, session.id, '<script>alert("hi")</script> & bye', NOW)
    [mail] = [m for m in deliver(notify) if m.to == [cho.email]]

    # Then the coach's email shows the text, and no markup of hers survives in the HTML
    assert mail.to == [cho.email]
    assert "<script" not in mail.html and "<img" not in mail.html
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt; &amp; bye" in mail.html
    assert "Eve &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in mail.html
    assert '<script>alert("hi")</script> & bye' in mail.readable


# --- SES throttling and refusals ------------------------------------------------------------------


class _MimeWithSubject:
    """Equal to the bytes of a MIME message with this subject (for a Stubber's expectations)."""

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, bytes):
            return False
        return str(message_from_bytes(other, policy=policy.default)["Subject"]) == self.subject

    def __hash__(self) -> int:
        return hash(self.subject)


def _expected_request(to: str, subject: str, kind: str) -> dict[str, Any]:
    return {
        "FromEmailAddress": SENDER,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": _MimeWithSubject(subject)}},
        "EmailTags": [{"Name": "kind", "Value": kind}],
    }


def _member_cancel(world: World, notify: Notify) -> tuple[Caller, Caller, str, dict[str, Any]]:
    """A member cancel waiting on the stream (the booking's emails already sent).

    The member has no address, so the cancel means one email (the coach's), not a receipt too."""
    ann, cho, session = booked(world, member_address=False)
    deliver(notify)
    operations.cancel(world.store, ann, session.id, "Ill", NOW)
    return ann, cho, session.id, notify.stream.event()


def test_a_throttled_send_is_retried_and_the_email_goes_out_once(
    world: World, notify: Notify
) -> None:
    _, cho, session_id, event = _member_cancel(world, notify)
    assert cho.email is not None

    # Given SES that throttles the first call and accepts the second
    with Stubber(runtime.ses()) as ses:
        ses.add_client_error(
            "send_email", service_error_code="TooManyRequestsException", http_status_code=429
        )
        ses.add_response(
            "send_email",
            {"MessageId": "ses-after-throttle"},
            expected_params=_expected_request(
                cho.email, "Your session with Ann was canceled", "CANCELED"
            ),
        )

        # When the cancel's record arrives
        answer = notify.invoke(event)

        # Then the second call was made, and nothing else
        ses.assert_no_pending_responses()

    assert answer == {"batchItemFailures": []}
    claim = notify.claims.read(f"{session_id}#2#CANCELED#coach")
    assert claim is not None
    assert (claim.status, claim.message_id, claim.attempts) == (
        ClaimStatus.SENT,
        "ses-after-throttle",
        1,
    )


def test_the_configuration_set_is_named_when_there_is_one(
    world: World, notify: Notify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SES_CONFIGURATION_SET", "coaching-emails")
    runtime.reset()
    _, cho, _, event = _member_cancel(world, notify)
    assert cho.email is not None

    with Stubber(runtime.ses()) as ses:
        expected = _expected_request(cho.email, "Your session with Ann was canceled", "CANCELED")
        ses.add_response(
            "send_email",
            {"MessageId": "ses-1"},
            expected_params={**expected, "ConfigurationSetName": "coaching-emails"},
        )
        answer = notify.invoke(event)
        ses.assert_no_pending_responses()

    assert answer == {"batchItemFailures": []}


def test_ses_throttling_without_end_fails_the_record_and_frees_the_claim(
    world: World, notify: Notify
) -> None:
    _, cho, session_id, event = _member_cancel(world, notify)

    with Stubber(runtime.ses()) as ses:
        for _ in range(5):
            ses.add_client_error(
                "send_email", service_error_code="TooManyRequestsException", http_status_code=429
            )
        answer = notify.invoke(event)
        ses.assert_no_pending_responses()

    # The record fails so Lambda brings it back; nothing went to the dead letter queue
    [record] = [r for r in event["Records"] if r["dynamodb"]["Keys"]["sk"]["S"] == "SESSION"]
    assert answer == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    }
    assert notify.dead_letters() == []
    claim = notify.claims.read(f"{session_id}#2#CANCELED#coach")
    assert claim is not None and claim.status is ClaimStatus.SENDING and claim.lease_until == 0

    # And when it comes back with SES well again, the email goes out once
    assert notify.invoke(event) == {"batchItemFailures": []}
    assert len(notify.sent_to(cho.email)) == 2  # the booking's and the cancel's


@pytest.mark.parametrize(
    "code",
    ["MessageRejected", "MailFromDomainNotVerifiedException", "AccountSuspendedException"],
)
def test_a_refused_email_goes_to_the_dead_letter_queue_and_the_record_succeeds(
    world: World, notify: Notify, code: str
) -> None:
    _, cho, session_id, event = _member_cancel(world, notify)

    with Stubber(runtime.ses()) as ses:
        ses.add_client_error("send_email", service_error_code=code, http_status_code=400)
        answer = notify.invoke(event)
        ses.assert_no_pending_responses()

    assert answer == {"batchItemFailures": []}
    [letter] = notify.dead_letters()
    assert letter["error_code"] == code
    assert letter["send_email_request"]["Destination"] == {"ToAddresses": [cho.email]}
    claim = notify.claims.read(f"{session_id}#2#CANCELED#coach")
    assert claim is not None
    assert (claim.status, claim.error_code) == (ClaimStatus.FAILED, code)


def test_a_bad_address_is_dead_lettered_with_what_resends_it_and_blocks_no_one(
    world: World, notify: Notify, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a member whose address SES cannot take, and a second, healthy booking
    zed = member("Zed").model_copy(update={"email": "zed-at-nowhere"})
    cho = coach("Cho")
    world.fund(zed, 10)
    zeds = world.book(zed, world.service(cho))
    ann, dee, _ = booked(world)

    # When their bookings reach the function
    event = notify.stream.event()
    answer = notify.invoke(event)

    # Then no record fails: Zed's confirmation is parked, every other email went out
    assert answer == {"batchItemFailures": []}
    assert [len(notify.sent_to(p.email)) for p in (cho, ann, dee)] == [1, 1, 1]
    assert emitted_metrics(capsys.readouterr().out) == {"EmailsSent": 3, "EmailsFailed": 1}
    [letter] = notify.dead_letters()
    assert (letter["session_id"], letter["kind"], letter["audience"]) == (
        zeds.id,
        "BOOKED",
        "member",
    )
    assert letter["error_code"] == "InvalidParameterValue"
    claim = notify.claims.read(letter["claim_key"])
    assert claim is not None and claim.status is ClaimStatus.FAILED

    # And the letter holds the very request to send again, once the address is fixed
    # (the MIME message in base64, as SES's JSON API takes it)
    request = letter["send_email_request"]
    parked = message_from_bytes(
        base64.b64decode(request["Content"]["Raw"]["Data"]), policy=policy.default
    )
    assert isinstance(parked, EmailMessage)
    assert str(parked["Subject"]) == "Booked: your session with Cho"
    text = parked.get_body(("plain",))
    assert text is not None and "Friday 4 December 2026" in text.get_content()
    parked.replace_header("To", "zed@example.com")
    fixed = {
        **request,
        "Destination": {"ToAddresses": ["zed@example.com"]},
        "Content": {"Raw": {"Data": parked.as_bytes()}},
    }
    boto3.client("sesv2", region_name=REGION).send_email(**fixed)
    assert len(notify.sent_to("zed@example.com")) == 1

    # And a redelivery neither resends nor parks it again
    assert notify.invoke(event) == {"batchItemFailures": []}
    assert notify.dead_letters() == []
    assert [len(notify.sent_to(p.email)) for p in (cho, ann, dee)] == [1, 1, 1]


def test_a_late_lease_is_waited_for_then_taken_over(world: World, notify: Notify) -> None:
    """Overlap: another invocation holds the email a moment longer and never finishes."""
    _, cho, session = booked(world)
    event = notify.stream.event()
    key = f"{session.id}#1#BOOKED#coach"
    lease_until = time.time() + 1.5
    held_elsewhere(notify, key, lease_until=lease_until)

    answer = notify.invoke(event)

    # Not a timing test: the claim can only have been taken over once the lease had run out.
    assert answer == {"batchItemFailures": []}
    assert len(notify.sent_to(cho.email)) == 1
    assert time.time() >= lease_until
    claim = notify.claims.read(key)
    assert claim is not None and claim.status is ClaimStatus.SENT and claim.attempts == 2


def test_booking_with_the_policy_layer_leaves_slots_and_services_unmailed(
    world: World, notify: Notify
) -> None:
    # Slot claims, the coach's day count, the service and its coach's directory entry are on
    # the stream, as in AWS without the mapping's filter
    booked(world)
    event = notify.stream.event()
    kinds = {r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]}

    answer = notify.invoke(event)

    # (the member's address as a lookup key, MEMBER#..., is on the stream too)
    assert {k if not k.startswith("MEMBER#") else "MEMBER" for k in kinds} == {
        "SERVICE",
        "DIRECTORY",
        "SESSION",
        "REMINDERS",
        "SLOT",
        "COUNT",
        "MEMBER",
    }
    assert answer == {"batchItemFailures": []}
    assert len(notify.sent) == 2


def test_an_overlapping_invocation_that_finishes_first_is_not_repeated(
    world: World, notify: Notify
) -> None:
    # Given another invocation sending the coach's booking email right now
    _, cho, session = booked(world)
    [_, to_coach] = notifications.decide(None, session)
    other = held_elsewhere(notify, to_coach.claim_key, lease_until=time.time() + 20)

    def meanwhile(seconds: float) -> None:
        # While this one waits, the other finishes
        assert notify.claims.mark_sent(other, "sent-by-the-other", time.time())

    notifier = Notifier(
        ses=runtime.ses(),
        sqs=runtime.sqs,
        claims=notify.claims,
        sender=SENDER,
        configuration_set=None,
        dead_letter_queue_url=notify.queue_url,
        base_url=BASE_URL,
        sleep=meanwhile,
    )

    # When this invocation gets to the same email
    outcome = notifier.deliver(to_coach, time_left=lambda: 60.0)

    # Then it leaves it to the other, and sends nothing
    assert outcome is Outcome.DUPLICATE
    assert notify.sent_to(cho.email) == []
