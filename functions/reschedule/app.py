"""Move a session to another time, answer a member's request to move it, or withdraw it."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.metrics import MetricUnit

from coaching import operations, runtime
from coaching.observability import metrics, outcome_metrics
from coaching.web import http
from coaching.web.api import (
    RESCHEDULE_RESPONSES,
    ApproveBody,
    DeclineBody,
    PathId,
    RescheduleAccepted,
    RescheduleBody,
    SessionView,
    WithdrawBody,
    reschedule_answer,
    session_view,
)

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)


@app.post(
    "/sessions/<session_id>/reschedule",
    summary="Move a session (202 when the coach must approve the move)",
    tags=["Reschedule"],
    responses=RESCHEDULE_RESPONSES,
)
def reschedule(
    session_id: PathId, body: Annotated[RescheduleBody, Body()]
) -> tuple[SessionView | RescheduleAccepted, int]:
    caller, now = http.caller(app), http.now(app)
    session, mode = operations.reschedule(
        runtime.storage(), caller, session_id, body.start, body.reason, now
    )
    with outcome_metrics("moved" if mode == "DIRECT" else "requested") as labelled:
        labelled.add_metric(name="Reschedules", unit=MetricUnit.Count, value=1)
    return reschedule_answer(session, mode, caller, now)


@app.post(
    "/sessions/<session_id>/reschedule-request/approve",
    summary="Accept a member's request to move a session",
    tags=["Reschedule"],
)
def approve(
    session_id: PathId,
    body: Annotated[ApproveBody, Body()] = ApproveBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    return _answer(session_id, approve=True, reason=None)


@app.post(
    "/sessions/<session_id>/reschedule-request/decline",
    summary="Decline a member's request to move a session",
    tags=["Reschedule"],
)
def decline(
    session_id: PathId,
    body: Annotated[DeclineBody, Body()] = DeclineBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    return _answer(session_id, approve=False, reason=body.reason)


@app.post(
    "/sessions/<session_id>/reschedule-request/withdraw",
    summary="Take back your own request to move a session",
    tags=["Reschedule"],
)
def withdraw(
    session_id: PathId,
    body: Annotated[WithdrawBody, Body()] = WithdrawBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    reason = body.reason
    session = operations.withdraw_reschedule(runtime.storage(), caller, session_id, reason, now)
    metrics.add_metric(name="RescheduleRequestsWithdrawn", unit=MetricUnit.Count, value=1)
    return session_view(session, caller, now)


def _answer(session_id: str, *, approve: bool, reason: str | None) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    session = operations.answer_reschedule(
        runtime.storage(), caller, session_id, approve, now, reason=reason
    )
    with outcome_metrics("approved" if approve else "declined") as labelled:
        labelled.add_metric(name="RescheduleRequestsAnswered", unit=MetricUnit.Count, value=1)
    return session_view(session, caller, now)


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
