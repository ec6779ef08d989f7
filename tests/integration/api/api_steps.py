"""Steps shared by the HTTP API tests: times, problem checks, storage snapshots, bookings.

Everything here talks to the handlers through ``tests.api_client.Api`` (or, for the racing
tests, through fresh copies of the handler modules), never to the operations directly, except
the given-steps of ``tests.builders.World`` that the tests use to set the scene.
"""

import importlib.util
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from coaching import clock, manage_links, runtime
from coaching.models import Caller, Service, Session
from coaching.storage import Storage
from local.lambda_runtime import ROOT, LambdaContext, http_event, jwt_claims
from local.routes import find
from local.time_travel import TimeTravel
from tests.api_client import ROUTES, Api, Reply

PROBLEM_JSON = "application/problem+json"
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")

# Bodies that are not a JSON object: each must answer 400 MALFORMED_REQUEST.
NOT_AN_OBJECT = {
    "not json": "{not json",
    "truncated": '{"reason": "x"',
    "array": "[1, 2]",
    "string": '"text"',
    "number": "42",
    "null": "null",
}


# --- time --------------------------------------------------------------------------------------


def slot_in(hours: float, *, minutes: int = 0) -> datetime:
    """A 15-minute-aligned start about ``hours`` (plus ``minutes``) after the handlers' now."""
    at = clock.now() + timedelta(hours=hours, minutes=minutes)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- answers -----------------------------------------------------------------------------------


def header(reply: Reply, name: str) -> str:
    return next((v for k, v in reply.headers.items() if k.lower() == name.lower()), "")


def assert_problem(
    reply: Reply, status: int, code: str, *, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status and stable code.

    For VALIDATION_FAILED it must list ``errors [{field, message}]``, one of them about ``field``
    when given.
    """
    assert reply.status == status, f"expected {status} {code}, got {reply.status}: {reply.text}"
    assert header(reply, "Content-Type").startswith(PROBLEM_JSON), reply.headers
    document: dict[str, Any] = reply.json
    assert isinstance(document, dict), document
    for name in PROBLEM_FIELDS:
        assert name in document, f"problem lacks {name!r}: {document}"
    assert document["status"] == status
    assert document["code"] == code, document
    assert document["type"] == f"urn:problem:coaching:{code.lower()}", document
    for name in ("type", "title", "detail"):
        assert isinstance(document[name], str) and document[name], document
    assert_our_words(document["detail"])
    if code == "VALIDATION_FAILED":
        errors = document.get("errors")
        assert isinstance(errors, list) and errors, document
        for error in errors:
            assert isinstance(error.get("field"), str) and error["field"], error
            assert isinstance(error.get("message"), str) and error["message"], error
            # docs/api.md: a body field by its path, a query or path parameter by its name
            assert error["field"].split(".")[0] not in ("query", "path", "body"), error
            # each message is a sentence that starts with the field's name
            assert error["message"].startswith(error["field"] + " "), error
            assert_our_words(error["message"])
        if field is not None:
            named = [e["field"] for e in errors]
            # a field is named by its path: "reason", "view", "session_types.0.minutes"
            assert any(field in n.split(".") for n in named), (field, named)
    return document


# What pydantic and Powertools say in their own words; none of it may reach a client.
THEIR_WORDS = re.compile(
    r"Input should|should be|Value error|Field required|String should|Extra inputs|"
    r"validation error|pydantic|Assertion failed",
    re.IGNORECASE,
)


def assert_our_words(text: str) -> None:
    """A full sentence of ours: it ends with a full stop and quotes no library's wording."""
    assert text.rstrip().endswith((".", "?", "!")), f"not a full sentence: {text!r}"
    assert not THEIR_WORDS.search(text), f"a library's wording: {text!r}"


def assert_ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, f"expected {status}, got {reply.status}: {reply.text}"
    assert header(reply, "Content-Type").startswith("application/json"), reply.headers
    return reply.json


# --- storage -----------------------------------------------------------------------------------


def snapshot(store: Storage) -> dict[str, list[dict[str, Any]]]:
    """Every item of the sessions, ledger and webhooks tables (the idempotency table is left
    out)."""
    client = store._db  # the store's own client reaches its tables, wherever they live
    found: dict[str, list[dict[str, Any]]] = {}
    for name in (store.sessions_table, store.ledger_table, store.settings.webhooks_table):
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        found[name] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    return found


@contextmanager
def nothing_changes(store: Storage) -> Iterator[None]:
    """The block leaves sessions, slots, services, accounts, ledgers and webhooks exactly as
    they were."""
    before = snapshot(store)
    yield
    after = snapshot(store)
    assert after == before, "a refused request changed storage"


def balance(store: Storage, account_id: str) -> int:
    account = store.get_account(account_id)
    assert account is not None, account_id
    return account.balance


def entries(store: Storage, account_id: str) -> list[Any]:
    found, token = store.ledger(account_id, limit=1000, token=None)
    assert token is None
    return found


def entry_kinds(store: Storage, account_id: str) -> list[str]:
    """The account's ledger entry kinds, oldest first."""
    return [e.kind.value for e in sorted(entries(store, account_id), key=lambda e: e.seq)]


def status_of(store: Storage, session_id: str) -> str:
    session = store.get_session(session_id)
    assert session is not None, session_id
    return session.status.value


# --- requests ----------------------------------------------------------------------------------


def book_body(
    service: Service, start: datetime, account_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_id": service.id,
        "session_type_id": service.session_types[0].id,
        "start": iso(start),
    }
    if account_id is not None:
        body["account_id"] = account_id
    return body | extra


def book(
    api: Api,
    who: Caller,
    service: Service,
    *,
    hours: float = 72,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Book through POST /sessions; the new session as the API shows it."""
    reply = api.post(who, "/sessions", book_body(service, slot_in(hours), account_id))
    session: dict[str, Any] = assert_ok(reply, 201)
    return session


def listed_ids(api: Api, who: Caller, view: str) -> list[str]:
    reply = api.get(who, "/sessions", query={"view": view, "limit": "100"})
    return [s["id"] for s in assert_ok(reply)["items"]]


# --- one execution environment per caller, for racing threads --------------------------------


class Environment:
    """A fresh copy of one function's handler module: what a separate Lambda execution
    environment would run. Threads that race must not share a resolver, because Powertools
    keeps per-request state (route arguments, context) on the resolver instance; in AWS two
    concurrent invocations never share one."""

    def __init__(self, method: str, path: str) -> None:
        found = find(ROUTES, method, path)
        assert found is not None, (method, path)
        self.route, self.parameters = found
        self.method, self.path = method, path
        module_path, _, attribute = self.route.handler.rpartition(".")
        file = (ROOT / self.route.code_uri / f"{module_path}.py").resolve()
        name = f"lambda_copy_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.handler = getattr(module, attribute)

    def call(
        self, caller: Caller, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> Reply:
        event = http_event(
            method=self.method,
            path=self.path,
            route_key=self.route.key,
            path_parameters=self.parameters,
            headers={"content-type": "application/json", **(headers or {})},
            body=None if body is None else json.dumps(body),
            claims=jwt_claims(caller),
        )
        result = self.handler(event, LambdaContext(self.route.function, self.route.timeout))
        return Reply(
            status=result["statusCode"],
            headers={k: str(v) for k, v in result.get("headers", {}).items()},
            text=result.get("body", ""),
            route=self.route,
        )


def travel() -> TimeTravel:
    """The clock this test installed (the ``travel`` fixture), for steps that move it."""
    installed = clock.current()
    assert isinstance(installed, TimeTravel)
    return installed


def token_for(session: Session, member_id: str | None = None, until: datetime | None = None) -> str:
    """A token as the notifier signs one for Ann's emails (the stack's current key)."""
    return manage_links.sign(
        runtime.link_keys().keys(),
        session.id,
        member_id or session.member.id,
        until or session.end,
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
