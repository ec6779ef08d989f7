"""The contract's documents in docs/ say what the service does, so a change to it shows in review.

``docs/openapi.json`` must be, byte for byte, what ``GET /openapi.json`` serves, written the way
``make openapi`` writes it; and what it serves (the copy packaged with the docs function) must be
what the docs function's code generates from the functions' resolvers now. ``docs/api.md``
must name every route of the template and every error code the service answers, with its status.
"""

import difflib
import re
from pathlib import Path

import pytest

from coaching.errors import ALL_ERRORS
from coaching.web import answers, problems
from local import openapi
from local.lambda_runtime import ROOT
from local.routes import http_routes
from tests.api_client import Api

from .api_steps import assert_ok

API_MD = ROOT / "docs" / "api.md"
ALL_STATUSES = {error.code: error.status for error in ALL_ERRORS}


def _stale_message(committed: str, served: str) -> str:
    diff = difflib.unified_diff(
        committed.splitlines(),
        served.splitlines(),
        "docs/openapi.json (committed)",
        "GET /openapi.json (served)",
        lineterm="",
        n=1,
    )
    shown = "\n".join(list(diff)[:60])
    return f"docs/openapi.json is not what GET /openapi.json serves: run `make openapi`\n{shown}"


def test_the_committed_openapi_document_is_the_served_one(api: Api) -> None:
    served = openapi.render(assert_ok(api.get(None, "/openapi.json")))
    committed = openapi.COMMITTED.read_text(encoding="utf-8")

    if served != committed:
        pytest.fail(_stale_message(committed, served))


def test_the_served_document_is_the_one_the_code_generates_now() -> None:
    generated = openapi.render(openapi.generated())
    packaged = openapi.PACKAGED.read_text(encoding="utf-8")

    assert generated == packaged, (
        "functions/docs/openapi.json (served) is not what the code generates: run `make openapi`"
    )


def test_make_openapi_writes_the_served_document_the_same_way_each_time(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openapi, "COMMITTED", tmp_path / "docs" / "openapi.json")
    monkeypatch.setattr(openapi, "PACKAGED", tmp_path / "functions" / "docs" / "openapi.json")
    monkeypatch.setattr(openapi, "API_MD", tmp_path / "api.md")
    openapi.API_MD.write_text(API_MD.read_text(encoding="utf-8"), encoding="utf-8")

    assert openapi.main([]) == 0
    first = (tmp_path / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert openapi.main([]) == 0
    second = (tmp_path / "docs" / "openapi.json").read_text(encoding="utf-8")

    assert first == second
    assert (tmp_path / "functions" / "docs" / "openapi.json").read_text(encoding="utf-8") == first
    assert first.endswith("}\n")
    assert first == openapi.render(assert_ok(api.get(None, "/openapi.json")))
    assert openapi.main(["--check"]) == 0


def test_the_check_fails_on_a_stale_copy_and_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text('{"openapi": "3.0.0"}\n', encoding="utf-8")
    monkeypatch.setattr(openapi, "PACKAGED", stale)
    monkeypatch.setattr(openapi, "API_MD", tmp_path / "api.md")
    openapi.API_MD.write_text(API_MD.read_text(encoding="utf-8"), encoding="utf-8")

    assert openapi.main(["--check"]) == 1
    assert "run `make openapi`" in capsys.readouterr().out
    assert stale.read_text(encoding="utf-8") == '{"openapi": "3.0.0"}\n'


# --- docs/api.md -------------------------------------------------------------------------------


def test_the_references_refusals_are_the_served_documents(api: Api) -> None:
    served = assert_ok(api.get(None, "/openapi.json"))
    committed = API_MD.read_text(encoding="utf-8")

    assert openapi.with_refusals(committed, openapi.refusals_table(served)) == committed, (
        "docs/api.md's list of refusals is not the served document's: run `make openapi`"
    )


def test_every_operation_lists_its_refusals_from_the_one_table(api: Api) -> None:
    served = assert_ok(api.get(None, "/openapi.json"))

    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            listed = {
                code
                for answer in operation["responses"].values()
                for code in answer.get("x-problem-codes", [])
            }
            key = f"{method.upper()} {path}"
            assert listed == {error.code for error in answers.refusals(key)}, key
            for status, answer in operation["responses"].items():
                for code in answer.get("x-problem-codes", []):
                    assert ALL_STATUSES[code] == int(status), (key, code)


def _shape(path: str) -> str:
    """A path with its parameters unnamed: `{id}` and `{session_id}` are the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_the_reference_names_every_route_of_the_template() -> None:
    text = _shape(API_MD.read_text(encoding="utf-8"))

    missing = [
        f"{route.method} {route.path}"
        for route in http_routes()
        if f"`{route.method} {_shape(route.path)}" not in text
    ]

    assert missing == [], f"docs/api.md does not describe {missing}"


def test_the_reference_lists_every_error_code_with_its_status() -> None:
    text = API_MD.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{3}) \| `([A-Z_]+)` \|", text, flags=re.MULTILINE)
    listed = {code: int(status) for status, code in rows}

    answered = {error.code: error.status for error in ALL_ERRORS}

    assert {code: listed.get(code) for code in answered} == answered


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: e.code)
def test_every_problem_type_is_the_urn_of_its_code(error: type) -> None:
    reply = problems.problem(error("Refused."))

    assert reply.status_code == error.status
    assert f'"type": "urn:problem:coaching:{error.code.lower()}"' in str(reply.body)
