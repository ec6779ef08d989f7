"""``refuse_bad_body``: what a body must be before any parser reads it (a pure function)."""

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coaching.errors import MalformedRequest, UnsupportedMediaType
from coaching.web.http import MAX_BODY_DEPTH, as_json_request, refuse_bad_body


def _event(
    body: str | None, content_type: str | None = "application/json", *, b64: bool = False
) -> dict[str, Any]:
    headers = {"content-type": content_type} if content_type else {}
    event: dict[str, Any] = {"headers": headers, "isBase64Encoded": b64}
    if body is not None:
        event["body"] = body
    return event


def test_an_object_passes() -> None:
    assert refuse_bad_body(_event('{"reason": "x", "nested": {"a": [1, 2.5, null]}}')) is None


@pytest.mark.parametrize("body", [None, ""], ids=["absent", "empty"])
def test_no_body_is_left_to_the_route(body: str | None) -> None:
    assert refuse_bad_body(_event(body, "text/plain")) is None


@pytest.mark.parametrize(
    "body", ["null", "[]", "3", '"x"', "true", "{", "{'a': 1}", '{"a": NaN}', " "]
)
def test_anything_but_a_json_object_is_malformed(body: str) -> None:
    assert isinstance(refuse_bad_body(_event(body)), MalformedRequest)


def test_depth_32_is_read_and_33_is_malformed() -> None:
    def nested(depth: int) -> str:
        return '{"a": ' * depth + "1" + "}" * depth

    assert refuse_bad_body(_event(nested(MAX_BODY_DEPTH))) is None
    refused = refuse_bad_body(_event(nested(MAX_BODY_DEPTH + 1)))
    assert isinstance(refused, MalformedRequest) and "32" in refused.detail


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = json.dumps({"reason": "[" * 100 + '{\\"' * 50, "note": "]]]"})
    assert refuse_bad_body(_event(text)) is None


def test_an_unclosed_string_full_of_escaped_quotes_is_malformed() -> None:
    # The scan must stay linear on a body built to make a string pattern backtrack.
    text = '{"a": "' + '\\"[' * 200_000
    assert isinstance(refuse_bad_body(_event(text)), MalformedRequest)


def test_base64_that_is_not_utf8_is_malformed() -> None:
    body = base64.b64encode(b'{"reason": "\xff"}').decode()
    assert isinstance(refuse_bad_body(_event(body, b64=True)), MalformedRequest)


def test_base64_utf8_json_passes() -> None:
    body = base64.b64encode('{"reason": "Café"}'.encode()).decode()
    assert refuse_bad_body(_event(body, b64=True)) is None


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "text/json", "application/jsonx", "json"],
)
def test_a_body_of_another_media_type_is_unsupported(content_type: str) -> None:
    assert isinstance(refuse_bad_body(_event("{}", content_type)), UnsupportedMediaType)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "APPLICATION/JSON; charset=utf-8", "application/problem+json", None, " "],
)
def test_json_media_types_and_none_are_read(content_type: str | None) -> None:
    assert refuse_bad_body(_event("{}", content_type)) is None


def test_the_resolver_is_handed_plain_application_json() -> None:
    event = {"headers": {"Content-Type": "application/merge-patch+json", "x": "1"}, "body": "{}"}

    assert as_json_request(event)["headers"] == {"x": "1", "content-type": "application/json"}
    assert event["headers"]["Content-Type"] == "application/merge-patch+json"  # a copy


@given(st.binary(max_size=200))
def test_any_bytes_are_answered_never_raised(data: bytes) -> None:
    for event in (
        _event(base64.b64encode(data).decode(), b64=True),
        _event(data.decode("latin-1")),
    ):
        refused = refuse_bad_body(event)
        assert refused is None or refused.status in (400, 415)
