"""Importing a handler pauses the garbage collector and must leave it running afterwards.

Each ``functions/<name>/app.py`` disables the collector before its imports (collections during
a cold start's imports only walk live objects) and, at its end, freezes what the imports built
and enables the collector again. A handler that forgot the last step would run with no cyclic
garbage collection at all; this imports every handler of the template in a fresh interpreter,
as Lambda does, and looks. The same import shows what the handlers load: botocore, never boto3
(whose package costs a cold start about 45 ms for nothing a function uses).
"""

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from local.lambda_runtime import ROOT
from local.routes import http_routes

PROBE = r"""
import gc, json, sys
from local.lambda_runtime import load_handler

found = {}
for code_uri, handler in json.loads(sys.argv[1]):
    frozen = gc.get_freeze_count()
    load_handler(code_uri, handler)
    found[code_uri + handler] = [gc.isenabled(), gc.get_freeze_count() > frozen]
print(json.dumps({"collector": found, "modules": sorted(sys.modules)}))
"""


def _handlers() -> list[tuple[str, str]]:
    from local import template

    loaded = template.load()
    functions = template.resources(loaded, "AWS::Serverless::Function").values()
    return sorted({(f["Properties"]["CodeUri"], f["Properties"]["Handler"]) for f in functions})


@pytest.fixture(scope="module")
def every_handler_imported() -> dict[str, Any]:
    """Every handler of the template imported in one fresh interpreter, as Lambda imports each:
    what each import left of the collector, and every module loaded in all."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
        "POWERTOOLS_TRACE_DISABLED": "false",  # the tracer patches botocore, as in AWS
    }

    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(_handlers())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_every_handler_import_leaves_the_collector_on_and_the_import_frozen(
    every_handler_imported: dict[str, Any],
) -> None:
    handlers = _handlers()
    assert len(handlers) >= len({r.function for r in http_routes()}) + 2  # + notify, sweep

    assert every_handler_imported["collector"] == {
        code_uri + handler: [True, True] for code_uri, handler in handlers
    }


def test_no_handler_imports_boto3_only_botocore(every_handler_imported: dict[str, Any]) -> None:
    # boto3's package loads its resource layer and s3transfer, which no function uses: about
    # 45 ms of every cold start. The functions build botocore's clients (coaching.runtime).
    loaded = set(every_handler_imported["modules"])

    assert {"botocore.session", "coaching.runtime", "coaching.storage.dynamodb"} <= loaded
    assert not loaded & {"boto3", "s3transfer"}


DOCS_PROBE = r"""
import importlib, json, sys

importlib.import_module("docs.app")  # as Lambda imports docs/app.handler from its package
print(json.dumps(sorted(sys.modules)))
"""


def test_the_docs_function_starts_without_the_aws_sdk_or_the_tracer() -> None:
    # It never calls AWS: the SDK, the tracer and storage would double its cold start for nothing.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT / "shared")]),
        "POWERTOOLS_TRACE_DISABLED": "false",  # as in AWS, where the template turns tracing on
    }

    done = subprocess.run(
        [sys.executable, "-c", DOCS_PROBE],
        cwd=ROOT / "functions",
        env=env,
        capture_output=True,
        text=True,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert {"aws_lambda_powertools.event_handler", "coaching.web.problems"} <= loaded
    # (Powertools' user agent imports botocore's bare package, which loads no more of it.)
    unwanted = {"boto3", "botocore.session", "aws_xray_sdk", "coaching.runtime", "coaching.storage"}
    assert not loaded & unwanted
