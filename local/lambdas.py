"""The local Lambda service: each template function's handler, invoked one request at a time.

A Lambda execution environment handles one event at a time, and Powertools' resolvers keep the
current event on the resolver object, so the local stack never runs two invocations at once.
Each invocation runs inside ``faults.running(<folder>)``, so that an armed fault
(``local.faults``) strikes the function it was armed for.
"""

import logging
import threading
from typing import Any

from local import template
from local.faults import Faults
from local.lambda_runtime import LambdaContext, load_handler
from local.template import Function

log = logging.getLogger("local.lambdas")


class LambdaService:
    def __init__(self, loaded: dict[str, Any], faults: Faults | None = None) -> None:
        self.functions: dict[str, Function] = template.functions(loaded)
        self.faults = faults or Faults({f.folder for f in self.functions.values()})
        self._lock = threading.Lock()

    def load_all(self) -> None:
        """Import every handler up front (a cold start for each), so the first call is quick."""
        for function in self.functions.values():
            load_handler(function.code_uri, function.handler)

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        function = self.functions[name]
        handler = load_handler(function.code_uri, function.handler)
        with self._lock, self.faults.running(function.folder):
            return handler(event, LambdaContext(function.name, function.timeout))

    def with_event_type(self, event_type: str) -> list[tuple[Function, dict[str, Any]]]:
        """(function, event properties) for each event of a type, e.g. "DynamoDB"."""
        return [
            (function, event["Properties"])
            for function in self.functions.values()
            for event in function.events.values()
            if event["Type"] == event_type
        ]
