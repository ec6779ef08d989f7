"""Book a session, list and show sessions, and answer booking requests."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.metrics import MetricUnit

from coaching import operations, runtime
from coaching.formats import EMAIL_PATTERN
from coaching.observability import metrics, outcome_metrics
from coaching.web import http
from coaching.web.api import (
    ApproveBody,
    BookBody,
    DeclineBody,
    HistoryPage,
    OptionalQueryId,
    PathId,
    SessionList,
    SessionView,
    history_page,
    parse_statuses,
    session_view,
)

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)


@app.post("/sessions", status_code=201, summary="Book a session", tags=["Sessions"])
def book(body: Annotated[BookBody, Body()]) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    session = operations.book(
        runtime.storage(),
        caller,
        service_id=body.service_id,
        session_type_id=body.session_type_id,
        start=body.start,
        account_id=body.account_id,
        timezone=body.timezone,
        now=now,
    )
    metrics.add_metric(name="SessionsBooked", unit=MetricUnit.Count, value=1)
    return session_view(session, caller, now)


UserId = OptionalQueryId


@app.get(
    "/sessions",
    summary="The caller's upcoming or past sessions; for support, a member's or a coach's",
    tags=["Sessions"],
)
def list_sessions(
    view: Annotated[Literal["upcoming", "past"], Query()] = "upcoming",
    status: Annotated[
        str | None, Query(max_length=200, description="Keep only these statuses: A,B")
    ] = None,
    member_id: UserId = None,
    coach_id: UserId = None,
    account_id: UserId = None,
    member_email: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=254,
            pattern=EMAIL_PATTERN,
            description="Support: the sessions of the members who booked with this address "
            "(exact, any case)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> SessionList:
    caller, now = http.caller(app), http.now(app)
    sessions, token = operations.list_sessions(
        runtime.storage(),
        caller,
        view=view,
        statuses=parse_statuses(status),
        member_id=member_id,
        coach_id=coach_id,
        account_id=account_id,
        member_email=member_email,
        limit=limit,
        token=next_token,
        now=now,
    )
    return SessionList(items=[session_view(s, caller, now) for s in sessions], next_token=token)


@app.get("/sessions/<session_id>", summary="A session's detail", tags=["Sessions"])
def detail(session_id: PathId) -> SessionView:
    caller = http.caller(app)
    session = operations.view_session(runtime.storage(), caller, session_id)
    return session_view(session, caller, http.now(app))


@app.get(
    "/sessions/<session_id>/history",
    summary="Every change of a session, oldest first",
    tags=["Sessions"],
)
def history(
    session_id: PathId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=20)] = None,
) -> HistoryPage:
    caller = http.caller(app)
    entries, token = operations.history_of(runtime.storage(), caller, session_id, limit, next_token)
    return history_page(entries, token)


@app.post("/sessions/<session_id>/approve", summary="Accept a booking request", tags=["Sessions"])
def approve(
    session_id: PathId,
    body: Annotated[ApproveBody, Body()] = ApproveBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    return _answer(session_id, approve=True, reason=None)


@app.post("/sessions/<session_id>/decline", summary="Decline a booking request", tags=["Sessions"])
def decline(
    session_id: PathId,
    body: Annotated[DeclineBody, Body()] = DeclineBody(),  # noqa: B008 (never mutated)
) -> SessionView:
    return _answer(session_id, approve=False, reason=body.reason)


def _answer(session_id: str, *, approve: bool, reason: str | None) -> SessionView:
    caller, now = http.caller(app), http.now(app)
    session = operations.answer_booking(
        runtime.storage(), caller, session_id, approve, now, reason=reason
    )
    with outcome_metrics("approved" if approve else "declined") as labelled:
        labelled.add_metric(name="BookingRequestsAnswered", unit=MetricUnit.Count, value=1)
    return session_view(session, caller, now)


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
