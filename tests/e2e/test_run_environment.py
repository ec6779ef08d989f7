"""The environment `make run` builds holds exactly the lock, and everything the local stack
loads comes with it: the stack starts from it (every end-to-end test), and here its embedded AWS
carries one event over the local bus to a rule's queue, as the stack's event log reads it.

moto loads a service's extra packages only when that service is first used (EventBridge's rule
matching needs jsonpath-ng), so a stack that starts can still fail at its first event: the
failure a newcomer met when the `local` extra lacked it.
"""

import json
import re
import subprocess
from pathlib import Path

from tests.e2e.conftest import ROOT, run_python

ONE_EVENT_THROUGH_THE_BUS = """
import json
from local import aws as embedded
from local.event_log import EventLog

aws = embedded.start()
log = EventLog(aws)
[bus] = aws.bus_arns.values()
aws.client("events").put_events(Entries=[{
    "Source": "coaching.sessions", "DetailType": "session.booked",
    "Detail": json.dumps({"session_id": "s-1"}), "EventBusName": bus,
}])
stream = aws.stream_arns["SessionsTable"]
aws.client("dynamodbstreams").describe_stream(StreamArn=stream)
aws.client("sesv2").list_email_identities()
print(json.dumps(log.collect()))
aws.server.stop()
"""


def _locked(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", path.read_text(), flags=re.MULTILINE)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def test_the_run_environment_holds_the_lock_and_nothing_else() -> None:
    frozen = subprocess.run(
        [str(run_python()), "-m", "pip", "freeze", "--all", "--exclude", "pip"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},  # no PYTHONPATH: the project's folder is not a package
    ).stdout
    installed = {
        name.lower().replace("_", "-"): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", frozen, re.MULTILINE)
    }
    installed.pop("setuptools", None)  # what some Pythons' venv puts in every environment

    assert installed == _locked(ROOT / "local" / "requirements.txt")


def test_the_stacks_aws_carries_an_event_over_the_bus_in_the_run_environment() -> None:
    result = subprocess.run(
        [str(run_python()), "-c", ONE_EVENT_THROUGH_THE_BUS],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )

    assert result.returncode == 0, result.stderr[-3000:]
    [event] = json.loads(result.stdout.strip().splitlines()[-1])
    assert event["detail_type"] == "session.booked"
    assert event["detail"] == {"session_id": "s-1"}
