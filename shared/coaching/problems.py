"""Failures as RFC 9457 problem documents: the one place that maps errors to HTTP answers.

Apart from ``coaching.http`` (the caller, idempotent writes, the entry point) so that a function
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
        document["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    return Response(status_code=error.status, content_type=PROBLEM_JSON, body=json.dumps(document))


def as_lambda(response: Response[str]) -> dict[str, Any]:
    """A problem as the Lambda answer, for what is refused before the resolver runs."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }


def _validation_problem(errors: list[Mapping[str, Any]]) -> DomainError:
    """Powertools' validation errors in our codes: 400 when the body is not a JSON object."""
    for error in errors:
        where = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid" or (
            where == ("body",) and error.get("type") in _BODY_NOT_OBJECT
        ):
            return MalformedRequest("The request body must be a JSON object.")
    fields = []
    for error in errors:
        path = [str(part) for part in error.get("loc", ()) if part != "body"]
        message = "is not a known field" if error.get("type") == "extra_forbidden" else error["msg"]
        fields.append(FieldError(".".join(path) or "body", str(message)))
    return ValidationFailed("The request has invalid fields.", fields)


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
