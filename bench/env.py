"""What every section shares: the dummy AWS environment, the template's functions and tables,
and invoking a handler with the event API Gateway would send.
"""

import gc
import importlib.metadata
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.capacity import Index

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
SENDER = "sessions@example.com"

# Dummy credentials and a fixed region: nothing here may reach AWS. Tracing is off (there is no
# X-Ray daemon); logging stays at the template's INFO, so handlers pay for their log lines.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "coaching-sessions",
    "POWERTOOLS_METRICS_NAMESPACE": "CoachingSessionsBench",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def configure_process() -> None:
    """This process's environment for the in-process sections (before any handler import), and
    moto as the tests and the local stack run it: patched so that a transaction copies the
    items it names, not whole tables (``local/moto_patch.py``), and a query reads the partition
    it names, not the whole table (``local/moto_index.py``): moto's own time, not what DynamoDB
    would read, which the answers (and so the recorded capacity) still show unchanged."""
    from local import moto_index

    os.environ.update(AWS_ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    moto_index.install()


def subprocess_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child interpreter's environment: the layer and the repo importable, as in Lambda."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(AWS_ENVIRONMENT)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])
    env.update(extra or {})
    return env


def settle_garbage() -> None:
    """Collect the setup's garbage and freeze what is left (moto and its data, botocore's
    models, the handlers) before a timed call: the bench's process holds far more than a
    function's, and the collector walking all of it in the middle of a timed request is not
    the request's cost. ``python -m bench`` unfreezes after each section."""
    gc.collect()
    gc.freeze()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- the template -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSchema:
    keys: tuple[str, ...]
    indexes: list[Index]


def table_schemas(names: Mapping[str, str]) -> dict[str, TableSchema]:
    """Key and index layout of each table named in ``names`` (logical id -> physical name)."""
    from local.template import table_definitions

    schemas = {}
    for logical_id, definition in table_definitions().items():
        if logical_id not in names:
            continue
        create = definition["create"]
        keys = tuple(k["AttributeName"] for k in create["KeySchema"])
        indexes = [
            Index(
                name=g["IndexName"],
                keys=tuple(k["AttributeName"] for k in g["KeySchema"]),
                projection=_projected(g["Projection"]),
                table_keys=keys,
            )
            for g in create.get("GlobalSecondaryIndexes", [])
        ]
        schemas[names[logical_id]] = TableSchema(keys=keys, indexes=indexes)
    return schemas


def _projected(projection: Mapping[str, Any]) -> tuple[str, ...] | None:
    """An index's non-key attributes: None for ALL, () for KEYS_ONLY."""
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return None
    if kind == "KEYS_ONLY":
        return ()
    return tuple(projection.get("NonKeyAttributes", []))


# --- invoking handlers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    caller: Any
    method: str
    path: str
    body: Any = None
    query: Mapping[str, str] | None = None
    idempotency_key: str | None = None


@dataclass
class Invocation:
    """A handler and the event it will get, built before the clock starts."""

    handler: Callable[[dict[str, Any], Any], Any]
    event: dict[str, Any]
    function: str
    timeout: float

    def context(self) -> Any:
        from local.lambda_runtime import LambdaContext

        return LambdaContext(self.function, self.timeout)

    def timed(self) -> tuple[Any, float]:
        """The handler's answer and its wall time, the context made and the garbage settled
        before the clock starts."""
        context = self.context()
        settle_garbage()
        started = time.perf_counter()
        answer = self.handler(self.event, context)
        return answer, time.perf_counter() - started


def invocation(function: str, event: dict[str, Any]) -> Invocation:
    """The template's function (by logical id) with its handler loaded, and ``event``."""
    from local.lambda_runtime import load_handler
    from local.template import functions

    found = functions()[function]
    return Invocation(
        handler=load_handler(found.code_uri, found.handler),
        event=event,
        function=found.name,
        timeout=found.timeout,
    )


def http_request_event(request: Request) -> tuple[Any, dict[str, Any]]:
    """The template's route for ``request`` and the HTTP API v2 event API Gateway sends."""
    from local.lambda_runtime import http_event, jwt_claims
    from local.routes import find, http_routes

    found = find(http_routes(), request.method, request.path)
    if found is None:
        raise LookupError(f"no route for {request.method} {request.path}")
    route, parameters = found
    headers = {"content-type": "application/json"}
    if request.idempotency_key:
        headers["idempotency-key"] = request.idempotency_key
    event = http_event(
        method=request.method,
        path=request.path,
        route_key=route.key,
        path_parameters=parameters,
        query=request.query,
        headers=headers,
        body=None if request.body is None else json.dumps(request.body),
        claims=None if request.caller is None else jwt_claims(request.caller),
    )
    return route, event


def http_invocation(request: Request) -> Invocation:
    """The template's route for ``request``, its handler, and an HTTP API v2 event for it."""
    route, event = http_request_event(request)
    return invocation(route.function, event)


def is_session_record(record: Mapping[str, Any]) -> bool:
    """The template's filter on the notify function's stream: session items only."""
    return bool(record["dynamodb"]["Keys"].get("sk", {}).get("S") == "SESSION")


def machine() -> dict[str, str]:
    """Where the figures were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "nproc": str(len(affinity(0)) if affinity else os.cpu_count()),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "moto": importlib.metadata.version("moto"),
        "boto3": importlib.metadata.version("boto3"),
        "powertools": importlib.metadata.version("aws-lambda-powertools"),
    }
