"""What operators get from template.yaml: an alarm on every function, table and the API, each
notifying the alarm topic, and a dashboard whose every reference is a real resource and whose
business metrics are the ones the functions emit (read from the code, not listed here)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from coaching.settings import DEFAULT_DUE_SHARDS
from local.template import load, resources

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load()
ALARMS = resources(TEMPLATE, "AWS::CloudWatch::Alarm")
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
TABLES = resources(TEMPLATE, "AWS::DynamoDB::Table")
PSEUDO = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}


def metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric an alarm reads: Namespace, MetricName, Dimensions (and its statistic)."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [props]
    return [
        m["MetricStat"]["Metric"] | {"Stat": m["MetricStat"]["Stat"]}
        for m in props["Metrics"]
        if "MetricStat" in m
    ]


def dimensions(metric: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}


def alarms_on(namespace: str, name: str, dimension: str, target: str) -> list[str]:
    """Alarms reading ``namespace``/``name`` with ``dimension`` set to ``!Ref target``."""
    return [
        alarm_name
        for alarm_name, alarm in ALARMS.items()
        if any(
            m["Namespace"] == namespace
            and m["MetricName"] == name
            and dimensions(m).get(dimension) == {"Ref": target}
            for m in metric_stats(alarm)
        )
    ]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_has_an_alarm_on_its_errors_and_one_on_its_throttles(function: str) -> None:
    assert len(alarms_on("AWS/Lambda", "Errors", "FunctionName", function)) == 1
    assert len(alarms_on("AWS/Lambda", "Throttles", "FunctionName", function)) == 1


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_and_each_of_its_indexes_has_a_throttle_alarm(table: str) -> None:
    (name,) = alarms_on("AWS/DynamoDB", "WriteThrottleEvents", "TableName", table)
    read = metric_stats(ALARMS[name])
    indexes = [
        g["IndexName"] for g in TABLES[table]["Properties"].get("GlobalSecondaryIndexes", [])
    ]
    for index in [None, *indexes]:
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            assert any(
                m["MetricName"] == metric and dimensions(m).get("GlobalSecondaryIndexName") == index
                for m in read
            ), (table, index, metric)
    # ... adding them up, missing points as zeros (DynamoDB publishes only when it throttles)
    (expression,) = [m for m in ALARMS[name]["Properties"]["Metrics"] if m.get("ReturnData")]
    assert expression["Expression"] == "SUM(FILL(METRICS(), 0))"


def test_the_api_alarms_on_its_5xx_rate_and_its_p99_latency() -> None:
    (errors,) = alarms_on("AWS/ApiGateway", "5xx", "ApiId", "HttpApi")
    assert alarms_on("AWS/ApiGateway", "Count", "ApiId", "HttpApi") == [errors]
    rate = next(m for m in ALARMS[errors]["Properties"]["Metrics"] if m.get("ReturnData"))
    assert "errors / requests" in rate["Expression"]
    (latency,) = alarms_on("AWS/ApiGateway", "Latency", "ApiId", "HttpApi")
    assert ALARMS[latency]["Properties"]["ExtendedStatistic"] == "p99"


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears(alarm: str) -> None:
    props = ALARMS[alarm]["Properties"]
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert TEMPLATE["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert props["AlarmDescription"]


def dashboard() -> tuple[dict[str, Any], set[str]]:
    """The dashboard's body with every ``${...}`` resolved to a placeholder, and the names
    those references named."""
    (board,) = resources(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    text = board["Properties"]["DashboardBody"]["Fn::Sub"]
    named = set(re.findall(r"\$\{([^}]+)\}", text))
    body = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: f"ref:{m.group(1)}", text))
    return body, named


def test_the_dashboard_references_only_real_resources() -> None:
    _, named = dashboard()
    for name in named:
        resource, _, attribute = name.partition(".")
        assert resource in TEMPLATE["Resources"] or name in PSEUDO, name
        if attribute:
            assert attribute in ("Arn", "QueueName"), name


def test_the_dashboard_shows_every_alarm_function_and_table() -> None:
    body, named = dashboard()
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(f"ref:{a}.Arn" for a in ALARMS)
    assert set(FUNCTIONS) | set(TABLES) | {"HttpApi"} <= named


def emitted_metrics() -> set[str]:
    """Every metric name the functions and the layer emit through Powertools."""
    found: set[str] = set()
    for path in [*ROOT.glob("functions/*/app.py"), *ROOT.glob("shared/coaching/**/*.py")]:
        found |= set(re.findall(r'add_metric\(\s*name="([A-Za-z]+)"', path.read_text()))
    return found


def test_the_dashboard_charts_every_business_metric_the_functions_emit() -> None:
    body, _ = dashboard()
    environment = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    namespace = environment["POWERTOOLS_METRICS_NAMESPACE"]
    service = environment["POWERTOOLS_SERVICE_NAME"]
    charted: set[str] = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], dict):  # a SEARCH of the metric under all its outcomes
                charted |= set(
                    re.findall(
                        r"\{" + namespace + r',outcome,service\} MetricName="([A-Za-z]+)"',
                        metric[0]["expression"],
                    )
                )
            elif metric[0] == namespace:
                assert metric[2:4] == ["service", service], metric
                charted.add(metric[1])
    emitted = emitted_metrics()
    assert {"SessionsBooked", "SessionsCanceled", "CreditsRefunded", "EmailsSent"} <= emitted
    assert emitted <= charted
    assert charted <= emitted  # nothing charted that nobody emits


def test_the_due_index_shard_count_reaches_the_functions_with_the_settings_default() -> None:
    parameter = TEMPLATE["Parameters"]["DueShards"]
    assert parameter["Default"] == DEFAULT_DUE_SHARDS
    environment = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["DUE_SHARDS"] == {"Ref": "DueShards"}
