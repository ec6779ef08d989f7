"""The published OpenAPI document: valid OpenAPI 3.1, every reference resolving, errors as problems.

Client generators and outside fuzzers read this document; a dangling ``$ref`` breaks them all.
"""

import json
from collections.abc import Iterator
from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.api_client import Api

from .api_steps import assert_ok


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are published: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_the_published_document_is_valid_openapi_3_1(api: Api) -> None:
    document = assert_ok(api.get(None, "/openapi.json"))

    assert document["openapi"].startswith("3.1")
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_every_reference_in_the_published_document_resolves(api: Api) -> None:
    document = assert_ok(api.get(None, "/openapi.json"))

    refs = set(_refs(document))

    assert refs, "the document names its schemas by reference"
    for ref in sorted(refs):
        _resolve(document, ref)


def test_every_error_answer_is_described_as_a_problem_document(api: Api) -> None:
    document = assert_ok(api.get(None, "/openapi.json"))

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("2", "3")):
                    continue
                assert list(answer.get("content", {})) == ["application/problem+json"], (
                    method,
                    path,
                    status,
                    json.dumps(answer),
                )


def test_the_docs_pages_own_link_to_its_document_answers_the_document(api: Api) -> None:
    # Swagger UI's page asks for its document at ?format=json, beside itself.
    page = api.get(None, "/docs")
    linked = api.get(None, "/docs", query={"format": "json"})

    assert page.headers["Content-Type"].startswith("text/html")
    assert "?format=json" in page.text
    assert linked.headers["Content-Type"] == "application/json"
    assert linked.json == assert_ok(api.get(None, "/openapi.json"))
