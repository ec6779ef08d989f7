"""Schemathesis, a property-based fuzzer made for OpenAPI, against the running local stack.

It reads the published ``/openapi.json`` and sends what it generates from it (valid and invalid
bodies, parameters and media types, requests without or with broken credentials, chains of calls
following the links it infers) as a member and as a coach, and checks that:

- nothing answers 5xx (``not_a_server_error``);
- every answer matches the document: status, media type, headers, schema;
- no operation ignores missing or broken credentials (``ignored_auth``);
- schema-invalid requests are refused, and schema-valid ones are not called malformed.

Two departures from Schemathesis' defaults, both about what the contract says, not leniency:
a request the schema allows may still be refused with 422 for what a schema cannot say (an
unknown time zone, a start off the 15-minute grid, a paging token we never gave out, an
Idempotency-Key already used with another body), and an undeclared method answers 404 as API
Gateway's HTTP APIs do, not 405.

Bounded: a fixed seed, a fixed number of examples per operation, one worker.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack

MAX_EXAMPLES = 10


def _config(stack: RunningStack, folder: Path) -> Path:
    """A schemathesis.toml for this run: the seeded ids as likely path values, so that many
    requests reach a real session, account or service instead of stopping at 404."""
    seeded = stack.seeded
    sessions = list(seeded["sessions"].values())
    accounts = [seeded["group_account_id"], "personal-demo-member"]

    def values(items: list[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    config = folder / "schemathesis.toml"
    config.write_text(
        f"""
seed = 12
workers = 1
max-failures = 20
request-timeout = 30
suppress-health-check = ["too_slow", "filter_too_much"]

[generation]
max-examples = {MAX_EXAMPLES}
database = "none"

[checks.positive_data_acceptance]
# 422: the meaning of a well-formed request refused (see the module's docstring).
expected-statuses = ["2XX", "401", "403", "404", "409", "422", "429"]

[dictionaries.session_ids]
values = {values(sessions)}

[dictionaries.account_ids]
values = {values(accounts)}

[dictionaries.service_ids]
values = {values([seeded["service_id"]])}

[parameters]
"path.session_id" = {{ dictionary = "session_ids", probability = 0.5 }}
"path.account_id" = {{ dictionary = "account_ids", probability = 0.5 }}
"path.service_id" = {{ dictionary = "service_ids", probability = 0.5 }}
"body.service_id" = {{ dictionary = "service_ids", probability = 0.5 }}
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    ("sub", "role"), [("demo-member", "member"), ("demo-coach", "coach")], ids=["member", "coach"]
)
def test_the_fuzzer_finds_no_fault_and_no_answer_off_the_document(
    stack: RunningStack, tmp_path: Path, sub: str, role: str
) -> None:
    token = stack.token(sub, role)
    config = _config(stack, tmp_path)

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{stack.base}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "unsupported_method",
            "--header",
            f"Authorization: Bearer {token}",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    # The summary and every failure with its curl line, when there is one.
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-4000:]
    assert "Operations:" in run.stdout and "Seed: 12" in run.stdout, run.stdout[-4000:]
