"""The local stack as people meet it: a newcomer's first minute (``git clone``, ``make run``
and the README's walk-through, timed), and ``make run``'s stack (``python -m local.stack``) over
HTTP under refusals.

What a refused request costs next to an accepted one and a read, and whether the stack's
resident memory stays flat across 1,000 refused requests in a row, and mail still flows after
them. A refused booking (409 ``SLOT_TAKEN``) is a ``TransactWriteItems`` that DynamoDB cancels, the
path on which moto used to copy every table it named (see ``local/moto_patch.py``).
"""

import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.env import ROOT, subprocess_environment
from bench.report import Section, Table, Target, median, ms, p95, ratio
from local import auth
from local.walkthrough import Newcomer, readme_steps

REFUSALS = 1_000
EVERY = 100
"""Resident memory is read after every this many refusals."""
MAX_GROWTH_MB = 20.0
"""Target: the stack grows by less than this across the refusals."""
MAX_REFUSED_OVER_ACCEPTED = 1.5
"""Target: a refused booking costs at most this much more than an accepted one."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS, Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS (Linux only)")


@dataclass
class Client:
    base: str
    http: requests.Session = field(default_factory=requests.Session)

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(method, self.base + path, headers=headers, json=body, timeout=60)


@contextmanager
def running_stack() -> Iterator[tuple[Client, int]]:
    """``python -m local.stack`` on a free port until it is healthy; stopped on the way out."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--port", str(port)],
        cwd=ROOT,
        env=subprocess_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Client(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the local stack exited with {process.returncode}")
            try:
                if client.call("GET", "/_local/health").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        else:
            raise RuntimeError("the local stack did not become healthy in 120 s")
        yield client, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class World:
    client: Client
    coach: str
    member: str
    member_email: str
    service_id: str
    type_id: str

    def book(self, start: datetime) -> requests.Response:
        return self.client.call(
            "POST",
            "/sessions",
            self.member,
            {
                "service_id": self.service_id,
                "session_type_id": self.type_id,
                "start": start.isoformat(),
            },
        )


def _world(client: Client, credits: int) -> World:
    tag = uuid.uuid4().hex[:8]
    email = f"bench-{tag}@example.com"
    coach = auth.mint(f"bench-coach-{tag}", "coach", name="Bench Coach")
    member = auth.mint(f"bench-member-{tag}", "member", email=email, name="Bench Member")
    support = auth.mint("demo-support", "support")
    service = client.call(
        "POST",
        "/services",
        coach,
        {"name": "Bench", "session_types": [{"minutes": 30, "credits": 1}]},
    )
    service.raise_for_status()
    granted = client.call(
        "POST", f"/accounts/personal-bench-member-{tag}/grants", support, {"credits": credits}
    )
    granted.raise_for_status()
    return World(
        client,
        coach,
        member,
        email,
        service.json()["id"],
        service.json()["session_types"][0]["id"],
    )


def _mail_to(client: Client, address: str) -> int:
    items = client.call("GET", "/_local/mailbox").json()["items"]
    return sum(address in m["to"] for m in items)


def _timed(request: Callable[[], requests.Response], status: int) -> float:
    started = time.perf_counter()
    answer = request()
    elapsed = time.perf_counter() - started
    if answer.status_code != status:
        raise RuntimeError(f"expected {status}, got {answer.status_code}: {answer.text[:300]}")
    return elapsed


NEWCOMERS_MINUTE = 60.0
"""Target: from ``git clone`` to the walk-through's first cancel, with a warm package cache."""
FIRST_CANCEL = "cancel it"


def newcomers_minute() -> Section:
    """``git clone``, ``make run`` and the README's walk-through, timed as a newcomer meets them."""
    steps = readme_steps((ROOT / "README.md").read_text())
    with tempfile.TemporaryDirectory(prefix="newcomer-") as folder:
        newcomer = Newcomer(Path(folder) / "project", clone=True)
        try:
            ready = newcomer.start()
            status = newcomer.walk(steps)
        finally:
            newcomer.stop()
    if status:
        raise RuntimeError(f"the README walk-through failed (exit {status})")
    [cancel] = [s for s in steps if s.comment.startswith(FIRST_CANCEL)]
    first_cancel = cancel.finished_after or 0.0
    whole = steps[-1].finished_after or 0.0
    table = Table("Local stack: a newcomer's first minute", ["from `git clone` to", "seconds"])
    table.add("`make run` answering its health check", f"{ready:.1f}")
    table.add("the walk-through's first cancel answered", f"{first_cancel:.1f}")
    table.add(f"the whole walk-through ({len(steps)} steps) done", f"{whole:.1f}")
    table.notes.append(
        "A clone of the commit checked out, `make run` there (a new `.venv` from "
        "local/requirements.txt, with the package cache this machine already has), and the "
        "README's walk-through pasted into bash as written (`local/walkthrough.py`)."
    )
    return Section(
        tables=[table],
        targets=[
            Target(
                f"a newcomer's first cancel within {NEWCOMERS_MINUTE:.0f} s of `git clone` "
                "(warm package cache)",
                first_cancel < NEWCOMERS_MINUTE,
                f"{first_cancel:.1f} s",
            )
        ],
    )


def run(samples: int = 50, refusals: int = REFUSALS) -> Section:
    minute = newcomers_minute()
    refusing = refusals_and_memory(samples, refusals)
    return Section(
        tables=minute.tables + refusing.tables, targets=minute.targets + refusing.targets
    )


def refusals_and_memory(samples: int, refusals: int) -> Section:
    with running_stack() as (client, pid):
        world = _world(client, credits=samples + 10)
        first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first += timedelta(days=30)
        taken = world.book(first)
        taken.raise_for_status()
        session = taken.json()["id"]
        slots = iter(first + timedelta(minutes=30 * n) for n in range(1, 10 * samples))

        accepted: list[float] = []
        refused: list[float] = []
        reads: list[float] = []
        for _ in range(samples):  # interleaved, so load on the machine hits every kind alike
            reads.append(
                _timed(lambda: client.call("GET", f"/sessions/{session}", world.member), 200)
            )
            refused.append(_timed(lambda: world.book(first), 409))
            start = next(slots)
            accepted.append(_timed(lambda s=start: world.book(s), 201))  # type: ignore[misc]

        mailed_before = _mail_to(client, world.member_email)  # the stream drained, mail collected
        memory = [(0, rss_mb(pid))]
        started = time.perf_counter()
        for n in range(1, refusals + 1):
            answer = world.book(first)
            if answer.status_code != 409:
                raise RuntimeError(f"refusal {n}: {answer.status_code} {answer.text[:300]}")
            if n % EVERY == 0:
                memory.append((n, rss_mb(pid)))
        refusing = time.perf_counter() - started
        after = world.book(next(slots))
        after.raise_for_status()
        mailed = _mail_to(client, world.member_email) - mailed_before

    costs = Table(
        "Local stack: a refused request next to an accepted one",
        ["request", "answer", "p50 ms", "p95 ms", "vs read"],
    )
    base = median(reads)
    for what, status, values in (
        ("GET /sessions/{id}", "200", reads),
        ("POST /sessions, a free slot", "201", accepted),
        ("POST /sessions, a taken slot", "409 SLOT_TAKEN", refused),
    ):
        costs.add(what, status, ms(median(values)), ms(p95(values)), ratio(median(values), base))
    costs.notes += [
        f"{samples} of each, interleaved, over HTTP against `python -m local.stack` (gateway, "
        "handler, moto server, all in one process) from a client in another; wall time at the "
        "client.",
        "A refused booking is a cancelled TransactWriteItems; before local/moto_patch.py moto "
        "deep-copied every table the transaction named, for every transaction, and swapped the "
        "copies in on a refusal (0.5 s per refusal and growing, in issue 20's measurement).",
    ]

    growth = memory[-1][1] - memory[0][1]
    rss = Table(
        f"Local stack: resident memory across {refusals:,} refused bookings in a row",
        ["refused so far", "RSS MB", "since the first"],
    )
    for n, value in memory:
        rss.add(f"{n:,}", f"{value:.1f}", f"{value - memory[0][1]:+.1f}")
    rss.notes += [
        "VmRSS of the stack's process, read from /proc after every "
        f"{EVERY} refusals; the stream poller and the scheduler run meanwhile, as under make run.",
        f"The {refusals:,} refusals took {refusing:.1f} s "
        f"({refusing / refusals * 1000:.1f} ms each). After them one booking was accepted: "
        f"{mailed} email(s) reached the member for it (1 expected).",
    ]
    slowdown = median(refused) / median(accepted)
    return Section(
        tables=[costs, rss],
        targets=[
            Target(
                f"a refused booking costs at most {MAX_REFUSED_OVER_ACCEPTED}x an accepted one",
                slowdown <= MAX_REFUSED_OVER_ACCEPTED,
                f"{slowdown:.2f}x",
            ),
            Target(
                f"the local stack grows less than {MAX_GROWTH_MB:.0f} MB over "
                f"{refusals:,} refusals",
                growth < MAX_GROWTH_MB,
                f"{growth:+.1f} MB",
            ),
            Target(
                "mail still flows after the refusals: the next booking is mailed, once",
                mailed == 1,
                f"{mailed} email(s)",
            ),
        ],
    )
