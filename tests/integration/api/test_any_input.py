"""Whatever a caller puts in a path or a query, the answer is a problem of ours, never a 5xx.

Every identifier in a path is checked against the one id pattern before any model is built: one
that is not an id names nothing, so it answers 404 on every route (docs/api.md). An id in a
query that is not an id answers 422 naming the parameter. A property test then drives every
route of the template with arbitrary Unicode in each path and query parameter.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.storage import Storage
from tests.api_client import ROUTES, Api
from tests.builders import admin, coach, member, support

from .api_steps import assert_problem, nothing_changes

OPENAPI = json.loads((Path(__file__).resolve().parents[3] / "docs" / "openapi.json").read_text())
NOT_IDS = {
    "a space": "a b",
    "a quote": "'",
    "an accent": "é",
    "a percent": "%C3%A9",
    "too long": "x" * 129,
    "a letter outside the basic plane": "\U0001d54f",
    "a control character": "a\x00b",
}
WITH_PATH_IDS = [r for r in ROUTES if "{" in r.path and not r.public]


def _path(route_path: str, value: str) -> str:
    """The route's path with ``value`` in place of each parameter."""
    return re.sub(r"\{\w+\}", lambda _: value, route_path)


def _query_names(method: str, path: str) -> list[str]:
    operation = OPENAPI["paths"].get(path, {}).get(method.lower(), {})
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


@pytest.mark.parametrize("value", NOT_IDS.values(), ids=NOT_IDS.keys())
@pytest.mark.parametrize("route", WITH_PATH_IDS, ids=[r.key for r in WITH_PATH_IDS])
def test_a_path_id_that_is_not_an_id_answers_404_and_changes_nothing(
    api: Api, store: Storage, route: Any, value: str
) -> None:
    with nothing_changes(store):
        reply = api.call(support(), route.method, _path(route.path, value), body={})

    assert_problem(reply, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/sessions", {"member_id": "a b"}, "member_id"),
        ("/sessions", {"coach_id": "é"}, "coach_id"),
        ("/services", {"coach_id": "'"}, "coach_id"),
        (
            "/services/s-1/slots",
            {"session_type_id": "t 1", "from": "2026-12-01T00:00Z", "to": "2026-12-02T00:00Z"},
            "session_type_id",
        ),
    ],
)
def test_a_query_id_that_is_not_an_id_answers_422_naming_it(
    api: Api, store: Storage, path: str, query: dict[str, str], field: str
) -> None:
    with nothing_changes(store):
        reply = api.get(support(), path, query=query)

    document = assert_problem(reply, 422, "VALIDATION_FAILED", field=field)
    assert [e["field"] for e in document["errors"]] == [field]


_ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=40)
_CALLERS = [member(), coach(), support(), admin()]


@st.composite
def _requests(draw: st.DrawFn) -> tuple[Any, str, str, dict[str, str]]:
    route = draw(st.sampled_from(ROUTES))
    path = re.sub(r"\{\w+\}", lambda _: draw(_ANY_TEXT), route.path)
    names = _query_names(route.method, route.path)
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    query = {name: draw(_ANY_TEXT | st.just("")) for name in chosen}
    if draw(st.booleans()):
        query[draw(_ANY_TEXT)] = draw(_ANY_TEXT)  # a parameter no route knows
    return draw(st.sampled_from(_CALLERS)), route.method, path, query


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=_requests())
def test_no_path_or_query_value_reaches_a_5xx(
    api: Api, request: tuple[Any, str, str, dict[str, str]]
) -> None:
    caller, method, path, query = request

    reply = api.call(caller, method, path, body={} if method != "GET" else None, query=query)

    assert reply.status < 500, (method, path, query, reply.text)
    if reply.status >= 400 and reply.route is not None:
        assert reply.code is not None, reply.text  # a problem document with its code
