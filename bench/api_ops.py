"""Per API operation: DynamoDB requests, capacity, and handler latency next to its floor.

Each operation runs through its function's real handler, with the HTTP API v2 event API Gateway
sends after its JWT authorizer, against in-process moto. Every sample gets a fresh subject (a
coach, a service, a funded member, their sessions) made the same way, so samples are alike.

- Requests and capacity: a few samples with a detail recorder on the functions' DynamoDB client
  (``bench.recorder``). Every POST carries a fresh Idempotency-Key; its record is written inside
  the change's own transaction, so it costs write units but no request of its own.
- Latency: the handler's wall time, warm, over ``samples`` fresh subjects, next to the *floor*:
  the DynamoDB calls the operation cannot avoid, made bare (no handler, no Powertools, no
  pydantic) with exactly the parameters the handler sent, against another subject made the same
  way. The floor is the first read (the item the request names: the session, or the service
  for a booking, or one page of the index for a list) plus the write (one
  ``TransactWriteItems`` of the same shape, key record included). Other reads (the paying
  account, where it is not read with the session) are overhead above the floor.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore import xform_name

from bench.capacity import Capacity
from bench.env import Request, http_invocation, settle_garbage
from bench.recorder import WRITES, Call, capacity_of, short, summarize
from bench.report import Section, Table, Target, median, ms, p95, ratio, units
from bench.stack import Aws
from bench.world import SUPPORT, Subject, on_the_hour, subject
from coaching import clock, operations
from coaching.models import personal_account_id
from coaching.storage import Storage, keys
from local.template import create_tables

SAMPLES = 25
WARMUP = 2
DETAIL = 3


def _key() -> str:
    return f"bench-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Operation:
    name: str
    sessions_in_hours: tuple[float, ...]
    request: Callable[[Subject, datetime], Request]
    status: int
    prepare: Callable[[Storage, Subject, datetime], None] | None = None
    creates_session: bool = False


def _cancel(s: Subject, _: datetime) -> Request:
    return Request(
        s.member,
        "POST",
        f"/sessions/{s.session.id}/cancel",
        {"reason": "Something came up at work"},
        idempotency_key=_key(),
    )


def _packages(store: Storage, who: Subject, now: datetime) -> None:
    """Two packages that expire beside the credits that never do: a booking of 3 takes the 2
    that expire first and 1 of the next (two lots), as a member who bought packages books."""
    account = personal_account_id(who.member.id)
    operations.grant(store, SUPPORT, account, 2, "10-day pack", now, valid_days=10)
    operations.grant(store, SUPPORT, account, 2, "30-day pack", now, valid_days=30)


def _late_cancel(store: Storage, who: Subject, now: datetime) -> None:
    """The member cancels inside the window: no refund, so the coach may grant one."""
    operations.cancel(store, who.member, who.session.id, "Ill", now)


BOOK_FROM_LOTS = "book, from two lots that expire"

OPERATIONS = [
    Operation(
        BOOK_FROM_LOTS,
        (),
        lambda s, now: Request(
            s.member,
            "POST",
            "/sessions",
            {
                "service_id": s.service.id,
                "session_type_id": s.service.session_types[0].id,
                "start": on_the_hour(now + timedelta(hours=72)).isoformat(),
            },
            idempotency_key=_key(),
        ),
        201,
        prepare=_packages,
        creates_session=True,
    ),
    Operation(
        "quote",
        (72,),
        lambda s, now: Request(s.member, "GET", f"/sessions/{s.session.id}/cancellation"),
        200,
    ),
    Operation("cancel, refunded", (72,), _cancel, 200),
    Operation("cancel, not refunded", (5,), _cancel, 200),
    Operation(
        "reschedule",
        (72,),
        lambda s, now: Request(
            s.member,
            "POST",
            f"/sessions/{s.session.id}/reschedule",
            {"start": on_the_hour(now + timedelta(hours=96)).isoformat()},
            idempotency_key=_key(),
        ),
        200,
    ),
    Operation(
        "refund (coach, after a late cancel)",
        (5,),
        lambda s, now: Request(
            s.coach,
            "POST",
            f"/sessions/{s.session.id}/refund",
            {"note": "Goodwill"},
            idempotency_key=_key(),
        ),
        200,
        prepare=_late_cancel,
    ),
    Operation(
        "session detail",
        (72,),
        lambda s, now: Request(s.member, "GET", f"/sessions/{s.session.id}"),
        200,
    ),
    Operation(
        "session list (5 upcoming)",
        (72, 96, 120, 144, 168),
        lambda s, now: Request(s.member, "GET", "/sessions", query={"view": "upcoming"}),
        200,
    ),
]


@dataclass
class Sample:
    seconds: float
    calls: list[Call]
    body: dict[str, Any]


@dataclass
class Measured:
    operation: Operation
    data: list[Call]
    """Every DynamoDB request of the first detail sample, the key's record included."""
    keyed: list[Call]
    """Those of them that touch the idempotency table (the transaction carrying the record)."""
    data_capacity: Capacity
    handler: list[float] = field(default_factory=list)
    in_dynamodb: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_calls: list[Call] = field(default_factory=list)
    varying: bool = False
    """True when the detail samples did not all make the same requests."""


class BenchError(RuntimeError):
    pass


def _invoke(aws: Aws, request: Request, status: int) -> Sample:
    invocation = http_invocation(request)
    aws.recorder.take()
    result, seconds = invocation.timed()
    calls = aws.recorder.take()
    if result["statusCode"] != status:
        raise BenchError(
            f"{request.method} {request.path} answered {result['statusCode']}: {result['body']}"
        )
    return Sample(seconds=seconds, calls=calls, body=json.loads(result.get("body") or "{}"))


def _rewrite(params: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    text = json.dumps(params)
    for old, new in mapping.items():
        text = text.replace(old, new)
    rewritten: dict[str, Any] = json.loads(text)
    return rewritten


def _replay(aws: Aws, calls: list[Call], mapping: dict[str, str]) -> float:
    """The bare calls, rewritten for another subject; their wall time."""
    prepared = [
        (getattr(aws.bare, xform_name(c.operation)), _rewrite(c.params or {}, mapping))
        for c in calls
    ]
    settle_garbage()
    started = time.perf_counter()
    for method, params in prepared:
        method(**params)
    return time.perf_counter() - started


def purge(aws: Aws) -> None:
    """Start over from empty tables (same names; the emails table is not used here): moto
    copies each table a transaction touches (for its rollback) and keeps traces of deleted
    items, so its cost grows with what a table has seen. Every sample starts from new tables,
    as DynamoDB's latency does not depend on a table's size or history."""
    names = {k: v for k, v in aws.settings.table_names().items() if k != "EmailsTable"}
    for table in names.values():
        aws.bare.delete_table(TableName=table)
    create_tables(aws.bare, names, streams=False)


def measure(aws: Aws, operation: Operation, samples: int) -> Measured:
    store, now = aws.store, clock.now()

    def fresh(*, new_tables: bool = True) -> Subject:
        if new_tables:
            purge(aws)
        made = subject(store, now, sessions_in_hours=operation.sessions_in_hours)
        if operation.prepare is not None:
            operation.prepare(store, made, now)
        return made

    for _ in range(WARMUP):
        _invoke(aws, operation.request(fresh(), now), operation.status)

    detail: list[Subject] = []
    details: list[Sample] = []
    aws.recorder.detail = True
    try:
        for _ in range(DETAIL):
            detail.append(fresh())
            details.append(_invoke(aws, operation.request(detail[-1], now), operation.status))
    finally:
        aws.recorder.detail = False
    first = details[0]
    measured = Measured(
        operation=operation,
        data=first.calls,
        keyed=[c for c in first.calls if c.touches(aws.idempotency_table)],
        data_capacity=capacity_of(first.calls),
        varying=len({summarize(d.calls) for d in details}) > 1,
    )
    measured.floor_calls = [
        c for n, c in enumerate(measured.data) if n == 0 or c.operation in WRITES
    ]
    template_ids = dict(detail[0].ids)
    if operation.creates_session:
        template_ids["new-session"] = str(first.body["id"])

    for _ in range(samples):
        # One pair of subjects per new set of tables: one for the handler, one for the floor.
        handler_subject, floor_subject = fresh(), fresh(new_tables=False)
        sample = _invoke(aws, operation.request(handler_subject, now), operation.status)
        measured.handler.append(sample.seconds)
        measured.in_dynamodb.append(sum(c.seconds for c in sample.calls))
        ids = dict(floor_subject.ids)
        if operation.creates_session:
            ids["new-session"] = keys.tagged_id(floor_subject.coach.id)
        # the coach's tag last (dicts keep their order): it is part of the other ids
        order = sorted(template_ids, key=lambda k: k == "coach tag")
        mapping = {template_ids[k]: ids[k] for k in order}
        measured.floor.append(_replay(aws, measured.floor_calls, mapping))
    return measured


def run(aws: Aws, samples: int = SAMPLES) -> Section:
    results = [measure(aws, operation, samples) for operation in OPERATIONS]

    requests = Table(
        "API operations: DynamoDB requests and capacity (per request)",
        [
            "operation",
            "requests in all",
            "RCU",
            "WCU (of it, index)",
            "carry the key's record",
        ],
    )
    for r in results:
        requests.add(
            r.operation.name + (" *" if r.varying else ""),
            summarize(r.data),
            units(r.data_capacity.read),
            f"{units(r.data_capacity.write)} ({units(r.data_capacity.index_write)})",
            summarize(r.keyed),
        )
    requests.notes += [
        "Requests counted with botocore hooks on the functions' own client; every POST "
        "carries a fresh Idempotency-Key, whose record rides in the change's transaction.",
        "Capacity computed from item sizes by DynamoDB's rules (bench/capacity.py): moto "
        "answers ReturnConsumedCapacity with placeholders (1.0 per write, 0.5 per read, none "
        "for a transaction). Transactional writes cost 2x; index writes (the sessions "
        "table's ByMember and ByCoach hold whole sessions, Due keys only) are counted once.",
    ]
    if any(r.varying for r in results):
        requests.notes.append("* the detail samples did not all make the same requests.")

    latency = Table(
        "API operations: warm handler latency against in-process moto",
        [
            "operation",
            "handler p50 ms",
            "handler p95 ms",
            "in DynamoDB calls p50 ms",
            "outside them p50 ms",
            "floor calls",
            "floor p50 ms",
            "handler / floor",
        ],
    )
    for r in results:
        handler_p50 = median(r.handler)
        floor_p50 = median(r.floor)
        latency.add(
            r.operation.name,
            ms(handler_p50),
            ms(p95(r.handler)),
            ms(median(r.in_dynamodb)),
            ms(median([h - d for h, d in zip(r.handler, r.in_dynamodb, strict=True)])),
            " + ".join(short(c.operation) for c in r.floor_calls),
            ms(floor_p50),
            ratio(handler_p50, floor_p50),
        )
    latency.notes += [
        f"{samples} warm invocations per operation, each on a fresh subject, after "
        f"{WARMUP} warm-up invocations. 'in DynamoDB calls' is the time inside the client's "
        "requests (botocore and moto).",
        "Floor: the first read and the write the operation cannot avoid, sent bare with the "
        "handler's own parameters against another subject made the same way. In AWS each "
        "request costs a network round trip instead of moto's time, and 'outside them' runs "
        "on the share of a vCPU that 512 MB buys (about 0.3): expect that column about 3x "
        "larger there.",
    ]

    targets = []
    for r in results:
        if r.operation.name.startswith("cancel"):
            targets.append(
                Target(
                    f"{r.operation.name} by its member: at most 2 DynamoDB round trips in all, "
                    "Idempotency-Key included",
                    len(r.data) <= 2 and len(r.keyed) == 1,
                    summarize(r.data),
                )
            )
        if r.operation.name in (BOOK_FROM_LOTS, "reschedule"):
            targets.append(
                Target(
                    f"{r.operation.name}, by a member, every booking rule in force (hours, "
                    "notice, horizon, day and member limits): at most 2 DynamoDB round trips, "
                    "the rules read with the service or session",
                    len(r.data) <= 2 and len(r.keyed) == 1,
                    summarize(r.data),
                )
            )
        if r.operation.name == "session detail":
            targets.append(
                Target(
                    "session detail: at most 1 DynamoDB round trip",
                    len(r.data) <= 1,
                    summarize(r.data),
                )
            )
    return Section(tables=[requests, latency], targets=targets)
