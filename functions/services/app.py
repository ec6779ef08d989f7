"""A coach's services: what can be booked, for how many credits, under which policy."""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from coaching import clock, http, operations, runtime
from coaching.api import CreateServiceBody, ServiceView, service_view

app = APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)
http.setup(app)


@app.post("/services", status_code=201, summary="Offer a service", tags=["Services"])
def create_service(body: Annotated[CreateServiceBody, Body()]) -> ServiceView:
    caller = http.caller(app)
    service = operations.create_service(
        runtime.storage(),
        caller,
        name=body.name,
        session_types=[(t.minutes, t.credits) for t in body.session_types],
        cancellation_window_hours=body.cancellation_window_hours,
        requires_approval=body.requires_approval,
        request_ttl_hours=body.request_ttl_hours,
        late_reschedule_requires_approval=body.late_reschedule_requires_approval,
        now=clock.now(),
    )
    return service_view(service)


@app.get("/services/<service_id>", summary="A service", tags=["Services"])
def get_service(service_id: Annotated[str, Path(max_length=128)]) -> ServiceView:
    http.caller(app)
    return service_view(operations.get_service(runtime.storage(), service_id))


handler = http.entry_point(app)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
