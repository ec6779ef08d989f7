"""events/: one sample HTTP API event per template route, current, and each reaches its route."""

import json

import pytest

from coaching.storage import Storage
from local.lambda_runtime import LambdaContext, load_handler
from local.routes import http_routes
from local.sample_events import file_for, routes_with_names, sample
from tests.api_client import Api

NAMED = routes_with_names()


def test_every_route_has_a_sample_event_that_is_up_to_date() -> None:
    for route, event_name in NAMED:
        path = file_for(route, event_name)
        assert path.exists(), f"{route.key}: run python -m local.sample_events"
        assert json.loads(path.read_text()) == sample(route), f"{path.name} is stale"


@pytest.mark.parametrize(("route", "event_name"), NAMED, ids=[r.key for r, _ in NAMED])
def test_each_sample_event_reaches_its_route(
    route: object, event_name: str, api: Api, store: Storage
) -> None:
    # Given the function the template names for this route
    routed = {r.key: r for r in http_routes()}[route.key]  # type: ignore[attr-defined]
    handler = load_handler(routed.code_uri, routed.handler)
    event = json.loads(file_for(routed, event_name).read_text())

    # When the sample is invoked on empty tables
    answer = handler(event, LambdaContext(routed.function, routed.timeout))

    # Then the route itself answered: success, or a domain refusal, never "no such route"
    assert answer["statusCode"] < 500
    if answer["statusCode"] == 404:
        assert json.loads(answer["body"])["detail"] != "No such resource."
