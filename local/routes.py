"""The HTTP API's routes, read from ``template.yaml``: which function answers which request."""

import re
from dataclasses import dataclass
from typing import Any

from local import template


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    """The function's logical id in the template."""
    code_uri: str
    handler: str
    public: bool
    """True where the template turns the JWT authorizer off for this route."""
    timeout: float

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def greedy(self) -> bool:
        """True for a path ending in a greedy variable (``/app/{proxy+}``), which takes the
        rest of the path, slashes included, down to nothing (``/app/``)."""
        return self.path.endswith("+}")

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.escape(self.path)
        regex = re.sub(r"\\\{(\w+)\\\+\\\}$", r"(?P<\1>.*)", regex)  # greedy
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return None if found is None else found.groupdict()


def http_routes(loaded: dict[str, Any] | None = None) -> list[Route]:
    routes = []
    for function in template.functions(loaded).values():
        for event in function.events.values():
            if event["Type"] != "HttpApi":
                continue
            event_props = event["Properties"]
            auth = event_props.get("Auth", {})
            routes.append(
                Route(
                    method=event_props["Method"].upper(),
                    path=event_props["Path"],
                    function=function.name,
                    code_uri=function.code_uri,
                    handler=function.handler,
                    public=auth.get("Authorizer") == "NONE",
                    timeout=function.timeout,
                )
            )
    return routes


def find(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a request; as in API Gateway, literal paths win over ones with parameters,
    and a greedy variable (``{proxy+}``) only takes what no other route does."""
    ranked = sorted(routes, key=lambda r: (r.greedy, r.path.count("{")))
    for route in ranked:
        parameters = route.match(method, path)
        if parameters is not None:
            return route, parameters
    return None
