"""Which of the project's errors an AWS error leaves storage as: never botocore's own."""

from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError, ReadTimeoutError

from coaching.errors import (
    KeyAlreadyUsed,
    SlotTaken,
    StaleRead,
    StorageFailed,
    StorageUnavailable,
    TransientConflict,
)
from coaching.storage.dynamodb import ConditionFailed, aws_errors, meaning_of, storage_failure

PERSONAL = "ann@example.com"
"""AWS messages can quote item values; no project error may carry them."""


def client_error(code: str, status: int = 400, **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": f"about {PERSONAL}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, "SomeOperation")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
    ],
)
def test_a_busy_dynamodb_may_answer_later(code: str) -> None:
    failure = storage_failure(client_error(code))

    assert isinstance(failure, StorageUnavailable) and failure.code == code
    assert PERSONAL not in str(failure)


def test_any_5xx_answer_may_pass_later() -> None:
    assert isinstance(storage_failure(client_error("Whatever", 503)), StorageUnavailable)


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "AccessDeniedException", "ValidationException"]
)
def test_a_refusal_no_retry_changes_is_a_failure_not_a_wait(code: str) -> None:
    failure = storage_failure(client_error(code))

    assert type(failure) is StorageFailed and failure.code == code
    assert PERSONAL not in str(failure)


def test_no_answer_in_time_may_pass_later() -> None:
    timeout = ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

    failure = storage_failure(timeout)

    assert isinstance(failure, StorageUnavailable) and failure.code == "ReadTimeoutError"


def test_a_request_the_client_would_not_send_is_a_failure() -> None:
    failure = storage_failure(ParamValidationError(report="bad"))

    assert type(failure) is StorageFailed and failure.code == "ParamValidationError"


def test_a_failed_condition_keeps_the_item_dynamodb_returned_for_its_store() -> None:
    failure = storage_failure(
        client_error("ConditionalCheckFailedException", Item={"pk": {"S": "k"}})
    )

    assert isinstance(failure, ConditionFailed) and failure.item == {"pk": {"S": "k"}}


def test_around_a_call_botocore_errors_leave_as_the_projects_own() -> None:
    with pytest.raises(StorageFailed) as raised, aws_errors():
        raise client_error("ResourceNotFoundException")

    assert not isinstance(raised.value, ClientError)
    assert isinstance(raised.value.__cause__, ClientError)  # kept for the traceback


def canceled(*reasons: str) -> ClientError:
    return client_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": r} for r in reasons]
    )


@pytest.mark.parametrize(
    ("error", "tags", "meaning"),
    [
        (canceled("None", "ConditionalCheckFailed"), ["session", "receipt"], KeyAlreadyUsed),
        (canceled("ConditionalCheckFailed", "None"), ["session", "slot-claim"], StaleRead),
        (canceled("None", "ConditionalCheckFailed"), ["session", "slot-claim"], SlotTaken),
        (canceled("None", "ConditionalCheckFailed"), ["new", "entry"], StaleRead),
        (canceled("None", "TransactionConflict"), ["session", "account"], TransientConflict),
        (client_error("TransactionConflictException"), ["session"], TransientConflict),
        (canceled("None", "ValidationError"), ["session", "account"], StorageFailed),
        (client_error("ResourceNotFoundException"), ["session"], StorageFailed),
        (client_error("InternalServerError", 500), ["session"], StorageUnavailable),
    ],
)
def test_a_refused_transaction_means_what_its_reasons_say(
    error: ClientError, tags: list[Any], meaning: type[Exception]
) -> None:
    found = meaning_of(error, tags)

    assert type(found) is meaning
    assert not isinstance(found, ClientError) and PERSONAL not in str(found)
