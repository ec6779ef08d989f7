"""Managing one session from an email's link, without signing in: the ``/manage`` routes.

Outside the JWT authorizer: the caller sends the manage link's token (``Authorization: Bearer
<token>``), which names one session and its member (``coaching.manage_links``). They may read
that session, ask what a cancel would give back, cancel it, move it, and look for free times to
move it to: as that member, under that member's rules, and nothing else. Every other route
refuses the token (the authorizer does not know it: 401).
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime

from coaching import operations, runtime
from coaching.observability import outcome_metrics
from coaching.web import http
from coaching.web.api import (
    RESCHEDULE_RESPONSES,
    CancelBody,
    FreeTimeList,
    QuoteView,
    RescheduleAccepted,
    RescheduleBody,
    SessionView,
    free_time_list,
    quote_view,
    reschedule_answer,
    session_view,
)

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)

_TAGS = ["Manage links"]


@app.get("/manage/session", summary="The session a manage link names", tags=_TAGS)
def session() -> SessionView:
    now = http.now(app)
    caller, found = operations.link_holder(runtime.storage(), http.link_holder(app), now)
    return session_view(found, caller, now)


@app.get("/manage/cancellation", summary="Would a cancel now be refunded?", tags=_TAGS)
def quote() -> QuoteView:
    now = http.now(app)
    caller, found = operations.link_holder(runtime.storage(), http.link_holder(app), now)
    return quote_view(operations.quote_cancellation(runtime.storage(), caller, found.id, now))


@app.post("/manage/cancel", summary="Cancel the session a manage link names", tags=_TAGS)
def cancel(
    body: Annotated[CancelBody, Body()] = CancelBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    now = http.now(app)
    caller, found = operations.link_holder(runtime.storage(), http.link_holder(app), now)
    canceled = operations.cancel(
        runtime.storage(), caller, found.id, body.reason, now, body.expected_refund_credits
    )
    refunded = operations.given_back(canceled)
    with outcome_metrics("refunded" if refunded else "non_refundable") as labelled:
        labelled.add_metric(name="SessionsCanceled", unit=MetricUnit.Count, value=1)
        labelled.add_metric(name="CreditsRefunded", unit=MetricUnit.Count, value=refunded)
    return session_view(canceled, caller, now)


@app.post(
    "/manage/reschedule",
    summary="Move the session a manage link names (202 when the coach must approve the move)",
    tags=_TAGS,
    responses=RESCHEDULE_RESPONSES,
)
def reschedule(
    body: Annotated[RescheduleBody, Body()],
) -> tuple[SessionView | RescheduleAccepted, int]:
    now = http.now(app)
    caller, found = operations.link_holder(runtime.storage(), http.link_holder(app), now)
    moved, mode = operations.reschedule(
        runtime.storage(), caller, found.id, body.start, body.reason, now
    )
    with outcome_metrics("moved" if mode == "DIRECT" else "requested") as labelled:
        labelled.add_metric(name="Reschedules", unit=MetricUnit.Count, value=1)
    return reschedule_answer(moved, mode, caller, now)


@app.get(
    "/manage/slots",
    summary="Free times to move the session a manage link names to, at most 31 days a call",
    tags=_TAGS,
)
def slots(
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: Annotated[AwareDatetime, Query()],
) -> FreeTimeList:
    now = http.now(app)
    _, found = operations.link_holder(runtime.storage(), http.link_holder(app), now)
    free = operations.free_times_of(
        runtime.storage(),
        service_id=found.service.id,
        session_type_id=found.session_type.id,
        start=from_,
        end=to,
        now=now,
    )
    return free_time_list(free)


handler = http.entry_point(app, identify=http.link_caller)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
