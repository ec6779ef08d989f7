"""Logs carry ids, codes and the request's correlation id, never emails, names or reasons."""

import pytest

from tests.api_client import Api
from tests.builders import World, member


def test_logs_hold_no_personal_data_and_carry_the_correlation_id(
    api: Api, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = member().model_copy(update={"name": "Alice Privatename"})
    service = world.service(credits=3)
    world.fund(alice, 10)
    session = world.book(alice, service)
    capsys.readouterr()

    # A refusal (logged with its code) and a cancel with a reason
    refused = api.post(alice, f"/sessions/{session.id}/refund", {})
    canceled = api.post(alice, f"/sessions/{session.id}/cancel", {"reason": "My divorce hearing"})
    output = capsys.readouterr().out

    assert refused.code == "FORBIDDEN"
    assert canceled.status == 200
    assert '"code":"FORBIDDEN"' in output.replace(" ", "")
    assert "correlation_id" in output
    for secret in (alice.email or "", "Alice Privatename", "My divorce hearing"):
        assert secret not in output
