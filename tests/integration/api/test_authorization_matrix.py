"""Who may call what: every route of template.yaml against every role, from one table.

Each cell stages its own world on fresh tables (a member who owns the session and belongs to a
group account, that group's admin, the session's coach, a stranger of each kind, support) and
makes one request. A refusal must be the right problem document and change nothing.

The tables of all cells live in one in-process moto for the module (a fresh moto per cell costs
more than the cell itself); every cell still gets tables, people and sessions of its own, so no
cell can see what another did.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from coaching import clock, operations, runtime
from coaching.events.webhooks import operations as webhook_operations
from coaching.models import Caller, Session, personal_account_id
from coaching.settings import Settings
from coaching.storage import Storage
from coaching.storage.webhooks import WebhookStore
from coaching.webhook_models import Delivery, DeliveryState
from local.routes import http_routes
from local.template import create_tables
from tests.api_client import Api
from tests.builders import World, admin, coach, link_secret, member, support, unique

from .api_steps import assert_problem, header, iso, listed_ids, nothing_changes, travel

ROLES = ("owner", "stranger", "coach", "other_coach", "support", "admin", "anonymous")
"""owner: the member whose session it is, a member of the group account it was paid from;
stranger: another member; coach: the session's (and the service's) coach; other_coach: a coach
of neither; support; admin: the admin of the group account the session was paid from;
anonymous: an event without JWT claims."""


@dataclass(frozen=True)
class Scene:
    cast: dict[str, Caller | None]
    session: Session | None
    service_id: str
    group_id: str
    webhook_id: str = ""
    """A webhook endpoint the admin subscribed, with one delivery (``delivery_id``), for the
    webhook routes' rows."""
    delivery_id: str = ""

    @property
    def owner(self) -> Caller:
        owner = self.cast["owner"]
        assert owner is not None
        return owner


Body = Callable[[Scene], Any]


@dataclass(frozen=True)
class Row:
    method: str
    route: str
    """The path exactly as template.yaml names it."""
    expect: str
    """The status for each role, in the order of ROLES, separated by spaces."""
    body: Body | None = None
    given: str = "booked"
    """What the scene holds besides the people and the group account: "booked", a session 72 hours
    out paid from the group; REQUESTED, a booking request; MOVE, a late move the member asked
    for, waiting for the coach; LATE, a session the member canceled too late for a refund;
    STARTED, a session whose start has just passed."""
    account: str = "group"
    """Which account {account_id} is: the group the session was paid from, or (P) the
    owner's personal account."""
    query: Body | None = None
    """The query string, from the scene."""


def _book(scene: Scene) -> dict[str, Any]:
    assert scene.session is not None
    return {
        "service_id": scene.service_id,
        "session_type_id": "t1",
        "start": iso(scene.session.start + timedelta(days=1)),
        "account_id": scene.group_id,
    }


def _move(scene: Scene) -> dict[str, Any]:
    assert scene.session is not None
    return {"start": iso(scene.session.start + timedelta(days=1))}


def _reason(_: Scene) -> dict[str, Any]:
    return {"reason": "Cannot make it"}


def _absent_member(_: Scene) -> dict[str, Any]:
    return {"party": "MEMBER"}


def _empty(_: Scene) -> dict[str, Any]:
    return {}


def _group(scene: Scene) -> dict[str, Any]:
    return {"name": "New team", "member_ids": [scene.owner.id]}


def _rename(_: Scene) -> dict[str, Any]:
    return {"name": "Renamed team", "add_members": ["new-hire"]}


def _longer_window(_: Scene) -> dict[str, Any]:
    return {"cancellation_window_hours": 48}


def _grant(_: Scene) -> dict[str, Any]:
    return {"credits": 5, "note": "Top-up"}


def _service(_: Scene) -> dict[str, Any]:
    return {"name": "Mentoring", "session_types": [{"minutes": 30, "credits": 1}]}


def _webhook(_: Scene) -> dict[str, Any]:
    return {"url": "https://93.184.215.14/hooks", "event_types": ["session.canceled"]}


def _hours(_: Scene) -> dict[str, Any]:
    return {
        "timezone": "Europe/London",
        "weekly": [{"day": "MON", "start": "09:00", "end": "17:00"}],
    }


def _owner_id(scene: Scene) -> dict[str, str]:
    return {"member_id": scene.owner.id}


def _coach_id(scene: Scene) -> dict[str, str]:
    coach = scene.cast["coach"]
    assert coach is not None
    return {"coach_id": coach.id}


def _time_off(scene: Scene) -> dict[str, Any]:
    assert scene.session is not None
    start = scene.session.start + timedelta(days=30)
    return {"start": iso(start), "end": iso(start + timedelta(days=1))}


def _range(scene: Scene) -> dict[str, str]:
    assert scene.session is not None
    return {"from": iso(scene.session.start), "to": iso(scene.session.start + timedelta(days=7))}


def _account_id(scene: Scene) -> dict[str, str]:
    return {"account_id": scene.group_id}


def _member_email(scene: Scene) -> dict[str, str]:
    return {"member_email": str(scene.owner.email)}


def _slots(scene: Scene) -> dict[str, str]:
    assert scene.session is not None
    start = scene.session.start
    return {"session_type_id": "t1", "from": iso(start), "to": iso(start + timedelta(days=7))}


def _manage_slots(scene: Scene) -> dict[str, str]:
    assert scene.session is not None
    start = scene.session.start
    return {"from": iso(start), "to": iso(start + timedelta(days=7))}


S, A = "/sessions/{session_id}", "/accounts/{account_id}"
W = "/webhooks/{webhook_id}"
REQUESTED, MOVE, LATE, P = "requested", "move_asked", "late_canceled", "personal"
STARTED = "started"

# The one table: method, route, then the status for owner, stranger, coach, other_coach,
# support, admin and anonymous; then the body, what the scene holds, and which account.
# fmt: off
TABLE: tuple[Row, ...] = (
    Row("POST", "/sessions",                      "201 404 403 403 403 403 401", _book),
    Row("GET",  "/sessions",                      "200 200 200 200 422 403 401"),
    Row("GET",  "/sessions",                      "403 403 403 403 200 403 401", query=_owner_id),
    Row("GET",  "/sessions",                      "403 403 403 403 200 403 401", query=_coach_id),
    Row("GET",  "/sessions",                      "403 403 403 403 200 200 401", query=_account_id),
    Row("GET",  "/sessions",                      "403 403 403 403 200 403 401",
        query=_member_email),
    Row("GET",  S,                                "200 404 200 404 200 200 401"),
    Row("GET",  S + "/history",                   "200 404 200 404 200 200 401"),
    Row("POST", S + "/approve",                   "403 404 200 404 200 404 401", None, REQUESTED),
    Row("POST", S + "/decline",                   "403 404 200 404 200 404 401", None, REQUESTED),
    Row("GET",  S + "/cancellation",              "200 404 200 404 200 404 401"),
    Row("POST", S + "/cancel",                    "200 404 200 404 200 404 401", _reason),
    Row("POST", S + "/reschedule",                "200 404 200 404 200 404 401", _move),
    Row("POST", S + "/reschedule-request/approve", "403 404 200 404 200 404 401", None, MOVE),
    Row("POST", S + "/reschedule-request/decline", "403 404 200 404 200 404 401", None, MOVE),
    Row("POST", S + "/reschedule-request/withdraw", "200 404 403 404 403 404 401", None, MOVE),
    Row("POST", S + "/refund",                    "403 404 200 404 200 404 401", _empty, LATE),
    Row("POST", S + "/no-show",                   "403 404 200 404 200 404 401", _absent_member,
        STARTED),
    Row("GET",  "/accounts",                      "200 200 200 200 200 200 401"),
    Row("POST", "/accounts",                      "403 403 403 403 201 201 401", _group),
    Row("GET",  A,                                "200 404 404 404 200 200 401"),
    Row("GET",  A,                                "200 404 404 404 200 404 401", account=P),
    Row("GET",  A + "/ledger",                    "200 404 404 404 200 200 401"),
    Row("GET",  A + "/ledger",                    "200 404 404 404 200 404 401", account=P),
    Row("POST", A + "/grants",                    "403 404 404 404 201 201 401", _grant),
    Row("POST", A + "/grants",                    "403 404 404 404 201 404 401", _grant, account=P),
    Row("PATCH", A,                              "403 404 404 404 200 200 401", _rename),
    Row("PATCH", A,                              "403 404 404 404 403 404 401", _rename, account=P),
    Row("GET",  A + "/changes",                   "403 404 404 404 200 200 401"),
    Row("GET",  A + "/changes",                   "403 404 404 404 403 404 401", account=P),
    Row("POST", "/services",                      "403 403 201 201 403 403 401", _service),
    Row("GET",  "/services/{service_id}",         "200 200 200 200 200 200 401"),
    Row("PATCH", "/services/{service_id}",       "403 403 200 403 200 403 401", _longer_window),
    Row("POST", "/services/{service_id}/retire",  "403 403 200 403 200 403 401", _empty),
    Row("GET",  "/coaches",                       "200 200 200 200 200 200 401"),
    Row("GET",  "/services",                      "200 200 200 200 200 200 401", query=_coach_id),
    Row("GET",  "/services/{service_id}/slots",   "200 200 200 200 200 200 401", query=_slots),
    Row("PUT",  "/coaches/me/availability",       "403 403 200 200 403 403 401", _hours),
    Row("GET",  "/coaches/{coach_id}/availability", "200 200 200 200 200 200 401"),
    # A manage link's token is the only key to these: a JWT, whoever's, is no such token
    Row("GET",  "/manage/session",                "401 401 401 401 401 401 401"),
    Row("GET",  "/manage/cancellation",           "401 401 401 401 401 401 401"),
    Row("POST", "/manage/cancel",                 "401 401 401 401 401 401 401", _reason),
    Row("POST", "/manage/reschedule",             "401 401 401 401 401 401 401", _move),
    Row("GET",  "/manage/slots",                  "401 401 401 401 401 401 401",
        query=_manage_slots),
    Row("POST", "/coaches/me/time-off",           "403 403 201 201 403 403 401", _time_off),
    Row("GET",  "/coaches/{coach_id}/time-off",   "200 200 200 200 200 200 401", query=_range),
    Row("DELETE", "/coaches/me/time-off/{time_off_id}", "403 403 404 404 403 403 401"),
    Row("POST", "/webhooks",                      "403 403 403 403 201 201 401", _webhook),
    Row("GET",  "/webhooks",                      "403 403 403 403 200 200 401"),
    Row("GET",  W,                                "403 403 403 403 200 200 401"),
    Row("DELETE", W,                              "403 403 403 403 204 204 401"),
    Row("POST", W + "/enable",                    "403 403 403 403 200 200 401"),
    Row("POST", W + "/rotate-secret",             "403 403 403 403 200 200 401"),
    Row("GET",  W + "/deliveries",                "403 403 403 403 200 200 401"),
    Row("POST", W + "/deliveries/{delivery_id}/retry", "403 403 403 403 202 202 401"),
    Row("GET",  "/openapi.json",                  "200 200 200 200 200 200 200"),
    Row("GET",  "/docs",                          "200 200 200 200 200 200 200"),
    Row("GET",  "/app",                           "200 200 200 200 200 200 200"),
    Row("GET",  "/app/{proxy+}",                  "200 200 200 200 200 200 200"),
)
# fmt: on

CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 422: "VALIDATION_FAILED"}


def _cells() -> Iterator[Any]:
    for row in TABLE:
        statuses = [int(status) for status in row.expect.split()]
        for role, status in zip(ROLES, statuses, strict=True):
            name = f"{row.method} {row.route}{' (personal)' if row.account != 'group' else ''}"
            if row.query is not None:
                name += f" ?{row.query.__name__.strip('_')}"
            yield pytest.param(row, role, status, id=f"{name} as {role} -> {status}")


def test_the_table_has_a_row_for_every_route_of_the_template() -> None:
    in_table = {(row.method, row.route) for row in TABLE}
    in_template = {(route.method, route.path) for route in http_routes()}

    assert in_table == in_template


# --- the cells --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    """One in-process moto for the module's cells, each of which makes tables of its own."""
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def cell_store(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Storage]:
    """Fresh tables for one cell, and the handlers pointed at them."""
    settings = Settings(
        **{name: unique(name) for name in Settings.model_fields if name.endswith("_table")}
    )
    create_tables(dynamodb, settings.table_names())
    for name, field in Settings.model_fields.items():
        if name.endswith("_table"):
            monkeypatch.setenv(str(field.alias), getattr(settings, name))
    monkeypatch.setenv("MANAGE_LINK_SECRET", link_secret())
    sqs = boto3.client("sqs", region_name="us-east-1")
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", sqs.create_queue(QueueName=unique("q"))["QueueUrl"])
    runtime.reset()
    yield Storage(dynamodb, settings)
    runtime.reset()


def _stage(store: Storage, given: str, webhooks: bool = False) -> Scene:
    world = World(store, now=clock.now())
    cast: dict[str, Caller | None] = {
        "owner": member("owner"),
        "stranger": member("stranger"),
        "coach": coach("coach"),
        "other_coach": coach("other-coach"),
        "support": support(),
        "admin": admin(),
        "anonymous": None,
    }
    owner, the_coach, the_admin = cast["owner"], cast["coach"], cast["admin"]
    assert owner is not None and the_coach is not None and the_admin is not None
    group = operations.create_group_account(
        store,
        the_admin,
        name="Team",
        member_ids=[owner.id],
        admin_ids=[the_admin.id],
        now=world.now,
    )
    world.fund(owner, 20, account_id=group.id)
    service = world.service(
        by=the_coach,
        credits=3,
        requires_approval=given == "requested",
        late_reschedule_requires_approval=given == "move_asked",
    )
    hours = {"move_asked": 12, "late_canceled": 12, "started": 1}.get(given, 72)
    session = world.book(owner, service, in_hours=hours, account_id=group.id)
    if given == "started":
        travel().advance(2 * 3600)
    if given == "move_asked":
        moved_to = session.start + timedelta(hours=3)
        session, mode = operations.reschedule(store, owner, session.id, moved_to, None, world.now)
        assert mode == "REQUEST"
    elif given == "late_canceled":
        session = operations.cancel(store, owner, session.id, None, world.now)
        assert session.refund.credits == 0
    webhook_id, delivery_id = _subscribed(store, the_admin, world.now) if webhooks else ("", "")
    return Scene(
        cast=cast,
        session=session,
        service_id=service.id,
        group_id=group.id,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
    )


def _subscribed(store: Storage, by: Caller, now: datetime) -> tuple[str, str]:
    """An endpoint of the admin's, and one delivery to it (its first attempt failed)."""
    hooks = WebhookStore(store._db, store.settings)
    endpoint = webhook_operations.create(
        hooks,
        by,
        url="https://93.184.215.14/hooks",
        event_types=["*"],
        description=None,
        now=now,
    ).endpoint
    delivery = Delivery(
        id="20261201T090000Z-0000000001-0123456789abcdef",
        endpoint_id=endpoint.id,
        event_id="session:s:1:session.booked",
        event_type="session.booked",
        event_time=now,
        payload="{}",
        state=DeliveryState.PENDING,
        attempts=1,
        created_at=now,
    )
    assert hooks.create_delivery(delivery, "owner", 0.0) is None
    return endpoint.id, delivery.id


@pytest.mark.parametrize(("row", "role", "status"), list(_cells()))
def test_cell(cell_store: Storage, row: Row, role: str, status: int) -> None:
    scene = _stage(cell_store, row.given, webhooks=row.route.startswith("/webhooks"))
    account_id = scene.group_id if row.account == "group" else personal_account_id(scene.owner.id)
    the_coach = scene.cast["coach"]
    assert the_coach is not None
    path = row.route.format(
        session_id=scene.session.id if scene.session else "",
        service_id=scene.service_id,
        account_id=account_id,
        coach_id=the_coach.id,
        time_off_id="no-such-time-off",
        webhook_id=scene.webhook_id,
        delivery_id=scene.delivery_id,
        **{"proxy+": "coaching-sessions.js"},
    )
    body = row.body(scene) if row.body else None
    query = row.query(scene) if row.query else None
    api = Api(cell_store)

    if status >= 400:
        with nothing_changes(cell_store):
            reply = api.call(scene.cast[role], row.method, path, body, query=query)
        assert_problem(reply, status, CODES[status])
    else:
        reply = api.call(scene.cast[role], row.method, path, body, query=query)
        assert reply.status == status, reply.text
        if status != 204:  # no content, and no type for it
            expected_type = {
                "/docs": "text/html",
                "/app": "text/html",
                "/app/{proxy+}": "text/javascript",
            }.get(row.route, "application/json")
            assert header(reply, "Content-Type").startswith(expected_type)


def test_sessions_list_only_for_their_member_and_coach(cell_store: Storage) -> None:
    scene = _stage(cell_store, "booked")
    api = Api(cell_store)
    assert scene.session is not None

    seen = {
        role: scene.session.id in listed_ids(api, who, "upcoming")
        for role, who in scene.cast.items()
        if role in ("owner", "stranger", "coach", "other_coach") and who is not None
    }

    assert seen == {"owner": True, "stranger": False, "coach": True, "other_coach": False}
