"""Free times: what one GET /services/{id}/slots reads as the coach's history grows.

A coach in New York works weekdays 09:00-17:00 and has a 60-minute service. A member booked
two sessions a weekday (10:00 and 14:00 New York) for the next 45 days, through the policy
layer. Then the coach's history grows: past sessions (a session item and its four slot claims
each) are written straight into the table, 25 per ``BatchWriteItem``, as if DynamoDB's TTL had
not yet removed the old claims (the worst case; it deletes them a week after their slot).

At each history size the services function's handler answers free times for 1, 7 and 31 days
ahead, once with a detail recorder (requests, items and capacity) and once plain (wall time).
Free times read the service with the coach's booking rules, the coach's slot claims of the
range only (ByCoach, partition ``SLOTS#{coach}``, by slot time) and the counts the limits need
(the range's days, the member's own), so the reads must not grow with the history.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench import stack
from bench.env import Request, http_invocation
from bench.recorder import Call, capacity_of, summarize
from bench.report import Section, Table, Target, ms, units
from bench.sweep import Filler
from bench.world import people, session_model, subject
from coaching import clock, operations
from coaching.models import WEEKDAYS, Person, Role, SessionStatus, WorkingHours
from coaching.rules import slots_between
from coaching.storage import session_item, slot_claim_item

HISTORIES = (0, 1_000, 3_000)
"""moto answers an index query by scanning the table, so each call here takes seconds at
3,000 past sessions (15,000 items); ``--slots-history 0 1000 10000`` measures further."""
RANGES = (1, 7, 31)
BOOKED_DAYS = 45


@dataclass
class Measure:
    history: int
    days: int
    free: int
    calls: list[Call]
    seconds: float


def _call(
    aws: stack.Aws, request: Request, *, detail: bool, status: int = 200
) -> tuple[Any, list[Call], float]:
    invocation = http_invocation(request)
    aws.recorder.detail = detail
    aws.recorder.take()
    answer, seconds = invocation.timed()
    aws.recorder.detail = False
    if answer["statusCode"] != status:
        raise RuntimeError(
            f"{request.path} answered {answer['statusCode']}: {answer['body'][:300]}"
        )
    return answer, aws.recorder.take(), seconds


def _history(
    filler: Filler, coach: Person, members: list[Person], now: datetime, count: int
) -> None:
    """``count`` past sessions of ``coach``, one an hour going back from yesterday."""
    items = []
    for n in range(count):
        start = (now - timedelta(days=1, hours=n)).replace(minute=0, second=0, microsecond=0)
        session = session_model(
            status=SessionStatus.COMPLETED,
            start=start,
            now=now,
            coach=coach,
            member=members[n % len(members)],
        )
        items.append(session_item(session, due_shards=filler.due_shards))
        items += [
            slot_claim_item(session, slot) for slot in slots_between(session.start, session.end)
        ]
    for first in range(0, len(items), 25):
        pending: dict[str, Any] = {
            filler.table: [{"PutRequest": {"Item": i}} for i in items[first : first + 25]]
        }
        while pending:
            pending = filler.client.batch_write_item(RequestItems=pending).get(
                "UnprocessedItems", {}
            )


def run(histories: tuple[int, ...] = HISTORIES) -> Section:
    from moto import mock_aws

    measured: list[Measure] = []
    booked = 0
    with mock_aws(), stack.tables(streams=False) as aws:
        now, store = clock.now(), aws.store
        booker = subject(store, now, credits=1_000)
        coach, member, service = booker.coach, booker.member, booker.service
        weekdays = [WorkingHours(day=d, start="09:00", end="17:00") for d in WEEKDAYS[:5]]
        operations.set_availability(store, coach, timezone=None, weekly=weekdays, now=now)
        zone = coach.as_person().timezone
        for day in range(1, BOOKED_DAYS + 1):
            local = (now + timedelta(days=day)).astimezone(ZoneInfo(zone))
            if local.weekday() >= 5:
                continue
            for hour in (10, 14):
                start = local.replace(hour=hour, minute=0, second=0, microsecond=0)
                operations.book(
                    store,
                    member,
                    service_id=service.id,
                    session_type_id="t1",
                    start=start,
                    account_id=None,
                    timezone=None,
                    now=now,
                )
                booked += 1
        # What the index costs a booking: one more booking, through the handler, recorded.
        # (at 11:00 on a weekday of the coach's, inside their hours)
        far = (now + timedelta(days=BOOKED_DAYS + 7)).astimezone(ZoneInfo(zone))
        while far.weekday() >= 5:
            far += timedelta(days=1)
        far = far.replace(hour=11, minute=0, second=0, microsecond=0)
        book = Request(
            member,
            "POST",
            "/sessions",
            {"service_id": service.id, "session_type_id": "t1", "start": far.isoformat()},
        )
        booking = capacity_of(_call(aws, book, detail=True, status=201)[1])
        filler = Filler(aws.settings.sessions_table, now, aws.settings.due_shards)
        members = people(50, Role.MEMBER)
        written = 0
        for size in sorted(histories):
            _history(
                filler, coach.as_person(), members, now - timedelta(hours=written), size - written
            )
            written = size
            for days in RANGES:
                query = {
                    "session_type_id": "t1",
                    "from": now.isoformat(),
                    "to": (now + timedelta(days=days)).isoformat(),
                }
                request = Request(member, "GET", f"/services/{service.id}/slots", query=query)
                answer, calls, _ = _call(aws, request, detail=True)
                _, _, seconds = _call(aws, request, detail=False)
                free = len(json.loads(answer["body"])["items"])
                measured.append(Measure(size, days, free, calls, seconds))

    table = Table(
        "Free times: one call, as the coach's history grows (services function's handler)",
        ["past sessions", "range", "free times", "requests", "RCU", "handler ms"],
    )
    for m in measured:
        table.add(
            f"{m.history:,}",
            f"{m.days} d",
            m.free,
            summarize(m.calls),
            units(capacity_of(m.calls).read),
            ms(m.seconds),
        )
    table.notes += [
        f"The coach has {booked} upcoming sessions over the next {BOOKED_DAYS} days (two a "
        "weekday); each past session adds a session item and 4 slot claims in the coach's "
        "ByCoach partition SLOTS#{coach} (claims kept as if TTL had not run).",
        "RCU is computed from the items read (bench/capacity.py): the service with the "
        "coach's booking rules (one BatchGetItem, strongly consistent), the claims of the range "
        "(one Query of ByCoach, eventually consistent, with more pages only past 1 MB) and, as "
        "the bench's coach limits their sessions a day and the service a member's, the counts "
        "of the range's days and of the asking member (one BatchGetItem; left out when no limit "
        "is set).",
        f"What the index costs: a 60-minute booking writes {units(booking.write)} WCU, "
        f"{units(booking.index_write)} of them index writes; its 4 slot claims are 4 of those "
        "(one ByCoach entry each), the price of reading claims by range instead of by key.",
        "'handler ms' is a second call without the detail recorder. moto answers a Query on an "
        "index by scanning the whole table, so its time grows with the table; DynamoDB reads "
        "only the index entries in the key range.",
    ]
    targets = []
    for days in RANGES:
        row = [m for m in measured if m.days == days]
        first, last = row[0], row[-1]
        reads_first, reads_last = capacity_of(first.calls).read, capacity_of(last.calls).read
        targets.append(
            Target(
                f"free times for {days} d read the same from {first.history:,} to "
                f"{last.history:,} past sessions",
                reads_last == reads_first and len(last.calls) == len(first.calls),
                f"{units(reads_first)} -> {units(reads_last)} RCU, "
                f"{len(first.calls)} -> {len(last.calls)} requests",
            )
        )
    return Section(tables=[table], targets=targets)
