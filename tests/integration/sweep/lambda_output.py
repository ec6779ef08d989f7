"""What a scheduled function printed: its embedded metrics and its log lines."""

import io
import json
from typing import Any


def metrics_in(output: str) -> dict[str, float]:
    """The values of the CloudWatch embedded-metric lines the function printed."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    values[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return values


def lines_of(logs: io.StringIO) -> list[dict[str, Any]]:
    """The JSON log lines written to ``logs`` (the ``logs`` fixture)."""
    return [json.loads(line) for line in logs.getvalue().splitlines()]
