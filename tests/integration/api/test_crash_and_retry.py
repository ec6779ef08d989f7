"""A function killed just before or just after its commit, then retried with the same key.

This is the gap Powertools idempotency leaves (its record is written in requests of its own): a
Lambda that dies after its change commits and before it answers is retried by the client, and
the retry must answer the first outcome without changing anything again. Here the key's record
commits in the change's own transaction, and these tests kill every state-changing request at both
points with the local stack's fault injection (botocore hooks around ``TransactWriteItems``).
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import pytest

from coaching import clock, operations, runtime
from coaching.models import Caller, personal_account_id
from coaching.storage import Storage
from coaching.storage.webhooks import WebhookStore
from coaching.web.http import IDEMPOTENT_METHODS
from coaching.webhook_models import Delivery, DeliveryState, DisabledReason
from local.faults import Faults, FunctionKilled
from local.routes import Route, find
from tests.api_client import ROUTES, Api, Reply, documented_paths
from tests.builders import World, admin, coach, member, support

from .api_steps import (
    bearer,
    book,
    book_body,
    iso,
    parse,
    slot_in,
    snapshot,
    token_for,
    travel,
)


@dataclass(frozen=True)
class Request:
    caller: Caller | None
    """None for a manage link's holder, whose token is in ``headers``."""
    path: str
    body: dict[str, Any] | None
    status: int
    accounts: tuple[str, ...] = ()
    """Accounts whose ledgers the request may move: checked for consistency after each step."""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def route(self) -> Route:
        found = find(ROUTES, self.method, self.path)
        assert found is not None, self.path
        return found[0]

    @property
    def function(self) -> str:
        """The function's folder under functions/, as fault injection names it."""
        return self.route.code_uri.strip("/").split("/")[-1]


def _book(api: Api, given: World) -> Request:
    alice = member()
    given.fund(alice, 10)
    service = given.service(credits=3)
    return Request(
        alice, "/sessions", book_body(service, slot_in(72)), 201, (personal_account_id(alice.id),)
    )


def _cancel(api: Api, given: World) -> Request:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3))
    return Request(
        alice,
        f"/sessions/{session['id']}/cancel",
        {"reason": "Sick"},
        200,
        (personal_account_id(alice.id),),
    )


def _cancel_by_coach(api: Api, given: World) -> Request:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3))
    return Request(
        carol, f"/sessions/{session['id']}/cancel", {}, 200, (personal_account_id(alice.id),)
    )


def _reschedule(api: Api, given: World) -> Request:
    alice = member()
    given.fund(alice, 10)
    session = book(api, alice, given.service(credits=3))
    later = parse(session["start"]) + timedelta(hours=2)
    return Request(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(later)}, 200)


def _late_member(api: Api, given: World) -> tuple[Caller, Caller, dict[str, Any]]:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    service = given.service(by=carol, credits=3, late_reschedule_requires_approval=True)
    return alice, carol, book(api, alice, service, hours=12)


def _reschedule_request(api: Api, given: World) -> Request:
    alice, _, session = _late_member(api, given)
    asked = parse(session["start"]) + timedelta(hours=3)
    return Request(alice, f"/sessions/{session['id']}/reschedule", {"start": iso(asked)}, 202)


def _answer_reschedule(answer: str) -> Callable[[Api, World], Request]:
    def make(api: Api, given: World) -> Request:
        alice, carol, session = _late_member(api, given)
        asked = parse(session["start"]) + timedelta(hours=3)
        operations.reschedule(given.store, alice, session["id"], asked, None, clock.now())
        return Request(carol, f"/sessions/{session['id']}/reschedule-request/{answer}", None, 200)

    return make


def _withdraw_reschedule(api: Api, given: World) -> Request:
    alice, _, session = _late_member(api, given)
    asked = parse(session["start"]) + timedelta(hours=3)
    operations.reschedule(given.store, alice, session["id"], asked, None, clock.now())
    return Request(
        alice, f"/sessions/{session['id']}/reschedule-request/withdraw", {"reason": "Sorted"}, 200
    )


def _answer_booking(answer: str) -> Callable[[Api, World], Request]:
    def make(api: Api, given: World) -> Request:
        alice, carol = member(), coach()
        given.fund(alice, 10)
        service = given.service(by=carol, credits=3, requires_approval=True)
        session = book(api, alice, service)
        assert session["status"] == "REQUESTED"
        return Request(
            carol,
            f"/sessions/{session['id']}/{answer}",
            None,
            200,
            (personal_account_id(alice.id),),
        )

    return make


def _refund(api: Api, given: World) -> Request:
    alice, carol = member(), coach()
    given.fund(alice, 10)
    session = book(api, alice, given.service(by=carol, credits=3), hours=12)
    api.post(alice, f"/sessions/{session['id']}/cancel", {})
    return Request(
        carol,
        f"/sessions/{session['id']}/refund",
        {"credits": 2},
        200,
        (personal_account_id(alice.id),),
    )


def _no_show(party: str) -> Callable[[Api, World], Request]:
    """A session that has just started; support marks the coach absent (a refund moves with
    the mark), or the coach marks the member (nothing moves)."""

    def make(api: Api, given: World) -> Request:
        alice, carol = member(), coach()
        given.fund(alice, 10)
        session = book(api, alice, given.service(by=carol, credits=3), hours=2)
        travel().advance(3 * 3600)
        who = support() if party == "COACH" else carol
        return Request(
            who,
            f"/sessions/{session['id']}/no-show",
            {"party": party},
            200,
            (personal_account_id(alice.id),),
        )

    return make


def _grant(api: Api, given: World) -> Request:
    boss = admin()
    group = api.post(boss, "/accounts", {"name": "Team"}).json
    return Request(boss, f"/accounts/{group['id']}/grants", {"credits": 5}, 201, (group["id"],))


def _create_account(api: Api, given: World) -> Request:
    return Request(support(), "/accounts", {"name": "Acme team", "member_ids": ["m-1"]}, 201)


def _create_service(api: Api, given: World) -> Request:
    body = {"name": "Career coaching", "session_types": [{"minutes": 60, "credits": 3}]}
    return Request(coach(), "/services", body, 201)


def _set_availability(api: Api, given: World) -> Request:
    body = {"weekly": [{"day": "TUE", "start": "09:00", "end": "12:30"}]}
    return Request(coach(), "/coaches/me/availability", body, 200, method="PUT")


def _take_time_off(api: Api, given: World) -> Request:
    """Time off over a session already booked: the answer names it, replayed or not."""
    alice, carol = member(), coach()
    given.fund(alice, 10)
    book(api, alice, given.service(by=carol, credits=3), hours=72)
    body = {"start": iso(slot_in(48)), "end": iso(slot_in(96)), "reason": "Conference"}
    return Request(carol, "/coaches/me/time-off", body, 201)


def _manage(action: str) -> Callable[[Api, World], Request]:
    """What a manage link's holder sends: a cancel, or a move two hours later."""

    def make(api: Api, given: World) -> Request:
        alice = member()
        given.fund(alice, 10)
        session = given.book(alice, given.service(credits=3), in_hours=72)
        body = (
            {"reason": "A clash"}
            if action == "cancel"
            else {"start": iso(session.start + timedelta(hours=2))}
        )
        return Request(
            None,
            f"/manage/{action}",
            body,
            200,
            (personal_account_id(alice.id),),
            headers=bearer(token_for(session)),
        )

    return make


def _edit_service(api: Api, given: World) -> Request:
    carol = coach()
    service = given.service(by=carol)
    body = {"name": "Longer sessions", "session_types": {"add": [{"minutes": 90, "credits": 4}]}}
    return Request(carol, f"/services/{service.id}", body, 200, method="PATCH")


def _retire_service(api: Api, given: World) -> Request:
    carol = coach()
    return Request(carol, f"/services/{given.service(by=carol).id}/retire", None, 200)


def _change_group(api: Api, given: World) -> Request:
    boss = admin()
    group = api.post(boss, "/accounts", {"name": "Team", "member_ids": ["m-1"]}).json
    body = {"add_members": ["m-2"], "remove_members": ["m-1"]}
    return Request(boss, f"/accounts/{group['id']}", body, 200, method="PATCH")


WEBHOOK = {"url": "https://93.184.215.14/hooks", "event_types": ["*"]}


def _create_webhook(api: Api, given: World) -> Request:
    return Request(admin(), "/webhooks", WEBHOOK, 201)


def _webhook(api: Api, given: World) -> tuple[Caller, str]:
    boss = admin()
    return boss, str(api.post(boss, "/webhooks", WEBHOOK).json["id"])


def _enable_webhook(api: Api, given: World) -> Request:
    boss, webhook = _webhook(api, given)
    hooks = WebhookStore(api.store._db, api.store.settings)
    hooks.disable(webhook, DisabledReason.GONE, clock.now(), "notice")
    return Request(boss, f"/webhooks/{webhook}/enable", None, 200)


def _rotate_secret(api: Api, given: World) -> Request:
    boss, webhook = _webhook(api, given)
    return Request(boss, f"/webhooks/{webhook}/rotate-secret", None, 200)


def _retry_delivery(api: Api, given: World) -> Request:
    boss, webhook = _webhook(api, given)
    hooks = WebhookStore(api.store._db, api.store.settings)
    now = clock.now()
    delivery = Delivery(
        id="20261201T090000Z-0000000001-0123456789abcdef",
        endpoint_id=webhook,
        event_id="session:s:1:session.booked",
        event_type="session.booked",
        event_time=now,
        payload="{}",
        state=DeliveryState.FAILED,
        attempts=8,
        created_at=now,
    )
    assert hooks.create_delivery(delivery, "gone", 0.0) is None
    return Request(boss, f"/webhooks/{webhook}/deliveries/{delivery.id}/retry", None, 202)


REQUESTS: dict[str, Callable[[Api, World], Request]] = {
    "book": _book,
    "cancel": _cancel,
    "cancel-by-coach": _cancel_by_coach,
    "reschedule": _reschedule,
    "reschedule-request": _reschedule_request,
    "approve-reschedule": _answer_reschedule("approve"),
    "decline-reschedule": _answer_reschedule("decline"),
    "withdraw-reschedule": _withdraw_reschedule,
    "approve-booking": _answer_booking("approve"),
    "decline-booking": _answer_booking("decline"),
    "refund": _refund,
    "no-show-coach": _no_show("COACH"),
    "no-show-member": _no_show("MEMBER"),
    "grant": _grant,
    "create-account": _create_account,
    "create-service": _create_service,
    "set-availability": _set_availability,
    "take-time-off": _take_time_off,
    "manage-cancel": _manage("cancel"),
    "manage-reschedule": _manage("reschedule"),
    "edit-service": _edit_service,
    "retire-service": _retire_service,
    "change-group": _change_group,
    "create-webhook": _create_webhook,
    "enable-webhook": _enable_webhook,
    "rotate-webhook-secret": _rotate_secret,
    "retry-webhook-delivery": _retry_delivery,
}


@pytest.fixture
def faults(api: Api) -> Iterator[Faults]:
    """Fault injection on the functions' own DynamoDB client (fresh for each test)."""
    injected = Faults()
    injected.install(runtime.dynamodb())
    yield injected
    injected.clear()


def _send(api: Api, faults: Faults, request: Request, key: str) -> Reply:
    with faults.running(request.function):
        return api.call(
            request.caller,
            request.method,
            request.path,
            request.body,
            headers={**request.headers, "Idempotency-Key": key},
        )


def _named_id(reply: Reply) -> str:
    body = reply.json
    if "session" in body:
        return str(body["session"]["id"])
    if set(body) == {"secret"}:
        return str(body["secret"])  # a rotation answers the new secret alone
    return str(body["id"] if "id" in body else body["coach_id"])  # hours are the coach's


@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
@pytest.mark.parametrize("make", REQUESTS.values(), ids=REQUESTS.keys())
def test_a_function_killed_at_its_commit_and_retried_with_its_key_changes_things_once(
    api: Api,
    given: World,
    store: Storage,
    faults: Faults,
    make: Callable[[Api, World], Request],
    when: Literal["before_commit", "after_commit"],
) -> None:
    request = make(api, given)
    before = snapshot(store)
    faults.arm(request.function, when, 1)

    with pytest.raises(FunctionKilled):
        _send(api, faults, request, "crash-1")
    after_crash = snapshot(store)
    retry = _send(api, faults, request, "crash-1")
    after_retry = snapshot(store)
    again = _send(api, faults, request, "crash-1")

    assert faults.armed() == []
    assert retry.status == request.status, retry.text
    assert (again.status, again.text) == (retry.status, retry.text)
    assert snapshot(store) == after_retry
    if when == "before_commit":
        assert after_crash == before, "a function killed before its commit changed storage"
        assert after_retry != before
    else:
        assert after_crash != before, "the killed function's commit did not land"
        assert after_retry == after_crash, "the retry changed storage a second time"
        # The replayed answer is about what the killed run wrote.
        assert _named_id(retry) in json.dumps(after_crash)
    for account_id in request.accounts:
        given.assert_ledger_consistent(account_id)


def test_every_write_that_takes_a_key_is_killed_and_retried_here(api: Api, given: World) -> None:
    """A keyed write's stored answer is made from what its change produced, not by its route:
    one missing here could store the wrong answer unseen (taking time off once stored the
    coach's hours, and answered them, until this list covered it)."""
    documented = documented_paths()
    keyed = {r.key for r in ROUTES if r.method in IDEMPOTENT_METHODS and r.path in documented}

    covered = {make(api, given).route.key for make in REQUESTS.values()}

    assert covered == keyed
