"""What every HTTP function that reads or writes data shares: the caller, the entry point.

Each function creates its own ``APIGatewayHttpResolver(enable_validation=True)`` (so the docs
function can find and merge their OpenAPI schemas) and passes it to ``setup``, which maps every
failure to an RFC 9457 problem (``coaching.web.problems``) and a lost idempotency race to a 409.
"""

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.encoders import jsonable_encoder
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.json_encoder import Encoder
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from coaching import clock, manage_links, runtime
from coaching.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    MalformedRequest,
    UnsupportedMediaType,
)
from coaching.manage_links import Grant
from coaching.models import (
    Account,
    Availability,
    Caller,
    LedgerEntry,
    Role,
    Service,
    TimeOffTaken,
)
from coaching.observability import log_metrics, logger, tracer
from coaching.storage.receipts import Answer, KeyAlreadyUsed, Receipt, remembering
from coaching.web import api, problems
from coaching.web.identity import caller_from_claims
from coaching.web.problems import as_lambda, problem

IDEMPOTENT_METHODS = frozenset({"POST", "PUT", "PATCH"})

serialize = partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder)
"""How every answer is written (each function's resolver takes it, and so do stored answers):
Powertools' own, but in UTF-8 rather than ASCII escapes, which took a reason of 500 characters
from 2 KB to 6 KB and a session's stored answer past its bound."""


def setup(app: APIGatewayHttpResolver) -> APIGatewayHttpResolver:
    """Map every failure to a problem document, once, for this function's resolver."""
    problems.setup(app)

    @app.exception_handler(KeyAlreadyUsed)
    def key_already_used(_: KeyAlreadyUsed) -> Response[str]:
        # A retry racing its original lost to it: the entry point answers from the key's record.
        return problem(Conflict("A request with this Idempotency-Key was just made."))

    return app


def caller(app: APIGatewayHttpResolver) -> Caller:
    """The signed-in caller of the current request."""
    claims = app.current_event.request_context.authorizer.jwt_claim
    found = caller_from_claims(claims, trust_role_claim=runtime.settings().trust_role_claim)
    logger.append_keys(caller_id=found.id, caller_role=found.role.value)
    return found


def now(app: APIGatewayHttpResolver) -> datetime:
    """When the current request came in: the clock read once, by the entry point, so that a
    keyed request's record and the change it makes carry one time. A resolver run without the
    entry point (a test of its bodies) reads the clock."""
    found = app.context.get("now")
    return found if isinstance(found, datetime) else clock.now()


def link_grant(event: Mapping[str, Any], now: datetime) -> Grant:
    """What the manage link the request carries (``Authorization: Bearer <token>``) lets its
    holder do; ``InvalidLink`` (401) when it carries none that is valid at ``now``. The token
    itself is never logged, nor is the header it came in."""
    token = manage_links.bearer(event.get("headers"))
    keys = runtime.link_keys().keys(manage_links.key_id(token))
    return manage_links.verify(keys, token, now)


def link_holder(app: APIGatewayHttpResolver) -> Grant:
    """The grant of the current request's manage link (the ``/manage`` routes' caller)."""
    grant = link_grant(app.current_event.raw_event, now(app))
    logger.append_keys(caller_id=grant.member_id, caller_role=Role.MEMBER.value)
    return grant


def link_caller(event: Mapping[str, Any], now: datetime) -> Caller:
    """Who sends a ``/manage`` request, as its Idempotency-Key is scoped: the member the link
    names, so a key means one request whether sent from the app or from the link."""
    return Caller(id=link_grant(event, now).member_id, role=Role.MEMBER)


Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
Identify = Callable[[Mapping[str, Any], datetime], Caller]


def entry_point(app: APIGatewayHttpResolver, identify: Identify | None = None) -> Handler:
    """The Lambda handler for a resolver: observability, bad bodies refused, idempotent writes.

    ``identify`` says who sends a request that does not come through the JWT authorizer (the
    ``/manage`` routes: ``link_caller``), for its Idempotency-Key; by default the JWT's claims.
    """

    # clear_state: the caller's id, appended by ``caller`` for one request, never labels the
    # log lines of the next one (a warm function serves many callers).
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
    )
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    @log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = refuse_bad_body(event)
        if refused is not None:  # before idempotency: an unreadable body is never remembered
            logger.info("request refused", extra={"code": refused.code, "status": refused.status})
            return as_lambda(problem(refused))
        event = as_json_request(event)
        try:
            key = _idempotency_key(event)
        except IdempotencyKeyInvalid as invalid:
            logger.info("request refused", extra={"code": invalid.code, "status": invalid.status})
            return as_lambda(problem(invalid))
        now = clock.now()  # the request's one reading of the clock: see ``now``
        if key is None:
            return _resolve(app, event, context, now)
        try:
            who = _signed_in(event) if identify is None else identify(event, now)
        except DomainError as error:
            return as_lambda(problem(error))
        if who is None:
            return _resolve(app, event, context, now)
        return _resolve_once(app, event, context, key, who, now)

    return cast(Handler, handler)  # the tracer's decorator, called with options, is untyped


def _resolve(
    app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext, now: datetime
) -> dict[str, Any]:
    """Run the request's route, at the time the request came in (``now``, for its handler)."""
    app.context["now"] = now  # cleared by the resolver once the request is answered
    result: dict[str, Any] = app.resolve(event, context)
    return result


def _answer_for(result: object, who: Caller, now: datetime) -> tuple[int, BaseModel]:
    """What a keyed write answers with, by what it wrote: a session's answers, or those of the
    module that answers for accounts, services or webhooks (each loaded by its function only)."""
    answer = api.answer_for(result, who, now)
    if answer is None and isinstance(result, Account | LedgerEntry):
        from coaching.web import account_api

        answer = account_api.answer_for(result, who, now)
    if answer is None and isinstance(result, Service | Availability | TimeOffTaken):
        from coaching.web import service_api

        answer = service_api.answer_for(result)
    if answer is None:
        from coaching.web import webhook_api

        answer = webhook_api.answer_for(result)
    if answer is None:
        raise TypeError(f"no answer is defined for a {type(result).__name__}")
    return answer


def _resolve_once(
    app: APIGatewayHttpResolver,
    event: dict[str, Any],
    context: LambdaContext,
    key: str,
    who: Caller,
    now: datetime,
) -> dict[str, Any]:
    """Run a keyed request so that its change and its answer commit together, or replay.

    The key's record is not read first: every change that commits carries the record, on the
    condition that the key is unused, so a retry of a committed request can never commit again.
    It is refused (by the rules, now that the change is done, or by that condition), and only
    then is the record read and its answer replayed. The first try of a request pays nothing
    for its key.
    """
    receipt = Receipt(
        caller_id=who.id,
        key=key,
        fingerprint=request_fingerprint(event),
        now=now,
        present=lambda result: _answer(*_answer_for(result, who, now)),
    )
    # A key that committed first (KeyAlreadyUsed) comes back from the resolver as a 409 problem
    # (see setup), so every outcome below is an answer: ours, or a refusal to check the key for.
    with remembering(receipt):
        response = _resolve(app, event, context, now)
    if receipt.answer is not None:
        return _as_lambda_answer(receipt.answer)
    if int(response.get("statusCode", 500)) < 400:
        return response
    remembered = runtime.storage().remembered(who.id, key, now)
    if remembered is None:
        return response  # a refusal that changed nothing is not remembered
    if remembered.fingerprint != receipt.fingerprint:
        return as_lambda(
            problem(IdempotencyKeyReused("This Idempotency-Key was used for another request."))
        )
    logger.info("idempotent replay", extra={"status": remembered.answer.status})
    return _as_lambda_answer(remembered.answer)


MAX_KEY_LENGTH = 255
_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}")
"""1 to 255 visible ASCII characters (RFC 9110's VCHAR): no spaces, no control characters."""


def _idempotency_key(event: Mapping[str, Any]) -> str | None:
    """The request's key, None when it sends none; one it sends that is not a key is refused
    before anything runs (a key of spaces used to be read as none, and the write ran twice)."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    if method not in IDEMPOTENT_METHODS:
        return None
    headers = event.get("headers") or {}
    if "idempotency-key" not in headers:
        return None
    key = headers["idempotency-key"]
    if not isinstance(key, str) or not _KEY.fullmatch(key.strip(" \t")):
        raise IdempotencyKeyInvalid(
            f"An Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters, "
            "with no spaces."
        )
    return key.strip(" \t")


def _signed_in(event: Mapping[str, Any]) -> Caller | None:
    """The caller the JWT authorizer let through, None for a request with no claims."""
    claims = _claims(event)
    if claims is None:
        return None
    return caller_from_claims(claims, trust_role_claim=runtime.settings().trust_role_claim)


def _claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
    return claims if isinstance(claims, Mapping) and claims.get("sub") else None


def request_fingerprint(event: Mapping[str, Any]) -> str:
    """What makes two requests "the same": method, path and the JSON value of the body.

    The body is compared as a value, so spacing and key order do not matter.
    """
    body: Any = None
    raw = event.get("body")
    if raw:
        try:
            text = base64.b64decode(raw).decode("utf-8") if event.get("isBase64Encoded") else raw
            body = json.loads(text)
        except ValueError:  # not JSON: such a body is refused before it changes anything
            body = raw
    canonical = json.dumps(
        {
            "method": event["requestContext"]["http"]["method"],
            "path": event.get("rawPath", ""),
            "body": body,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _answer(status: int, model: Any) -> Answer:
    """Serialised as the resolver serialises a route's answer, so replays read the same."""
    return Answer(status=status, body=serialize(jsonable_encoder(model)))


def _as_lambda_answer(answer: Answer) -> dict[str, Any]:
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": answer.content_type},
        "body": answer.body,
        "isBase64Encoded": False,
    }


MAX_BODY_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have (docs/api.md); deeper is malformed."""

# A JSON string (to its closing quote, or to the end of a body that never closes it) or one
# bracket. Every quote starts a match that ends at the next unescaped quote or the end, so the
# scan is linear whatever the body holds.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


def refuse_bad_body(event: dict[str, Any]) -> DomainError | None:
    """Why a request's body cannot be read as one JSON object, or None when it can.

    Checked before anything else reads the body, so that no parser meets what it would fail
    on: 415 for a body sent as another media type; 400 for a body that is not UTF-8, not JSON
    (``NaN`` and numbers too long to read included), not an object, or nested deeper than
    ``MAX_BODY_DEPTH``. No body at all is left to the route (some need one, some do not); a body
    with no (or an empty) Content-Type is read as JSON, as Powertools and most clients assume.
    """
    raw = event.get("body")
    if not raw:
        return None
    media_type = (_header(event, "content-type") or "").strip()
    if media_type and not _is_json(media_type):
        return UnsupportedMediaType("A request body must be JSON (application/json).")
    try:
        text = str(raw)
        if event.get("isBase64Encoded"):
            text = base64.b64decode(text, validate=True).decode()
        text.encode()  # a string holding lone surrogates is not UTF-8 either
    except (ValueError, UnicodeError):
        return MalformedRequest("The request body is not UTF-8 text.")
    if _too_deep(text):
        return MalformedRequest(f"The request body nests deeper than {MAX_BODY_DEPTH} levels.")
    try:
        document = read_json(text)
    except ValueError:
        return MalformedRequest("The request body is not valid JSON.")
    if not isinstance(document, dict):
        return MalformedRequest("The request body must be a JSON object.")
    return None


def read_json(text: str) -> Any:
    """Strict JSON: no ``NaN`` or ``Infinity`` (not JSON, and no field of ours means them)."""
    return json.loads(text, parse_constant=_not_json)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_BODY_DEPTH:
        return False  # the common case: too few brackets to nest that deep, whatever they are
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_BODY_DEPTH:
                return True
        elif bracket in "]}":
            depth = max(depth - 1, 0)
    return False


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name), None)


def _is_json(media_type: str) -> bool:
    """application/json or a structured ``+json`` type, any case, with or without parameters."""
    essence = media_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = essence.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def as_json_request(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its media type spelled as the resolver expects, once ``refuse_bad_body``
    has passed it: Powertools reads only a lower-case ``application/json`` body as JSON."""
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    return {**event, "headers": {**headers, "content-type": "application/json"}}
