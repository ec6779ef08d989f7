"""What the Lambda service gives a handler: the HTTP API v2 event, a context, the handler itself.

Shared by the local gateway and the tests, so both invoke functions exactly as AWS would: the
handler named in ``template.yaml``, loaded from its ``CodeUri``, with the event API Gateway sends.
"""

import base64
import importlib.util
import os
import sys
import time
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from coaching import clock
from local.template import TEMPLATE

ROOT = TEMPLATE.parent


@dataclass
class LambdaContext:
    """The remaining time counts real (monotonic) seconds, not the functions' clock: it is how
    long this invocation may still run, which time travel does not change."""

    function_name: str
    timeout_seconds: float = 10.0
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self._started)
        return max(0, int(left * 1000))


def use_zone_rules_of(environment: Mapping[str, str]) -> None:
    """Read time zones from where ``environment``'s ``PYTHONTZPATH`` says, as a function started
    with it would: empty, the pinned tzdata package, not this machine's database. Python reads
    the variable when zoneinfo is first imported, which in a process that hosts the functions
    has happened long before their environment is known."""
    if "PYTHONTZPATH" not in environment:
        return
    paths = [p for p in environment["PYTHONTZPATH"].split(os.pathsep) if p]
    zoneinfo.reset_tzpath(to=paths)
    zoneinfo.ZoneInfo.clear_cache()


_modules: dict[Path, ModuleType] = {}


def load_handler(code_uri: str, handler: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import ``handler`` ("app.handler", "docs/app.handler") from ``code_uri`` once."""
    module_path, _, attribute = handler.rpartition(".")
    path = (ROOT / code_uri / f"{module_path}.py").resolve()
    module = _modules.get(path)
    if module is None:
        name = "lambda_" + "_".join(path.relative_to(ROOT).with_suffix("").parts)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[path] = module
    function: Callable[[dict[str, Any], Any], Any] = getattr(module, attribute)
    return function


def http_event(
    *,
    method: str,
    path: str,
    route_key: str,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the JWT authorizer passes it on."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    is_binary = isinstance(body, bytes)
    if isinstance(body, bytes):
        try:
            text: str | None = body.decode("utf-8")
            is_binary = False
        except UnicodeDecodeError:
            text = base64.b64encode(body).decode()
    else:
        text = body
    # API Gateway stamps the request; locally that is the functions' clock, time travel included.
    now = clock.current().now().timestamp()
    context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": lowered.get("host", "127.0.0.1"),
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": lowered.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        context["authorizer"] = {
            "jwt": {"claims": {k: _claim(v) for k, v in claims.items()}, "scopes": None}
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": lowered,
        "requestContext": context,
        "isBase64Encoded": is_binary,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if text is not None:
        event["body"] = text
    return event


def jwt_claims(caller: Any) -> dict[str, Any]:
    """The verified JWT claims for a ``coaching.models.Caller``, as a token would carry them."""
    claims: dict[str, Any] = {
        "sub": caller.id,
        "cognito:groups": [caller.role.value],  # where the deployed API reads roles from
        "zoneinfo": caller.timezone,
    }
    if caller.email:
        claims["email"] = caller.email
        claims["email_verified"] = True
    if caller.name:
        claims["name"] = caller.name
    return claims


def _claim(value: Any) -> Any:
    """The HTTP API passes claims on as strings; lists become "[a b]"."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else str(value)
