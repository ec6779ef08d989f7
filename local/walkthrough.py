"""The README's walk-through, run as a newcomer runs it.

A fresh copy of the project (what git tracks, as the working tree has it: in CI, the commit
under test), ``make run`` there with nothing else installed, and the README's ``sh`` block after
"In another terminal:" pasted into bash as written, under ``set -eo pipefail``. Each step (a run
of commands after a comment) is kept with what it printed and when it finished, so a test can
check what each step answered and the bench can time a newcomer's first minutes.

    python -m local.walkthrough     # prints each step, its answer and the times
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@walkthrough-step"


@dataclass
class Step:
    comment: str
    """The comment lines that open the step, without their ``#``."""
    script: str
    output: str = ""
    finished_after: float | None = None
    """Seconds from the copy's start (``Newcomer.started``) to the step's end."""


def readme_steps(readme: str) -> list[Step]:
    """The walk-through's steps: each starts at a comment line (after commands), in order."""
    found = re.search(r"In another terminal:.*?```sh\n(.*?)```", readme, flags=re.S)
    if found is None:
        raise ValueError("README.md has no ```sh block after 'In another terminal:'")
    steps: list[Step] = []
    comments: list[str] = []
    for line in found.group(1).splitlines():
        if line.startswith("#"):
            comments.append(line.lstrip("# ").strip())
            continue
        if comments:
            steps.append(Step(" ".join(comments), ""))
            comments = []
        if not steps:
            steps.append(Step("", ""))
        steps[-1].script += line + "\n"
    return steps


def copy_of_project(destination: Path) -> Path:
    """What git tracks, and untracked files it does not ignore, as the working tree has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/_local/health", timeout=2) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except OSError:
        return False


def _newcomers_environment() -> dict[str, str]:
    """A shell's environment with none of this project's: no venv on the PATH, no PYTHONPATH."""
    keep = ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "PIP_CACHE_DIR", "PIP_INDEX_URL")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if "/.venv" not in p]
    env["PATH"] = os.pathsep.join(path)
    return env


@dataclass
class Newcomer:
    """A fresh copy of the project, its ``make run``, and the walk-through against it."""

    folder: Path
    clone: bool = False
    """True: ``git clone`` the commit checked out (what a newcomer does); False: copy the
    working tree's files (in CI the same thing, and a developer's uncommitted work too)."""
    port: int = field(default_factory=_free_port)
    started: float = 0.0
    ready_after: float | None = None
    log: Path | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300) -> float:
        """``make run`` in the copy; seconds until it answered its health check."""
        self.started = time.monotonic()
        if self.clone:
            subprocess.run(
                ["git", "clone", "--quiet", str(ROOT), str(self.folder)],
                check=True,
                timeout=120,
            )
        else:
            copy_of_project(self.folder)
        self.log = self.folder / "make-run.log"
        env = {**_newcomers_environment(), "PORT": str(self.port)}
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                ["make", "run"],
                cwd=self.folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = self.started + timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            if _healthy(self.base):
                self.ready_after = time.monotonic() - self.started
                return self.ready_after
            time.sleep(0.2)
        raise RuntimeError(f"make run never answered on a fresh copy:\n{self.tail()}")

    def walk(self, steps: list[Step], timeout: float = 300) -> int:
        """Run the steps in one bash, as pasted; the exit status. Each step gets its output."""
        script = ["set -eo pipefail"]
        for number, step in enumerate(steps):
            script.append(step.script.replace("127.0.0.1:3000", f"127.0.0.1:{self.port}"))
            script.append(f"printf '\\n{MARK} %d %s\\n' {number} \"$(date +%s.%N)\"")
        done = subprocess.run(
            ["bash"],
            input="\n".join(script).encode(),
            cwd=self.folder,
            env=_newcomers_environment(),
            capture_output=True,
            timeout=timeout,
        )
        output = done.stdout.decode(errors="replace")
        start = 0
        wall_started = time.time() - (time.monotonic() - self.started)
        for found in re.finditer(rf"\n{MARK} (\d+) ([\d.]+)\n", output):
            step = steps[int(found.group(1))]
            step.output = output[start : found.start()].strip()
            step.finished_after = float(found.group(2)) - wall_started
            start = found.end()
        if done.returncode:
            failed = next((s for s in steps if s.finished_after is None), None)
            if failed is not None:
                failed.output = (output[start:] + done.stderr.decode(errors="replace")).strip()
        return done.returncode

    def token(self, sub: str, role: str) -> str:
        """A token from the copy's own ``local/token``, which its stack accepts."""
        return subprocess.run(
            [str(self.folder / "local" / "token"), "--sub", sub, "--role", role],
            cwd=self.folder,
            env=_newcomers_environment(),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()

    def tail(self, lines: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def main() -> None:
    steps = readme_steps((ROOT / "README.md").read_text())
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as folder:
        newcomer = Newcomer(Path(folder))
        try:
            print(f"make run answered after {newcomer.start():.1f} s", flush=True)
            status = newcomer.walk(steps)
        finally:
            newcomer.stop()
    for step in steps:
        when = "not reached" if step.finished_after is None else f"{step.finished_after:.1f} s"
        print(f"\n# {step.comment}  [{when}]\n{step.output[:600]}")
    print(f"\nthe walk-through exited {status}")
    raise SystemExit(status)


if __name__ == "__main__":
    main()
