"""CORS in the local gateway, from the HttpApi's ``CorsConfiguration`` in ``template.yaml``.

API Gateway answers a browser's preflight itself (before the authorizer; no function runs) and
adds ``Access-Control-Allow-Origin`` to the answers for an allowed origin. The local gateway
does the same from the same block of the template, evaluated with the parameters' defaults (or
the values given), so a front end that works against ``make run`` works against AWS.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response


def _evaluate(value: Any, parameters: Mapping[str, Any], conditions: Mapping[str, Any]) -> Any:
    """The few intrinsic functions the CORS block uses, resolved as CloudFormation would."""

    def ev(v: Any) -> Any:
        return _evaluate(v, parameters, conditions)

    if isinstance(value, list):
        return [ev(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {k: ev(v) for k, v in value.items()}
    ((name, argument),) = value.items()
    if name == "Ref":
        return parameters[argument]
    if name == "Fn::If":
        condition, when_true, when_false = argument
        return ev(when_true if ev(conditions[condition]) else when_false)
    function = _FUNCTIONS.get(name)
    if function is None:
        return {name: ev(argument)}
    return function(argument, ev)


def _equals(argument: Any, ev: Callable[[Any], Any]) -> Any:
    left, right = ev(argument)
    return left == right


def _join(argument: Any, ev: Callable[[Any], Any]) -> Any:
    separator, parts = argument
    return separator.join(str(p) for p in ev(parts))


def _split(argument: Any, ev: Callable[[Any], Any]) -> Any:
    separator, text = argument
    return str(ev(text)).split(separator)


def _select(argument: Any, ev: Callable[[Any], Any]) -> Any:
    index, items = argument
    return ev(items)[int(index)]


_FUNCTIONS: dict[str, Callable[[Any, Callable[[Any], Any]], Any]] = {
    "Fn::Equals": _equals,
    "Fn::Not": lambda argument, ev: not ev(argument[0]),
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
}
"""The functions that take their argument as it is written, and evaluate its parts (``ev``)."""


def parameter_values(
    loaded: dict[str, Any], given: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Each parameter's value: given, else its default; a CommaDelimitedList as a list."""
    values: dict[str, Any] = {}
    for name, spec in loaded.get("Parameters", {}).items():
        raw = (given or {}).get(name, spec.get("Default", ""))
        if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
            values[name] = [part.strip() for part in raw.split(",")] if raw else [""]
        else:
            values[name] = raw
    return values


@dataclass(frozen=True)
class Cors:
    origins: frozenset[str]
    headers: tuple[str, ...]
    methods: tuple[str, ...]
    max_age: int

    @classmethod
    def from_template(
        cls, loaded: dict[str, Any], parameters: Mapping[str, str] | None = None
    ) -> "Cors | None":
        """The HttpApi's CORS settings; None when the template has none (no browser access)."""
        apis = [r for r in loaded["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi"]
        block = apis[0]["Properties"].get("CorsConfiguration") if apis else None
        if block is None:
            return None
        config = _evaluate(
            block, parameter_values(loaded, parameters), loaded.get("Conditions", {})
        )
        return cls(
            origins=frozenset(o for o in config.get("AllowOrigins", []) if o),
            headers=tuple(h.lower() for h in config.get("AllowHeaders", [])),
            methods=tuple(m.upper() for m in config.get("AllowMethods", [])),
            max_age=int(config.get("MaxAge", 0)),
        )

    def allows(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.origins or origin in self.origins)

    @staticmethod
    def is_preflight(request: Request) -> bool:
        return (
            request.method == "OPTIONS"
            and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers
        )

    def preflight(self, request: Request) -> Response:
        """204; with the allow headers only for an allowed origin (the browser then refuses)."""
        response = Response(status=204)
        origin = request.headers.get("Origin")
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = str(origin)
            response.headers["Access-Control-Allow-Methods"] = ",".join(self.methods)
            response.headers["Access-Control-Allow-Headers"] = ",".join(self.headers)
            if self.max_age:
                response.headers["Access-Control-Max-Age"] = str(self.max_age)
        response.headers["Vary"] = "Origin"
        return response

    def add_headers(self, request: Request, response: Response) -> None:
        """An allowed origin may read the answer; any other gets no allow header."""
        origin = request.headers.get("Origin")
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = str(origin)
            response.headers.add("Vary", "Origin")
