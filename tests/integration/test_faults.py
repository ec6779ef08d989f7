"""``local.faults``: when an armed fault strikes, against moto's DynamoDB in process."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.faults import Faults, FunctionKilled
from local.template import create_tables
from tests.builders import unique


def _s(value: str) -> dict[str, str]:
    return {"S": value}


@pytest.fixture
def table(aws: None) -> tuple[Any, str]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    name = unique("Emails")
    create_tables(client, {"EmailsTable": name})
    return client, name


@pytest.fixture
def faults(table: tuple[Any, str]) -> Faults:
    found = Faults({"cancel", "sessions", "notify"})
    found.install(table[0])
    return found


def _put(table: tuple[Any, str], key: str, condition: str | None = None) -> None:
    client, name = table
    put: dict[str, Any] = {"TableName": name, "Item": {"pk": _s(key)}}
    if condition:
        put["ConditionExpression"] = condition
    client.transact_write_items(TransactItems=[{"Put": put}])


def _exists(table: tuple[Any, str], key: str) -> bool:
    client, name = table
    return "Item" in client.get_item(TableName=name, Key={"pk": _s(key)})


def test_before_commit_kills_the_invocation_before_anything_is_written(
    table: tuple[Any, str], faults: Faults
) -> None:
    faults.arm("cancel", "before_commit", 1)

    with pytest.raises(FunctionKilled) as killed, faults.running("cancel"):
        _put(table, "a")

    assert (killed.value.function, killed.value.when) == ("cancel", "before_commit")
    assert not _exists(table, "a")
    assert faults.armed() == []


def test_after_commit_kills_the_invocation_once_the_change_is_written(
    table: tuple[Any, str], faults: Faults
) -> None:
    faults.arm("cancel", "after_commit", 1)

    with pytest.raises(FunctionKilled), faults.running("cancel"):
        _put(table, "a")

    assert _exists(table, "a")
    assert faults.armed() == []


def test_a_refused_transaction_commits_nothing_so_after_commit_waits_for_the_next(
    table: tuple[Any, str], faults: Faults
) -> None:
    _put(table, "a")
    faults.arm("cancel", "after_commit", 1)

    with pytest.raises(ClientError), faults.running("cancel"):
        _put(table, "a", condition="attribute_not_exists(pk)")

    assert faults.armed() == [{"function": "cancel", "when": "after_commit", "count": 1}]
    with pytest.raises(FunctionKilled), faults.running("cancel"):
        _put(table, "b")
    assert _exists(table, "b")


def test_only_the_first_transaction_of_an_armed_invocation_is_struck(
    table: tuple[Any, str], faults: Faults
) -> None:
    faults.arm("cancel", "before_commit", 2)

    with faults.running("cancel"):
        with pytest.raises(FunctionKilled):
            _put(table, "a")
        _put(table, "b")  # the same invocation, were it to go on: not its commit
    with pytest.raises(FunctionKilled), faults.running("cancel"):
        _put(table, "c")

    assert [_exists(table, k) for k in "abc"] == [False, True, False]
    assert faults.armed() == []


def test_other_functions_and_writes_outside_an_invocation_are_not_struck(
    table: tuple[Any, str], faults: Faults
) -> None:
    faults.arm("cancel", "before_commit", 1)
    faults.arm("cancel", "after_commit", 1)

    with faults.running("sessions"):
        _put(table, "a")
    _put(table, "b")

    assert _exists(table, "a") and _exists(table, "b")
    assert faults.armed() == [
        {"function": "cancel", "when": "after_commit", "count": 1},
        {"function": "cancel", "when": "before_commit", "count": 1},
    ]


def test_a_killed_invocation_escapes_except_exception(
    table: tuple[Any, str], faults: Faults
) -> None:
    faults.arm("cancel", "before_commit", 1)
    caught: list[BaseException] = []

    def handler() -> None:  # as a handler or Powertools guards its work
        try:
            _put(table, "a")
        except Exception as error:
            caught.append(error)

    with pytest.raises(FunctionKilled), faults.running("cancel"):
        handler()

    assert caught == []


def test_arming_adds_up_and_clear_disarms(faults: Faults) -> None:
    faults.arm("sessions", "after_commit", 2)
    faults.arm("sessions", "after_commit", 3)
    assert faults.armed() == [{"function": "sessions", "when": "after_commit", "count": 5}]
    faults.clear()
    assert faults.armed() == []


@pytest.mark.parametrize(
    ("function", "when", "count", "why"),
    [
        ("nope", "before_commit", 1, "unknown function"),
        ("cancel", "later", 1, "when must be"),
        ("cancel", "after_commit", 0, "count must be"),
        ("cancel", "after_commit", True, "count must be"),
    ],
)
def test_bad_faults_are_refused(
    faults: Faults, function: str, when: Any, count: Any, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        faults.arm(function, when, count)
    assert faults.armed() == []
