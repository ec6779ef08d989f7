"""Every POST and PATCH route of the template refuses a body it cannot read, as a problem,
changing nothing.

400 MALFORMED_REQUEST for a body that is not UTF-8, not JSON, not an object or nested deeper than
32 levels; 415 UNSUPPORTED_MEDIA_TYPE for a body sent as another media type. The routes come from
template.yaml, so a new POST or PATCH route is covered the day it is declared.
"""

import base64
import re
from dataclasses import dataclass
from typing import Any

import pytest

from coaching.models import Caller
from coaching.storage import Storage
from coaching.web.http import MAX_BODY_DEPTH
from local.lambda_runtime import LambdaContext, http_event, jwt_claims, load_handler
from local.routes import Route
from tests.api_client import ROUTES, Api, Reply
from tests.builders import World, admin, coach, member, support

from .api_steps import assert_ok, assert_problem, balance, book, nothing_changes


@dataclass(frozen=True)
class Bad:
    body: str | bytes
    content_type: str | None = "application/json"
    status: int = 400
    code: str = "MALFORMED_REQUEST"


def _nested(depth: int) -> str:
    return '{"reason": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


BAD_BODIES: dict[str, Bad] = {
    "not UTF-8": Bad(b'{"reason": "caf\xe9"}'),
    "UTF-16": Bad('{"reason": "x"}'.encode("utf-16")),
    "not JSON": Bad("{not json"),
    "truncated": Bad('{"reason": "x"'),
    "NaN": Bad('{"reason": NaN}'),
    "Infinity": Bad('{"credits": -Infinity}'),
    "a number too long to read": Bad('{"credits": ' + "9" * 5000 + "}"),
    "null": Bad("null"),
    "an array": Bad("[]"),
    "a number": Bad("3"),
    "a string": Bad('"x"'),
    "one level too deep": Bad(_nested(MAX_BODY_DEPTH + 1)),
    "a thousand levels deep": Bad("[" * 1100 + "]" * 1100),
    "text/plain": Bad('{"reason": "x"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "a form": Bad("reason=x", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "multipart": Bad(
        '--b\r\nContent-Disposition: form-data; name="reason"\r\n\r\nx\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    "XML": Bad("<reason>x</reason>", "application/xml", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "JSON labelled as text": Bad("{}", "text/json", 415, "UNSUPPORTED_MEDIA_TYPE"),
}

POST_ROUTES = [route for route in ROUTES if route.method in ("POST", "PATCH")]
PATH_VALUES = {"session_id": "s-1", "account_id": "personal-x", "service_id": "s-1"}


def _path(route: Route, session_id: str, account_id: str, service_id: str = "s-1") -> str:
    values = {
        "session_id": session_id,
        "account_id": account_id,
        "service_id": service_id,
        "webhook_id": "w-1",  # no such webhook: the body is refused before anything is read
        "delivery_id": "d-1",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route.path)


def _booked(api: Api, given: World) -> tuple[Caller, dict[str, Any]]:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    return alice, book(api, alice, given.service(by=carol, credits=3))


def test_every_post_route_of_the_template_is_covered() -> None:
    assert len(POST_ROUTES) >= 10, [r.key for r in POST_ROUTES]


@pytest.mark.parametrize("route", POST_ROUTES, ids=[r.key for r in POST_ROUTES])
def test_every_unreadable_body_is_refused_as_a_problem_and_changes_nothing(
    api: Api, given: World, store: Storage, route: Route
) -> None:
    alice, session = _booked(api, given)
    path = _path(route, session["id"], f"personal-{alice.id}", session["service"]["id"])
    who = {"/sessions": alice, "/services": coach()}.get(route.path, support())

    for name, bad in BAD_BODIES.items():
        with nothing_changes(store):
            reply = api.call(
                who, route.method, path, raw_body=bad.body, content_type=bad.content_type
            )

        try:
            assert_problem(reply, bad.status, bad.code)
        except AssertionError as failure:
            raise AssertionError(f"{route.key} with a body that is {name}: {failure}") from None


@pytest.mark.parametrize("route", POST_ROUTES, ids=[r.key for r in POST_ROUTES])
def test_a_body_whose_base64_is_broken_is_malformed(
    api: Api, given: World, store: Storage, route: Route
) -> None:
    event = http_event(
        method=route.method,
        path=_path(route, "s-1", "personal-x"),
        route_key=route.key,
        path_parameters=PATH_VALUES,
        headers={"content-type": "application/json"},
        body="not base64!",
        claims=jwt_claims(support()),
    )
    event["isBase64Encoded"] = True

    with nothing_changes(store):
        result = load_handler(route.code_uri, route.handler)(
            event, LambdaContext(route.function, route.timeout)
        )

    reply = Reply(result["statusCode"], result["headers"], result["body"], route)
    assert_problem(reply, 400, "MALFORMED_REQUEST")


# --- what is accepted ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/merge-patch+json",
        None,
    ],
    ids=["json", "json with charset", "upper case", "a +json type", "no Content-Type"],
)
def test_a_json_body_is_read_whatever_json_media_type_names_it(
    api: Api, given: World, content_type: str | None
) -> None:
    alice, session = _booked(api, given)

    reply = api.post(
        alice,
        f"/sessions/{session['id']}/cancel",
        raw_body='{"reason": "Plans changed"}',
        content_type=content_type,
    )

    canceled = assert_ok(reply)
    assert canceled["cancellation"]["reason"] == "Plans changed"


def test_a_body_in_base64_is_read_when_it_is_utf8_json(api: Api, given: World) -> None:
    alice, session = _booked(api, given)
    path = f"/sessions/{session['id']}/cancel"
    route = next(r for r in POST_ROUTES if r.path == "/sessions/{session_id}/cancel")
    event = http_event(
        method="POST",
        path=path,
        route_key=route.key,
        path_parameters={"session_id": session["id"]},
        headers={"content-type": "application/json"},
        body=base64.b64encode('{"reason": "Café closed"}'.encode()).decode(),
        claims=jwt_claims(alice),
    )
    event["isBase64Encoded"] = True

    result = load_handler(route.code_uri, route.handler)(
        event, LambdaContext(route.function, route.timeout)
    )

    reply = Reply(result["statusCode"], result["headers"], result["body"], route)
    assert assert_ok(reply)["cancellation"]["reason"] == "Café closed"


def test_no_body_with_another_content_type_is_not_refused_for_its_type(
    api: Api, given: World
) -> None:
    alice, session = _booked(api, given)

    reply = api.post(alice, f"/sessions/{session['id']}/cancel", content_type="text/plain")

    assert assert_ok(reply)["status"] == "CANCELED"


def test_a_required_body_missing_under_another_content_type_is_malformed(
    api: Api, given: World, store: Storage
) -> None:
    with nothing_changes(store):
        reply = api.post(member(), "/sessions", content_type="text/plain")

    assert_problem(reply, 400, "MALFORMED_REQUEST")


def test_a_body_nested_exactly_32_levels_is_read_and_then_validated(
    api: Api, given: World, store: Storage
) -> None:
    alice, session = _booked(api, given)

    with nothing_changes(store):
        reply = api.post(
            alice, f"/sessions/{session['id']}/cancel", raw_body=_nested(MAX_BODY_DEPTH)
        )

    assert_problem(reply, 422, "VALIDATION_FAILED", field="reason")


@pytest.mark.parametrize(
    "text",
    ['{"reason": "\\ud800"}', '{"reason": "\\udfff and more"}'],
    ids=["lone high surrogate", "lone low surrogate"],
)
def test_a_string_with_a_lone_surrogate_escape_is_invalid_not_a_fault(
    api: Api, given: World, store: Storage, text: str
) -> None:
    alice, session = _booked(api, given)

    with nothing_changes(store):
        reply = api.post(alice, f"/sessions/{session['id']}/cancel", raw_body=text)

    assert_problem(reply, 422, "VALIDATION_FAILED", field="reason")


# --- the resolver's own refusals -----------------------------------------------------------------


@pytest.mark.parametrize("route", POST_ROUTES, ids=[r.key for r in POST_ROUTES])
def test_the_resolver_alone_answers_a_foreign_media_type_as_a_problem(
    api: Api, store: Storage, route: Route
) -> None:
    """Whatever entry point wraps it, a resolver never answers in Powertools' own 415 format."""
    resolver: Any = load_handler(route.code_uri, route.handler.rpartition(".")[0] + ".app")
    event = http_event(
        method=route.method,
        path=_path(route, "s-1", "personal-x"),
        route_key=route.key,
        path_parameters=PATH_VALUES,
        headers={"content-type": "text/plain"},
        body='{"reason": "x"}',
        claims=jwt_claims(support()),
    )

    with nothing_changes(store):
        result = resolver.resolve(event, LambdaContext(route.function, route.timeout))

    reply = Reply(result["statusCode"], result["headers"], result["body"], route)
    # Every POST and PATCH route reads a body (approve, decline, withdraw and retire take
    # optional ones too).
    assert_problem(reply, 415, "UNSUPPORTED_MEDIA_TYPE")


# --- whole numbers -------------------------------------------------------------------------------


def test_a_whole_number_written_with_a_zero_fraction_is_the_number(
    api: Api, given: World, store: Storage
) -> None:
    # JSON Schema counts 5.0 as an integer, so clients generated from the schema may send it.
    boss, coach_ = admin(), coach()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)

    granted = api.post(boss, f"/accounts/{group['id']}/grants", {"credits": 5.0})
    service = api.post(
        coach_,
        "/services",
        {
            "name": "Floats",
            "session_types": [{"minutes": 60.0, "credits": 3.0}],
            "cancellation_window_hours": 48.0,
            "refund_tiers": [{"hours_before": 48.0, "percent": 100.0}],
        },
    )

    assert assert_ok(granted, 201)["credits"] == 5
    assert balance(store, group["id"]) == 5
    made = assert_ok(service, 201)
    assert made["session_types"][0] == {
        "id": "t1",
        "minutes": 60,
        "credits": 3,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
    }
    assert made["cancellation_window_hours"] == 48


@pytest.mark.parametrize("credits", [5.5, True, "5", 1e300])
def test_a_number_that_is_not_whole_is_refused(
    api: Api, given: World, store: Storage, credits: Any
) -> None:
    boss = admin()
    group = assert_ok(api.post(boss, "/accounts", {"name": "Team"}), 201)

    with nothing_changes(store):
        reply = api.post(boss, f"/accounts/{group['id']}/grants", {"credits": credits})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="credits")
