"""The webhook routes over the real handler: subscribe, list, read, delete, enable, rotate the
secret, read the delivery log and send a delivery again; who may, and every refusal."""

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from coaching import clock, runtime
from coaching.events.webhooks import rules
from coaching.events.webhooks.delivery import Deliverer, QueueMessage
from coaching.models import Caller
from coaching.storage import Storage
from coaching.storage.page_tokens import encode_token
from coaching.storage.webhooks import WebhookStore
from coaching.webhook_models import DisabledReason, EndpointStatus
from tests.api_client import Api, Reply
from tests.builders import admin, coach, member, support, unique
from tests.integration.webhook_steps import (
    PUBLIC,
    Dns,
    bus_message,
    near,
    session_detail,
)
from tests.webhook_receiver import Receiver

from .api_steps import assert_ok, assert_problem, nothing_changes, parse, travel

URL = f"https://{PUBLIC}/hooks/coaching"


@dataclass
class Hooks:
    api: Api
    store: WebhookStore
    queue_url: str

    def create(self, who: Caller, body: dict[str, Any] | None = None, **headers: str) -> Reply:
        body = body or {"url": URL, "event_types": ["session.booked"]}
        return self.api.post(who, "/webhooks", body, headers=headers)

    def created(self, who: Caller, **body: Any) -> dict[str, Any]:
        fields = {"url": URL, "event_types": ["*"]} | body
        answer: dict[str, Any] = assert_ok(self.create(who, fields), 201)
        return answer

    def queued(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        found: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return found
            for message in got["Messages"]:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, receiver: Receiver, *events: tuple[str, str, int]) -> None:
        """Events delivered by the delivery function to this store's endpoints (the loopback
        receiver among them), as the queue would hand them over."""
        deliverer = Deliverer(
            store=self.store,
            sqs=boto3.client("sqs", region_name="us-east-1"),
            queue_url=self.queue_url,
            notifier=runtime.notice_sender,
            allow_loopback=True,
        )
        now = clock.now()
        batch = [
            QueueMessage(
                f"m{n}",
                bus_message(kind, session_detail(session_id, version, kind, now), now),
            )
            for n, (session_id, kind, version) in enumerate(events)
        ]
        report = deliverer.deliver(batch, lambda: 60.0)
        assert report.failed_messages == []


@pytest.fixture
def hooks(api: Api, store: Storage, dns: Dns, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=unique("webhooks"))["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", queue_url)
    runtime.reset()
    yield Hooks(api, WebhookStore(store._db, store.settings), queue_url)
    runtime.reset()


def admin_with_email() -> Caller:
    who = admin()
    return who.model_copy(update={"email": f"{who.id}@example.com"})


# --- subscribing ----------------------------------------------------------------------------------


def test_an_admin_subscribes_an_endpoint_and_sees_its_secret_once(hooks: Hooks) -> None:
    ada = admin_with_email()

    reply = hooks.create(
        ada,
        {
            "url": "https://hooks.example.com/coaching?source=sessions",
            "event_types": ["session.canceled", "session.booked", "session.canceled"],
            "description": "CRM",
        },
    )

    created = assert_ok(reply, 201)
    assert created["status"] == "ENABLED"
    assert created["url"] == "https://hooks.example.com/coaching?source=sessions"
    assert created["event_types"] == ["session.canceled", "session.booked"]
    assert created["description"] == "CRM"
    assert near(parse(created["created_at"]), clock.now())
    assert created["disabled_at"] is None and created["failing_since"] is None
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    shown = assert_ok(hooks.api.get(ada, f"/webhooks/{created['id']}"))
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    listed = assert_ok(hooks.api.get(ada, "/webhooks"))
    assert listed == {"items": [shown], "next_token": None}
    assert secret not in json.dumps(listed)
    stored = hooks.store.get_endpoint(created["id"])
    assert stored is not None and stored.owner_email == ada.email
    assert stored.secrets[0].value == secret


def test_every_event_type_and_the_star_may_be_subscribed(hooks: Hooks) -> None:
    ada = admin()

    every = hooks.created(ada, event_types=list(rules.EVENT_TYPES))
    star = hooks.created(ada, event_types=["*"])

    assert every["event_types"] == list(rules.EVENT_TYPES)
    assert star["event_types"] == ["*"]
    assert {"session.booked", "session.canceled", "credits.granted"} <= set(rules.EVENT_TYPES)


def test_support_may_subscribe_too(hooks: Hooks) -> None:
    assert hooks.created(support())["status"] == "ENABLED"


@pytest.mark.parametrize("who", [member, coach], ids=["member", "coach"])
def test_members_and_coaches_may_not_touch_webhooks(hooks: Hooks, store: Storage, who: Any) -> None:
    endpoint = hooks.created(admin())
    caller = who()

    with nothing_changes(store):
        assert_problem(hooks.create(caller), 403, "FORBIDDEN")
        assert_problem(hooks.api.get(caller, "/webhooks"), 403, "FORBIDDEN")
        assert_problem(hooks.api.get(caller, f"/webhooks/{endpoint['id']}"), 403, "FORBIDDEN")
        assert_problem(
            hooks.api.call(caller, "DELETE", f"/webhooks/{endpoint['id']}"), 403, "FORBIDDEN"
        )


REFUSED_URLS = {
    "plain http": "http://hooks.example.com/x",
    "another scheme": "ftp://hooks.example.com/x",
    "no scheme": "hooks.example.com/x",
    "loopback address": "https://127.0.0.1/x",
    "loopback name": "https://localhost/x",
    "IPv6 loopback": "https://[::1]/x",
    "private address": "https://10.1.2.3/x",
    "private 192.168": "https://192.168.0.10/x",
    "shared address space": "https://100.64.0.1/x",
    "link-local": "https://169.254.10.10/x",
    "metadata service": "https://169.254.169.254/latest/meta-data/",
    "IPv6 metadata service": "https://[fd00:ec2::254]/x",
    "IPv4-mapped private": "https://[::ffff:10.0.0.1]/x",
    "NAT64 of a private address": "https://[64:ff9b::a00:1]/x",
    "unspecified": "https://0.0.0.0/x",
    "multicast": "https://224.0.0.1/x",
    "documentation range": "https://203.0.113.7/x",
    "name resolving to a private address": "https://internal.example.com/x",
    "name resolving to the metadata service": "https://metadata.example.com/x",
    "name resolving to public and private": "https://mixed.example.com/x",
    "name resolving to loopback": "https://loopback.example.com/x",
    "name that does not resolve": "https://nowhere.example.com/x",
    "user and password": f"https://user:secret@{PUBLIC}/x",
    "fragment": f"https://{PUBLIC}/x#part",
    "space": f"https://{PUBLIC}/a b",
    "not ASCII": "https://hööks.example.com/x",
    "no host": "https:///x",
    "bad port": f"https://{PUBLIC}:99999/x",
    "too long": f"https://{PUBLIC}/" + "a" * rules.MAX_URL_LENGTH,
}


@pytest.mark.parametrize("url", REFUSED_URLS.values(), ids=REFUSED_URLS.keys())
def test_urls_that_could_reach_inside_are_refused_at_subscription(
    hooks: Hooks, store: Storage, url: str
) -> None:
    with nothing_changes(store):
        reply = hooks.create(admin(), {"url": url, "event_types": ["*"]})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="url")


def test_an_endpoint_with_an_ipv6_address_too_is_accepted(hooks: Hooks) -> None:
    assert hooks.created(admin(), url="https://dual.example.com:8443/in")["status"] == "ENABLED"


BAD_BODIES = {
    "unknown event type": ({"url": URL, "event_types": ["session.exploded"]}, "event_types"),
    "star with others": ({"url": URL, "event_types": ["*", "session.booked"]}, "event_types"),
    "no event types": ({"url": URL, "event_types": []}, "event_types"),
    "event types missing": ({"url": URL}, "event_types"),
    "url missing": ({"event_types": ["*"]}, "url"),
    "description too long": (
        {"url": URL, "event_types": ["*"], "description": "d" * 501},
        "description",
    ),
    "unknown field": ({"url": URL, "event_types": ["*"], "secret": "whsec_x"}, "secret"),
    "url not a string": ({"url": 42, "event_types": ["*"]}, "url"),
}


@pytest.mark.parametrize(("body", "field"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_subscriptions_are_refused_naming_the_field(
    hooks: Hooks, store: Storage, body: dict[str, Any], field: str
) -> None:
    with nothing_changes(store):
        reply = hooks.create(admin(), body)

    assert_problem(reply, 422, "VALIDATION_FAILED", field=field)


def test_the_local_setting_allows_loopback_over_http_and_nothing_more(
    hooks: Hooks, store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    runtime.reset()
    ada = admin()

    for allowed in ("http://127.0.0.1:8080/hooks", "http://localhost/hooks", "https://[::1]/h"):
        assert hooks.created(ada, url=allowed)["url"] == allowed
    with nothing_changes(store):
        for refused in ("http://10.0.0.1/x", f"http://{PUBLIC}/x", "https://169.254.169.254/"):
            reply = hooks.create(ada, {"url": refused, "event_types": ["*"]})
            assert_problem(reply, 422, "VALIDATION_FAILED", field="url")


def test_an_admin_may_have_ten_endpoints_and_one_more_after_deleting_one(
    hooks: Hooks, store: Storage
) -> None:
    ada = admin()
    made = [hooks.created(ada) for _ in range(rules.MAX_ENDPOINTS_PER_ADMIN)]

    with nothing_changes(store):
        assert_problem(hooks.create(ada), 409, "WEBHOOK_LIMIT_REACHED")
    assert hooks.created(admin())["status"] == "ENABLED"  # another admin's count is their own
    assert hooks.api.call(ada, "DELETE", f"/webhooks/{made[0]['id']}").status == 204
    assert hooks.created(ada)["status"] == "ENABLED"
    assert_problem(hooks.create(ada), 409, "WEBHOOK_LIMIT_REACHED")


def test_a_retried_subscription_with_its_key_makes_one_endpoint_and_answers_the_same(
    hooks: Hooks,
) -> None:
    ada = admin()

    first = hooks.create(ada, None, **{"Idempotency-Key": "subscribe-crm"})
    again = hooks.create(ada, None, **{"Idempotency-Key": "subscribe-crm"})

    assert first.status == again.status == 201
    assert first.text == again.text
    assert len(assert_ok(hooks.api.get(ada, "/webhooks"))["items"]) == 1


# --- who sees what ------------------------------------------------------------------------------


def test_an_admin_sees_their_own_endpoints_and_support_sees_all(hooks: Hooks) -> None:
    ada, bob, sam = admin(), admin(), support()
    adas = [hooks.created(ada, description=f"ada {n}") for n in range(3)]
    bobs = hooks.created(bob)

    assert [e["id"] for e in assert_ok(hooks.api.get(ada, "/webhooks"))["items"]] == [
        e["id"] for e in adas
    ]
    assert [e["id"] for e in assert_ok(hooks.api.get(bob, "/webhooks"))["items"]] == [bobs["id"]]
    everyone = {e["id"] for e in assert_ok(hooks.api.get(sam, "/webhooks"))["items"]}
    assert {bobs["id"], *(e["id"] for e in adas)} <= everyone
    assert assert_ok(hooks.api.get(sam, f"/webhooks/{bobs['id']}"))["id"] == bobs["id"]


def test_another_admins_endpoint_answers_404_on_every_route(hooks: Hooks, store: Storage) -> None:
    theirs = hooks.created(admin())
    ada = admin()
    path = f"/webhooks/{theirs['id']}"

    with nothing_changes(store):
        for method, route in (
            ("GET", path),
            ("DELETE", path),
            ("POST", path + "/enable"),
            ("POST", path + "/rotate-secret"),
            ("GET", path + "/deliveries"),
            ("POST", path + "/deliveries/20261201T090000Z-0000000001-0123456789abcdef/retry"),
        ):
            assert_problem(hooks.api.call(ada, method, route), 404, "NOT_FOUND")
    assert_problem(hooks.api.get(ada, "/webhooks/no-such-endpoint"), 404, "NOT_FOUND")


def test_listings_page_with_a_token_and_refuse_forged_ones(hooks: Hooks) -> None:
    ada = admin()
    made = [hooks.created(ada)["id"] for _ in range(5)]

    first = assert_ok(hooks.api.get(ada, "/webhooks", query={"limit": "2"}))
    second = assert_ok(
        hooks.api.get(ada, "/webhooks", query={"limit": "2", "next_token": first["next_token"]})
    )
    rest = assert_ok(
        hooks.api.get(ada, "/webhooks", query={"limit": "2", "next_token": second["next_token"]})
    )

    assert [e["id"] for e in first["items"] + second["items"] + rest["items"]] == made
    assert rest["next_token"] is None
    # a token made to start among another admin's endpoints is not one this admin was given
    elsewhere = encode_token(
        {
            "pk": {"S": "WEBHOOK#x"},
            "sk": {"S": "WEBHOOK"},
            "list_pk": {"S": "WEBHOOKS"},
            "list_sk": {"S": "someone-else#2026-12-01T09:00:00Z#x"},
        }
    )
    for forged in ("not-a-token", elsewhere):
        reply = hooks.api.get(ada, "/webhooks", query={"next_token": forged})
        assert_problem(reply, 422, "VALIDATION_FAILED", field="next_token")
    assert_problem(hooks.api.get(ada, "/webhooks", query={"limit": "0"}), 422, "VALIDATION_FAILED")


# --- delete, enable, rotate ----------------------------------------------------------------------


def test_the_routes_that_take_no_fields_refuse_any_field(hooks: Hooks, store: Storage) -> None:
    ada = admin()
    endpoint = hooks.created(ada)
    path = f"/webhooks/{endpoint['id']}"

    with nothing_changes(store):
        for route in (path + "/enable", path + "/rotate-secret"):
            reply = hooks.api.post(ada, route, {"secret": "whsec_mine"})
            assert_problem(reply, 422, "VALIDATION_FAILED", field="secret")
    assert assert_ok(hooks.api.post(ada, path + "/enable", {}))["status"] == "ENABLED"


def test_a_deleted_endpoint_is_gone(hooks: Hooks) -> None:
    ada = admin()
    endpoint = hooks.created(ada)

    reply = hooks.api.call(ada, "DELETE", f"/webhooks/{endpoint['id']}")

    assert reply.status == 204 and reply.text == ""
    assert_problem(hooks.api.get(ada, f"/webhooks/{endpoint['id']}"), 404, "NOT_FOUND")
    assert_problem(hooks.api.call(ada, "DELETE", f"/webhooks/{endpoint['id']}"), 404, "NOT_FOUND")
    assert assert_ok(hooks.api.get(ada, "/webhooks"))["items"] == []


def test_support_may_delete_an_admins_endpoint_and_it_frees_the_admins_room(hooks: Hooks) -> None:
    ada = admin()
    made = [hooks.created(ada) for _ in range(rules.MAX_ENDPOINTS_PER_ADMIN)]

    assert hooks.api.call(support(), "DELETE", f"/webhooks/{made[3]['id']}").status == 204

    assert hooks.created(ada)["status"] == "ENABLED"


def test_enabling_a_disabled_endpoint_clears_why_it_was_disabled(hooks: Hooks) -> None:
    ada = admin()
    endpoint = hooks.created(ada)
    now = clock.now()
    hooks.store.mark_failing(endpoint["id"], now - timedelta(days=5))
    hooks.store.disable(endpoint["id"], DisabledReason.FAILING, now, "webhook:notice")
    disabled = assert_ok(hooks.api.get(ada, f"/webhooks/{endpoint['id']}"))
    assert disabled["status"] == "DISABLED" and disabled["disabled_reason"] == "FAILING"

    enabled = assert_ok(hooks.api.post(ada, f"/webhooks/{endpoint['id']}/enable"))

    assert enabled["status"] == "ENABLED"
    assert enabled["disabled_at"] is enabled["disabled_reason"] is enabled["failing_since"] is None
    assert enabled == assert_ok(hooks.api.get(ada, f"/webhooks/{endpoint['id']}"))
    stored = hooks.store.get_endpoint(endpoint["id"])
    assert stored is not None and stored.notice is None
    # enabling again is a no-op that answers the same
    assert assert_ok(hooks.api.post(ada, f"/webhooks/{endpoint['id']}/enable")) == enabled


def test_rotating_gives_a_new_secret_and_keeps_the_old_one_signing_for_a_day(
    hooks: Hooks,
) -> None:
    ada = admin()
    endpoint = hooks.created(ada)

    rotated = assert_ok(hooks.api.post(ada, f"/webhooks/{endpoint['id']}/rotate-secret"))

    assert set(rotated) == {"secret"}
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    stored = hooks.store.get_endpoint(endpoint["id"])
    assert stored is not None
    now = clock.now()
    assert rules.signing_secrets(stored, now) == [rotated["secret"], endpoint["secret"]]
    assert rules.signing_secrets(stored, now + timedelta(hours=24)) == [rotated["secret"]]
    assert "secret" not in assert_ok(hooks.api.get(ada, f"/webhooks/{endpoint['id']}"))
    # a second rotation drops the first secret at once: two secrets sign at most
    again = assert_ok(hooks.api.post(ada, f"/webhooks/{endpoint['id']}/rotate-secret"))
    stored = hooks.store.get_endpoint(endpoint["id"])
    assert stored is not None
    assert rules.signing_secrets(stored, now) == [again["secret"], rotated["secret"]]


# --- deliveries ---------------------------------------------------------------------------------


def test_the_delivery_log_lists_newest_first_in_pages(
    hooks: Hooks, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    runtime.reset()
    ada = admin()
    endpoint = hooks.created(ada, url=receiver.url)
    receiver.answer(200, 503)
    hooks.deliver(receiver, ("s1", "session.booked", 1))
    travel().advance(5)
    hooks.deliver(receiver, ("s1", "session.canceled", 2))

    page = assert_ok(
        hooks.api.get(ada, f"/webhooks/{endpoint['id']}/deliveries", query={"limit": "1"})
    )
    rest = assert_ok(
        hooks.api.get(
            ada,
            f"/webhooks/{endpoint['id']}/deliveries",
            query={"limit": "1", "next_token": page["next_token"]},
        )
    )

    canceled, booked = page["items"][0], rest["items"][0]
    assert rest["next_token"] is None
    assert canceled["event_id"] == "session:s1:2:session.canceled"
    assert canceled["event_type"] == "session.canceled"
    assert canceled["state"] == "PENDING" and canceled["attempts"] == 1
    assert canceled["last_status"] == 503 and canceled["last_error"] is None
    assert parse(canceled["next_attempt_at"]) == parse(canceled["last_attempt_at"]) + timedelta(
        seconds=5
    )
    assert booked["state"] == "DELIVERED" and booked["last_status"] == 200
    assert booked["next_attempt_at"] is None
    assert set(booked) == {
        "id",
        "event_id",
        "event_type",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "last_attempt_at",
        "next_attempt_at",
        "created_at",
    }
    forged = hooks.api.get(
        ada, f"/webhooks/{endpoint['id']}/deliveries", query={"next_token": "e30="}
    )
    assert_problem(forged, 422, "VALIDATION_FAILED", field="next_token")


def test_a_retry_puts_the_delivery_on_the_queue_due_now(
    hooks: Hooks, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    runtime.reset()
    ada = admin()
    endpoint = hooks.created(ada, url=receiver.url)
    hooks.deliver(receiver, ("s1", "session.booked", 1))
    hooks.queued()  # nothing else waits there
    (delivered,) = assert_ok(hooks.api.get(ada, f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    path = f"/webhooks/{endpoint['id']}/deliveries/{delivered['id']}/retry"

    reply = hooks.api.post(ada, path)

    retried = assert_ok(reply, 202)
    assert retried["id"] == delivered["id"]
    assert retried["state"] == "PENDING" and retried["attempts"] == 1
    assert clock.now() - timedelta(seconds=2) <= parse(retried["next_attempt_at"]) <= clock.now()
    assert hooks.queued() == [
        {"retry": {"webhook_id": endpoint["id"], "delivery_id": delivered["id"]}}
    ]
    assert_problem(hooks.api.post(ada, path.replace(delivered["id"], "nope")), 404, "NOT_FOUND")


def test_a_disabled_endpoints_delivery_cannot_be_retried(
    hooks: Hooks, store: Storage, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    runtime.reset()
    ada = admin()
    endpoint = hooks.created(ada, url=receiver.url)
    hooks.deliver(receiver, ("s1", "session.booked", 1))
    (delivered,) = assert_ok(hooks.api.get(ada, f"/webhooks/{endpoint['id']}/deliveries"))["items"]
    hooks.store.disable(endpoint["id"], DisabledReason.GONE, clock.now(), "webhook:notice")
    assert hooks.store.get_endpoint(endpoint["id"]).status is EndpointStatus.DISABLED  # type: ignore[union-attr]

    with nothing_changes(store):
        reply = hooks.api.post(
            ada, f"/webhooks/{endpoint['id']}/deliveries/{delivered['id']}/retry"
        )

    assert_problem(reply, 409, "WEBHOOK_DISABLED")
    assert hooks.queued() == []
