"""Traces carry no request or response bodies: X-Ray must never hold names, emails or reasons.

The handlers run with the real X-Ray SDK switched on and an emitter that keeps what would be
sent to the daemon; the traces are then searched for what the request and answer held.
"""

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import patch, xray_recorder
from botocore.exceptions import ClientError

from coaching.observability import WithoutMessages, tracer
from coaching.storage import Storage
from local import template
from local.lambda_runtime import ROOT
from tests.api_client import Api
from tests.builders import World, member


class MemoryEmitter:
    """Keeps each entity the recorder would send to the X-Ray daemon, as the daemon gets it."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity.serialize())

    def set_daemon_address(self, address: str | None) -> None:
        """The recorder tells its emitter where the daemon is; a memory needs no address."""


@pytest.fixture
def traces() -> Iterator[MemoryEmitter]:
    """X-Ray on, in memory, around one segment (Lambda would open it before the handler)."""
    emitter = MemoryEmitter()
    # What the functions' tracer put in place: the daemon's emitter, wrapped (observability).
    wrapper = xray_recorder.emitter
    assert isinstance(wrapper, WithoutMessages)
    previous = wrapper.inner
    global_sdk_config.set_sdk_enabled(True)
    wrapper.inner = emitter
    xray_recorder.configure(sampling=False, context_missing="LOG_ERROR")
    xray_recorder.begin_segment("coaching-test")
    try:
        yield emitter
    finally:
        if xray_recorder.current_segment() is not None:
            xray_recorder.end_segment()
        wrapper.inner = previous
        global_sdk_config.set_sdk_enabled(False)


def _traced(emitter: MemoryEmitter) -> str:
    xray_recorder.end_segment()
    return "\n".join(emitter.sent)


def test_a_cancel_leaves_no_name_email_or_reason_in_the_trace(
    api: Api, world: World, traces: MemoryEmitter
) -> None:
    alice = member().model_copy(
        update={"name": "Alice Privatename", "email": "alice.private@example.com"}
    )
    world.fund(alice, 10)
    session = world.book(alice, world.service(credits=3))

    reply = api.post(alice, f"/sessions/{session.id}/cancel", {"reason": "My divorce hearing"})
    traced = _traced(traces)

    assert reply.status == 200 and "My divorce hearing" in reply.text  # the answer has them ...
    assert "## handler" in traced  # ... the handler was traced ...
    for secret in ("Alice Privatename", "alice.private@example.com", "My divorce hearing"):
        assert secret not in traced  # ... and the trace holds none of them
    assert "handler response" not in traced


def test_the_emitter_would_see_a_captured_response(traces: MemoryEmitter) -> None:
    """The search above can fail: a handler that captures its answer shows it in the trace."""

    @tracer.capture_lambda_handler(capture_response=True)
    def leaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"body": json.dumps({"reason": event["reason"]})}

    leaky({"reason": "My divorce hearing"}, None)

    assert "My divorce hearing" in _traced(traces)


def test_the_template_tells_powertools_to_capture_no_response_and_no_error() -> None:
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]

    assert str(variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"]).lower() == "false"
    assert str(variables["POWERTOOLS_TRACER_CAPTURE_ERROR"]).lower() == "false"


def _tracer_decorators() -> Iterator[tuple[str, ast.expr]]:
    for folder in ("functions", "shared/coaching"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for decorator in node.decorator_list:
                        if "tracer.capture" in ast.unparse(decorator):
                            yield f"{Path(file).relative_to(ROOT)}:{node.name}", decorator


def test_every_tracer_decorator_in_the_code_turns_capturing_off() -> None:
    found = list(_tracer_decorators())

    assert len(found) >= 3, found  # the HTTP entry point, notify and sweep
    for where, decorator in found:
        assert isinstance(decorator, ast.Call), f"{where} captures by default"
        flags = {k.arg: ast.unparse(k.value) for k in decorator.keywords}
        assert flags.get("capture_response") == "False", where
        assert flags.get("capture_error") == "False", where


def test_an_aws_error_s_message_stays_out_of_the_trace_and_its_type_stays_in(
    store: Storage, traces: MemoryEmitter
) -> None:
    # Patched as Powertools patches it in Lambda (the suite runs with tracing off, which skips
    # the patch); with the SDK switched off again after this test, the patch passes calls on.
    patch(["botocore"])
    # AWS's messages may quote what the request held; this one names the undefined placeholder.
    with pytest.raises(ClientError, match="alice_private_example_com"):
        store._db.update_item(
            TableName=store.sessions_table,
            Key={"pk": {"S": "x"}, "sk": {"S": "y"}},
            UpdateExpression="SET reason = :alice_private_example_com",
        )

    traced = _traced(traces)

    assert '"operation": "UpdateItem"' in traced  # the call is traced, its failure too ...
    assert '"exceptions"' in traced and '"type": "ClientError"' in traced
    assert "alice_private_example_com" not in traced  # ... without the message that quoted it
