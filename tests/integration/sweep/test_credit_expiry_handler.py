"""The credit expiry function end to end: its sample scheduled event, a Lambda context, moto
tables. It is apart from the sessions' sweep (its own schedule, every 5 minutes): these stories
show it does the credits' work, and that the sessions' sweep leaves that work to it.

The handlers are loaded from their CodeUri as template.yaml names them, and read the time from
the clock, so the credits are granted in a world seven hours behind it (``SWEEP_AFTER``).
"""

import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from coaching import operations, runtime, sweep
from coaching.models import EntryKind, personal_account_id
from coaching.storage import Storage
from local.lambda_runtime import ROOT, LambdaContext, load_handler
from local.template import functions
from tests.builders import World, member, support
from tests.integration.sweep.lambda_output import lines_of, metrics_in

EVENT: dict[str, Any] = json.loads((ROOT / "events" / "credit-expiry.json").read_text())
SWEEP_EVENT: dict[str, Any] = json.loads((ROOT / "events" / "sweep.json").read_text())

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load(logical_id: str) -> Handler:
    function = functions()[logical_id]
    return load_handler(function.code_uri, function.handler)


@pytest.fixture
def tables(store: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SESSIONS_TABLE", store.sessions_table)
    monkeypatch.setenv("LEDGER_TABLE", store.ledger_table)
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def handler(tables: None) -> Handler:
    return load("CreditExpiryFunction")


def context(timeout_seconds: float = 120.0) -> LambdaContext:
    return LambdaContext(function_name="CreditExpiryFunction", timeout_seconds=timeout_seconds)


def expired_package(past: World) -> str:
    """A member's account: 4 credits that expired six hours ago, unused, and 1 that never
    expires. Its id."""
    account = personal_account_id(member().id)
    ends = past.now + timedelta(hours=1)
    operations.grant(past.store, support(), account, 4, None, past.now, expires_at=ends)
    operations.grant(past.store, support(), account, 1, None, past.now)
    return account


def expiries(world: World, account_id: str) -> list[int]:
    """The credits of each EXPIRE entry in the account's ledger."""
    return [e.credits for e in world.entries(account_id) if e.kind is EntryKind.EXPIRE]


def test_the_scheduled_run_expires_what_is_due_and_reports_it(
    handler: Handler, past: World, capsys: pytest.CaptureFixture[str], logs: io.StringIO
) -> None:
    # Given credits that expired unused, beside credits that never expire
    account = expired_package(past)

    # When EventBridge invokes the function with its scheduled event
    reply = handler(EVENT, context())

    # Then the 4 leave with one EXPIRE entry, and its answer says so and that it finished
    assert (past.balance(account), expiries(past, account)) == (1, [-4])
    assert reply == {
        "expired_lots": 1,
        "warned_lots": 0,
        "waited": 0,
        "closed": 0,
        "unchanged": 0,
        "failed": 0,
        "query_failed": False,
        "items_read": reply["items_read"],
        "capacity_units": reply["capacity_units"],
        "pages": len(past.store.lot_due_partitions()),
        "finished": True,
    }
    assert reply["items_read"] >= 1
    # ... and so do its metrics and its log line (which carries the event's id)
    assert metrics_in(capsys.readouterr().out) == {
        "CreditLotsExpired": 1,
        "CreditLotsWarned": 0,
        "LotSweepItemsRead": reply["items_read"],
    }
    [done] = [line for line in lines_of(logs) if line["message"] == "credit expiry done"]
    assert {k: done[k] for k in reply} == reply
    assert done["correlation_id"] == EVENT["id"]

    # When it runs again, then nothing is taken twice
    again = handler(EVENT, context())
    assert (again["expired_lots"], again["finished"]) == (0, True)
    assert (past.balance(account), expiries(past, account)) == (1, [-4])


def test_the_sessions_sweep_leaves_credits_that_expire_to_this_function(
    tables: None, past: World
) -> None:
    # Given credits that expired unused
    account = expired_package(past)

    # When the sessions' sweep runs, then it neither takes them nor says anything of credits
    swept = load("SweepFunction")(SWEEP_EVENT, context())
    assert "credits" not in swept and "expired_lots" not in swept
    assert past.balance(account) == 5

    # When the credit expiry function runs, then they leave
    assert load("CreditExpiryFunction")(EVENT, context())["expired_lots"] == 1
    assert past.balance(account) == 1


def test_a_run_with_no_time_left_touches_nothing_and_the_next_one_finishes(
    handler: Handler, past: World
) -> None:
    account = expired_package(past)

    starved = handler(EVENT, context(timeout_seconds=0))

    assert (starved["finished"], starved["pages"], starved["expired_lots"]) == (False, 0, 0)
    assert past.balance(account) == 5
    assert handler(EVENT, context())["finished"] is True
    assert past.balance(account) == 1


def test_an_unreadable_index_fails_the_run_after_reporting_it(
    handler: Handler,
    past: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a ledger table the function cannot read (gone, or its permission taken away)
    account = expired_package(past)
    monkeypatch.setenv("LEDGER_TABLE", f"{past.store.ledger_table}-gone")
    runtime.reset()

    # When it runs, it fails (so the CreditExpiryErrorsAlarm fires) and changes nothing...
    with pytest.raises(sweep.SweepFailed, match="the ledger's Due index could not be read"):
        handler(EVENT, context())

    assert past.balance(account) == 5
    # ... after publishing what it did
    assert metrics_in(capsys.readouterr().out)["CreditLotsExpired"] == 0
