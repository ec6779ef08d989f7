"""A fault of ours (an exception nobody expected) answers a 500 problem, and leaks nothing."""

import io
import json

import pytest

from coaching import operations
from coaching.observability import logger
from coaching.storage import Storage
from tests.api_client import Api
from tests.builders import World, member

from .api_steps import assert_problem, book


def test_an_unexpected_exception_is_a_500_problem_without_its_message(
    api: Api,
    given: World,
    store: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = io.StringIO()  # the functions' logger writes JSON lines to its handler's stream
    monkeypatch.setattr(logger.registered_handler, "stream", lines)
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3))

    address = "alice@example.com"

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom for {address}")  # the log shows this line, not the message

    monkeypatch.setattr(operations, "quote_cancellation", broken)
    reply = api.get(alice, f"/sessions/{session['id']}/cancellation")

    assert_problem(reply, 500, "INTERNAL_ERROR")
    assert "alice@example.com" not in reply.text
    logged = lines.getvalue()
    assert "alice@example.com" not in logged
    faults = [json.loads(line) for line in logged.splitlines() if "unexpected fault" in line]
    assert [f["error_type"] for f in faults] == ["RuntimeError"]


def test_a_table_dynamodb_cannot_find_is_a_500_problem_logged_as_a_storage_failure(
    api: Api,
    store: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", lines)
    store._db.delete_table(TableName=store.sessions_table)

    reply = api.get(member(), "/sessions")

    assert_problem(reply, 500, "INTERNAL_ERROR")
    faults = [json.loads(line) for line in lines.getvalue().splitlines() if "unexpected" in line]
    assert [f["error_type"] for f in faults] == ["StorageFailed"]
