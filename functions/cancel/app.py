"""Cancel a session, and the quote the confirmation dialog shows before it."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from coaching import operations, runtime
from coaching.observability import outcome_metrics
from coaching.web import http
from coaching.web.api import CancelBody, PathId, QuoteView, SessionView, quote_view, session_view

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)


@app.get(
    "/sessions/<session_id>/cancellation",
    summary="Would a cancel now be refunded?",
    tags=["Cancel"],
)
def quote(session_id: PathId) -> QuoteView:
    caller = http.caller(app)
    found = operations.quote_cancellation(runtime.storage(), caller, session_id, http.now(app))
    return quote_view(found)


@app.post("/sessions/<session_id>/cancel", summary="Cancel an upcoming session", tags=["Cancel"])
def cancel(
    session_id: PathId,
    # An optional object (a JSON null is malformed), so the published schema says exactly that.
    body: Annotated[CancelBody, Body()] = CancelBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    session = operations.cancel(
        runtime.storage(), caller, session_id, body.reason, now, body.expected_refund_credits
    )
    refunded = operations.given_back(session)
    with outcome_metrics("refunded" if refunded else "non_refundable") as labelled:
        labelled.add_metric(name="SessionsCanceled", unit=MetricUnit.Count, value=1)
        labelled.add_metric(name="CreditsRefunded", unit=MetricUnit.Count, value=refunded)
    return session_view(session, caller, now)


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
