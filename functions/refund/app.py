"""Refund credits that did not come back automatically (the coach's or support's exception),
and mark who did not turn up to a session (a coach's no-show gives the credits back)."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from coaching import operations, runtime
from coaching.observability import outcome_metrics
from coaching.web import http
from coaching.web.api import NoShowBody, PathId, RefundBody, SessionView, session_view

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)


@app.post("/sessions/<session_id>/refund", summary="Refund a session's credits", tags=["Refund"])
def refund(
    session_id: PathId,
    # An optional object (a JSON null is malformed), so the published schema says exactly that.
    body: Annotated[RefundBody, Body()] = RefundBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    session = operations.refund(runtime.storage(), caller, session_id, body.credits, body.note, now)
    refunded = operations.given_back(session)
    with outcome_metrics(session.refund.status.value.lower()) as labelled:
        labelled.add_metric(name="Refunds", unit=MetricUnit.Count, value=1)
        labelled.add_metric(name="CreditsRefunded", unit=MetricUnit.Count, value=refunded)
    return session_view(session, caller, now)


@app.post(
    "/sessions/<session_id>/no-show",
    summary="Mark who did not turn up (a coach's no-show refunds the member)",
    tags=["Refund"],
)
def no_show(session_id: PathId, body: Annotated[NoShowBody, Body()]) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    session = operations.mark_no_show(runtime.storage(), caller, session_id, body.party, now)
    refunded = operations.given_back(session)
    with outcome_metrics(body.party.lower()) as labelled:
        labelled.add_metric(name="NoShows", unit=MetricUnit.Count, value=1)
        labelled.add_metric(name="CreditsRefunded", unit=MetricUnit.Count, value=refunded)
    return session_view(session, caller, now)


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
