"""The functions' metrics, invocation by invocation: an outcome labels the metrics of the
invocation it belongs to, and nothing one invocation records turns up in another's."""

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from coaching.observability import metrics
from tests.api_client import Api
from tests.builders import World, coach, member

from .api_steps import assert_ok, book

SERVICE = "coaching-sessions"  # POWERTOOLS_SERVICE_NAME in tests/conftest.py


def emitted(stdout: str) -> dict[str, dict[str, str]]:
    """Each metric the EMF documents in ``stdout`` carry, with the dimensions it was given."""
    found: dict[str, dict[str, str]] = {}
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            (dimensions,) = directive["Dimensions"]
            for metric in directive["Metrics"]:
                assert metric["Name"] not in found, f"{metric['Name']} printed twice"
                found[metric["Name"]] = {name: document[name] for name in dimensions}
    return found


@pytest.fixture
def powertools_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """What Powertools warns about, "Dimension 'outcome' has already been added" among it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _two_bookings(api: Api, given: World) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    alice = member()
    given.fund(alice, 20)
    service = given.service(by=coach(), credits=3, window_hours=24)
    refundable = book(api, alice, service, hours=72)
    late = book(api, alice, service, hours=12)  # inside the 24-hour window: nothing comes back
    return alice, refundable, late


def test_each_cancel_labels_its_own_metrics_and_the_next_invocation_carries_no_label(
    api: Api,
    given: World,
    capsys: pytest.CaptureFixture[str],
    powertools_warnings: list[warnings.WarningMessage],
) -> None:
    alice, refundable, late = _two_bookings(api, given)
    capsys.readouterr()

    assert_ok(api.post(alice, f"/sessions/{refundable['id']}/cancel", {}))
    first = emitted(capsys.readouterr().out)
    assert_ok(api.post(alice, f"/sessions/{late['id']}/cancel", {}))
    second = emitted(capsys.readouterr().out)
    assert_ok(api.get(alice, "/sessions", query={"view": "past"}))
    third = emitted(capsys.readouterr().out)

    refunded = {"outcome": "refunded", "service": SERVICE}
    assert first == {"SessionsCanceled": refunded, "CreditsRefunded": refunded}
    kept = {"outcome": "non_refundable", "service": SERVICE}
    assert second == {"SessionsCanceled": kept, "CreditsRefunded": kept}
    assert third == {}
    assert [str(w.message) for w in powertools_warnings if "Dimension" in str(w.message)] == []


def test_with_metrics_disabled_as_locally_no_invocation_leaves_a_label_for_the_next(
    api: Api,
    given: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    powertools_warnings: list[warnings.WarningMessage],
) -> None:
    # Given the local stack's setting: Powertools prints no metrics (and so never empties them)
    alice, refundable, late = _two_bookings(api, given)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()

    # When two cancels with different outcomes run in this process
    assert_ok(api.post(alice, f"/sessions/{refundable['id']}/cancel", {}))
    assert_ok(api.post(alice, f"/sessions/{late['id']}/cancel", {}))

    # Then nothing was printed, nothing is kept, and the second did not relabel the first
    assert emitted(capsys.readouterr().out) == {}
    assert metrics.metric_set == {}
    assert "outcome" not in metrics.dimension_set
    assert [str(w.message) for w in powertools_warnings if "Dimension" in str(w.message)] == []

    # ... and once metrics are printed again, the next invocation's carry only its own
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    book(api, alice, given.service(by=coach()), hours=96)
    assert emitted(capsys.readouterr().out) == {"SessionsBooked": {"service": SERVICE}}
