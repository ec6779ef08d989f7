"""The address is checked again at every attempt, from a fresh lookup, and the request goes to
the address that passed: a name that later points inside, or somewhere else between the check
and the connection, reaches nothing it should not."""

import pytest

from coaching import runtime
from coaching.events.webhooks import addresses
from coaching.webhook_models import DeliveryState

from .conftest import Webhooks


@pytest.fixture
def as_in_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed rule: https and public addresses only (no local relaxation)."""
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "false")
    runtime.reset()


@pytest.mark.parametrize(
    ("now_resolves_to", "error"),
    [
        (["169.254.169.254"], "ADDRESS_NOT_ALLOWED"),
        (["10.0.0.5"], "ADDRESS_NOT_ALLOWED"),
        (["127.0.0.1"], "ADDRESS_NOT_ALLOWED"),
        (["93.184.215.14", "192.168.1.1"], "ADDRESS_NOT_ALLOWED"),
        ([], "DNS_FAILED"),
    ],
    ids=["metadata", "private", "loopback", "public and private", "no longer resolves"],
)
def test_a_name_that_now_points_inside_is_refused_without_connecting(
    webhooks: Webhooks, as_in_aws: None, now_resolves_to: list[str], error: str
) -> None:
    # Given an endpoint subscribed while its name pointed at a public address
    port = webhooks.receiver.url.split(":")[2].split("/")[0]
    created = webhooks.subscribe(url=f"https://hooks.example.com:{port}/hooks")
    # When the name points elsewhere at delivery time (the receiver listens on 127.0.0.1)
    if now_resolves_to:
        webhooks.dns.names["hooks.example.com"] = now_resolves_to
    else:
        del webhooks.dns.names["hooks.example.com"]

    webhooks.deliver(webhooks.event("s1", "session.booked", 1))

    # Then nothing was sent, and the attempt failed with why, to be tried again later
    assert webhooks.receiver.received == []
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.last_error == error and delivery.last_status is None
    assert delivery.state is DeliveryState.PENDING and delivery.next_attempt_at is not None
    assert webhooks.dns.asked.count("hooks.example.com") == 2  # at subscription, and now


def test_the_request_goes_to_the_address_that_passed_the_check(
    webhooks: Webhooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a name that resolves to the receiver (on loopback, allowed here as under make run)
    port = webhooks.receiver.url.split(":")[2].split("/")[0]
    webhooks.dns.names["rebind.example.com"] = ["127.0.0.1"]
    created = webhooks.subscribe(url=f"http://rebind.example.com:{port}/hooks")
    asked = len(webhooks.dns.asked)

    # ... and that, once looked up, points somewhere private from then on
    def rebinding(host: str, port: int) -> list[str]:
        found = webhooks.dns.lookup(host, port)
        webhooks.dns.names["rebind.example.com"] = ["10.0.0.9"]
        return found

    monkeypatch.setattr(addresses, "system_lookup", rebinding)

    webhooks.deliver(webhooks.event("s1", "session.booked", 1))

    # Then the one lookup of the attempt decided where it went, and the receiver saw its name
    (received,) = webhooks.receiver.wait_for(1)
    assert webhooks.dns.asked[asked:] == ["rebind.example.com"]
    assert received.headers["host"] == f"rebind.example.com:{port}"
    (delivery,) = webhooks.deliveries(created.endpoint)
    assert delivery.state is DeliveryState.DELIVERED
