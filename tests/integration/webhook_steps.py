"""Steps shared by the webhook tests: a DNS of the tests' own, a receiver on loopback, and
deliveries as the delivery function's queue would bring them.

The DNS is the one thing stood in for: the tests must not depend on the network's resolver,
and they need names that resolve to private or shifting addresses. It replaces only the lookup
(``addresses.system_lookup``); the checks, the connections and the signatures are real.
"""

import contextlib
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from coaching.domain_events import SOURCE
from coaching.webhooks import addresses

PUBLIC = "93.184.215.14"
"""A public address, written as one: nothing looks it up, and no test connects to it."""

NAMES: dict[str, list[str]] = {
    "hooks.example.com": [PUBLIC],
    "dual.example.com": [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "internal.example.com": ["10.0.0.5"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC, "192.168.1.10"],
    "loopback.example.com": ["127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}


@dataclass
class Dns:
    """The tests' resolver: names and the addresses they resolve to now; who asked."""

    names: dict[str, list[str]] = field(default_factory=lambda: dict(NAMES))
    asked: list[str] = field(default_factory=list)

    def lookup(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        with contextlib.suppress(ValueError):  # an address written as one resolves to itself
            return [str(ipaddress.ip_address(host))]
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.names[host])


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Dns:
    """Every lookup the webhooks make goes to the tests' resolver."""
    resolver = Dns()
    monkeypatch.setattr(addresses, "system_lookup", resolver.lookup)
    return resolver


# --- a receiver on loopback ----------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers the statuses it is
    told to, in turn (200 once they run out)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._arrived:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver._arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.answers += statuses

    def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout=seconds)
            return list(self.received)

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


# --- what the queue brings --------------------------------------------------------------------


def bus_message(detail_type: str, detail: dict[str, Any], at: datetime) -> str:
    """A domain event as the bus's rule puts it on the webhook queue (EventBridge's envelope)."""
    return json.dumps(
        {
            "version": "0",
            "id": "5f1c2a9e-0d3b-4c6e-8f7a-1b2c3d4e5f60",
            "detail-type": detail_type,
            "source": SOURCE,
            "account": "123456789012",
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )


def session_detail(session_id: str, version: int, detail_type: str, at: datetime) -> dict[str, Any]:
    """A session event's detail as ``domain_events`` writes it: ids, times and amounts."""
    return {
        "event_id": f"session:{session_id}:{version}:{detail_type}",
        "session_id": session_id,
        "version": version,
        "status": "CANCELED" if detail_type == "session.canceled" else "SCHEDULED",
        "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actor": {"id": "member-1", "role": "member"},
        "member_id": "member-1",
        "coach_id": "coach-1",
        "service_id": "service-1",
        "session_type_id": "t1",
        "account_id": "personal-member-1",
        "start": "2026-12-08T10:00:00Z",
        "end": "2026-12-08T11:00:00Z",
        "previous_start": None,
        "credits": 3,
        "credits_returned": 0,
        "credits_returned_in_total": 0,
        "refundable": None,
        "no_show_party": None,
    }


def near(moment: datetime | None, expected: datetime, seconds: float = 3.0) -> bool:
    """Within a few seconds of ``expected``: the tests' clock ticks on while a test runs."""
    return moment is not None and abs((moment - expected).total_seconds()) <= seconds
