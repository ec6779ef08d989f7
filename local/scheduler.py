"""Runs each function that has a ``Schedule`` event in ``template.yaml`` on that schedule."""

import logging
import re
import threading
import uuid
from typing import Any

from coaching import clock
from local.aws import EmbeddedAws
from local.faults import FunctionKilled
from local.lambdas import LambdaService
from local.template import Function

log = logging.getLogger("local.scheduler")

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between runs for a ``rate(...)`` expression; cron schedules run hourly here."""
    found = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
    if found is None:
        return 3600.0
    return int(found.group(1)) * _UNITS[found.group(2)]


def scheduled_event(rule: str) -> dict[str, Any]:
    """The event EventBridge sends a function on the schedule ``rule``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),  # EventBridge's stamp: the one clock
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    """Runs every ``rate(...)`` in real seconds: a schedule is how often the sweep wakes, which
    time travel does not change; ``POST /_local/sweep`` runs it at once after a jump."""

    def __init__(self, aws: EmbeddedAws, lambdas: LambdaService) -> None:
        self.lambdas = lambdas
        self.jobs = [
            (function, rate_seconds(str(aws.resolve(props["Schedule"]))))
            for function, props in lambdas.with_event_type("Schedule")
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_now(self, function: Function) -> Any:
        return self.lambdas.invoke(function.name, scheduled_event(f"{function.name}-schedule"))

    def start(self) -> None:
        for function, every in self.jobs:
            thread = threading.Thread(
                target=self._loop,
                args=(function, every),
                name=f"schedule-{function.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, function: Function, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.run_now(function)
            except FunctionKilled as killed:
                log.warning("scheduled run: %s", killed)
            except Exception:  # a failed run is logged; the schedule goes on, as in AWS
                log.exception("scheduled run of %s failed", function.name)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
