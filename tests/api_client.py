"""Calls the HTTP API in process, the way API Gateway would after its JWT authorizer.

Routes come from template.yaml and handlers are loaded from each function's CodeUri, so a test
reaches exactly the function AWS would.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from coaching.models import Caller
from coaching.storage import Storage
from coaching.web import answers
from local.lambda_runtime import LambdaContext, http_event, jwt_claims, load_handler
from local.routes import Route, find, http_routes

ROUTES = http_routes()
DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


@cache
def _document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT.read_text()))


@cache
def documented_paths() -> frozenset[str]:
    """The paths docs/openapi.json describes (the API's, not the app's pages or the docs')."""
    return frozenset(_document()["paths"])


@dataclass(frozen=True)
class Documented:
    """What docs/openapi.json says one route answers with one status."""

    media_types: frozenset[str]
    """The content types it may carry; empty for an answer documented with no body."""
    schema: Draft202012Validator | None
    """The JSON body's schema, if it has one."""


@cache
def _documented(route: Route, status: int) -> Documented | None:
    """What docs/openapi.json says ``route`` answers with ``status``; None for a route the
    document does not describe (the app's pages, the docs)."""
    document = _document()
    operation = document["paths"].get(route.path, {}).get(route.method.lower())
    if operation is None:
        return None
    response = operation["responses"].get(str(status))
    assert response is not None, f"{route.key} answered {status}, which the document does not list"
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return Documented(
        media_types=frozenset(content),
        # The components ride along, so that the schema's "#/components/..." references resolve.
        schema=None
        if schema is None
        else Draft202012Validator({**schema, "components": document["components"]}),
    )


def _check_documented(reply: "Reply", route: Route) -> None:
    """A success is what the document says it is: its status, content type and body."""
    documented = _documented(route, reply.status)
    if documented is None:
        return
    if documented.media_types:
        media_type = reply.headers.get("Content-Type", "").split(";")[0].strip()
        assert media_type in documented.media_types, (
            f"{route.key} answered {reply.status} as {media_type or 'no content type'}; the "
            f"document says {sorted(documented.media_types)}"
        )
    if documented.schema is not None and reply.text:
        documented.schema.validate(reply.json)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str
    route: Route | None

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def code(self) -> str | None:
        """The problem document's stable code, for error answers."""
        if self.headers.get("Content-Type", "").startswith("application/problem+json"):
            return str(self.json["code"])
        return None


class Api:
    def __init__(self, store: Storage) -> None:
        self.store = store

    def call(
        self,
        caller: Caller | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw_body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        content_type: str | None = "application/json",
        claims: dict[str, Any] | None = None,
    ) -> Reply:
        """``raw_body`` bytes that are not UTF-8 arrive base64-encoded, as API Gateway sends them;
        ``content_type=None`` sends no Content-Type header; ``claims`` replaces the token's
        claims that ``caller`` would have."""
        found = find(ROUTES, method, path)
        if found is None:
            return Reply(404, {}, '{"message":"Not Found"}', None)
        route, parameters = found
        text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
        event = http_event(
            method=method,
            path=path,
            route_key=route.key,
            path_parameters=parameters,
            query=query,
            headers={**({"content-type": content_type} if content_type else {}), **(headers or {})},
            body=text,
            claims=claims if claims is not None else None if caller is None else jwt_claims(caller),
        )
        handler = load_handler(route.code_uri, route.handler)
        result = handler(event, LambdaContext(route.function, route.timeout))
        reply = Reply(
            status=result["statusCode"],
            headers={k: str(v) for k, v in result.get("headers", {}).items()},
            text=result.get("body", ""),
            route=route,
        )
        if 200 <= reply.status < 300:
            _check_documented(reply, route)
        if reply.code is not None:
            # Every refusal a test sees must be one its route lists (docs/api.md, OpenAPI).
            listed = {(e.status, e.code) for e in answers.refusals(route.key)}
            assert (reply.status, reply.code) in listed, (
                f"{route.key} answered {reply.status} {reply.code}, which coaching/web/answers.py "
                "does not list for it"
            )
        return reply

    def get(self, caller: Caller | None, path: str, **kwargs: Any) -> Reply:
        return self.call(caller, "GET", path, **kwargs)

    def post(self, caller: Caller | None, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call(caller, "POST", path, body, **kwargs)
