"""Webhooks: what a delivery costs in DynamoDB requests, and how many deliveries a second the
local stack makes from change to receiver.

In process (moto's ``mock_aws`` with the template's tables, the recorder on the functions' own
DynamoDB client): the deliver function's handler gets a batch of 10 domain events for 1 and
for 5 endpoints, all answered 2xx by a receiver on loopback; then a batch whose attempts all
fail once, and the scheduled run that retries them; and a scheduled run with nothing due, the
fixed cost of the one-minute schedule.

Through the local stack (``python -m local.stack`` on a free port, over HTTP, as ``make run``
runs it): an admin subscribes a receiver on loopback to ``credits.granted``; support makes
grants one after another; each grant's change goes through the ledger's stream, the publish
function, the bus and its rule, the webhook queue and the deliver function to the receiver,
which notes when each delivery arrived. Deliveries a second from the first grant to the last
delivery, and each delivery's lag after its grant was answered.
"""

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from moto import mock_aws

from bench import stack
from bench.env import REGION, invocation
from bench.local_stack import running_stack
from bench.recorder import Call, capacity_of, summarize
from bench.report import Section, Table, Target, median, ms, p95, units
from coaching import clock
from coaching.events.webhooks import operations
from coaching.models import Caller, Role
from coaching.storage.webhooks import WebhookStore
from coaching.webhook_models import Endpoint
from local import auth
from local.scheduler import scheduled_event
from local.time_travel import TimeTravel

BATCH = 10
"""Events per queue batch: the template's BatchSize."""
GRANTS = 100
"""Grants made through the local stack, one after another, for one endpoint."""
MAX_REQUESTS_PER_DELIVERY = 2.2
"""Target: a put, an update, and the batch's one read of the endpoints shared out."""


class _Server(ThreadingHTTPServer):
    # The deliverer opens up to 16 connections at once; the standard library's backlog of 5
    # would have the kernel drop some of them, as a receiver under load would not.
    request_queue_size = 128


class Receiver:
    """An HTTP server on 127.0.0.1 that answers the statuses it is told (200 once they run out)
    and notes when each request arrived, by its path and ``webhook-id``."""

    def __init__(self) -> None:
        self.arrived: list[tuple[float, str, str]] = []
        self.answers: list[int] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.arrived.append(
                        (time.perf_counter(), self.path, self.headers.get("webhook-id", ""))
                    )
                    receiver._lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def wait_for(self, count: int, seconds: float, under: str = "/") -> None:
        """Until ``count`` requests have arrived at paths under ``under``."""

        def arrived() -> int:
            return sum(path.startswith(under) for _, path, _ in self.arrived)

        with self._lock:
            if not self._lock.wait_for(lambda: arrived() >= count, timeout=seconds):
                raise RuntimeError(f"{arrived()} of {count} deliveries in {seconds} s")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()


# --- in process: DynamoDB requests per delivery --------------------------------------------------


@dataclass
class Case:
    name: str
    deliveries: int
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0
    attempts: int = 0


def _grant_event(account: str, seq: int, at: datetime) -> str:
    """A ``credits.granted`` event as the bus's rule puts it on the webhook queue."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "credits.granted",
            "source": "coaching.sessions",
            "account": "123456789012",
            "time": stamp,
            "region": REGION,
            "resources": [],
            "detail": {
                "event_id": f"credits:{account}:{seq}",
                "entry_id": f"{account}:{seq}",
                "account_id": account,
                "seq": seq,
                "credits": 5,
                "balance_after": 5 * seq,
                "occurred_at": stamp,
                "actor": {"id": "support-1", "role": "support"},
            },
        }
    )


def _batch(events: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhooks",
                "awsRegion": REGION,
            }
            for body in events
        ]
    }


def _subscribe(aws: stack.Aws, receiver: Receiver, endpoints: int) -> list[Endpoint]:
    store = WebhookStore(aws.bare, aws.settings)  # setup, unrecorded
    admin = Caller(id=f"bench-admin-{uuid.uuid4().hex[:8]}", role=Role.ADMIN)
    return [
        operations.create(
            store,
            admin,
            url=receiver.url(f"/e{n}"),
            event_types=["credits.granted"],
            description=None,
            now=clock.now(),
            allow_loopback=True,
        ).endpoint
        for n in range(endpoints)
    ]


def _measure(case: Case, aws: stack.Aws, event: dict[str, Any]) -> Any:
    aws.recorder.detail = True
    aws.recorder.take()
    answer, seconds = invocation("DeliverFunction", event).timed()
    case.calls += aws.recorder.take()
    case.seconds += seconds
    aws.recorder.detail = False
    return answer


def _in_process() -> list[Case]:
    cases = []
    with mock_aws(), receiving() as receiver:
        sqs = boto3.client("sqs", region_name=REGION)
        os.environ["WEBHOOK_QUEUE_URL"] = sqs.create_queue(QueueName="bench-webhooks")["QueueUrl"]
        os.environ["WEBHOOKS_ALLOW_LOOPBACK"] = "true"
        try:
            for endpoints in (1, 5):
                with stack.tables(streams=False) as aws, clock.use_clock(TimeTravel()):
                    _subscribe(aws, receiver, endpoints)
                    case = Case(f"{BATCH} events, {endpoints} endpoint(s), all 2xx", 0)
                    before = len(receiver.arrived)
                    events = [_grant_event("a", n, clock.now()) for n in range(1, BATCH + 1)]
                    _measure(case, aws, _batch(events))
                    case.deliveries = case.attempts = len(receiver.arrived) - before
                    cases.append(case)
            with stack.tables(streams=False) as aws, clock.use_clock(TimeTravel()) as moved:
                _subscribe(aws, receiver, 1)
                case = Case(f"{BATCH} events failing once, then their retries", BATCH)
                receiver.answers += [500] * BATCH
                before = len(receiver.arrived)
                events = [_grant_event("b", n, clock.now()) for n in range(1, BATCH + 1)]
                _measure(case, aws, _batch(events))
                moved.advance(6)
                _measure(case, aws, scheduled_event("DeliverFunction-schedule"))
                case.attempts = len(receiver.arrived) - before
                cases.append(case)
                idle = Case("a scheduled run with nothing due", 0)
                _measure(idle, aws, scheduled_event("DeliverFunction-schedule"))
                cases.append(idle)
        finally:
            os.environ.pop("WEBHOOK_QUEUE_URL", None)
            os.environ.pop("WEBHOOKS_ALLOW_LOOPBACK", None)
    return cases


# --- through the local stack: deliveries per second ---------------------------------------------


@dataclass
class Flow:
    endpoints: int
    grants: int
    deliveries: int
    """Distinct (endpoint, event) pairs that arrived."""
    repeats: int
    """Arrivals of a pair that had arrived before (delivery is at least once)."""
    seconds: float
    """From the first grant sent to the last delivery arrived."""
    granting: float
    """The grants alone: how fast the stack took the changes."""
    lags: list[float]


def _through_the_stack(runs: list[tuple[int, int]]) -> list[Flow]:
    flows = []
    with running_stack() as (client, _pid), receiving() as receiver:
        support = auth.mint("demo-support", "support")
        for endpoints, grants in runs:
            tag = uuid.uuid4().hex[:8]
            admin = auth.mint(f"bench-admin-{tag}", "admin", email=f"bench-{tag}@example.com")
            account = f"personal-bench-member-{tag}"
            subscribed = []
            for n in range(endpoints):
                created = client.call(
                    "POST",
                    "/webhooks",
                    admin,
                    {"url": receiver.url(f"/{tag}/{n}"), "event_types": ["credits.granted"]},
                )
                if created.status_code != 201:
                    raise RuntimeError(f"subscribing: {created.status_code} {created.text[:300]}")
                subscribed.append(created.json()["id"])
            answered: dict[str, float] = {}
            started = time.perf_counter()
            for _ in range(grants):
                granted = client.call(
                    "POST", f"/accounts/{account}/grants", support, {"credits": 1}
                )
                if granted.status_code != 201:
                    raise RuntimeError(f"granting: {granted.status_code} {granted.text[:300]}")
                seq = granted.json()["id"].rsplit(":", 1)[-1]
                answered[f"credits:{account}:{seq}"] = time.perf_counter()
            granting = time.perf_counter() - started
            receiver.wait_for(endpoints * grants, seconds=300, under=f"/{tag}/")
            time.sleep(1)  # repeats, if any, would come close behind
            arrived = [a for a in receiver.arrived if a[1].startswith(f"/{tag}/")]
            for endpoint in subscribed:  # the next run's grants are not for these
                client.call("DELETE", f"/webhooks/{endpoint}", admin).raise_for_status()
            flows.append(
                Flow(
                    endpoints=endpoints,
                    grants=grants,
                    deliveries=len({(path, event) for _, path, event in arrived}),
                    repeats=len(arrived) - len({(path, event) for _, path, event in arrived}),
                    seconds=max(at for at, _, _ in arrived) - started,
                    granting=granting,
                    lags=[at - answered[event] for at, _, event in arrived],
                )
            )
    return flows


def run(grants: int = GRANTS) -> Section:
    cases = _in_process()
    flows = _through_the_stack([(1, grants), (5, grants // 2)])

    costs = Table(
        "Webhooks: DynamoDB per delivery (the deliver function's handler, in process)",
        [
            "batch",
            "deliveries",
            "attempts",
            "requests",
            "per delivery",
            "WCU per delivery (of it, index)",
            "handler ms",
        ],
    )
    for case in cases:
        capacity = capacity_of(case.calls)
        if case.deliveries:
            per = case.deliveries
            requests = f"{len(case.calls) / per:.2f}"
            writes = (
                f"{units(round(capacity.write / per, 2))} "
                f"({units(round(capacity.index_write / per, 2))})"
            )
        else:
            requests, writes = "-", f"RCU {units(capacity.read)} in all"
        costs.add(
            case.name,
            case.deliveries,
            case.attempts,
            summarize(case.calls),
            requests,
            writes,
            ms(case.seconds),
        )
    costs.notes += [
        "Per delivery on the happy path: one conditional PutItem that creates the delivery and "
        "claims its first attempt, one UpdateItem with the outcome, and a share of the batch's "
        "one Query of the Endpoints index. No index write: a delivery enters the Due index only "
        "when an attempt fails.",
        "A failed attempt adds the endpoint's failing mark (once per run) and puts the delivery "
        "in the Due index; its retry is claimed (an UpdateItem that counts it and moves it to the "
        "end of its lease) and settled, and a success clears the mark.",
        "The scheduled run reads the Endpoints index once and each of the 32 Due partitions "
        "once: its fixed cost every minute, whatever the traffic.",
        "The receiver is on loopback and answers at once: 'handler ms' is the function's own "
        "work and moto's, not a network's.",
    ]

    flow_table = Table(
        "Webhooks through the local stack: from a grant to the receiver",
        [
            "endpoints",
            "grants",
            "deliveries",
            "repeats",
            "deliveries/s",
            "grants alone /s",
            "lag p50 ms",
            "lag p95 ms",
        ],
    )
    for flow in flows:
        flow_table.add(
            flow.endpoints,
            flow.grants,
            flow.deliveries,
            flow.repeats,
            f"{flow.deliveries / flow.seconds:.1f}",
            f"{flow.grants / flow.granting:.1f}",
            ms(median(flow.lags)),
            ms(p95(flow.lags)),
        )
    flow_table.notes += [
        "`python -m local.stack` on a free port; support grants a credit at a time over HTTP and "
        "the receiver (a loopback HTTP server in the bench's process) notes each arrival. "
        "deliveries/s runs from the first grant sent to the last delivery in; lag is from a "
        "grant's answer to its delivery.",
        "Each change crosses the ledger's stream (polled every 0.25 s), the publish function, "
        "the bus and its rule, the webhook queue (polled every 0.25 s) and the deliver function. "
        "The local stack runs one function at a time, so the API, the publisher and the "
        "deliverer share one lane: in AWS each scales on its own.",
    ]

    happy = next(c for c in cases if c.name.startswith(f"{BATCH} events, 1 endpoint"))
    per_delivery = len(happy.calls) / happy.deliveries
    return Section(
        tables=[costs, flow_table],
        targets=[
            Target(
                f"a delivery that succeeds at once costs at most {MAX_REQUESTS_PER_DELIVERY} "
                "DynamoDB requests",
                per_delivery <= MAX_REQUESTS_PER_DELIVERY,
                f"{per_delivery:.2f} ({summarize(happy.calls)} for {happy.deliveries})",
            ),
            Target(
                "every grant made through the local stack reached every endpoint",
                all(f.deliveries == f.endpoints * f.grants for f in flows),
                ", ".join(
                    f"{f.deliveries} of {f.endpoints * f.grants} ({f.repeats} repeated)"
                    for f in flows
                ),
            ),
        ],
    )
