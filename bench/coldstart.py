"""Cold start as Lambda runs it: a fresh Python 3.13 importing a handler from a read-only layer.

In Lambda the function's package (``/var/task``) and the layer (``/opt``) are read-only, so
Python can neither find a bytecode cache it did not ship nor write one: whatever the layer
lacks as ``.pyc`` is compiled from source at every cold start. The bench reproduces that:

- the layer is the one ``shared/Makefile`` builds (lock, trim, Python 3.13 bytecode), built
  for this machine's architecture (``bench/layer.py``), since the arm64 build's pydantic-core
  cannot load here;
- it and each function's package (its template ``CodeUri``) are copied into a temporary
  folder made read-only (``chmod -R a-w``; as root that is not enforced, so
  ``PYTHONDONTWRITEBYTECODE=1`` and a check that no file appeared afterwards make sure);
- every sample is a new ``python3.13 -s`` process, no ``PYTHONPYCACHEPREFIX``, with the
  package and then the layer on ``PYTHONPATH``, that imports the handler's module by name as
  Lambda's runtime does (``docs/app.handler`` is the module ``docs.app``), timed with
  ``perf_counter`` around the import alone. Tracing is active, as with ``Tracing: Active``:
  Powertools' Tracer loads the X-Ray SDK and patches botocore at import. The process has the
  function's plain environment variables from the template (``PYDANTIC_DISABLE_PLUGINS``
  among them), as Lambda sets them.

The baseline is ``import boto3`` from the same read-only layer, precompiled: what any Python
function that talks to AWS pays. Each handler is measured twice: with the layer as built, and
with the same layer stripped of its ``.pyc`` files (how the layer shipped before it carried
bytecode), against the same baseline.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import median as middle
from typing import Any

from bench import first_request
from bench.env import AWS_ENVIRONMENT, ROOT
from bench.layer import host_layer, moto_site, python313
from bench.report import Section, Table, Target, median, ms
from local.template import Function, functions

RUNS = 7
"""Interpreters per row: a cold start's CPU time varies by a few per cent from one process to
the next. Each also imports moto and loads the request's tables (about a second, not timed), so
seven rather than more keep the section to a few minutes."""
SOURCE_RUNS = 3
"""Fewer samples for the layer without bytecode: each is several times slower, and its
figure only shows what the bytecode is worth."""
BREAKDOWN_RUNS = 5
MAX_RATIO = 2.0
"""Target: a function's cold start (import and first request) costs at most twice a
precompiled ``import boto3`` and one call through a new client."""
GOAL_RATIO = 1.5
"""Where we want every function: reported beside the target."""
TRACE_ID = "Root=1-65a1b2c3-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1"

PROBE = r"""
import importlib, json, os, sys, time

target = sys.argv[1]
started, cpu = time.perf_counter(), time.process_time()
if target == "boto3":
    import boto3
else:
    module, _, attribute = target.rpartition(".")
    handler = getattr(importlib.import_module(module.replace("/", ".")), attribute)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
found = {"seconds": seconds, "cpu": cpu, "modules": len(sys.modules)}

if len(sys.argv) > 2:
    # Not timed: moto, and the tables, queues, identity, bus and secret the request is served from.
    # (The layer's botocore keeps only the functions' services: SES v2 stands on v1's backend.)
    os.environ["MOTO_ALLOW_NONEXISTENT_REGION"] = "true"
    with open(sys.argv[2]) as f:
        state = json.load(f)
    with open(sys.argv[3]) as f:
        event = json.load(f)
    from moto import mock_aws
    from moto.core.models import DEFAULT_ACCOUNT_ID as ACCOUNT
    from moto.dynamodb.models import dynamodb_backends
    from moto.events.models import events_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.sesv2.models import sesv2_backends
    from moto.sqs.models import sqs_backends

    from moto.core.botocore_stubber import BotocoreStubber

    mock_aws().start()
    # moto's answer stands for DynamoDB's (and SES's...): a network round trip in Lambda, not
    # the function's CPU. Its time (its first request per service builds routers) is taken out.
    in_moto = {"seconds": 0.0, "cpu": 0.0}
    answering = BotocoreStubber.__call__

    def answer_timed(self, *args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return answering(self, *args, **kwargs)
        finally:
            in_moto["seconds"] += time.perf_counter() - started
            in_moto["cpu"] += time.process_time() - cpu

    BotocoreStubber.__call__ = answer_timed
    region = os.environ["AWS_REGION"]
    dynamodb = dynamodb_backends[ACCOUNT][region]
    for table in state["tables"]:
        create = table["create"]
        on_demand = create.get("BillingMode") == "PAY_PER_REQUEST"
        dynamodb.create_table(
            create["TableName"],
            schema=create["KeySchema"],
            throughput=(
                {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
                if on_demand
                else create.get("ProvisionedThroughput")
            ),
            attr=create["AttributeDefinitions"],
            global_indexes=create.get("GlobalSecondaryIndexes"),
            indexes=create.get("LocalSecondaryIndexes"),
            streams=create.get("StreamSpecification"),
            billing_mode="PAY_PER_REQUEST" if on_demand else "PROVISIONED",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        for item in table["items"]:
            dynamodb.put_item(create["TableName"], item)
    for name in state["queues"]:
        sqs_backends[ACCOUNT][region].create_queue(name)
    for address in state["identities"]:
        sesv2_backends[ACCOUNT][region].create_email_identity(address, None, None, None)
    for name in state["buses"]:
        events_backends[ACCOUNT][region].create_event_bus(name)
    for secret in state["secrets"]:
        secretsmanager_backends[ACCOUNT][region].create_secret(
            name=secret["name"], secret_string=secret["value"], secret_binary=None,
            description=None, tags=None, kms_key_id=None, client_request_token=None,
            replica_regions=[], force_overwrite=False,
        )

    class Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        function_version = "$LATEST"
        memory_limit_in_mb = 512
        aws_request_id = "c0ffee00-0000-4000-8000-000000000001"
        invoked_function_arn = (
            f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
        )
        log_group_name = f"/aws/lambda/{function_name}"
        log_stream_name = "bench"

        def get_remaining_time_in_millis(self):
            return 10_000

    context = Context()
    started, cpu = time.perf_counter(), time.process_time()
    if target == "boto3":
        answer = boto3.client("dynamodb").get_item(**event)
        answer = {"statusCode": 200 if "Item" in answer else 404}
    else:
        answer = handler(event, context)
    found["request_seconds"] = time.perf_counter() - started - in_moto["seconds"]
    found["request_cpu"] = time.process_time() - cpu - in_moto["cpu"]
    found["moto_cpu"] = in_moto["cpu"]
    answer = answer if isinstance(answer, dict) else {}
    found["status"] = answer.get("statusCode")
    found["failures"] = len(answer.get("batchItemFailures") or ())
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Request:
    """A probe's first request: the state file, the event's file, what must answer."""

    label: str
    state: Path
    event: Path
    environment: dict[str, str]
    moto: Path
    status: int | None


@dataclass
class Importer:
    label: str
    target: str  # "boto3" or the template's Handler
    task: Path  # the function's package, read-only (cwd and first on the path)
    layer: Path  # the layer's python folder, read-only
    function: str
    runs: int
    environment: dict[str, Any] = field(default_factory=dict)  # the template's, for the function
    first: Request | None = None
    """The first request, or None to time the import alone."""
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    request_seconds: list[float] = field(default_factory=list)
    request_cpu: list[float] = field(default_factory=list)
    moto_cpu: list[float] = field(default_factory=list)
    """CPU inside moto's answers during the request: taken out of ``request_cpu``."""
    modules: int = 0

    def command(self, python: str, *options: str) -> list[str]:
        requested = [str(self.first.state), str(self.first.event)] if self.first else []
        return [python, "-s", *options, "-c", PROBE, self.target, *requested]

    def env(self) -> dict[str, str]:
        """What a Lambda function's process sees, and nothing from this one: the template's
        plain variables (a ``!Ref`` names a table: the first request's tables stand in), then
        the bench's region and credentials, and a sampled trace as Lambda sets it."""
        env = {k: str(v) for k, v in self.environment.items() if not isinstance(v, dict)}
        env |= {k: v for k, v in AWS_ENVIRONMENT.items() if k != "POWERTOOLS_TRACE_DISABLED"}
        path = [str(self.task), str(self.layer)]
        if self.first is not None:
            env |= self.first.environment
            path.append(str(self.first.moto))  # last: the function imports the layer's own
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "LAMBDA_TASK_ROOT": str(self.task),
                "AWS_LAMBDA_FUNCTION_NAME": self.function,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "_HANDLER": self.target,
                "_X_AMZN_TRACE_ID": TRACE_ID,
                "PYTHONPATH": os.pathsep.join(path),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def total_cpu(self) -> list[float]:
        return [i + r for i, r in zip(self.cpu, self.request_cpu, strict=True)]

    def total_seconds(self) -> list[float]:
        return [i + r for i, r in zip(self.seconds, self.request_seconds, strict=True)]

    def clear(self) -> None:
        for samples in (
            self.seconds,
            self.cpu,
            self.request_seconds,
            self.request_cpu,
            self.moto_cpu,
        ):
            samples.clear()


def _run(python: str, t: Importer) -> None:
    done = subprocess.run(
        t.command(python), env=t.env(), cwd=t.task, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {t.label} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if t.first is not None:
        if found["failures"] or (t.first.status is not None and found["status"] != t.first.status):
            raise RuntimeError(
                f"{t.label}'s first request answered {found['status']} "
                f"({found['failures']} failed records):\n{done.stdout[-2000:]}"
            )
        t.request_seconds.append(found["request_seconds"])
        t.request_cpu.append(found["request_cpu"])
        t.moto_cpu.append(found["moto_cpu"])
    t.seconds.append(found["seconds"])
    t.cpu.append(found["cpu"])
    t.modules = int(found["modules"])


def _stage(root: Path, layer: Path, fns: list[Function]) -> dict[str, Path]:
    """Copy the layer (with and without bytecode) and the packages under ``root``."""
    skip = shutil.ignore_patterns("__pycache__")
    places = {"layer": root / "opt" / "python", "source-only layer": root / "opt-src" / "python"}
    shutil.copytree(layer, places["layer"])
    shutil.copytree(layer, places["source-only layer"], ignore=skip)
    for f in fns:
        places[f.name] = root / "task" / f.name
        shutil.copytree(ROOT / f.code_uri, places[f.name], ignore=skip)
    return places


def _snapshot(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


def _set_writable(root: Path, writable: bool) -> None:
    bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~bits))


def _breakdown(python: str, t: Importer) -> dict[str, float]:
    """Median self time of each package over a few ``-X importtime`` runs (the import alone:
    a request's moto would be counted with it)."""
    t = replace(t, first=None)
    samples: list[dict[str, float]] = []
    for _ in range(BREAKDOWN_RUNS):
        done = subprocess.run(
            t.command(python, "-X", "importtime"),
            env=t.env(),
            cwd=t.task,
            capture_output=True,
            text=True,
            check=False,
        )
        totals: dict[str, float] = {}
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if self_us.isdigit():
                group = _group(name, t.layer)
                totals[group] = totals.get(group, 0.0) + int(self_us) / 1e6
        samples.append(totals)
    groups = {g for s in samples for g in s}
    return {g: middle([s.get(g, 0.0) for s in samples]) for g in groups}


_PARTS = {
    "boto3": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "botocore": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "s3transfer": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "urllib3": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "dateutil": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "jmespath": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "six": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "pydantic": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "pydantic_core": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "annotated_types": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "typing_extensions": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "typing_inspection": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "aws_xray_sdk": "X-Ray SDK (the Tracer: aws_xray_sdk, wrapt)",
    "wrapt": "X-Ray SDK (the Tracer: aws_xray_sdk, wrapt)",
    "coaching": "our code (coaching, the handler module)",
}


def _group(module: str, layer: Path) -> str:
    """The part of the stack a module belongs to; Powertools by part, as it is the largest."""
    parts = module.split(".")
    if parts[0] == "aws_lambda_powertools":
        part = parts[1] if len(parts) > 1 else ""
        if part == "event_handler":
            return "Powertools event_handler (resolver, OpenAPI validation)"
        if part == "utilities":
            return "Powertools utilities (its event classes, typing, batch)"
        return "Powertools logging, metrics, tracing, shared"
    if parts[0] == "app" or parts[-1] == "app":
        return _PARTS["coaching"]
    if parts[0] in _PARTS:
        return _PARTS[parts[0]]
    if (layer / parts[0]).is_dir() or (layer / f"{parts[0]}.py").exists():
        return "other layer packages"
    return "standard library (whichever part imports it first)"


def _requests(root: Path, fns: list[Function]) -> tuple[dict[str, Request], Request]:
    """Each function's first request (by function name) and the baseline's ``GetItem``."""
    moto, _ = moto_site()
    state, prepared, call = first_request.prepare(root)
    environment = json.loads(state.read_text())["environment"]

    def request(name: str, label: str, event: Any, status: int | None) -> Request:
        path = root / f"event-{name}.json"
        path.write_text(json.dumps(event))
        return Request(label, state, path, environment, moto, status)

    found = {
        f.name: request(
            f.name,
            prepared[f.name].label,
            prepared[f.name].event,
            prepared[f.name].status,
        )
        for f in fns
    }
    return found, request("boto3", "one GetItem (a new client)", call, 200)


def run(runs: int = RUNS) -> Section:
    python = python313()
    layer, how = host_layer()
    fns = list(functions().values())
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        root = Path(scratch)
        places = _stage(root, layer, fns)
        requests, call = _requests(root / "opt", fns)
        before = _snapshot(root)
        _set_writable(root, False)
        try:
            baseline = Importer(
                "import boto3 (precompiled)",
                "boto3",
                places["layer"].parent,
                places["layer"],
                "Baseline",
                runs,
                first=call,
            )
            built = {
                f.name: Importer(
                    f.name,
                    f.handler,
                    places[f.name],
                    places["layer"],
                    f.name,
                    runs,
                    environment=f.environment,
                    first=requests[f.name],
                )
                for f in fns
            }
            source = {
                f.name: Importer(
                    f.name,
                    f.handler,
                    places[f.name],
                    places["source-only layer"],
                    f.name,
                    SOURCE_RUNS,
                    environment=f.environment,
                )
                for f in fns
            }
            everyone = [baseline, *built.values(), *source.values()]
            # The OS's file cache, warm for every row alike (not counted): the layer, moto, both
            # trees of the layer are read by these three; the packages are a few files each.
            for t in (baseline, next(iter(built.values())), next(iter(source.values()))):
                _run(python, t)
                t.clear()
            for round_ in range(runs):  # interleaved, so the machine's load hits all rows alike
                for t in everyone:
                    if round_ < t.runs:
                        _run(python, t)
            worst = max(built.values(), key=lambda t: median(t.total_cpu()))
            handler_parts = _breakdown(python, worst)
            boto3_parts = _breakdown(python, baseline)
        finally:
            _set_writable(root, True)
        written = sorted(_snapshot(root) - before)
    if written:
        raise RuntimeError(f"the read-only tree was written to: {written[:5]}")

    base = median(baseline.total_cpu())
    base_import, base_request = median(baseline.cpu), median(baseline.request_cpu)
    base_wall = median(baseline.total_seconds())
    table = Table(
        "Cold start: import + first request in a fresh Python 3.13, read-only layer, no "
        "bytecode cache",
        [
            "function",
            "first request",
            "import CPU ms",
            "request CPU ms",
            "sum CPU ms",
            "vs boto3",
            "moto's answers CPU ms (not counted)",
            "wall sum ms",
            "vs boto3 (wall)",
            "modules",
            "without .pyc: import ms",
            f"at most {MAX_RATIO:.1f}x",
            f"within {GOAL_RATIO:.1f}x",
        ],
    )
    table.add(
        baseline.label,
        call.label,
        ms(base_import),
        ms(base_request),
        ms(base),
        "1.00x",
        ms(median(baseline.moto_cpu)),
        ms(base_wall),
        "1.00x",
        baseline.modules,
        "-",
        "-",
        "-",
    )
    ratios = {name: median(t.total_cpu()) / base for name, t in built.items()}
    walls = {name: median(t.total_seconds()) / base_wall for name, t in built.items()}
    for name in sorted(ratios, key=lambda n: -ratios[n]):
        t = built[name]
        assert t.first is not None
        table.add(
            name,
            t.first.label,
            ms(median(t.cpu)),
            ms(median(t.request_cpu)),
            ms(median(t.total_cpu())),
            f"{ratios[name]:.2f}x",
            ms(median(t.moto_cpu)),
            ms(median(t.total_seconds())),
            f"{walls[name]:.2f}x",
            t.modules,
            ms(median(source[name].cpu)),
            "PASS" if ratios[name] <= MAX_RATIO else "FAIL",
            "yes" if ratios[name] <= GOAL_RATIO else "no",
        )
    table.notes += [
        f"Median of {runs} interpreters per row ({SOURCE_RUNS} for the layer without .pyc), "
        "interleaved. Each process imports the handler's module by name as Lambda's runtime "
        "does (timed: 'import'), then, untimed, imports moto and loads into it the tables, "
        "queue, sender identity and event bus the request needs (bench/first_request.py: made "
        "through the layer's operations, the same for every process), then serves its first "
        "event through the handler (timed: 'request'). The baseline imports boto3 (timed), "
        "then makes a DynamoDB client and reads one session with GetItem (timed).",
        "'CPU' is the process's CPU time (time.process_time), 'wall' the elapsed time "
        "(perf_counter). The ratios and the target use CPU time: on a shared machine the wall "
        "time mostly measures how long the process waited for a core; the CPU a cold start "
        "needs does not. A request's time counts botocore's models and every module the request "
        "imports on first use (which Lambda pays), not the time inside moto's answers (DynamoDB's, "
        "SES's, SQS's and EventBridge's side: a network round trip in Lambda), measured around "
        "moto's hook in botocore and shown apart.",
        "moto is imported after the handler, so modules it shares with the request (some of "
        "the standard library, werkzeug's, none of the layer's) are already loaded when the "
        "request starts: a little of the request's own import work is not counted, for the "
        "baseline as for the functions.",
        f"The layer: {how}; Python {python}. Same lock, trim and bytecode as the arm64 "
        "layer `make build` ships; only the wheels' architecture differs. Tracing is active "
        "(a sampled trace id, as Lambda sets it): segments go to a daemon that is not there.",
        "'without .pyc: import': the same layer with its __pycache__ folders removed, as it "
        "shipped before: read-only, so every imported module is compiled at every cold start "
        "(the import alone).",
        "Lambda runs arm64 with a share of a vCPU and adds its runtime's own start; compare "
        "ratios, not absolute numbers.",
    ]
    targets = [
        Target(
            f"{name}'s cold start (import + {built[name].first.label}) costs at most "  # type: ignore[union-attr]
            f"{MAX_RATIO:.1f}x import boto3 + one GetItem (goal {GOAL_RATIO:.1f}x)",
            ratios[name] <= MAX_RATIO,
            f"{ratios[name]:.2f}x ({ms(median(built[name].cpu))} + "
            f"{ms(median(built[name].request_cpu))} ms CPU against {ms(base_import)} + "
            f"{ms(base_request)}; wall {walls[name]:.2f}x; "
            + ("within" if ratios[name] <= GOAL_RATIO else "above")
            + f" {GOAL_RATIO:.1f}x)",
        )
        for name in sorted(ratios, key=lambda n: -ratios[n])
    ]
    where = Table(
        f"Cold start: what {worst.label}'s import is made of (self time, median of "
        f"{BREAKDOWN_RUNS} runs)",
        ["part", "ms", "share", "in import boto3 alone, ms", "beyond boto3, ms", "x boto3"],
    )
    total, alone = sum(handler_parts.values()), sum(boto3_parts.values())
    for group, seconds in sorted(handler_parts.items(), key=lambda kv: -kv[1]):
        more = seconds - boto3_parts.get(group, 0.0)
        where.add(
            group,
            ms(seconds),
            f"{seconds / total:.0%}",
            ms(boto3_parts.get(group, 0.0)),
            ms(more),
            f"{more / alone:+.2f}x",
        )
    where.add("all", ms(total), "100%", ms(alone), ms(total - alone), f"{total / alone:.2f}x")
    where.notes += [
        f"The costliest cold start ({worst.label}); its import alone, from python3.13 -X "
        "importtime on the same read-only layer (which slows imports a little): each "
        "module's own time, summed by part of the stack. 'beyond boto3' is what the handler's "
        "import pays that `import boto3` alone does not, as a share of boto3's import.",
        "A standard-library module counts where it is first imported: Powertools imports "
        "asyncio and ssl before the SDK does, for instance, so some of 'standard library' is "
        "the SDK's own need.",
    ]
    return Section(tables=[table, where], targets=targets)
