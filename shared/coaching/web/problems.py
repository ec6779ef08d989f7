"""Failures as RFC 9457 problem documents: the one place that maps errors to HTTP answers.

Apart from ``coaching.web.http`` (the caller, idempotent writes, the entry point) so that a function
that only answers documents (docs) can map its errors the same way without importing what
writes need: boto3, storage, the API's models.
"""

import json
import traceback
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)

from coaching.errors import (
    DomainError,
    FieldError,
    InternalError,
    MalformedRequest,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from coaching.formats import PATTERN_MESSAGES
from coaching.observability import logger

PROBLEM_JSON = "application/problem+json"

_BODY_NOT_OBJECT = {"model_attributes_type", "dict_type", "model_type", "json_invalid", "missing"}


def problem(error: DomainError) -> Response[str]:
    document: dict[str, Any] = {
        "type": f"urn:problem:coaching:{error.code.lower()}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    if error.errors:
        document["errors"] = [{"field": e.field, "message": e.sentence} for e in error.errors]
    return Response(status_code=error.status, content_type=PROBLEM_JSON, body=json.dumps(document))


def as_lambda(response: Response[str]) -> dict[str, Any]:
    """A problem as the Lambda answer, for what is refused before the resolver runs."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }


_A_TIME = "must be a date and time in RFC 3339 with an offset, such as 2026-12-04T10:00:00+01:00"


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def field_message(error: Mapping[str, Any]) -> str:
    """What is wrong with one field, in our words, to follow the field's name: pydantic's own
    wording ("Input should be ...", "Value error, ...") never reaches a client."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    simple = {
        "missing": "is required",
        "extra_forbidden": "is not a known field",
        "string_type": "must be a string",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "datetime_type": _A_TIME,
        "datetime_parsing": _A_TIME,
        "datetime_from_date_parsing": _A_TIME,
        "datetime_object_invalid": _A_TIME,
        "timezone_aware": "must carry an offset from UTC, such as +01:00 or Z",
    }
    if kind in simple:
        return simple[kind]
    if kind == "string_too_short":
        limit = ctx.get("min_length", 1)
        return "must not be empty" if limit == 1 else f"must be at least {limit} characters long"
    if kind == "string_too_long":
        return f"must be at most {_plural(ctx.get('max_length'), 'character')} long"
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(str(ctx.get("pattern")), "is not in the expected format")
    if kind == "too_short":
        return f"must have at least {_plural(ctx.get('min_length'), 'item')}"
    if kind == "too_long":
        return f"must have at most {_plural(ctx.get('max_length'), 'item')}"
    bounds = {
        "greater_than_equal": ("ge", "must be at least"),
        "greater_than": ("gt", "must be more than"),
        "less_than_equal": ("le", "must be at most"),
        "less_than": ("lt", "must be less than"),
    }
    if kind in bounds:
        name, words = bounds[kind]
        return f"{words} {ctx.get(name)}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}"
    if kind in ("value_error", "assertion_error") and ctx.get("error") is not None:
        return str(ctx["error"])  # our own validators' words: a fragment that follows the name
    return "is not valid"


def _validation_problem(errors: list[Mapping[str, Any]]) -> DomainError:
    """Powertools' validation errors in our codes: 400 when the body is not a JSON object; 404
    for a path that names no valid id (nothing can have it); else 422 naming each field.

    A field is named as docs/api.md says: a body field by its path in the body, array positions
    as numbers (``session_types.0.minutes``); a query or path parameter by its name (``limit``).
    """
    for error in errors:
        where = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid" or (
            where == ("body",) and error.get("type") in _BODY_NOT_OBJECT
        ):
            return MalformedRequest("The request body must be a JSON object.")
    if any(tuple(error.get("loc", ()))[:1] == ("path",) for error in errors):
        return NotFound("Nothing exists with that id.")
    fields = []
    for error in errors:
        parts = [str(part) for part in error.get("loc", ())]
        if parts[:1] in (["body"], ["query"]):
            parts = parts[1:]
        fields.append(FieldError(".".join(parts) or "body", field_message(error)))
    return ValidationFailed.of(fields)


def setup(app: APIGatewayHttpResolver) -> APIGatewayHttpResolver:
    """Map every failure to a problem document, once, for this function's resolver."""

    @app.exception_handler(DomainError)
    def domain_error(error: DomainError) -> Response[str]:
        logger.info("request refused", extra={"code": error.code, "status": error.status})
        return problem(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[str]:
        mapped = _validation_problem(list(error.errors()))
        logger.info("request invalid", extra={"code": mapped.code})
        return problem(mapped)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_body(_: RequestUnsupportedContentType) -> Response[str]:
        # refuse_bad_body answers this first; here so that the resolver's own 415 is a problem too
        return problem(UnsupportedMediaType("A request body must be JSON (application/json)."))

    @app.exception_handler(ResponseValidationError)
    def invalid_answer(error: ResponseValidationError) -> Response[str]:
        logger.error("answer failed its schema", extra={"errors": len(error.errors())})
        return problem(InternalError("Something went wrong on our side."))

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        # A fault of ours: the caller gets a problem document; the log gets the type and where
        # it was raised, not the message, which may quote personal data.
        where = traceback.format_tb(error.__traceback__)[-1:] if error.__traceback__ else []
        logger.error("unexpected fault", extra={"error_type": type(error).__name__, "where": where})
        return problem(InternalError("Something went wrong on our side."))

    @app.not_found
    def unknown_route(_: NotFoundError) -> Response[str]:
        return problem(NotFound("No such resource."))

    return app
