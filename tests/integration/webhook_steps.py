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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from coaching.events.domain_events import SOURCE
from coaching.events.webhooks import addresses
from tests.webhook_receiver import Receiver

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


# --- a receiver on loopback --------------------------------------------------------------------


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
