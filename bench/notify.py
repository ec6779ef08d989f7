"""Notify: records per second through the stream handler, and what each email costs.

Each round starts from fresh tables in its own ``mock_aws``: 50 members book a session (50
INSERTs of session items) and then cancel it (50 MODIFYs), all through the policy layer. The
sessions tables' streams are read with ``dynamodbstreams`` as the event source mapping would,
filtered as the template's ``FilterCriteria`` filters them (session items only), and the 100
records go to ``functions/notify/app.py``'s handler in one event.

The floor is SES alone: the same ``SendEmail`` requests the handler made, sent bare one after
another (one call per email is the least a sender can do). The difference is the claims that
make each email go out once, rendering, and Powertools' batch processing.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

from bench import stack
from bench.env import REGION, invocation, is_session_record, settle_garbage
from bench.recorder import Call, capacity_of, summarize
from bench.report import Section, Table, median, ms, ratio, units
from bench.world import subject
from coaching import clock, operations
from coaching.storage import Storage
from local.streams import lambda_record
from local.template import create_tables

CHANGES = 100
CHUNK = 5
"""Bookings made per sessions table while building the batch."""
ROUNDS = 3
"""Timed rounds; one more round before them counts requests and capacity."""


@dataclass
class Round:
    seconds: float
    records: int
    emails: int
    ses_calls: list[Call]
    dynamodb_calls: list[Call]
    floor_seconds: float = 0.0
    answer: dict[str, Any] = field(default_factory=dict)


def streams_client(endpoint_url: str | None = None) -> Any:
    # botocore sends stream calls to account-based endpoints, which moto does not route.
    return boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=Config(account_id_endpoint_mode="disabled"),
    )


def _records(streams: Any, arn: str) -> list[dict[str, Any]]:
    """Everything on the table's stream so far, as Lambda hands records to the function."""
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    found: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not response["Records"]:
                break
            found += [lambda_record(r, arn) for r in response["Records"]]
            iterator = response.get("NextShardIterator")
    return found


def changes(client: Any, streams: Any, bookings: int) -> list[dict[str, Any]]:
    """The session records of ``bookings`` bookings and their cancels, from tables of their own.

    The notify function reads nothing but its event and the emails table, so the changes may
    come from any sessions table; small ones keep moto fast (it copies a table, stream and all,
    for every item of every transaction).
    """
    settings = stack.new_settings()
    names = {"SessionsTable": settings.sessions_table, "LedgerTable": settings.ledger_table}
    create_tables(client, names, streams=True)
    store = Storage(client, settings)
    now = clock.now()
    booked = [subject(store, now, sessions_in_hours=(72,)) for _ in range(bookings)]
    for who in booked:
        operations.cancel(store, who.member, who.session.id, "Something came up", now)
    arn = client.describe_table(TableName=settings.sessions_table)["Table"]["LatestStreamArn"]
    records = [r for r in _records(streams, arn) if is_session_record(r)]
    for table in names.values():
        client.delete_table(TableName=table)
    return records


def _round(*, detail: bool) -> Round:
    with mock_aws(), stack.tables(streams=False) as aws:
        records: list[dict[str, Any]] = []
        streams = streams_client()
        for _ in range(CHANGES // (2 * CHUNK)):
            records += changes(aws.bare, streams, CHUNK)
        aws.recorder.detail = detail
        aws.ses.detail = detail
        aws.recorder.take()
        aws.ses.take()
        answer, seconds = invocation("NotifyFunction", {"Records": records}).timed()
        ses_calls = aws.ses.take()
        dynamodb_calls = aws.recorder.take()
        aws.recorder.detail = aws.ses.detail = False
        if answer != {"batchItemFailures": []}:
            raise RuntimeError(f"notify failed records: {answer}")
        sent = [c for c in ses_calls if c.operation == "SendEmail" and c.error is None]
        measured = Round(
            seconds=seconds,
            records=len(records),
            emails=len(sent),
            ses_calls=ses_calls,
            dynamodb_calls=dynamodb_calls,
            answer=answer,
        )
        if detail:
            bare = boto3.client("sesv2", region_name=REGION)
            requests = [dict(c.params or {}) for c in sent]
            for request in requests:
                request.pop("ReturnConsumedCapacity", None)
            settle_garbage()
            started = time.perf_counter()
            for request in requests:
                bare.send_email(**request)
            measured.floor_seconds = time.perf_counter() - started
        return measured


def run(rounds: int = ROUNDS) -> Section:
    counted = _round(detail=True)
    timed = [_round(detail=False) for _ in range(rounds)]
    seconds = [r.seconds for r in timed]
    p50 = median(seconds)
    emails = counted.emails
    capacity = capacity_of(counted.dynamodb_calls)
    in_calls = [sum(c.seconds for c in r.ses_calls + r.dynamodb_calls) for r in timed]
    outside = [r.seconds - c for r, c in zip(timed, in_calls, strict=True)]
    table = Table(
        "Notify: one stream batch of 100 session changes (50 bookings, 50 cancels)",
        [
            "records",
            "emails",
            "handler p50 ms",
            "records/s",
            "emails/s",
            "in AWS calls ms",
            "outside them ms",
            "SES calls/email",
            "DynamoDB requests/email",
            "WCU/email",
            "floor: bare SendEmail ms",
            "handler / floor",
        ],
    )
    table.add(
        counted.records,
        emails,
        ms(p50),
        f"{counted.records / p50:.0f}",
        f"{emails / p50:.0f}",
        ms(median(in_calls)),
        ms(median(outside)),
        f"{len(counted.ses_calls) / emails:.2f}",
        f"{len(counted.dynamodb_calls) / emails:.2f}",
        units(round(capacity.write / emails, 2)),
        ms(counted.floor_seconds),
        ratio(p50, counted.floor_seconds),
    )
    table.notes += [
        f"Median of {rounds} rounds, each on fresh tables; one more round before them counted "
        "requests. DynamoDB requests (all to the emails table): "
        f"{summarize(counted.dynamodb_calls)}; SES: {summarize(counted.ses_calls)}.",
        "The template's BatchSize is 25: in AWS these 100 records arrive as 4 invocations; the "
        "per-record cost is the same.",
        "Floor: the handler's own SendEmail requests sent bare, one per email. moto's "
        "UpdateItem is slow (it parses and validates each update expression, ~15 ms), so most "
        "of 'in AWS calls' is the emulator; against DynamoDB each claim is a network round "
        "trip instead.",
    ]
    return Section(tables=[table])
