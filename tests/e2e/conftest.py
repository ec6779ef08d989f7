"""The local stack as a client meets it: `python -m local.stack` on a free port, over HTTP."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
RUN_PYTHON = ROOT / ".venv" / "bin" / "python"
"""The environment `make run` builds (local/requirements.txt and nothing else): the stacks these
tests start run in it, so a package the stack needs and the lock lacks fails here first."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningStack:
    base: str
    port: int
    process: subprocess.Popen[str]
    seeded: dict[str, Any]

    def token(self, sub: str, role: str, *extra: str) -> str:
        """A token from the real `local/token` command."""
        result = subprocess.run(
            [str(ROOT / "local" / "token"), "--sub", sub, "--role", role, *extra],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout.strip()

    def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """One stack for a module's tests, which run in any order: none may move its clock far or
    stop it (that is what ``own_stack`` is for)."""
    yield from _running_stack()


@pytest.fixture
def own_stack() -> Iterator[RunningStack]:
    """A stack for one test alone: for a test that moves time past the seeded sessions, or
    stops the stack, which would change the world of every test after it."""
    yield from _running_stack()


def run_python() -> Path:
    if not RUN_PYTHON.exists():
        pytest.fail(f"{RUN_PYTHON} is missing: `make install-local` builds it (`make e2e` does)")
    return RUN_PYTHON


def _running_stack() -> Iterator[RunningStack]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{ROOT}"}
    env.pop("AWS_ENDPOINT_URL", None)
    # The stack's output goes to a file, not a pipe: nobody reads a pipe while the tests run,
    # and a stack that fills one blocks on its next log line.
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [str(run_python()), "-m", "local.stack", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def said() -> str:
            output.flush()
            output.seek(0)
            return output.read()[-12000:]

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = requests.get(base + "/_local/health", timeout=2)
                if health.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        if health is None or health.status_code != 200:
            process.kill()
            pytest.fail(f"the local stack did not become healthy:\n{said()}")
        yield RunningStack(base, port, process, health.json()["seeded"])
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGUSR1)  # every thread's stack, into its output
                time.sleep(1)
                process.kill()
                pytest.fail(f"the local stack did not stop in 30 s after Ctrl-C:\n{said()}")
