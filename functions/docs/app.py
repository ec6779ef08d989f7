"""The API's OpenAPI document and a browsable page, merged from every function's routes.

The schema is generated from the resolvers of the sibling functions (packaged with this one),
never written by hand; ``generate`` only adds what no single resolver knows: that every error is
an RFC 9457 problem, that callers send a bearer JWT (a manage link's token on ``/manage``), and
that POSTs and PUTs take an Idempotency-Key. Both routes are public: they describe the API, not
anyone's data.

The merge takes over half a second of CPU (Powertools reads every sibling's source, imports its
resolver and builds its models' JSON schemas), and its answer changes only with the code: so it
runs when the code changes, not at every cold start. ``make openapi`` (``local/openapi.py``)
writes ``generate()``'s document beside this module (``openapi.json``, packaged with the
function) and to docs/openapi.json; the routes serve that file, and a test fails while it is
not what ``generate()`` makes of the current code.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from coaching.observability import logger
from coaching.web import answers, problems

# Powertools' OpenAPI package (its merge, its models, Swagger UI) and the API's own models are
# imported by the routes that use them: a cold start only pays for routing.

FUNCTIONS = Path(__file__).resolve().parent.parent
PACKAGED = Path(__file__).resolve().parent / "openapi.json"

app = APIGatewayHttpResolver()
problems.setup(app)

_PROBLEM = {
    "description": "An RFC 9457 problem document with a stable `code`",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Retrying with the same key and request returns the first answer, and changes nothing"
        " more. Keys are the caller's own: 1 to 255 visible ASCII characters; any other value"
        " answers 400 `IDEMPOTENCY_KEY_INVALID`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _refusals(method: str, path: str) -> dict[str, Any]:
    """One response per status the route may refuse with, naming its codes
    (``coaching.web.answers``, the table docs/api.md's list is written from too)."""
    found: dict[str, Any] = {}
    for status, codes in answers.by_status(f"{method.upper()} {path}").items():
        named = ", ".join(f"`{code}`" for code in codes)
        found[str(status)] = {
            "description": f"A problem document with `code` {named}",
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": {
                        code.lower(): {"value": {"status": status, "code": code}} for code in codes
                    },
                }
            },
            "x-problem-codes": codes,
        }
    return found


_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _is_powertools_error(answer: dict[str, Any]) -> bool:
    refs = {media.get("schema", {}).get("$ref", "") for media in answer.get("content", {}).values()}
    return any(ref.rsplit("/", 1)[-1] in _POWERTOOLS_ERRORS for ref in refs)


@cache
def document() -> dict[str, Any]:
    """The document ``make openapi`` generated from this package's code (see above)."""
    found: dict[str, Any] = json.loads(PACKAGED.read_text(encoding="utf-8"))
    return found


def generate() -> dict[str, Any]:
    """The document, merged from the sibling functions' resolvers: what ``make openapi``
    packages. Never called by the routes."""
    from coaching.web.api import Problem

    app.configure_openapi_merge(
        path=str(FUNCTIONS),
        pattern="app.py",
        recursive=True,
        exclude=["docs"],
        title="Coaching sessions API",
        version="1.0.0",
        description="Cancel, reschedule and refund booked coaching sessions; credit accounts.",
        on_conflict="error",
    )
    spec: dict[str, Any] = json.loads(app.get_openapi_merge_json_schema())
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    # Powertools' own validation answers (422 and 500 in its format) never leave our functions:
    # problems.setup answers both as problems, which the `default` response below describes.
    for generated in _POWERTOOLS_ERRORS:
        schemas.pop(generated, None)
    schemas["Problem"] = Problem.model_json_schema()
    components["securitySchemes"] = {
        "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "manage_link": {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "The token of a manage link (`{AppBaseUrl}/manage#<token>`, in a member's emails): "
                "it names one session and its member, and works until the session's end."
            ),
        },
    }
    spec["security"] = [{"jwt": []}]
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if path.startswith("/manage/"):
                operation["security"] = [{"manage_link": []}]
            responses = operation.setdefault("responses", {})
            for status in [s for s, answer in responses.items() if _is_powertools_error(answer)]:
                del responses[status]
            responses.update(_refusals(method, path))
            responses["default"] = _PROBLEM
            if method in ("post", "put"):
                operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
    return spec


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=json.dumps(document()))


@app.get("/docs", include_in_schema=False)
def docs() -> Response[str]:
    # The page links to its own document as ?format=json, as Powertools' Swagger UI page does.
    if app.current_event.get_query_string_value("format") == "json":
        return openapi()
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    page = generate_swagger_html(
        json.dumps(document()).replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
    return Response(status_code=200, content_type="text/html", body=page)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
