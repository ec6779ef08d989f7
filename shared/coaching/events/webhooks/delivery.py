"""Delivers domain events to the webhook endpoints that subscribed to them, and retries them.

For a batch of queue messages (``deliver``) or a scheduled run (``retry_due``):

1. Read every endpoint once (the Endpoints index), and email the owner of any endpoint that
   was disabled and whose email has not gone out yet.
2. Claim the work. For each event, a session's events in version order, put one delivery per
   endpoint that wants it, claimed for its first attempt: a redelivered event finds its
   deliveries there and adds none. For each retry that is due (a queue message, or the Due
   index on a scheduled run), claim its next attempt. Work is only claimed while its attempts
   fit in the invocation's time; messages left over are failed, and the queue brings them back.
3. Attempt it all side by side (``WORKERS`` threads), except that one session's events go to
   one endpoint one after another, in order: the endpoint's address resolved and checked
   afresh, the body signed, one POST of 10 seconds at most.
4. Record each outcome while the attempt's lease holds: DELIVERED, FAILED, or PENDING with its
   next attempt in the Due index. A retry due within the queue's longest delay (15 minutes) is
   also put back on the queue, delayed to its time, so that it goes out then rather than at
   the next scheduled run; the scheduled run picks up whatever such a message missed.
5. Follow up on the endpoint: a success clears its failing mark and a failure sets it; a 410,
   or five days of failures, disables it and emails its owner.

Only step 3 runs on threads, and it calls no AWS service: DynamoDB, SQS and SES are called
from the invocation's own thread. Logs carry endpoint, delivery and event ids, statuses and
error codes: never a URL (it may hold a token), an address or a secret.
"""

import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from coaching import clock
from coaching.errors import StorageFailed
from coaching.events.webhooks import addresses, messages, notices, rules, sender, signing
from coaching.events.webhooks.messages import BusEvent, RetryRequest
from coaching.observability import logger, metrics
from coaching.storage.keys import delivery_id
from coaching.storage.webhooks import WebhookStore
from coaching.webhook_models import (
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointStatus,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

    from coaching.mail.notifier import Notifier
else:
    SQSClient = Notifier = Any

WORKERS = 16
"""Attempts under way at once in one invocation."""
ATTEMPT_SECONDS = sender.TIMEOUT_SECONDS + 1.0
"""What one wave of attempts may take, recording included."""
RESERVE_SECONDS = 10.0
"""Kept free at the end of an invocation for recording outcomes and emails."""
LEASE_SECONDS = 150.0
"""How long a claimed attempt is its invocation's: longer than the function may run (120 s)."""
MAX_QUEUE_DELAY = timedelta(seconds=900)
"""SQS delays a message 15 minutes at most: later retries wait for the scheduled run."""
DUE_PAGE = 25
"""Due deliveries read per index partition and round of a scheduled run."""

Post = Callable[[addresses.Destination, bytes, dict[str, str]], sender.Answer]
TimeLeft = Callable[[], float]


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    body: str


@dataclass
class _Work:
    delivery: Delivery
    """As claimed: this attempt is its ``attempts``-th."""
    owner: str
    endpoint: Endpoint
    message_id: str | None
    session: str | None = None
    """The session the event is about: its attempts to one endpoint go out one after another,
    in order, while those of other sessions and endpoints go out beside them."""

    @property
    def chain(self) -> tuple[str, str] | None:
        return None if self.session is None else (self.endpoint.id, self.session)


@dataclass
class Report:
    """What an invocation did (returned by a scheduled run, and logged)."""

    attempted: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    disabled: int = 0
    notices_sent: int = 0
    unrecorded: int = 0
    """Attempts whose outcome could not be written (DynamoDB failing): their leases run out and
    they are tried again."""
    failed_messages: list[str] = field(default_factory=list)
    """Queue messages to hand back (their ids): malformed, out of time, or not recorded."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "delivered": self.delivered,
            "failed_attempts": self.failed_attempts,
            "given_up": self.given_up,
            "disabled": self.disabled,
            "notices_sent": self.notices_sent,
            "unrecorded": self.unrecorded,
            "failed_messages": len(self.failed_messages),
        }


class Deliverer:
    def __init__(
        self,
        *,
        store: WebhookStore,
        sqs: "SQSClient",
        queue_url: str,
        notifier: Callable[[], "Notifier"],
        allow_loopback: bool = False,
        lookup: addresses.Lookup | None = None,
        post: Post | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._sqs = sqs
        self.queue_url = queue_url
        self._notifier = notifier
        self.allow_loopback = allow_loopback
        self.lookup = lookup
        self._post: Post = post or (lambda d, body, headers: sender.post(d, body, headers))
        # Real time, on purpose: a lease bounds how long an attempt may run, and a receiver
        # checks webhook-timestamp against its own clock. Schedules follow the functions' clock.
        self._wall = wall_clock

    # --- entry points ---------------------------------------------------------------------------

    def deliver(self, queue: Sequence[QueueMessage], time_left: TimeLeft) -> Report:
        """A batch from the webhook queue: events to deliver and retries that are due."""
        report = Report()
        run = _Run(self, self._endpoints(report, time_left), report, time_left)
        read: list[tuple[QueueMessage, BusEvent | RetryRequest]] = []
        for message in queue:
            try:
                read.append((message, messages.read(message.body)))
            except (ValueError, TypeError):
                logger.error(
                    "webhook queue message unreadable", extra={"message_id": message.message_id}
                )
                report.failed_messages.append(message.message_id)
        # Events first, a session's in version order (a batch comes in SQS's order), then retries.
        events = [(m, e) for m, e in read if isinstance(e, BusEvent)]
        events.sort(key=lambda pair: pair[1].order)
        retries = [(m, r) for m, r in read if isinstance(r, RetryRequest)]
        ordered: list[tuple[QueueMessage, BusEvent | RetryRequest]] = [*events, *retries]
        for message, item in ordered:
            try:
                if not run.claim_message(message.message_id, item):
                    report.failed_messages.append(message.message_id)  # out of time
            except StorageFailed as error:
                logger.warning("webhook work not claimed", extra={"code": error.code})
                report.failed_messages.append(message.message_id)
        run.finish()
        self._log(report)
        return report

    def retry_due(self, time_left: TimeLeft) -> Report:
        """A scheduled run: every retry the Due index says is due, as time allows."""
        report = Report()
        run = _Run(self, self._endpoints(report, time_left), report, time_left)
        partitions = self.store.due_partitions()
        while partitions and run.fits(1):
            again = []
            for partition in partitions:
                if not run.fits(1):
                    break
                before = len(run.work) + report.given_up
                found = self.store.due(partition, clock.now(), DUE_PAGE)
                for endpoint_id, waiting in found:
                    if not run.claim_retry(RetryRequest(endpoint_id, waiting), None):
                        break
                # A full page that moved something on may have more behind it; one that moved
                # nothing (leased elsewhere) would only come back the same.
                if len(found) == DUE_PAGE and len(run.work) + report.given_up > before:
                    again.append(partition)
            run.finish()
            partitions = again
        self._log(report)
        return report

    # --- endpoints and their owners' emails ------------------------------------------------------

    def _endpoints(self, report: Report, time_left: TimeLeft) -> dict[str, Endpoint]:
        endpoints = {e.id: e for e in self.store.all_endpoints()}
        for endpoint in endpoints.values():
            if endpoint.notice is not None:
                self.send_notice(endpoint, report, time_left)
        return endpoints

    def send_notice(self, endpoint: Endpoint, report: Report, time_left: TimeLeft) -> None:
        """Email the owner that the endpoint was disabled (once: the email is claimed by its
        key), then clear the notice. A failure leaves it for the next run."""
        notice = endpoint.notice
        if notice is None:
            return
        from coaching.mail.notifier import NotDelivered, Notice

        try:
            if endpoint.owner_email is None:
                logger.warning("webhook owner has no address", extra={"webhook_id": endpoint.id})
            else:
                self._notifier().deliver_notice(
                    Notice(
                        claim_key=notice,
                        email=notices.disabled_email(endpoint, endpoint.owner_email),
                        kind=notices.KIND,
                        about=endpoint.id,
                        audience="admin",
                    ),
                    time_left,
                )
                report.notices_sent += 1
            self.store.notice_sent(endpoint.id, notice)
        except (NotDelivered, StorageFailed) as error:
            logger.warning(
                "webhook notice not sent", extra={"webhook_id": endpoint.id, "code": error.code}
            )

    def schedule_retry(self, delivery: Delivery, now: datetime) -> None:
        """Put a retry due soon back on the queue, delayed to its time (a second past it, so
        that it is due when it arrives)."""
        if delivery.next_attempt_at is None:
            return
        wait = delivery.next_attempt_at - now
        if wait > MAX_QUEUE_DELAY - timedelta(seconds=1):
            return
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=messages.retry_body(delivery.endpoint_id, delivery.id),
                DelaySeconds=min(900, math.ceil(wait.total_seconds()) + 1),
            )
        except (ClientError, BotoCoreError) as error:
            # The Due index holds the retry too: the next scheduled run makes it, a little late.
            logger.warning(
                "webhook retry not queued",
                extra={"delivery_id": delivery.id, "code": type(error).__name__},
            )

    def attempt(self, work: _Work) -> sender.Answer:
        """One attempt: the address checked afresh, the body signed with every live secret."""
        endpoint = work.endpoint
        try:
            destination = addresses.destination(
                endpoint.url, allow_loopback=self.allow_loopback, lookup=self.lookup
            )
        except addresses.Refused as refused:
            return sender.Answer(None, refused.code)
        body = work.delivery.payload.encode("utf-8")
        at = datetime.fromtimestamp(self._wall(), UTC)
        secrets = rules.signing_secrets(endpoint, clock.now())
        headers = signing.headers(work.delivery.event_id, body, secrets, at)
        return self._post(destination, body, headers)

    def _log(self, report: Report) -> None:
        logger.info("webhooks run", extra=report.as_dict())


class _Run:
    """One invocation's work: claimed, then attempted and recorded together."""

    def __init__(
        self,
        deliverer: Deliverer,
        endpoints: dict[str, Endpoint],
        report: Report,
        time_left: TimeLeft,
    ) -> None:
        self.deliverer = deliverer
        self.store = deliverer.store
        self.endpoints = endpoints
        self.report = report
        self.time_left = time_left
        self.work: list[_Work] = []
        self.owner = uuid.uuid4().hex
        self.started = 0
        """Attempts made by this run before the work now waiting."""
        self.failing: dict[str, datetime | None] = {
            e.id: e.failing_since for e in endpoints.values()
        }
        self.disabled: set[str] = set()

    def fits(self, more: int) -> bool:
        """Whether ``more`` attempts still fit in the time left, beside those claimed: they go
        out ``WORKERS`` at a time, and a session's ones to one endpoint after each other."""
        chains = Counter(w.chain for w in self.work if w.chain is not None)
        longest = max(chains.values(), default=0) + (1 if more else 0)
        waves = max(math.ceil((len(self.work) + more) / WORKERS), longest)
        return waves * ATTEMPT_SECONDS + RESERVE_SECONDS <= self.time_left()

    def lease(self) -> tuple[float, datetime]:
        now = clock.now()
        return self.deliverer._wall() + LEASE_SECONDS, now + timedelta(seconds=LEASE_SECONDS)

    def claim_message(self, message_id: str, item: BusEvent | RetryRequest) -> bool:
        if isinstance(item, RetryRequest):
            return self.claim_retry(item, message_id)
        return self.claim_event(item, message_id)

    def claim_event(self, event: BusEvent, message_id: str) -> bool:
        """One delivery per endpoint that wants the event; False when they do not fit in time."""
        wanted = [e for e in self.endpoints.values() if rules.wants(e, event.type)]
        if not wanted:
            return True
        if not self.fits(len(wanted)):
            return False
        now = clock.now()
        payload = messages.payload(event)
        session = event.data.get("session_id")
        session = session if isinstance(session, str) else None
        lease_until, lease_due = self.lease()
        for endpoint in wanted:
            delivery = Delivery(
                id=delivery_id(event.event_id, event.time, event.number),
                endpoint_id=endpoint.id,
                event_id=event.event_id,
                event_type=event.type,
                event_time=event.time,
                payload=payload,
                state=DeliveryState.PENDING,
                attempts=1,
                created_at=now,
            )
            found = self.store.create_delivery(delivery, self.owner, lease_until)
            if found is None:
                self.work.append(_Work(delivery, self.owner, endpoint, message_id, session))
                continue
            # Made before, by an earlier try of this message. Its first attempt is orphaned
            # only if that try died before recording it (never scheduled, lease over).
            stored = found.delivery
            orphaned = (
                stored.state is DeliveryState.PENDING
                and not found.scheduled
                and (found.lease_until or 0) < self.deliverer._wall()
            )
            if orphaned:
                claimed = self.store.claim(
                    endpoint.id,
                    stored.id,
                    owner=self.owner,
                    lease_until=lease_until,
                    real_now=self.deliverer._wall(),
                    now=now,
                    lease_due=lease_due,
                    orphan=True,
                )
                if claimed is not None:
                    self.work.append(_Work(claimed, self.owner, endpoint, message_id, session))
        return True

    def claim_retry(self, retry: RetryRequest, message_id: str | None) -> bool:
        """The next attempt of a delivery whose retry is due; False when it does not fit."""
        if not self.fits(1):
            return False
        endpoint = self.endpoints.get(retry.webhook_id)
        if endpoint is None or endpoint.status is not EndpointStatus.ENABLED:
            # The index lags a write by a moment: ask the endpoint itself before giving up.
            endpoint = self.store.get_endpoint(retry.webhook_id)
            if endpoint is not None:
                self.endpoints[endpoint.id] = endpoint
                self.failing.setdefault(endpoint.id, endpoint.failing_since)
        if endpoint is None or endpoint.status is not EndpointStatus.ENABLED:
            error = "ENDPOINT_DELETED" if endpoint is None else "ENDPOINT_DISABLED"
            if self.store.give_up(
                retry.webhook_id, retry.delivery_id, error, self.deliverer._wall()
            ):
                self.report.given_up += 1
            return True
        lease_until, lease_due = self.lease()
        claimed = self.store.claim(
            endpoint.id,
            retry.delivery_id,
            owner=self.owner,
            lease_until=lease_until,
            real_now=self.deliverer._wall(),
            now=clock.now(),
            lease_due=lease_due,
        )
        if claimed is not None:
            self.work.append(_Work(claimed, self.owner, endpoint, message_id))
        return True

    def finish(self) -> None:
        """Attempt what was claimed, side by side, then record each outcome in turn."""
        work, self.work = self.work, []
        if not work:
            return
        chains: dict[object, list[_Work]] = {}
        for number, item in enumerate(work):
            chains.setdefault(item.chain or number, []).append(item)
        answers: dict[int, sender.Answer] = {}

        def attempt_in_turn(chain: list[_Work]) -> None:
            for item in chain:
                answers[id(item)] = self.deliverer.attempt(item)

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(chains))) as pool:
            list(pool.map(attempt_in_turn, chains.values()))
        for item in work:
            answer = answers[id(item)]
            try:
                self.record(item, answer)
            except StorageFailed as error:
                logger.warning(
                    "webhook outcome not recorded",
                    extra={"delivery_id": item.delivery.id, "code": error.code},
                )
                self.report.unrecorded += 1
                if item.message_id is not None:
                    self.report.failed_messages.append(item.message_id)

    def record(self, work: _Work, answer: sender.Answer) -> None:
        delivery, endpoint = work.delivery, work.endpoint
        now = clock.now()
        self.report.attempted += 1
        after = rules.after_attempt(delivery, answer.status, now)
        settled = delivery.model_copy(
            update={
                "state": after.state,
                "last_status": answer.status,
                "last_error": answer.error,
                "last_attempt_at": now,
                "next_attempt_at": after.next_attempt_at,
            }
        )
        keys = {
            "webhook_id": endpoint.id,
            "delivery_id": delivery.id,
            "event_id": delivery.event_id,
            "attempt": delivery.attempts,
            "status": answer.status,
            "error": answer.error,
            "state": after.state.value,
        }
        if not self.store.settle(settled, work.owner):
            logger.warning("webhook attempt lost its lease", extra=keys)
            return
        logger.info("webhook attempt", extra=keys)
        verdict = rules.verdict(answer.status)
        if verdict is rules.Verdict.DELIVERED:
            self.report.delivered += 1
            metrics.add_metric(name="WebhooksDelivered", unit=MetricUnit.Count, value=1)
            if self.failing.get(endpoint.id) is not None:
                self.store.clear_failing(endpoint.id)
                self.failing[endpoint.id] = None
            return
        self.report.failed_attempts += 1
        metrics.add_metric(name="WebhookAttemptsFailed", unit=MetricUnit.Count, value=1)
        if verdict is rules.Verdict.GONE:
            self.disable(endpoint, DisabledReason.GONE, now)
            return
        since = self.failing.get(endpoint.id)
        if since is None:
            self.store.mark_failing(endpoint.id, now)
            since = self.failing[endpoint.id] = now
        if rules.failing_too_long(since, now):
            self.disable(endpoint, DisabledReason.FAILING, now)
        elif settled.state is DeliveryState.PENDING:
            self.deliverer.schedule_retry(settled, now)

    def disable(self, endpoint: Endpoint, reason: DisabledReason, now: datetime) -> None:
        if endpoint.id in self.disabled:
            return
        self.disabled.add(endpoint.id)
        disabled = self.store.disable(
            endpoint.id, reason, now, notices.notice_key(endpoint.id, now)
        )
        if disabled is None:
            return  # disabled already, or deleted: that disabling sent its own email
        self.endpoints[endpoint.id] = disabled
        self.report.disabled += 1
        metrics.add_metric(name="WebhookEndpointsDisabled", unit=MetricUnit.Count, value=1)
        logger.warning(
            "webhook endpoint disabled", extra={"webhook_id": endpoint.id, "reason": reason.value}
        )
        self.deliverer.send_notice(disabled, self.report, self.time_left)


def as_batch_response(report: Report) -> dict[str, list[dict[str, str]]]:
    """The partial batch response Lambda's SQS event source reads (ReportBatchItemFailures)."""
    failed = list(dict.fromkeys(report.failed_messages))
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
