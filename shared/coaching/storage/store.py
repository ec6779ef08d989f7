"""``Storage``: every store in one object, as the operations, the sweep and the handlers use it.

Each part lives in the module named after what it stores: ``sessions`` (sessions and slot
claims), ``services`` (services and working hours), ``ledger`` (accounts, entries and the lots
their credits are held in), ``due`` (the sweep's index of sessions), ``reminders`` (what a
session's time still owes in reminders), ``lots`` (the index of lots that expire); ``keys``
builds every key, ``dynamodb`` the requests they share. Here are the reads that span tables: a
session or service with the accounts a change may touch, in one request, a session with its
reminders record, and an Idempotency-Key's record.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from coaching.errors import StaleRead, TransientConflict
from coaching.models import Account, Availability, Service, Session
from coaching.reminders import Reminders
from coaching.storage import keys, receipts
from coaching.storage.codec import from_item, only_fields, to_item
from coaching.storage.due import DuePage, DueStore
from coaching.storage.keys import LEGACY_DUE_PARTITION, due_partition, due_partitions, iso
from coaching.storage.ledger import LedgerStore, Movement, account_from
from coaching.storage.lots import LotPage, LotStore
from coaching.storage.receipts import Answer, Remembered
from coaching.storage.reminders import ReminderStore, reminders_from_values
from coaching.storage.services import ServiceStore
from coaching.storage.sessions import (
    SLOT_CLAIM_TTL,
    Count,
    SessionStore,
    session_from_item,
    session_from_item_values,
    session_item,
    slot_claim_item,
)

__all__ = [
    "LEGACY_DUE_PARTITION",
    "SLOT_CLAIM_TTL",
    "Count",
    "DuePage",
    "LotPage",
    "Movement",
    "StaleRead",
    "Storage",
    "TransientConflict",
    "due_partition",
    "due_partitions",
    "iso",
    "session_from_item",
    "session_from_item_values",
    "session_item",
    "slot_claim_item",
]


class Storage(SessionStore, ServiceStore, LedgerStore, DueStore, ReminderStore, LotStore):
    def new_session_id(self, coach_id: str) -> str:
        """An id for a new session of this coach's: it carries the coach's tag, by which a move
        reads the coach's booking rules with the session (``session_and_hours``)."""
        return keys.tagged_id(coach_id)

    def new_service_id(self, coach_id: str, at_ns: int) -> str:
        """An id for a new service of this coach's: the nanoseconds of its making (a coach's
        services list in that order), then the coach's tag, then 16 random bits."""
        return keys.tagged_service_id(coach_id, at_ns)

    def session_and_accounts(
        self, session_id: str, account_ids: Sequence[str]
    ) -> tuple[Session | None, dict[str, Account]]:
        """A session and the accounts its change is likely to move credits in, in one request.

        One strongly consistent ``BatchGetItem`` instead of a read per item: a change that can
        tell which account it will touch before reading the session saves a round trip.
        """
        item, accounts, _ = self._item_and_accounts(to_item(keys.session(session_id)), account_ids)
        return (None if item is None else session_from_item_values(item)), accounts

    def session_and_reminders(self, session_id: str) -> tuple[Session | None, Reminders | None]:
        """A session and its reminders record as they are now, in one consistent read."""
        wanted = [to_item(keys.session(session_id)), to_item(keys.reminders(session_id))]
        found = {
            str(item.get("sk")): item for item in self._batch_get({self.sessions_table: wanted})
        }
        session = found.get(keys.session(session_id)["sk"])
        record = found.get(keys.reminders(session_id)["sk"])
        return (
            None if session is None else session_from_item_values(session),
            None if record is None else reminders_from_values(record),
        )

    def service_and_accounts(
        self, service_id: str, account_ids: Sequence[str]
    ) -> tuple[Service | None, dict[str, Account]]:
        """A service and the accounts a booking of it may pay from, in one request."""
        service, accounts, _ = self.service_accounts_and_hours(service_id, account_ids)
        return service, accounts

    def service_accounts_and_hours(
        self, service_id: str, account_ids: Sequence[str]
    ) -> tuple[Service | None, dict[str, Account], Availability | None]:
        """A service, the accounts a booking of it may pay from, and its coach's booking rules,
        in one request: a service id carries its coach's tag (``keys.coach_tag``), which keys
        the rules. For a service made before ids carried it, the rules are read after it."""
        tag = keys.tag_in_service_id(service_id)
        rules_key = [to_item(keys.hours_by_tag(tag))] if tag else []
        item, accounts, found = self._item_and_accounts(
            to_item(keys.service(service_id)), account_ids, rules_key
        )
        if item is None:
            return None, accounts, None
        service = Service.model_validate(only_fields(Service, item))
        return service, accounts, self._hours_of(service.coach_id, tag, found)

    def session_and_hours(self, session_id: str) -> tuple[Session | None, Availability | None]:
        """A session and its coach's booking rules, in one request when the session's id
        carries its coach's tag (else read after it)."""
        tag = keys.tag_in_session_id(session_id)
        rules_key = [to_item(keys.hours_by_tag(tag))] if tag else []
        item, _, found = self._item_and_accounts(to_item(keys.session(session_id)), [], rules_key)
        if item is None:
            return None, None
        session = session_from_item_values(item)
        return session, self._hours_of(session.coach.id, tag, found)

    def _hours_of(
        self, coach_id: str, tag: str | None, found: list[dict[str, Any]]
    ) -> Availability:
        """The coach's rules from a batch read (when it asked for them), or read now."""
        if tag != keys.coach_tag(coach_id):  # no tag in the id, or not this coach's
            return self.get_availability(coach_id) or Availability(coach_id=coach_id)
        pk = keys.hours_by_tag(tag)["pk"]
        item = next((i for i in found if i.get("pk") == pk), None)
        if item is None or item.get("coach_id") != coach_id:
            return Availability(coach_id=coach_id)
        return Availability.model_validate(only_fields(Availability, item))

    def _item_and_accounts(
        self,
        key: dict[str, Any],
        account_ids: Sequence[str],
        also: Sequence[dict[str, Any]] = (),
    ) -> tuple[dict[str, Any] | None, dict[str, Account], list[dict[str, Any]]]:
        wanted: dict[str, list[dict[str, Any]]] = {self.sessions_table: [key, *also]}
        if account_ids:
            wanted[self.ledger_table] = [
                to_item(keys.account(a)) for a in dict.fromkeys(account_ids)
            ]
        found = self._batch_get(wanted)
        wanted_pk = from_item(key)["pk"]
        item = next((i for i in found if i.get("pk") == wanted_pk), None)
        stored = {str(i["id"]): i for i in found if i.get("sk") == "ACCOUNT"}
        accounts = {}
        for account_id in account_ids:
            account = account_from(account_id, stored.get(account_id))
            if account is not None:
                accounts[account_id] = account
        return item, accounts, found

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
