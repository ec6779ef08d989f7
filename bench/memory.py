"""Peak memory of a warm invocation of each function, each in an interpreter of its own.

The bench starts moto in server mode (``local.moto_server.SerializedMotoServer``) with the
template's tables, seeds what each function needs through the policy layer, and runs
``bench.probe`` per function with ``AWS_ENDPOINT_URL`` pointing at it (as the local stack runs
functions). Each function gets three events of its typical request: the first warms it, the
peak RSS after the second is reported (``resource.getrusage``: the process's whole resident set,
which is what Lambda's "Max Memory Used" measures), and the third runs under ``tracemalloc``
for the Python heap a single warm invocation needs.
"""

import json
import logging
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from bench import stack
from bench.env import REGION, ROOT, SENDER, Request, http_request_event, subprocess_environment
from bench.notify import changes, streams_client
from bench.report import Section, Table
from bench.sweep import Filler
from bench.world import on_the_hour, subject, utc_now
from coaching import operations
from coaching.storage import Storage
from local import template
from local.aws import create_secrets
from local.scheduler import scheduled_event
from local.template import create_tables, functions

MEMORY_SIZE_MB = 512
"""The template's Globals MemorySize."""
HOURS = 3600


@dataclass
class Probe:
    logical_id: str
    what: str
    events: list[dict[str, Any]]
    advance_seconds: tuple[int, ...] = (0, 0, 0)
    environment: dict[str, str] | None = None
    """Overrides of the functions' environment for this one."""


def _http(*requests: Request) -> list[dict[str, Any]]:
    return [http_request_event(r)[1] for r in requests]


def _key() -> str:
    return uuid.uuid4().hex


def _probes(client: Any, endpoint: str, store: Storage) -> list[Probe]:
    now = utc_now()
    probes = []

    booker = subject(store, now)
    probes.append(
        Probe(
            "SessionsFunction",
            "POST /sessions (book)",
            _http(
                *(
                    Request(
                        booker.member,
                        "POST",
                        "/sessions",
                        {
                            "service_id": booker.service.id,
                            "session_type_id": "t1",
                            "start": on_the_hour(now + timedelta(hours=h)).isoformat(),
                        },
                        idempotency_key=_key(),
                    )
                    for h in (72, 96, 120)
                )
            ),
        )
    )
    canceler = subject(store, now, sessions_in_hours=(72, 96, 120))
    probes.append(
        Probe(
            "CancelFunction",
            "POST /sessions/{id}/cancel (refunded)",
            _http(
                *(
                    Request(
                        canceler.member,
                        "POST",
                        f"/sessions/{s.id}/cancel",
                        {"reason": "Something came up"},
                        idempotency_key=_key(),
                    )
                    for s in canceler.sessions
                )
            ),
        )
    )
    mover = subject(store, now, sessions_in_hours=(72, 96, 120))
    probes.append(
        Probe(
            "RescheduleFunction",
            "POST /sessions/{id}/reschedule",
            _http(
                *(
                    Request(
                        mover.member,
                        "POST",
                        f"/sessions/{s.id}/reschedule",
                        {"start": (s.start + timedelta(days=7)).isoformat()},
                        idempotency_key=_key(),
                    )
                    for s in mover.sessions
                )
            ),
        )
    )
    refunded = subject(store, now, sessions_in_hours=(4, 5, 6))
    for s in refunded.sessions:
        operations.cancel(store, refunded.member, s.id, "Ill", now)
    probes.append(
        Probe(
            "RefundFunction",
            "POST /sessions/{id}/refund (coach)",
            _http(
                *(
                    Request(
                        refunded.coach,
                        "POST",
                        f"/sessions/{s.id}/refund",
                        {"note": "Goodwill"},
                        idempotency_key=_key(),
                    )
                    for s in refunded.sessions
                )
            ),
        )
    )
    ledger = f"/accounts/personal-{canceler.member.id}/ledger"
    probes.append(
        Probe(
            "AccountsFunction",
            "GET /accounts/{id}/ledger",
            _http(*(Request(canceler.member, "GET", ledger) for _ in range(3))),
        )
    )
    service = f"/services/{booker.service.id}"
    probes.append(
        Probe(
            "ServicesFunction",
            "GET /services/{id}",
            _http(*(Request(booker.member, "GET", service) for _ in range(3))),
        )
    )
    probes.append(
        Probe(
            "DocsFunction",
            "GET /openapi.json",
            _http(*(Request(None, "GET", "/openapi.json") for _ in range(3))),
        )
    )

    streams = streams_client(endpoint)
    records: list[dict[str, Any]] = []
    while len(records) < 75:
        records += changes(client, streams, 5)
    probes.append(
        Probe(
            "NotifyFunction",
            "stream batch of 25 session changes",
            [{"Records": records[n * 25 : (n + 1) * 25]} for n in range(3)],
        )
    )

    # A sessions table of the sweep's own, without a stream: moto copies a table, stream and
    # all, for each item of each transaction, and the sweep writes 300 of them.
    swept = stack.new_settings()
    create_tables(client, {"SessionsTable": swept.sessions_table}, streams=False)
    filler = Filler(swept.sessions_table, now, swept.due_shards, endpoint_url=endpoint)
    filler.stale(100, now)
    filler.stale(100, now + timedelta(hours=3))  # due after the clock moves 2 hours
    filler.stale(100, now + timedelta(hours=5))  # due after it moves 2 more
    probes.append(
        Probe(
            "SweepFunction",
            "scheduled sweep of 100 stale sessions",
            [scheduled_event("bench") for _ in range(3)],
            advance_seconds=(0, 2 * HOURS, 2 * HOURS),
            environment={"SESSIONS_TABLE": swept.sessions_table},
        )
    )
    return probes


def _measure(probe: Probe, environment: dict[str, str], workdir: Path) -> dict[str, Any]:
    f = functions()[probe.logical_id]
    _, _, attribute = f.handler.rpartition(".")
    spec = {
        "path": str(f.module_path),
        "attribute": attribute,
        "function": f.name,
        "timeout": f.timeout,
        "memory_mb": MEMORY_SIZE_MB,
        "events": probe.events,
        "advance_seconds": list(probe.advance_seconds),
    }
    spec_path, result_path = workdir / f"{f.name}.json", workdir / f"{f.name}.out"
    spec_path.write_text(json.dumps(spec, default=str))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.probe", str(spec_path), str(result_path)],
        env={**environment, **(probe.environment or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{f.name} probe failed:\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(result_path.read_text())
    found["wall"] = time.perf_counter() - started
    return found


def run() -> Section:
    from local.moto_server import SerializedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise
    settings = stack.new_settings()
    with SerializedMotoServer() as server, tempfile.TemporaryDirectory() as workdir:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=server.url)
        create_tables(client, settings.table_names(), streams=True)
        queue = boto3.client("sqs", region_name=REGION, endpoint_url=server.url).create_queue(
            QueueName="bench-notify-dlq"
        )["QueueUrl"]
        boto3.client("sesv2", region_name=REGION, endpoint_url=server.url).create_email_identity(
            EmailIdentity=SENDER
        )
        secrets = create_secrets(
            boto3.client("secretsmanager", region_name=REGION, endpoint_url=server.url),
            template.load(),
        )
        store = Storage(client, settings)
        started = time.perf_counter()
        probes = _probes(client, server.url, store)
        seeding = time.perf_counter() - started
        environment = subprocess_environment(
            {
                "AWS_ENDPOINT_URL": server.url,
                "SESSIONS_TABLE": settings.sessions_table,
                "LEDGER_TABLE": settings.ledger_table,
                "IDEMPOTENCY_TABLE": settings.idempotency_table,
                "EMAILS_TABLE": settings.emails_table,
                "SENDER_EMAIL": SENDER,
                "SES_CONFIGURATION_SET": "",
                "APP_BASE_URL": settings.app_base_url,
                "DEAD_LETTER_QUEUE_URL": queue,
                "MANAGE_LINK_SECRET": secrets["ManageLinkKey"],
            }
        )
        results = {}
        for probe in probes:
            results[probe.logical_id] = _measure(probe, environment, Path(workdir))

    table = Table(
        "Memory: a warm invocation, each function in a fresh interpreter",
        [
            "function",
            "invocation",
            "RSS after import MB",
            "peak RSS, 2nd invocation MB",
            "of MemorySize",
            "heap peak, 3rd invocation KB",
            "answers",
        ],
    )
    order = [f.name for f in functions().values()]
    for probe in sorted(probes, key=lambda p: order.index(p.logical_id)):
        found = results[probe.logical_id]
        warm_mb = found["rss_warm_kb"] / 1024
        table.add(
            probe.logical_id,
            probe.what,
            f"{found['rss_import_kb'] / 1024:.1f}",
            f"{warm_mb:.1f}",
            f"{warm_mb / MEMORY_SIZE_MB:.0%}",
            f"{found['heap_peak_bytes'] / 1024:.0f}",
            " ".join(found["outcomes"]),
        )
    table.notes += [
        "RSS: the peak resident set (VmHWM) of the function's own process: the interpreter, "
        "the imports and the invocations; moto runs in the bench's process. "
        f"MemorySize is {MEMORY_SIZE_MB} MB for every function (template Globals).",
        "Heap peak: tracemalloc around the third invocation only (Python allocations; not "
        "the C libraries' own).",
        "Tracing is off here (no X-Ray daemon); in AWS the X-Ray SDK adds its segments.",
        f"Seeding through the moto server took {seeding:.0f} s; the probes "
        + ", ".join(f"{k} {v['wall']:.1f} s" for k, v in results.items())
        + ".",
    ]
    return Section(tables=[table])
