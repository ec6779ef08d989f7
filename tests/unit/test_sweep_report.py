"""What a sweep reports: its time budget, its result, and what its logs may say about a failure.

Pure: no AWS. The sweep loop itself runs against moto in tests/integration/sweep.
"""

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from coaching import sweep
from coaching.errors import NotFound
from coaching.models import Person
from coaching.storage.dynamodb import storage_failure

PERSONAL = "zelda.quince@example.com"


# --- the time budget ---------------------------------------------------------------------------


class Remaining:
    """A Lambda context's get_remaining_time_in_millis, moved by hand."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def __call__(self) -> int:
        return self.millis


def test_the_budget_stops_a_safety_margin_before_the_timeout() -> None:
    # Given a function with two minutes left
    remaining = Remaining(120_000)

    # When the budget is derived from it
    budget = sweep.time_budget(remaining)

    # Then the sweep may spend all but the margin, and must stop once only the margin is left
    assert budget() == 120 - sweep.SAFETY_MARGIN_SECONDS
    remaining.millis = int(sweep.SAFETY_MARGIN_SECONDS * 1000) + 500
    assert budget() == pytest.approx(0.5)
    remaining.millis = int(sweep.SAFETY_MARGIN_SECONDS * 1000)
    assert budget() <= 0


def test_a_short_timeout_keeps_a_quarter_of_its_time_as_the_margin() -> None:
    # Given a run with eight seconds, less than the margin itself
    remaining = Remaining(8_000)

    # When the budget is derived from it
    budget = sweep.time_budget(remaining)

    # Then it still sweeps for six seconds, keeping two
    assert budget() == 6.0
    remaining.millis = 2_000
    assert budget() == 0.0


def test_no_time_left_means_no_budget() -> None:
    assert sweep.time_budget(Remaining(0))() == 0.0


# --- the result ----------------------------------------------------------------------------------


def test_a_result_with_failures_raises_and_one_without_does_not() -> None:
    clean = sweep.SweepResult(expired_bookings=1, expired_reschedules=2, completed=3, finished=True)
    assert clean.changed == 6 and clean.ok
    clean.raise_for_failures()

    with pytest.raises(sweep.SweepFailed, match=r"^2 stale sessions could not be swept$"):
        sweep.SweepResult(completed=3, failed=2, finished=True).raise_for_failures()
    with pytest.raises(sweep.SweepFailed, match="Due index could not be read"):
        sweep.SweepResult(query_failed=True).raise_for_failures()


# --- what a log may say about a failure -------------------------------------------------------


def _raised(error: Exception) -> Exception:
    """The error as it arrives in an except clause, traceback and all."""
    try:
        raise error
    except Exception as caught:
        return caught


def test_a_validation_error_is_described_without_the_values_it_quotes() -> None:
    # Given an error whose text quotes personal data
    try:
        Person.model_validate({"id": f"Zelda Quince <{PERSONAL}>", "name": "Zelda Quince"})
    except ValidationError as caught:
        error = caught
    assert PERSONAL in str(error)

    # When it is described for the logs
    facts = sweep.describe(error)

    # Then its type and where it was raised are there, the data is not
    assert facts["error"] == "ValidationError"
    assert "raised_at" in facts
    assert PERSONAL not in str(facts) and "Zelda" not in str(facts)


def test_a_domain_error_is_described_by_its_code() -> None:
    facts = sweep.describe(_raised(NotFound(f"No such account for {PERSONAL}.")))

    assert facts["error"] == "NotFound" and facts["code"] == "NOT_FOUND"
    assert facts["raised_at"].startswith("test_sweep_report.py:")
    assert PERSONAL not in str(facts)


def test_a_storage_error_is_described_by_its_code() -> None:
    error = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": PERSONAL}},
        "TransactWriteItems",
    )

    facts = sweep.describe(_raised(storage_failure(error)))

    assert facts["error"] == "StorageUnavailable"
    assert facts["code"] == "ProvisionedThroughputExceededException"
    assert PERSONAL not in str(facts)


def test_an_error_never_raised_has_no_place() -> None:
    assert sweep.describe(RuntimeError(PERSONAL)) == {"error": "RuntimeError"}
