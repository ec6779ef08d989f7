"""A coach's services, working hours and free times: what can be booked, and when."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import AwareDatetime

from coaching import operations, runtime
from coaching.web import http
from coaching.web.api import (
    FreeTimeList,
    PathId,
    QueryId,
    free_time_list,
)
from coaching.web.service_api import (
    AvailabilityBody,
    AvailabilityView,
    CoachList,
    CreateServiceBody,
    RetireBody,
    ServiceList,
    ServicePatchBody,
    ServiceView,
    TimeOffBody,
    TimeOffCreated,
    TimeOffList,
    availability_view,
    coach_view,
    service_view,
    time_off_created,
    time_off_view,
)

app = APIGatewayHttpResolver(
    enable_validation=True, response_validation_error_http_code=500, serializer=http.serialize
)
http.setup(app)


@app.post("/services", status_code=201, summary="Offer a service", tags=["Services"])
def create_service(body: Annotated[CreateServiceBody, Body()]) -> ServiceView:
    caller = http.caller(app)
    service = operations.create_service(
        runtime.storage(),
        caller,
        name=body.name,
        session_types=[t.model_dump() for t in body.session_types],
        now=http.now(app),
        **body.settings(),
    )
    return service_view(service)


@app.get("/services", summary="A coach's services", tags=["Services"])
def list_services(
    coach_id: QueryId,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
    include_retired: Annotated[bool, Query()] = False,
) -> ServiceList:
    http.caller(app)
    services, token = operations.services_of(
        runtime.storage(), coach_id, limit, next_token, include_retired
    )
    return ServiceList(items=[service_view(s) for s in services], next_token=token)


@app.get("/services/<service_id>", summary="A service", tags=["Services"])
def get_service(service_id: PathId) -> ServiceView:
    http.caller(app)
    return service_view(operations.get_service(runtime.storage(), service_id))


@app.patch(
    "/services/<service_id>",
    summary="Change a service for the bookings made after it",
    tags=["Services"],
)
def edit_service(service_id: PathId, body: Annotated[ServicePatchBody, Body()]) -> ServiceView:
    service = operations.edit_service(
        runtime.storage(),
        http.caller(app),
        service_id,
        settings=body.settings(),
        session_types=body.type_edits(),
        now=http.now(app),
    )
    return service_view(service)


@app.post("/services/<service_id>/retire", summary="Stop offering a service", tags=["Services"])
def retire_service(
    service_id: PathId,
    body: Annotated[RetireBody, Body()] = RetireBody(),  # noqa: B008 (never mutated)
) -> ServiceView:
    service = operations.retire_service(
        runtime.storage(), http.caller(app), service_id, http.now(app)
    )
    return service_view(service)


@app.get("/coaches", summary="Coaches who offer a service, by name", tags=["Services"])
def list_coaches(
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> CoachList:
    http.caller(app)
    entries, token = operations.coach_directory(runtime.storage(), q, limit, next_token)
    return CoachList(items=[coach_view(e) for e in entries], next_token=token)


@app.get(
    "/services/<service_id>/slots",
    summary="Free start times of a session type, at most 31 days a call",
    tags=["Services"],
)
def free_times(
    service_id: PathId,
    session_type_id: QueryId,
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: Annotated[AwareDatetime, Query()],
) -> FreeTimeList:
    found = operations.free_times_of(
        runtime.storage(),
        service_id=service_id,
        session_type_id=session_type_id,
        start=from_,
        end=to,
        now=http.now(app),
        caller=http.caller(app),
    )
    return free_time_list(found)


@app.put("/coaches/me/availability", summary="Set your weekly working hours", tags=["Services"])
def set_availability(body: Annotated[AvailabilityBody, Body()]) -> AvailabilityView:
    hours = operations.set_availability(
        runtime.storage(),
        http.caller(app),
        timezone=body.timezone,
        weekly=body.weekly,
        max_sessions_per_day=body.max_sessions_per_day,
        now=http.now(app),
    )
    return availability_view(hours)


@app.get(
    "/coaches/<coach_id>/availability",
    summary="A coach's weekly working hours ('me': your own)",
    tags=["Services"],
)
def get_availability(coach_id: PathId) -> AvailabilityView:
    caller = http.caller(app)
    wanted = caller.id if coach_id == "me" else coach_id
    return availability_view(operations.availability_of(runtime.storage(), wanted))


@app.post("/coaches/me/time-off", status_code=201, summary="Take time off", tags=["Services"])
def add_time_off(body: Annotated[TimeOffBody, Body()]) -> TimeOffCreated:
    taken = operations.add_time_off(
        runtime.storage(),
        http.caller(app),
        start=body.start,
        end=body.end,
        reason=body.reason,
        now=http.now(app),
    )
    return time_off_created(taken)


@app.get(
    "/coaches/<coach_id>/time-off",
    summary="A coach's time off over a range ('me': your own)",
    tags=["Services"],
)
def list_time_off(
    coach_id: PathId,
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: Annotated[AwareDatetime, Query()],
) -> TimeOffList:
    found, with_reasons = operations.time_off_of(
        runtime.storage(), http.caller(app), coach_id, from_, to
    )
    return TimeOffList(items=[time_off_view(off, with_reasons) for off in found])


@app.delete(
    "/coaches/me/time-off/<time_off_id>",
    status_code=204,
    summary="Take back time off",
    tags=["Services"],
    responses={204: {"description": "Taken back: members may book it again", "content": {}}},
)
def remove_time_off(time_off_id: PathId) -> Response[str]:
    operations.remove_time_off(runtime.storage(), http.caller(app), time_off_id, http.now(app))
    return Response(status_code=204, body="")


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
