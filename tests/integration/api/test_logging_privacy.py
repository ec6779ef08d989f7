"""Logs carry ids, codes and the request's correlation id, never emails, names or reasons."""

import io
import json

import pytest

from coaching.observability import logger
from tests.api_client import Api
from tests.builders import World, member


def test_logs_hold_no_personal_data_and_carry_the_correlation_id(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The functions' logger writes JSON lines to its handler's stream: read them from here.
    lines = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", lines)
    alice = member().model_copy(update={"name": "Alice Privatename"})
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service)

    # A refusal (logged with its code) and a cancel with a reason
    refused = api.post(alice, f"/sessions/{session.id}/refund", {})
    canceled = api.post(alice, f"/sessions/{session.id}/cancel", {"reason": "My divorce hearing"})
    output = lines.getvalue()

    assert refused.code == "FORBIDDEN"
    assert canceled.status == 200
    assert '"code":"FORBIDDEN"' in output.replace(" ", "")
    assert '"correlation_id":' in output.replace(" ", "")
    for secret in (alice.email or "", "Alice Privatename", "My divorce hearing"):
        assert secret not in output


def test_each_invocation_s_log_lines_name_its_own_caller_and_no_other(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", lines)
    alice, bob = member(), member()
    world.fund(alice, 10)
    session = world.book(alice, world.service(credits=3))

    # Alice's refusal, then a body nobody can read (refused before any caller is known)
    # and Bob's own refusal
    api.post(alice, f"/sessions/{session.id}/refund", {})
    api.post(bob, f"/sessions/{session.id}/cancel", raw_body="{not json")
    api.post(bob, f"/sessions/{session.id}/refund", {})
    first, second, third = [json.loads(line) for line in lines.getvalue().splitlines()][-3:]

    assert first["caller_id"] == alice.id and first["code"] == "FORBIDDEN"
    assert second["code"] == "MALFORMED_REQUEST"
    assert "caller_id" not in second  # not Alice's, left over from her request
    assert third["caller_id"] == bob.id and third["code"] == "NOT_FOUND"
