"""Write ``docs/openapi.json``: the OpenAPI document exactly as ``GET /openapi.json`` serves it,
and docs/api.md's list of what each route refuses with, taken from that document.

``make openapi`` runs this. The document is asked of the docs function in process, through the
route ``template.yaml`` gives it and the event API Gateway would send, so the committed copy is
the served one; keys are sorted and indented so that a change to the contract reads as a small
diff in review. ``--check`` writes nothing and fails when the committed copy is out of date.
"""

import argparse
import json
import sys
from typing import Any

from local.lambda_runtime import ROOT, LambdaContext, http_event, load_handler
from local.routes import find, http_routes

COMMITTED = ROOT / "docs" / "openapi.json"
PATH = "/openapi.json"


def served() -> dict[str, Any]:
    """The document the docs function answers with."""
    found = find(http_routes(), "GET", PATH)
    if found is None:
        raise LookupError(f"template.yaml has no route for GET {PATH}")
    route, parameters = found
    event = http_event(
        method="GET", path=PATH, route_key=route.key, path_parameters=parameters or None
    )
    handler = load_handler(route.code_uri, route.handler)
    answer = handler(event, LambdaContext(route.function, route.timeout))
    if answer["statusCode"] != 200:
        raise RuntimeError(f"GET {PATH} answered {answer['statusCode']}: {answer['body']}")
    document: dict[str, Any] = json.loads(answer["body"])
    return document


def render(document: dict[str, Any]) -> str:
    """One stable text for one document: sorted keys, two-space indents, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


API_MD = ROOT / "docs" / "api.md"
REFUSALS_START = "<!-- refusals: written by `make openapi` from coaching/answers.py -->"
REFUSALS_END = "<!-- end of refusals -->"


def refusals_table(document: dict[str, Any]) -> str:
    """docs/api.md's list of what each route refuses with, from the served document's
    responses (which the docs function writes from ``coaching.answers``)."""
    lines = [
        REFUSALS_START,
        "",
        "| route | refusals |",
        "|---|---|",
    ]
    for path, operations in sorted(document["paths"].items()):
        for method, operation in sorted(operations.items()):
            statuses = [
                f"{status} " + ", ".join(f"`{code}`" for code in answer["x-problem-codes"])
                for status, answer in sorted(operation["responses"].items())
                if "x-problem-codes" in answer
            ]
            lines.append(f"| `{method.upper()} {path}` | {'; '.join(statuses)} |")
    return "\n".join([*lines, "", REFUSALS_END])


def with_refusals(reference: str, table: str) -> str:
    """``reference`` (docs/api.md's text) with its list of refusals replaced by ``table``."""
    before, found, rest = reference.partition(REFUSALS_START)
    if not found:
        raise LookupError(f"docs/api.md has no {REFUSALS_START!r} marker")
    _, ended, after = rest.partition(REFUSALS_END)
    if not ended:
        raise LookupError(f"docs/api.md has no {REFUSALS_END!r} marker")
    return before + table + after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if docs/openapi.json is out of date"
    )
    options = parser.parse_args(argv)
    document = served()
    text = render(document)
    reference = API_MD.read_text(encoding="utf-8")
    listed = with_refusals(reference, refusals_table(document))
    if options.check:
        current = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
        if current != text or reference != listed:
            print(
                "docs/openapi.json or docs/api.md's refusals differ from the served document: "
                "run `make openapi`"
            )
            return 1
        return 0
    COMMITTED.parent.mkdir(exist_ok=True)
    COMMITTED.write_text(text, encoding="utf-8")
    API_MD.write_text(listed, encoding="utf-8")
    for written in (COMMITTED, API_MD):
        shown = written.relative_to(ROOT) if written.is_relative_to(ROOT) else written
        print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
