"""The sweep function end to end: the sample scheduled event, a Lambda context, moto tables.

The handler is loaded from its CodeUri as template.yaml names it, and reads the time from the
clock, so the stories are booked in a world seven hours behind it (``SWEEP_AFTER``): what is
stale there at ``sweep_at`` is stale now.
"""

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from coaching import runtime, sweep
from coaching.models import SessionStatus
from coaching.storage import Storage
from local.lambda_runtime import ROOT, LambdaContext, load_handler
from tests.builders import World
from tests.integration.steps import stored
from tests.integration.sweep.lambda_output import lines_of, metrics_in
from tests.integration.sweep.timeline import booking_request, fresh, stale

EVENT: dict[str, Any] = json.loads((ROOT / "events" / "sweep.json").read_text())
TIMEOUT_SECONDS = 120.0

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def handler(store: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Handler]:
    monkeypatch.setenv("SESSIONS_TABLE", store.sessions_table)
    monkeypatch.setenv("LEDGER_TABLE", store.ledger_table)
    runtime.reset()
    yield load_handler("functions/sweep/", "app.handler")
    runtime.reset()


def context(timeout_seconds: float = TIMEOUT_SECONDS) -> LambdaContext:
    return LambdaContext(function_name="SweepFunction", timeout_seconds=timeout_seconds)


def test_the_scheduled_sweep_reports_what_it_did(
    handler: Handler, past: World, capsys: pytest.CaptureFixture[str], logs: io.StringIO
) -> None:
    # Given one stale session of each kind among fresh ones
    due = stale(past)
    untouched = fresh(past)

    # When EventBridge invokes the function with its scheduled event
    reply = handler(EVENT, context())

    # (it reads every partition of the Due index once; then, where it changed sessions, their
    # shards again; the session whose end has passed since its request expired is completed
    # then, so its shard is read a third time, to find nothing)
    changed_shards = {past.store.due_partition(b.session.id) for b in due.all}
    pages = len(past.store.due_partitions()) + len(changed_shards) + 1

    # Then its answer says what it did, and that it finished
    assert reply == {
        "expired_bookings": 1,
        "expired_reschedules": 2,
        "completed": 2,
        "unchanged": 0,
        "reminders_fired": 0,
        "failed": 0,
        "query_failed": False,
        "items_read": 5,
        "capacity_units": reply["capacity_units"],
        "pages": pages,
        "finished": True,
    }
    assert stored(past, due.request.session.id).status is SessionStatus.EXPIRED
    assert stored(past, due.ended.session.id).status is SessionStatus.COMPLETED
    for booked in untouched:
        assert stored(past, booked.session.id).version == booked.session.version
    # ... and so do its metrics and its log line (which carries the event's id)
    assert metrics_in(capsys.readouterr().out) == {
        "SessionsExpired": 1,
        "RescheduleRequestsExpired": 2,
        "SessionsCompleted": 2,
        "SweepItemsRead": 5,
        "RemindersFired": 0,
    }
    [done] = [line for line in lines_of(logs) if line["message"] == "sweep done"]
    assert {k: done[k] for k in reply} == reply
    assert done["correlation_id"] == EVENT["id"]


def test_a_failing_session_makes_the_run_fail_after_the_others_were_swept(
    handler: Handler, past: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stale request, and another one whose paying account is gone
    request = booking_request(past)
    broken = request.session.model_copy(
        update={"id": f"{request.session.id}-broken", "account_id": "group-deleted"}
    )
    past.store.save_session(before=None, after=broken)

    # When the function runs, it fails (so the SweepErrorsAlarm fires)...
    with pytest.raises(sweep.SweepFailed, match="1 stale sessions could not be swept"):
        handler(EVENT, context())

    # ... but only after sweeping the healthy request and publishing its metrics
    assert stored(past, request.session.id).status is SessionStatus.EXPIRED
    assert stored(past, broken.id).status is SessionStatus.REQUESTED
    assert metrics_in(capsys.readouterr().out)["SessionsExpired"] == 1


def test_a_run_out_of_time_stops_cleanly_and_the_next_one_finishes(
    handler: Handler, past: World
) -> None:
    # Given stale sessions
    due = stale(past)

    # When one run is invoked with no time left
    starved = handler(EVENT, context(timeout_seconds=0))

    # Then it touched nothing and said it had not finished
    assert (starved["finished"], starved["pages"], starved["failed"]) == (False, 0, 0)
    assert all(stored(past, b.session.id).version == b.session.version for b in due.all)

    # When the next run has its full time, then it does everything
    next_run = handler(EVENT, context())
    assert next_run["finished"] is True
    done = next_run["expired_bookings"] + next_run["expired_reschedules"] + next_run["completed"]
    assert done == 5
