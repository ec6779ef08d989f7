"""The local HTTP API: API Gateway's routing and JWT authorizer in front of the handlers.

Routes come from ``template.yaml``. Each request becomes the HTTP API v2 event AWS sends; a
route behind the authorizer needs a valid bearer token (401 otherwise, before any function runs).
``/_local/*`` routes are the local stack's own and never exist in AWS. What API Gateway refuses
before any function runs is refused here too: a body over 10 MB, a request whose event would be
over Lambda's 6 MB invocation payload (both 413), a token whose ``kid`` the issuer never used.

When a function dies mid-invocation (``local.faults.FunctionKilled``: a timeout or a crash of its
execution environment), API Gateway has no answer from it and replies on its own, with its own
body rather than a problem document: 502 ``{"message": "Internal Server Error"}``.
"""

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from local import template
from local.auth import InvalidToken, Verifier
from local.cors import Cors
from local.faults import FunctionKilled
from local.lambda_runtime import http_event
from local.lambdas import LambdaService
from local.routes import Route, find, http_routes

log = logging.getLogger("local.gateway")

LocalRoute = Callable[[Request], tuple[int, Any]]

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's largest HTTP API request body; a larger one never reaches a function."""
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's largest synchronous invocation payload: the event, body and all, as JSON."""


def _problem(status: int, code: str, title: str, detail: str) -> Response:
    body = {
        "type": f"urn:problem:coaching:{code.lower()}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return Response(json.dumps(body), status=status, content_type="application/problem+json")


def _too_large(detail: str) -> Response:
    return _problem(413, "PAYLOAD_TOO_LARGE", "Request too large", detail)


class Gateway:
    def __init__(
        self,
        lambdas: LambdaService,
        verifier: Verifier,
        local_routes: dict[tuple[str, str], LocalRoute],
        routes: list[Route] | None = None,
        cors: Cors | None = None,
    ) -> None:
        self.cors = cors or Cors.from_template(template.load())
        self.lambdas = lambdas
        self.verifier = verifier
        self.local_routes = local_routes
        self.routes = routes if routes is not None else http_routes(None)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if self.cors is not None and self.cors.is_preflight(request):
            response = self.cors.preflight(request)  # as API Gateway: no route, no token
        else:
            response = self.handle(request)
            if self.cors is not None:
                self.cors.add_headers(request, response)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except FunctionKilled as killed:
            log.warning("502 %s %s: %s", request.method, request.path, killed)
            return Response(
                json.dumps({"message": "Internal Server Error"}),
                status=502,
                content_type="application/json",
            )

    def _handle(self, request: Request) -> Response:
        local = self.local_routes.get((request.method, request.path))
        if local is not None:
            status, body = local(request)
            return Response(
                json.dumps(body, default=str), status=status, content_type="application/json"
            )
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _too_large("The request body is larger than 10 MB.")
        found = find(self.routes, request.method, request.path)
        if found is None:
            return _problem(404, "NOT_FOUND", "Not found", "No such route.")
        route, parameters = found
        claims = None
        if not route.public:
            try:
                claims = self.verifier.claims(request.headers.get("Authorization"))
            except InvalidToken as error:
                log.info("401 %s %s: %s", request.method, request.path, error)
                return _problem(
                    401, "UNAUTHENTICATED", "Not signed in", "A valid bearer token is required."
                )
        event = http_event(
            method=request.method,
            path=request.path,
            route_key=route.key,
            path_parameters=parameters,
            query=dict(request.args.items()),
            headers=dict(request.headers.items()),
            body=request.get_data() or None,
            claims=claims,
        )
        if len(json.dumps(event).encode()) > MAX_INVOKE_PAYLOAD_BYTES:
            return _too_large("The request is larger than a function can be given (6 MB).")
        result = self.lambdas.invoke(route.function, event)
        return _lambda_response(result)


def _lambda_response(result: dict[str, Any]) -> Response:
    body = result.get("body", "")
    if result.get("isBase64Encoded"):
        import base64

        payload: bytes | str = base64.b64decode(body)
    else:
        payload = body
    response = Response(payload, status=int(result.get("statusCode", 200)))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response
