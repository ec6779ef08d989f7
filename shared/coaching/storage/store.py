"""Sessions, slot claims, services, accounts and the ledger in DynamoDB.

Two tables, both defined in ``template.yaml``:

``SessionsTable`` (its stream drives the emails)
  - session   ``SESSION#{id}`` / ``SESSION``; indexes ByMember, ByCoach (by start time, whole
    sessions: a listing shows them whole) and the sparse Due index (keys only; only sessions
    the sweep will have to look at carry ``due_pk``, one of ``DUE#0`` .. ``DUE#{N-1}`` from a
    hash of the id, so no one partition takes every change)
  - slot      ``SLOT#{coach}#{time}`` / ``SLOT``: one per 15 minutes a coach's session holds;
    a conditional put claims it, so a time cannot be booked twice. Also in ByCoach under
    ``SLOTS#{coach}`` by time, so free times read only the claims of the range asked for
  - service   ``SERVICE#{id}`` / ``SERVICE``; in ByCoach under ``SERVICES#{coach}``
  - hours     ``AVAILABILITY#{coach}`` / ``AVAILABILITY``: the coach's weekly working hours

ByCoach holds three kinds of partition per coach, told apart by their prefix: ``COACH#`` (the
coach's sessions by start), ``SLOTS#`` (their slot claims by slot time) and ``SERVICES#`` (their
services by creation time). A slot claim keeps its own key (``SLOT#{coach}#{time}``), so the
condition that stops a double booking is the same as before; the index only serves reads.

``LedgerTable``
  - account   ``ACCOUNT#{id}`` / ``ACCOUNT``: running balance and ``version`` (entries so far)
  - entry     ``ACCOUNT#{id}`` / ``ENTRY#{seq}``: immutable, numbered 1, 2, 3 ... per account
  - member    ``MEMBER#{user}`` / ``ACCOUNT#{id}``: the group accounts a user belongs to or runs

Every change to a session is one ``TransactWriteItems``: the session item (condition: the version
we read), the slot claims it takes or frees, and when credits move, the account (condition: the
version we read, so the balance we computed from is the balance it has) with the ledger entry
numbered after it (condition: that number is free). A second refund, a negative balance or a lost
update would each need a condition to pass on a state that no longer exists.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from coaching import rules
from coaching.errors import InsufficientCredits, SlotTaken, ValidationFailed
from coaching.models import (
    MAX_BALANCE,
    MAX_SESSION_MINUTES,
    Account,
    Actor,
    Availability,
    EntryKind,
    LedgerEntry,
    Service,
    Session,
    SessionStatus,
)
from coaching.settings import Settings
from coaching.storage import receipts
from coaching.storage.receipts import Answer, KeyAlreadyUsed, Remembered

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef
else:
    DynamoDBClient = Any
    TransactWriteItemTypeDef = dict

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

SLOT_CLAIM_TTL = timedelta(days=7)
"""Claims of past slots are left for DynamoDB's TTL to delete a week after the slot."""


class StaleRead(Exception):
    """An item changed between our read and our write: read again and decide again."""


class TransientConflict(Exception):
    """DynamoDB refused for now (transaction conflict, throttling): the same call may pass."""


def iso(moment: datetime) -> str:
    """Index keys sort as text, so every time in a key has this one fixed UTC format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _only_fields(model: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in model.model_fields}


def session_key(session_id: str) -> dict[str, Any]:
    return _to_item({"pk": f"SESSION#{session_id}", "sk": "SESSION"})


def slot_key(coach_id: str, slot: datetime) -> dict[str, Any]:
    return _to_item({"pk": f"SLOT#{coach_id}#{iso(slot)}", "sk": "SLOT"})


def account_key(account_id: str) -> dict[str, Any]:
    return _to_item({"pk": f"ACCOUNT#{account_id}", "sk": "ACCOUNT"})


LEGACY_DUE_PARTITION = "DUE"
"""The Due index's one partition before it was sharded. Items written then keep it until their
next change (which moves them to their shard) or their sweep; the sweep reads it with the shards."""


def due_partition(session_id: str, shards: int) -> str:
    """The Due index partition of a session: ``DUE#0`` to ``DUE#{shards-1}``.

    A hash of the id, stable across processes and releases (unlike ``hash()``), so a session
    stays in one shard while the shard count stays the same, and sessions spread evenly.
    """
    digest = hashlib.sha256(session_id.encode()).digest()
    return f"DUE#{int.from_bytes(digest[:8], 'big') % shards}"


def due_partitions(shards: int) -> list[str]:
    """Every partition the sweep reads: each shard, then the legacy one."""
    return [f"DUE#{n}" for n in range(shards)] + [LEGACY_DUE_PARTITION]


def session_item(session: Session, *, due_shards: int) -> dict[str, Any]:
    values: dict[str, Any] = session.model_dump(mode="json", exclude_none=True)
    values |= {
        "pk": f"SESSION#{session.id}",
        "sk": "SESSION",
        "entity": "SESSION",
        "member_pk": f"MEMBER#{session.member.id}",
        "coach_pk": f"COACH#{session.coach.id}",
        "start_at": iso(session.start),
        "end_at": iso(session.end),
    }
    due = rules.due_at(session)
    if due is not None:
        values |= {"due_pk": due_partition(session.id, due_shards), "due_at": iso(due)}
    return _to_item(values)


def slot_claim_item(session: Session, slot: datetime) -> dict[str, Any]:
    """The item by which ``session`` holds its coach's 15-minute ``slot``."""
    return _to_item(
        {
            "pk": f"SLOT#{session.coach.id}#{iso(slot)}",
            "sk": "SLOT",
            "entity": "SLOT",
            "session_id": session.id,
            "ttl": int((max(slot, session.end) + SLOT_CLAIM_TTL).timestamp()),
            # ByCoach: the coach's claims by time, for free times.
            "coach_pk": f"SLOTS#{session.coach.id}",
            "start_at": iso(slot),
        }
    )


def session_from_item(item: Mapping[str, Any]) -> Session:
    return session_from_item_values(_from_item(item))


def session_from_item_values(values: Mapping[str, Any]) -> Session:
    """A session from an item already turned into Python values."""
    return Session.model_validate(_only_fields(Session, values))


@dataclass(frozen=True)
class Movement:
    """Credits moving in or out of one account, as part of a session change or a grant."""

    account: Account
    """The account as we read it: the write only lands if it is still exactly this."""
    kind: EntryKind
    credits: int
    at: datetime
    actor: Actor | None
    session_id: str | None = None
    note: str | None = None

    @property
    def entry(self) -> LedgerEntry:
        seq = self.account.version + 1
        return LedgerEntry(
            id=f"{self.account.id}:{seq}",
            account_id=self.account.id,
            seq=seq,
            kind=self.kind,
            credits=self.credits,
            balance_after=self.account.balance + self.credits,
            session_id=self.session_id,
            actor=self.actor,
            at=self.at,
            note=self.note,
        )


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_token: str | None


Tag = Literal[
    "session",
    "slot-claim",
    "slot-release",
    "account",
    "entry",
    "membership",
    "new",
    "receipt",
    "hours",
]


@dataclass
class _Transaction:
    items: list["TransactWriteItemTypeDef"] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)

    def add(self, tag: Tag, item: "TransactWriteItemTypeDef") -> None:
        self.items.append(item)
        self.tags.append(tag)


class Storage:
    def __init__(self, client: "DynamoDBClient", settings: Settings) -> None:
        self._db = client
        self.settings = settings
        self.sessions_table = settings.sessions_table
        self.ledger_table = settings.ledger_table

    # --- reads -------------------------------------------------------------------------------

    def get_service(self, service_id: str) -> Service | None:
        item = self._get(self.sessions_table, {"pk": f"SERVICE#{service_id}", "sk": "SERVICE"})
        return None if item is None else Service.model_validate(_only_fields(Service, item))

    def get_session(self, session_id: str) -> Session | None:
        item = self._get(self.sessions_table, {"pk": f"SESSION#{session_id}", "sk": "SESSION"})
        return None if item is None else Session.model_validate(_only_fields(Session, item))

    def get_account(self, account_id: str) -> Account | None:
        """The stored account; a personal account that was never funded reads as empty."""
        item = self._get(self.ledger_table, {"pk": f"ACCOUNT#{account_id}", "sk": "ACCOUNT"})
        return _account_from(account_id, item)

    def session_and_accounts(
        self, session_id: str, account_ids: Sequence[str]
    ) -> tuple[Session | None, dict[str, Account]]:
        """A session and the accounts its change is likely to move credits in, in one request.

        One strongly consistent ``BatchGetItem`` instead of a read per item: a change that can
        tell which account it will touch before reading the session saves a round trip.
        """
        item, accounts = self._item_and_accounts(session_key(session_id), account_ids)
        return (None if item is None else session_from_item_values(item)), accounts

    def service_and_accounts(
        self, service_id: str, account_ids: Sequence[str]
    ) -> tuple[Service | None, dict[str, Account]]:
        """A service and the accounts a booking of it may pay from, in one request."""
        key = _to_item({"pk": f"SERVICE#{service_id}", "sk": "SERVICE"})
        item, accounts = self._item_and_accounts(key, account_ids)
        return (None if item is None else Service.model_validate(_only_fields(Service, item))), (
            accounts
        )

    def _item_and_accounts(
        self, key: dict[str, Any], account_ids: Sequence[str]
    ) -> tuple[dict[str, Any] | None, dict[str, Account]]:
        wanted: dict[str, list[dict[str, Any]]] = {self.sessions_table: [key]}
        if account_ids:
            wanted[self.ledger_table] = [account_key(a) for a in dict.fromkeys(account_ids)]
        found = self._batch_get(wanted)
        wanted_pk = _deserializer.deserialize(key["pk"])
        item = next((i for i in found if i.get("pk") == wanted_pk), None)
        stored = {str(i["id"]): i for i in found if i.get("sk") == "ACCOUNT"}
        accounts = {}
        for account_id in account_ids:
            account = _account_from(account_id, stored.get(account_id))
            if account is not None:
                accounts[account_id] = account
        return item, accounts

    def _batch_get(self, wanted: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            table: {"Keys": keys, "ConsistentRead": True} for table, keys in wanted.items()
        }
        items: list[dict[str, Any]] = []
        while request:
            response = self._db.batch_get_item(RequestItems=request)
            for table_items in response.get("Responses", {}).values():
                items += [_from_item(i) for i in table_items]
            # Keys DynamoDB did not get to this time (throttling, size) are asked for again.
            request = dict(response.get("UnprocessedKeys") or {})
        return items

    def remembered(self, caller_id: str, key: str, now: datetime) -> Remembered | None:
        """What a caller's Idempotency-Key answered, while it is kept (24 hours)."""
        item = self._get(
            self.settings.idempotency_table, {"id": receipts.record_id(caller_id, key)}
        )
        if item is None or int(item["expiration"]) <= int(now.timestamp()):
            return None  # never used, or expired and waiting for DynamoDB's TTL to delete it
        return Remembered(
            fingerprint=str(item["fingerprint"]),
            answer=Answer(
                status=int(item["status"]),
                body=str(item["body"]),
                content_type=str(item["content_type"]),
            ),
        )

    def slot_holder(self, coach_id: str, slot: datetime) -> str | None:
        item = self._get(self.sessions_table, {"pk": f"SLOT#{coach_id}#{iso(slot)}", "sk": "SLOT"})
        return None if item is None else str(item["session_id"])

    def _get(self, table: str, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = self._db.get_item(TableName=table, Key=_to_item(key), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else _from_item(item)

    def sessions_of(
        self,
        role: Literal["member", "coach"],
        user_id: str,
        view: Literal["upcoming", "past"],
        now: datetime,
        limit: int,
        token: str | None,
        statuses: Collection[SessionStatus] = (),
        with_coach: str | None = None,
    ) -> tuple[list[Session], str | None]:
        """A member's or coach's sessions, upcoming (soonest first) or past (latest first).

        Upcoming is what ``rules.is_upcoming`` says: active and not yet over, so a session in
        progress is still upcoming. Past holds everything else: sessions that have ended, and
        canceled, declined or expired ones whatever their time. ``statuses``, when given, keeps
        only sessions in one of them; ``with_coach`` only a member's sessions with that coach.
        """
        index, key = ("ByMember", "member_pk") if role == "member" else ("ByCoach", "coach_pk")
        partition = f"{role.upper()}#{user_id}"
        names = {"#k": key, "#s": "start_at", "#e": "end_at", "#st": "status"}
        active = {":requested": {"S": "REQUESTED"}, ":scheduled": {"S": "SCHEDULED"}}
        values: dict[str, Any] = {":p": {"S": partition}, ":now": {"S": iso(now)}, **active}
        # Items written before end_at was kept have only their start to go by.
        not_over = "(#e > :now OR (attribute_not_exists(#e) AND #s > :now))"
        if view == "upcoming":
            # No session lasts longer than the longest type, so older starts cannot be running.
            earliest = now - timedelta(minutes=MAX_SESSION_MINUTES)
            values[":earliest"] = {"S": iso(earliest)}
            condition, forward = "#k = :p AND #s > :earliest", True
            filter_ = f"#st IN (:requested, :scheduled) AND {not_over}"
        else:
            condition, forward = "#k = :p", False
            filter_ = f"NOT (#st IN (:requested, :scheduled) AND {not_over})"
        if statuses:
            wanted = {f":status{n}": status for n, status in enumerate(sorted(set(statuses)))}
            values |= {name: {"S": str(status)} for name, status in wanted.items()}
            filter_ = f"({filter_}) AND #st IN ({', '.join(wanted)})"
        if with_coach is not None:
            names["#coach"] = "coach_pk"
            values[":coach"] = {"S": f"COACH#{with_coach}"}
            filter_ = f"({filter_}) AND #coach = :coach"
        page = self._query(
            self.sessions_table,
            index=index,
            key_condition=condition,
            filter_=filter_,
            names=names,
            values=values,
            forward=forward,
            limit=limit,
            token=token,
            token_keys={key: partition},
            key_names={"pk", "sk", key, "start_at"},
        )
        return [Session.model_validate(_only_fields(Session, i)) for i in page.items], (
            page.next_token
        )

    def services_of(
        self, coach_id: str, limit: int, token: str | None
    ) -> tuple[list[Service], str | None]:
        """A coach's services, oldest first (ByCoach, partition ``SERVICES#{coach}``)."""
        partition = f"SERVICES#{coach_id}"
        page = self._query(
            self.sessions_table,
            index="ByCoach",
            key_condition="coach_pk = :p",
            filter_=None,
            names=None,
            values={":p": {"S": partition}},
            forward=True,
            limit=limit,
            token=token,
            token_keys={"coach_pk": partition},
            key_names={"pk", "sk", "coach_pk", "start_at"},
        )
        return [Service.model_validate(_only_fields(Service, i)) for i in page.items], (
            page.next_token
        )

    def get_availability(self, coach_id: str) -> Availability | None:
        item = self._get(
            self.sessions_table, {"pk": f"AVAILABILITY#{coach_id}", "sk": "AVAILABILITY"}
        )
        return (
            None if item is None else Availability.model_validate(_only_fields(Availability, item))
        )

    def claimed_slots(self, coach_id: str, start: datetime, end: datetime) -> set[datetime]:
        """The coach's claimed slots from ``start`` up to (not including) ``end``.

        Reads the claims of that range only (ByCoach, partition ``SLOTS#{coach}``, by time),
        so the cost follows the range, not how many sessions the coach ever had. The index is
        eventually consistent: a slot claimed a moment ago may still read as free, and a
        booking of it is then refused by the claim's own condition (SLOT_TAKEN).
        """
        kwargs: dict[str, Any] = {
            "TableName": self.sessions_table,
            "IndexName": "ByCoach",
            "KeyConditionExpression": "coach_pk = :p AND start_at BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":p": {"S": f"SLOTS#{coach_id}"},
                ":from": {"S": iso(start)},
                # BETWEEN includes its end; the last slot before ``end`` starts 1 s before it.
                ":to": {"S": iso(end - timedelta(seconds=1))},
            },
            "ProjectionExpression": "start_at",
        }
        found: set[datetime] = set()
        while True:
            response = self._db.query(**kwargs)
            for item in response.get("Items", []):
                found.add(datetime.fromisoformat(item["start_at"]["S"]))
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def ledger(
        self, account_id: str, limit: int, token: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """An account's entries, newest first."""
        partition = f"ACCOUNT#{account_id}"
        page = self._query(
            self.ledger_table,
            index=None,
            key_condition="pk = :p AND begins_with(sk, :e)",
            filter_=None,
            names=None,
            values={":p": {"S": partition}, ":e": {"S": "ENTRY#"}},
            forward=False,
            limit=limit,
            token=token,
            token_keys={"pk": partition},
            key_names={"pk", "sk"},
        )
        return [LedgerEntry.model_validate(_only_fields(LedgerEntry, i)) for i in page.items], (
            page.next_token
        )

    def group_account_ids(self, user_id: str) -> list[str]:
        """The group accounts a user belongs to or administers."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.ledger_table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": f"MEMBER#{user_id}"}},
            "ConsistentRead": True,
        }
        while True:
            response = self._db.query(**kwargs)
            ids += [_from_item(i)["account_id"] for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return ids
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _query(
        self,
        table: str,
        *,
        index: str | None,
        key_condition: str,
        filter_: str | None,
        names: dict[str, str] | None,
        values: dict[str, Any],
        forward: bool,
        limit: int,
        token: str | None,
        token_keys: Mapping[str, str],
        key_names: set[str],
    ) -> Page:
        """One page of up to ``limit`` items, reading on while a filter thins the results."""
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if filter_:
            kwargs["FilterExpression"] = filter_
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if token:
            kwargs["ExclusiveStartKey"] = _decode_token(token, token_keys, key_names)
        items: list[dict[str, Any]] = []
        while True:
            kwargs["Limit"] = limit - len(items)
            response = self._db.query(**kwargs)
            items += [_from_item(i) for i in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if last is None:
                return Page(items, None)
            if len(items) >= limit:
                return Page(items, _encode_token(last))
            kwargs["ExclusiveStartKey"] = last

    # --- writes ------------------------------------------------------------------------------

    def put_service(self, service: Service) -> None:
        values = service.model_dump(mode="json", exclude_none=True)
        values |= {
            "pk": f"SERVICE#{service.id}",
            "sk": "SERVICE",
            "entity": "SERVICE",
            # ByCoach: the coach's services, oldest first (the id orders those of one second).
            "coach_pk": f"SERVICES#{service.coach_id}",
            "start_at": f"{iso(service.created_at)}#{service.id}",
        }
        tx = _Transaction()
        tx.add("new", self._put(self.sessions_table, values, "attribute_not_exists(pk)"))
        self._write(tx, service)

    def put_availability(self, hours: Availability) -> None:
        """Replace the coach's working hours (the last write wins: the document is whole)."""
        values = hours.model_dump(mode="json", exclude_none=True)
        values |= {
            "pk": f"AVAILABILITY#{hours.coach_id}",
            "sk": "AVAILABILITY",
            "entity": "AVAILABILITY",
        }
        tx = _Transaction()
        tx.add("hours", self._put(self.sessions_table, values, None))
        self._write(tx, hours)

    def create_group_account(self, account: Account) -> None:
        """The account and one membership item per member and admin, together."""
        tx = _Transaction()
        values = account.model_dump(mode="json", exclude_none=True)
        values |= {"pk": f"ACCOUNT#{account.id}", "sk": "ACCOUNT", "entity": "ACCOUNT"}
        tx.add("new", self._put(self.ledger_table, values, "attribute_not_exists(pk)"))
        for user_id in sorted(set(account.member_ids) | set(account.admin_ids)):
            membership = {
                "pk": f"MEMBER#{user_id}",
                "sk": f"ACCOUNT#{account.id}",
                "account_id": account.id,
                "member": user_id in account.member_ids,
                "admin": user_id in account.admin_ids,
            }
            tx.add("membership", self._put(self.ledger_table, membership, None))
        self._write(tx, account)

    def save_session(
        self,
        *,
        before: Session | None,
        after: Session,
        claim: Sequence[datetime] = (),
        release: Sequence[datetime] = (),
        movement: Movement | None = None,
    ) -> None:
        """Write a session's new state with everything that must change with it, atomically.

        ``before`` is the session as read (None for a new booking): the write lands only if the
        stored session is still that version. ``claim`` and ``release`` are the coach's slots
        taken and freed; ``movement`` the credits that move with this change.
        """
        tx = _Transaction()
        item = session_item(after, due_shards=self.settings.due_shards)
        if before is None:
            tx.add("new", self._put_item(self.sessions_table, item, "attribute_not_exists(pk)"))
        else:
            tx.add(
                "session",
                {
                    "Put": {
                        "TableName": self.sessions_table,
                        "Item": item,
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {":v": {"N": str(before.version)}},
                    }
                },
            )
        for slot in claim:
            tx.add(
                "slot-claim",
                self._put_item(
                    self.sessions_table, slot_claim_item(after, slot), "attribute_not_exists(pk)"
                ),
            )
        for slot in release:
            tx.add(
                "slot-release",
                {
                    "Delete": {
                        "TableName": self.sessions_table,
                        "Key": slot_key(after.coach.id, slot),
                        "ConditionExpression": "session_id = :s",
                        "ExpressionAttributeValues": {":s": {"S": after.id}},
                    }
                },
            )
        if movement is not None:
            self._add_movement(tx, movement)
        self._write(tx, after)

    def move_credits(self, movement: Movement) -> LedgerEntry:
        """A movement that no session causes (a grant or an adjustment)."""
        tx = _Transaction()
        self._add_movement(tx, movement)
        entry = movement.entry
        self._write(tx, entry)
        return entry

    def _add_movement(self, tx: _Transaction, movement: Movement) -> None:
        account = movement.account
        # The cap limits what may be granted; credits coming back (refunds, releases) are the
        # member's own and are never refused for it.
        if movement.kind is EntryKind.GRANT and account.balance + movement.credits > MAX_BALANCE:
            raise ValidationFailed.on("credits", f"would take the balance above {MAX_BALANCE}")
        if account.balance + movement.credits < 0:
            raise InsufficientCredits(
                f"The account holds {account.balance} credits; this needs {-movement.credits}."
            )
        entry = movement.entry
        if account.version == 0:
            # The account's first entry. A personal account is only implicit until now: the
            # item is born with its first entry. A group account exists with no entries yet.
            values = account.model_copy(
                update={"balance": entry.balance_after, "version": entry.seq}
            ).model_dump(mode="json", exclude_none=True)
            values |= {"pk": f"ACCOUNT#{account.id}", "sk": "ACCOUNT", "entity": "ACCOUNT"}
            put = self._put(self.ledger_table, values, "attribute_not_exists(pk) OR version = :v")
            put["Put"]["ExpressionAttributeValues"] = {":v": {"N": "0"}}
            tx.add("account", put)
        else:
            tx.add(
                "account",
                {
                    "Update": {
                        "TableName": self.ledger_table,
                        "Key": account_key(account.id),
                        "UpdateExpression": "SET balance = :after, version = :next",
                        # The version pins the balance we computed from; the balance check
                        # states the invariant itself, should the version ever be misused.
                        "ConditionExpression": "version = :v AND balance = :before",
                        "ExpressionAttributeValues": _to_item(
                            {
                                ":after": entry.balance_after,
                                ":next": entry.seq,
                                ":v": account.version,
                                ":before": account.balance,
                            }
                        ),
                    }
                },
            )
        values = entry.model_dump(mode="json", exclude_none=True)
        values |= {
            "pk": f"ACCOUNT#{account.id}",
            "sk": f"ENTRY#{entry.seq:010d}",
            "entity": "ENTRY",
        }
        tx.add("entry", self._put(self.ledger_table, values, "attribute_not_exists(pk)"))

    def _put(
        self, table: str, values: Mapping[str, Any], condition: str | None
    ) -> "TransactWriteItemTypeDef":
        return self._put_item(table, _to_item(values), condition)

    @staticmethod
    def _put_item(
        table: str, item: dict[str, Any], condition: str | None
    ) -> "TransactWriteItemTypeDef":
        put: dict[str, Any] = {"TableName": table, "Item": item}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}  # type: ignore[typeddict-item]

    def _write(self, tx: _Transaction, result: object) -> None:
        """Run the transaction; turn a refusal into what it means for the caller.

        ``result`` is what the change produced (the session, entry, account or service). When
        the request carries an Idempotency-Key, its record and the answer made from ``result``
        are written in this same transaction.
        """
        receipt = receipts.current()
        answer = None
        if receipt is not None:
            if receipt.answer is not None:
                raise RuntimeError("a request with an Idempotency-Key commits one change only")
            answer = receipt.present(result)
            tx.add("receipt", self._receipt_put(receipt, answer))
        try:
            self._db.transact_write_items(TransactItems=tx.items)
        except ClientError as error:
            raise _meaning_of(error, tx.tags) from error
        if receipt is not None:
            receipt.answer = answer

    def _receipt_put(self, receipt: receipts.Receipt, answer: Answer) -> "TransactWriteItemTypeDef":
        values = {
            "id": receipt.record_id,
            "fingerprint": receipt.fingerprint,
            "status": answer.status,
            "body": answer.body,
            "content_type": answer.content_type,
            "expiration": int(receipt.expires_at.timestamp()),  # the table's TTL attribute
        }
        put = self._put(
            self.settings.idempotency_table,
            values,
            # A key may be reused once its record has expired, even before TTL deletes it.
            "attribute_not_exists(id) OR expiration <= :now",
        )
        put["Put"]["ExpressionAttributeValues"] = {":now": {"N": str(int(receipt.now.timestamp()))}}
        return put

    # --- sweeps ------------------------------------------------------------------------------

    def due_partitions(self) -> list[str]:
        """The Due index partitions a sweep must read: every shard, and the legacy one."""
        return due_partitions(self.settings.due_shards)

    def due_partition(self, session_id: str) -> str:
        """The Due index partition a change to this session writes its entry to."""
        return due_partition(session_id, self.settings.due_shards)

    def due_page(
        self,
        partition: str,
        now: datetime,
        limit: int,
        after: Mapping[str, Any] | None = None,
    ) -> "DuePage":
        """One page of one Due index partition up to ``now``, oldest due first, with its cost.

        Only due items are read: the key condition stops at ``now``. The index holds keys only
        (writing a whole session into it on every change cost more than reading the few that
        come due), so the sessions themselves come from one strongly consistent
        ``BatchGetItem``: the sweep decides on their current state, not on a lagging copy.
        An item that is no longer a valid session is named in ``unreadable`` rather than
        failing the page, so one bad item cannot stop every later sweep at the head of the index.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.sessions_table,
            "IndexName": "Due",
            "KeyConditionExpression": "due_pk = :d AND due_at <= :now",
            "ExpressionAttributeValues": {":d": {"S": partition}, ":now": {"S": iso(now)}},
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if after:
            kwargs["ExclusiveStartKey"] = after
        response = self._db.query(**kwargs)
        entries = response.get("Items", [])
        page = DuePage(
            next_key=response.get("LastEvaluatedKey"),
            items_read=response.get("ScannedCount", len(entries)),
            capacity_units=float(response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
        )
        keys = [{"pk": e["pk"], "sk": e["sk"]} for e in entries]
        found, units = self._read_items(self.sessions_table, keys)
        page.capacity_units += units
        for key in keys:
            item = found.get(key["pk"]["S"])
            if item is None:
                continue  # gone since the index listed it: nothing to sweep
            try:
                page.sessions.append(session_from_item(item))
            except ValueError:  # pydantic's ValidationError; its text may quote personal data
                page.unreadable.append(key["pk"]["S"])
        return page

    def _read_items(
        self, table: str, keys: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], float]:
        """Whole items by key (strongly consistent), by ``pk``, and the read units spent."""
        found: dict[str, dict[str, Any]] = {}
        units = 0.0
        for start in range(0, len(keys), 100):  # BatchGetItem takes 100 keys at most
            request: dict[str, Any] = {
                table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}
            }
            while request:
                response = self._db.batch_get_item(
                    RequestItems=request, ReturnConsumedCapacity="TOTAL"
                )
                for item in response.get("Responses", {}).get(table, []):
                    found[item["pk"]["S"]] = item
                units += sum(
                    float(c.get("CapacityUnits", 0.0)) for c in response.get("ConsumedCapacity", [])
                )
                # Keys DynamoDB did not get to this time (throttling, size) are asked for again.
                request = dict(response.get("UnprocessedKeys") or {})
        return found, units


@dataclass
class DuePage:
    """A page of due sessions, and what reading it cost."""

    next_key: dict[str, Any] | None
    """Where the next page starts; None when the index holds nothing more that is due."""
    items_read: int
    """Index entries the query read."""
    capacity_units: float
    """Read units of the query and of reading its sessions."""
    sessions: list[Session] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    """Keys (``pk``) of due items that do not read as sessions."""


def _meaning_of(error: ClientError, tags: Sequence[Tag]) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    if code in (
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
    ):
        return TransientConflict(code)
    if code != "TransactionCanceledException":
        return error
    reasons = error.response.get("CancellationReasons", [])
    codes = [r.get("Code", "None") for r in reasons]
    if any(
        c in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")
        for c in codes
    ):
        return TransientConflict(",".join(codes))
    failed = [tag for tag, c in zip(tags, codes, strict=False) if c == "ConditionalCheckFailed"]
    if "receipt" in failed:
        # The same key committed first (a retry racing its original): its answer is the answer.
        return KeyAlreadyUsed()
    if "session" in failed:
        # The session changed under us: a slot that looks taken may be held by its own newer
        # version. Read again and decide again; a slot truly taken is found on the retry.
        return StaleRead(",".join(failed))
    if "slot-claim" in failed:
        return SlotTaken("The coach already has a session at that time.")
    if failed:
        return StaleRead(",".join(failed))
    return error


def _account_from(account_id: str, item: Mapping[str, Any] | None) -> Account | None:
    if item is not None:
        return Account.model_validate(_only_fields(Account, item))
    prefix = "personal-"
    if account_id.startswith(prefix) and len(account_id) > len(prefix):
        return Account.personal(account_id[len(prefix) :])
    return None


def _encode_token(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_token(token: str, partition: Mapping[str, str], names: set[str]) -> dict[str, Any]:
    """A client's page token: exactly the key ``names``, each a string, and the partition key
    forced to the caller's own partition."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        if (
            not isinstance(key, dict)
            or set(key) != names
            or not all(
                isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                for v in key.values()
            )
        ):
            raise ValueError("not a key")
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationFailed.on("next_token", "is not a token this API gave out") from error
    for name, value in partition.items():
        key[name] = {"S": value}
    return key
