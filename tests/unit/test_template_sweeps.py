"""The two sweeps in template.yaml: the sessions' every minute (reminders are promised within 5
minutes), the credits' on their own, slower schedule; each may read only its own Due index and
touch only what its work writes, and neither is retried by Lambda (the next run is the retry)."""

from typing import Any

from local.template import load, resources
from tests.unit.template_policies import granted, statements

TEMPLATE = load()
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
PARAMETERS = TEMPLATE["Parameters"]
SWEEP = FUNCTIONS["SweepFunction"]["Properties"]
CREDITS = FUNCTIONS["CreditExpiryFunction"]["Properties"]


def _schedule(function: dict[str, Any]) -> str:
    [event] = function["Events"].values()
    assert event["Type"] == "Schedule"
    return str(PARAMETERS[event["Properties"]["Schedule"]["Ref"]]["Default"])


def test_sessions_are_swept_every_minute_and_credits_every_five() -> None:
    assert (_schedule(SWEEP), _schedule(CREDITS)) == ("rate(1 minute)", "rate(5 minutes)")
    assert SWEEP["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert CREDITS["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_each_sweep_queries_its_own_due_index_and_no_other() -> None:
    def queried(function: dict[str, Any]) -> set[str]:
        return {r for a, r in granted(function) if a == "dynamodb:Query"}

    assert queried(SWEEP) == {repr({"Fn::Sub": "${SessionsTable.Arn}/index/Due"})}
    assert queried(CREDITS) == {repr({"Fn::Sub": "${LedgerTable.Arn}/index/Due"})}


def test_the_credit_expiry_function_touches_the_ledger_alone_and_deletes_nothing() -> None:
    assert all(s["Effect"] == "Allow" for f in (SWEEP, CREDITS) for s in statements(f))
    allowed = granted(CREDITS)
    ledger = repr({"Fn::GetAtt": "LedgerTable.Arn"})

    assert {r for _, r in allowed} == {ledger, repr({"Fn::Sub": "${LedgerTable.Arn}/index/Due"})}
    assert {a for a, r in allowed if r == ledger} == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    }
