"""What every HTTP function shares: errors as RFC 9457 problems, the caller, the entry point.

Each function creates its own ``APIGatewayHttpResolver(enable_validation=True)`` (so the docs
function can find and merge their OpenAPI schemas) and passes it to ``setup``.
"""

import base64
import json
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from coaching import runtime
from coaching.errors import (
    DomainError,
    FieldError,
    IdempotencyKeyReused,
    InternalError,
    MalformedRequest,
    NotFound,
    Throttled,
    ValidationFailed,
)
from coaching.identity import caller_from_claims
from coaching.models import Caller
from coaching.observability import logger, metrics, tracer

PROBLEM_JSON = "application/problem+json"

# A POST that carries an Idempotency-Key is remembered under (key, caller, path); without the
# header the expression is empty and the request simply runs.
# (Powertools treats a `false` key as a key, so anything else must end as null.)
IDEMPOTENCY_KEY = (
    "(requestContext.http.method == 'POST' && headers.\"idempotency-key\" && "
    '[headers."idempotency-key", requestContext.authorizer.jwt.claims.sub, rawPath]) || `null`'
)
IDEMPOTENCY_WAIT_SECONDS = 5.0
"""How long a retry waits for the first request with its key to finish, to answer the same."""

# A POST without the header is not an error, so Powertools' warning about it is noise.
warnings.filterwarnings("ignore", message="No idempotency key value found")

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

    @app.exception_handler(ResponseValidationError)
    def invalid_answer(error: ResponseValidationError) -> Response[str]:
        logger.error("answer failed its schema", extra={"errors": len(error.errors())})
        return problem(InternalError("Something went wrong on our side."))

    @app.not_found
    def unknown_route(_: NotFoundError) -> Response[str]:
        return problem(NotFound("No such resource."))

    return app


def caller(app: APIGatewayHttpResolver) -> Caller:
    """The signed-in caller of the current request."""
    claims = app.current_event.request_context.authorizer.jwt_claim
    found = caller_from_claims(claims)
    logger.append_keys(caller_id=found.id, caller_role=found.role.value)
    return found


Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def entry_point(app: APIGatewayHttpResolver) -> Handler:
    """The Lambda handler for a resolver: observability, idempotent POSTs, problem answers."""
    config = IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY,
        payload_validation_jmespath="body",
        expires_after_seconds=24 * 3600,
    )

    def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if not _body_is_object_or_empty(event):
            return _as_lambda(problem(MalformedRequest("The request body must be a JSON object.")))
        return app.resolve(event, context)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Built per call because the store is created lazily, on the first request.
        remembered = cast(Any, idempotent)(
            resolve, persistence_store=runtime.idempotency_store(), config=config
        )
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            try:
                result: dict[str, Any] = remembered(event, context)
                return result
            except IdempotencyValidationError:
                return _as_lambda(
                    problem(
                        IdempotencyKeyReused("This Idempotency-Key was used with another body.")
                    )
                )
            except IdempotencyAlreadyInProgressError:
                # The first request with this key is still running: wait for its answer.
                if time.monotonic() > deadline:
                    return _as_lambda(
                        problem(Throttled("A request with this Idempotency-Key is in progress."))
                    )
                time.sleep(0.05)

    return handler


def _body_is_object_or_empty(event: dict[str, Any]) -> bool:
    """A body, when there is one, must be a JSON object (`null` and `[]` are not)."""
    body = event.get("body")
    if not body:
        return True
    try:
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8")
        return isinstance(json.loads(body), dict)
    except (ValueError, UnicodeDecodeError):
        return True  # not JSON at all: the resolver's validation answers that, with detail


def _as_lambda(response: Response[str]) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }
