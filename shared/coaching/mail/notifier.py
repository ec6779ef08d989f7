"""Sends the emails a change means, each once: claim, send with SES, record. The only SES caller.

Notifications about a session come from its changes (``deliver``); a notice about something
else (a webhook endpoint disabled) comes with its email rendered and its claim key
(``deliver_notice``). Either way, for each email:

1. Claim it in ``EmailsTable`` (``storage.email_claims``) for a lease. A settled claim (SENT, or
   FAILED for good) means the email was dealt with before: skip it. A live lease held by another
   attempt means it is being sent right now: wait for that lease while this invocation has time
   to spare, else fail the record so the stream brings it back later.
2. Send it with SESv2. Throttling and transient errors are retried with jittered exponential
   backoff, bounded by the attempts allowed and by the lease and the invocation's time left, so
   an attempt never outlives its lease.
3. Settle the claim: SENT with SES's message id. A permanent refusal (rejected message, bad
   address, unverified or suspended sender) goes to the dead letter queue with the exact SES
   request that would resend it, and the claim is settled FAILED with SES's error code; the
   record is not failed for it, since a retry could only be refused again.

Anything else (SES still throttling after the retries, an unknown error, DynamoDB or SQS
failing) gives the lease back and raises ``NotDelivered``: the stream record fails on its own and
Lambda brings it back; after the retries the template allows, its OnFailure destination puts the
record's batch in the same dead letter queue. No email is ever dropped without a trace.

Logs carry session ids, kinds, sides and error codes; never addresses, names or reasons. SES's
error messages can quote addresses, so only their codes are kept.

The same steps send the emails about credits that expire (``credit_notices``): their claims and
logs name the account (and lot) where a session's name the session.
"""

import base64
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from coaching import clock, manage_links
from coaching.credit_notices import CreditNotification
from coaching.errors import StorageFailed
from coaching.mail import invites, mime
from coaching.mail.emails import Email, render, render_credit_notice
from coaching.mail.notifications import Notification
from coaching.observability import logger, metrics
from coaching.storage.email_claims import Claim, EmailClaims

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client
    from mypy_boto3_sqs.client import SQSClient

    from coaching.link_keys import LinkKeySource
else:
    SESV2Client = SQSClient = LinkKeySource = Any

PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "BadRequestException",
        "NotFoundException",
        "InvalidParameterValue",
    }
)
"""SES refusals that no retry can change: the email goes to the dead letter queue."""

TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)
"""SES answers that may pass on a later try (any 5xx answer counts as one too)."""

DEAD_LETTER_REASON = "PERMANENT_SES_REFUSAL"

Deliverable = Notification | CreditNotification
"""An email about a session's change, or about an account's credits that expire."""


class Outcome(StrEnum):
    SENT = "SENT"
    DUPLICATE = "DUPLICATE"
    """Settled before (sent, or dead-lettered): nothing was sent this time."""
    DEAD_LETTERED = "DEAD_LETTERED"


class NotDelivered(Exception):
    """The email did not go out this time and must be tried again: fail the stream record."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class EmailInProgress(NotDelivered):
    """Another attempt holds a live lease on this email."""


class OutOfTime(NotDelivered):
    """Too little of the invocation is left to start an email safely."""


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Timing:
    lease_seconds: float = 45.0
    """How long a claim is held while its email is sent; a crashed attempt's lease runs out."""
    call_seconds: float = 8.0
    """The longest one SES call may take (the client's connect and read timeouts)."""
    start_seconds: float = 10.0
    """An email is only started with at least this much of the invocation left."""
    poll_seconds: float = 1.0
    """How often a claim leased to another attempt is looked at again."""
    attempts: int = 5
    """SES calls per email, at most."""
    base_delay: float = 0.2
    max_delay: float = 4.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to base * 2^(attempt-1), capped."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not secrecy)


class Notifier:
    def __init__(
        self,
        *,
        ses: "SESV2Client",
        sqs: Callable[[], "SQSClient"],
        claims: EmailClaims,
        sender: str,
        configuration_set: str | None,
        dead_letter_queue_url: str,
        base_url: str,
        links: "LinkKeySource | None" = None,
        timing: Timing = Timing(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ses = ses
        self._sqs = sqs
        """Makes the SQS client on first use: only a refused email needs it, and making one
        costs a cold start some 5 ms of CPU."""
        self._claims = claims
        self.sender = sender
        self.configuration_set = configuration_set or None
        self.dead_letter_queue_url = dead_letter_queue_url
        self.base_url = base_url
        self.links = links
        """Signs the manage link each member email carries; None: emails carry none."""
        self.timing = timing
        self._sleep = sleep
        self._clock = clock

    def deliver_all(
        self, notifications: Sequence[Deliverable], time_left: Callable[[], float]
    ) -> list[Outcome]:
        """Deliver each; one that fails does not stop the others, but fails the whole call."""
        outcomes: list[Outcome] = []
        failed: list[str] = []
        for notification in notifications:
            try:
                outcomes.append(self.deliver(notification, time_left))
            except NotDelivered as error:
                failed.append(error.code)
            except (StorageFailed, BotoCoreError) as error:  # the claims' table; an unsendable call
                code = _code(error)
                logger.warning("email not delivered", extra={**_keys(notification), "code": code})
                failed.append(code)
        if failed:
            raise NotDelivered(",".join(failed))
        return outcomes

    def deliver(self, notification: Deliverable, time_left: Callable[[], float]) -> Outcome:
        """Send one notification unless it was dealt with before; see the module's steps."""
        email = (
            render_credit_notice(notification, self.base_url)
            if isinstance(notification, CreditNotification)
            else render(notification, self.base_url, self.manage_url(notification))
        )
        return self._send_once(
            _Letter(
                claim_key=notification.claim_key,
                about=_about(notification),
                kind=notification.kind.value,
                audience=notification.audience,
                keys=_keys(notification),
                request=lambda: self.request(notification, email),
                parked={
                    **_about_field(notification),
                    "kind": notification.kind.value,
                    "audience": notification.audience,
                    "notification": notification.model_dump(mode="json"),
                },
            ),
            time_left,
        )

    def deliver_notice(self, notice: "Notice", time_left: Callable[[], float]) -> Outcome:
        """Send an email that is not about a session (a webhook endpoint disabled, say) the
        same way: claimed once under its key, sent, settled, or parked when SES refuses it."""
        return self._send_once(
            _Letter(
                claim_key=notice.claim_key,
                about=notice.about,
                kind=notice.kind,
                audience=notice.audience,
                keys={"about": notice.about, "kind": notice.kind, "audience": notice.audience},
                request=lambda: self.notice_request(notice),
                parked={"about": notice.about, "kind": notice.kind, "audience": notice.audience},
            ),
            time_left,
        )

    def notice_request(self, notice: "Notice") -> dict[str, Any]:
        """The SESv2 ``SendEmail`` arguments for a notice: its MIME message as ``Content.Raw``."""
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [notice.email.to]},
            "Content": {"Raw": {"Data": mime.message(notice.email, sender=self.sender)}},
            "EmailTags": [{"Name": "kind", "Value": notice.kind}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request

    def _send_once(self, letter: "_Letter", time_left: Callable[[], float]) -> Outcome:
        claim = self._claim(letter, time_left)
        if claim is None:
            metrics.add_metric(name="EmailsSkippedDuplicate", unit=MetricUnit.Count, value=1)
            logger.info("email already dealt with", extra=letter.keys)
            return Outcome.DUPLICATE
        request = letter.request()
        deadline = min(claim.lease_until, self._clock() + time_left())
        try:
            message_id = self._send(request, deadline, letter.keys)
        except _Refused as refusal:
            self._dead_letter(letter, request, claim, refusal.code)
            return Outcome.DEAD_LETTERED
        except NotDelivered:
            self._claims.release(claim)
            raise
        if not self._claims.mark_sent(claim, message_id, self._clock()):
            logger.warning("email sent after its lease ran out", extra=letter.keys)
        metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)
        logger.info("email sent", extra={**letter.keys, "attempt": claim.attempt})
        return Outcome.SENT

    def manage_url(self, notification: Notification) -> str | None:
        """The link a member's email carries to manage the session without signing in: it
        names the session and the member, and stops working at the session's end (none once
        that has passed)."""
        if self.links is None or notification.audience != "member":
            return None
        facts = notification.facts
        end = facts.start + timedelta(minutes=facts.minutes)
        if end <= clock.now():
            return None
        token = manage_links.sign(
            self.links.keys(), facts.session_id, notification.recipient.id, end
        )
        return manage_links.link(self.base_url, token)

    def request(self, notification: Deliverable, email: Email) -> dict[str, Any]:
        """The SESv2 ``SendEmail`` arguments for a rendered email: the MIME message (text, HTML
        and the calendar invite, if the email carries one) as ``Content.Raw``."""
        invite = (
            invites.invite(notification, organizer=self.sender, base_url=self.base_url)
            if isinstance(notification, Notification)
            else None
        )
        raw = mime.message(
            email,
            sender=self.sender,
            attachments=[invite] if invite else [],
            change=notification.claim_key,
        )
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": [{"Name": "kind", "Value": notification.kind.value}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request

    def _claim(self, letter: "_Letter", time_left: Callable[[], float]) -> Claim | None:
        """Our claim on the email, None when it is settled; waits out another's live lease."""
        timing = self.timing
        polls = int(timing.lease_seconds / timing.poll_seconds) + 2
        for _ in range(polls):
            if time_left() < timing.start_seconds:
                raise OutOfTime("OUT_OF_TIME")
            now = self._clock()
            taken = self._claims.take(
                letter.claim_key,
                owner=uuid.uuid4().hex,
                now=now,
                lease_seconds=timing.lease_seconds,
                session_id=letter.about,
                kind=letter.kind,
                audience=letter.audience,
            )
            if isinstance(taken, Claim):
                return taken
            if taken.settled:
                return None
            wait = max(0.0, (taken.lease_until or now) - now)
            if wait + timing.start_seconds > time_left():
                logger.info("email in progress elsewhere", extra=letter.keys)
                raise EmailInProgress("IN_PROGRESS")
            self._sleep(min(timing.poll_seconds, wait + 0.01))
        raise EmailInProgress("IN_PROGRESS")

    def _send(self, request: dict[str, Any], deadline: float, keys: dict[str, Any]) -> str:
        """SES's message id; retries what may pass later, raises what never will."""
        timing = self.timing
        code = ""
        for attempt in range(1, timing.attempts + 1):
            try:
                response = self._ses.send_email(**request)
                return response["MessageId"]
            except ClientError as error:
                code = _code(error)
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in PERMANENT_CODES:
                    raise _Refused(code) from None
                if code not in TRANSIENT_CODES and status < 500:
                    logger.warning("SES failed", extra={**keys, "code": code})
                    raise NotDelivered(code) from None
            except (BotoConnectionError, HTTPClientError) as error:
                code = type(error).__name__
            delay = timing.backoff(attempt)
            if attempt == timing.attempts or self._clock() + delay + timing.call_seconds > deadline:
                break
            logger.info("SES busy, retrying", extra={**keys, "code": code, "attempt": attempt})
            self._sleep(delay)
        logger.warning("SES kept failing", extra={**keys, "code": code})
        raise NotDelivered(code)

    def _dead_letter(
        self, letter: "_Letter", request: dict[str, Any], claim: Claim, code: str
    ) -> None:
        """Park a refused email with what is needed to resend it, then settle its claim."""
        message = {
            "reason": DEAD_LETTER_REASON,
            "error_code": code,
            "claim_key": claim.key,
            **letter.parked,
            # As SES's JSON API takes it: the raw message's bytes in base64.
            "send_email_request": _as_json(request),
        }
        try:
            self._sqs().send_message(
                QueueUrl=self.dead_letter_queue_url,
                MessageBody=json.dumps(message),
                MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": DEAD_LETTER_REASON},
                    "error_code": {"DataType": "String", "StringValue": code},
                },
            )
        except (ClientError, BotoCoreError) as error:
            self._claims.release(claim)
            raise NotDelivered(_code(error)) from None
        # Only once the email is safe in the queue: a crash before this sends it again.
        self._claims.mark_failed(claim, code, self._clock())
        metrics.add_metric(name="EmailsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("email refused by SES", extra={**letter.keys, "code": code})


@dataclass(frozen=True)
class Notice:
    """An email that is not about a session: its claim key, the rendered email, what kind it
    is and the id of what it is about (for the claim and the logs: ids only)."""

    claim_key: str
    email: Email
    kind: str
    about: str
    audience: str


@dataclass(frozen=True)
class _Letter:
    """One email on its way: the claim that sends it once, and how to build its request."""

    claim_key: str
    about: str
    """The id of what the email is about (the session's, for a notification)."""
    kind: str
    audience: str
    keys: dict[str, Any]
    """What the logs say about it: ids, kind and side only."""
    request: Callable[[], dict[str, Any]]
    parked: dict[str, Any]
    """What the dead letter queue's message holds beside the SES request, to resend it."""


def _about(notification: Deliverable) -> str:
    """What the email is about, as its claim and dead letter name it: the session, or (credits
    that expire) the account."""
    if isinstance(notification, CreditNotification):
        return notification.notice.account_id
    return notification.facts.session_id


def _about_field(notification: Deliverable) -> dict[str, str]:
    """What a parked email names: its session, or (credits that expire) its account."""
    if isinstance(notification, CreditNotification):
        return {"account_id": notification.notice.account_id}
    return {"session_id": notification.facts.session_id}


def _keys(notification: Deliverable) -> dict[str, Any]:
    if isinstance(notification, CreditNotification):
        return {
            "account_id": notification.notice.account_id,
            "lot": notification.notice.lot,
            "kind": notification.kind.value,
            "audience": notification.audience,
        }
    return {
        "session_id": notification.facts.session_id,
        "version": notification.facts.version,
        "kind": notification.kind.value,
        "audience": notification.audience,
    }


def _as_json(request: dict[str, Any]) -> dict[str, Any]:
    raw = request["Content"]["Raw"]
    data = base64.b64encode(raw["Data"]).decode("ascii")
    return {**request, "Content": {"Raw": {**raw, "Data": data}}}


def _code(error: StorageFailed | ClientError | BotoCoreError) -> str:
    if isinstance(error, StorageFailed):
        return error.code
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "") or "ClientError")
    return type(error).__name__
