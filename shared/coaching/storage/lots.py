"""What the expiry sweep reads and writes: lot records through the ledger table's sparse, sharded
Due index (keys in ``keys``), with the accounts that hold their credits.

Only lots the sweep still has to look at carry the index's keys (``due_pk``, ``due_at``), and a
query stops at ``now``, so the sweep reads the lots that are due and nothing else, however many
accounts, lots or entries the table holds. Each change to a lot is one conditional transaction:

- telling the owner: the record (condition: still due when read) and the notice;
- expiring it: the account and its EXPIRE entry (``ledger.add_movement``: conditioned on the
  account's version, so the credits leave once and never from under a booking), the record
  leaving the index, and the notice;
- looking again later, or forgetting it: the record (condition: still due when read).

Each of them is also conditioned on the account's version as read, so every step is decided on
the lot's credits as they still are: a lot that looked used up is never forgotten after a refund
gave it credits back.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coaching import rules
from coaching.credit_notices import CreditNotice, CreditNoticeKind
from coaching.models import Account, LotRecord
from coaching.storage import keys
from coaching.storage.codec import from_item, only_fields, to_item
from coaching.storage.dynamodb import Table, Transaction, aws_errors
from coaching.storage.keys import iso
from coaching.storage.ledger import (
    Movement,
    account_from,
    add_movement,
    lot_values,
    notice_from_item,
    put_notice,
)


def lot_from_item(values: Mapping[str, Any]) -> LotRecord:
    return LotRecord.model_validate(only_fields(LotRecord, values))


class LotStore(Table):
    def lot_due_partitions(self) -> list[str]:
        return keys.lot_due_partitions(self.settings.due_shards)

    def lot_due_partition(self, account_id: str, number: int) -> str:
        return keys.lot_due_partition(account_id, number, self.settings.due_shards)

    def due_lots_page(
        self,
        partition: str,
        now: datetime,
        limit: int,
        after: Mapping[str, Any] | None = None,
    ) -> "LotPage":
        """One page of one partition of the ledger's Due index up to ``now``, oldest due first:
        the lots' records and their accounts, read whole and consistently in one
        ``BatchGetItem`` (the index holds keys only), and what it cost."""
        due = self._due_entries(self.ledger_table, partition, iso(now), limit, after)
        page = LotPage(
            next_key=due.next_key, items_read=due.items_read, capacity_units=due.capacity_units
        )
        lot_keys = due.keys
        account_keys = {k["pk"]["S"]: {"pk": k["pk"], "sk": {"S": "ACCOUNT"}} for k in lot_keys}
        found, units = self._read_keys(self.ledger_table, [*lot_keys, *account_keys.values()])
        page.capacity_units += units
        for key in lot_keys:
            item = found.get((key["pk"]["S"], key["sk"]["S"]))
            account_item = found.get((key["pk"]["S"], "ACCOUNT"))
            if item is None:
                continue  # gone since the index listed it
            try:
                record = lot_from_item(item)
                account = account_from(record.account_id, account_item)
            except ValueError:  # pydantic's ValidationError: its text is not logged
                page.unreadable.append(f"{key['pk']['S']}/{key['sk']['S']}")
                continue
            if account is None:
                page.unreadable.append(f"{key['pk']['S']}/{key['sk']['S']}")
                continue
            page.lots.append((record, account))
        return page

    def lot_and_account(
        self, account_id: str, number: int
    ) -> tuple[LotRecord | None, Account | None]:
        """A lot's record and its account, read again (consistently) in one request."""
        wanted = [to_item(keys.lot(account_id, number)), to_item(keys.account(account_id))]
        found, _ = self._read_keys(self.ledger_table, wanted)
        partition = keys.account_partition(account_id)
        item = found.get((partition, keys.lot(account_id, number)["sk"]))
        record = None if item is None else lot_from_item(item)
        return record, account_from(account_id, found.get((partition, "ACCOUNT")))

    def notices(self, account_id: str) -> list[CreditNotice]:
        """What the account's owners were told about its lots, by lot, EXPIRED before
        EXPIRING for a lot (at most one of each per lot, so at most two per lot ever)."""
        kwargs: dict[str, Any] = {
            "TableName": self.ledger_table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :n)",
            "ExpressionAttributeValues": {
                ":p": {"S": keys.account_partition(account_id)},
                ":n": {"S": "NOTICE#"},
            },
            "ConsistentRead": True,
        }
        found: list[CreditNotice] = []
        while True:
            with aws_errors():
                response = self._db.query(**kwargs)
            found += [notice_from_item(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def warn_lot(self, record: LotRecord, account: Account, now: datetime) -> CreditNotice:
        """Tell the owner the lot's credits expire soon; the sweep next looks at it when it
        expires. Lands only while the record is still due as read."""
        lot = next(lot for lot in account.lots if lot.number == record.number)
        notice = CreditNotice(
            kind=CreditNoticeKind.EXPIRING,
            account_id=account.id,
            account_kind=account.kind,
            account_name=account.name,
            lot=record.number,
            credits=lot.credits_left,
            expires_at=record.expires_at,
            at=now,
            recipients=rules.notice_recipients(account),
        )
        after = record.model_copy(update={"warned_at": now, "due_at": record.expires_at})
        tx = Transaction()
        tx.add("lot", self._move_record(record, after))
        tx.add("account", self._unchanged(account))
        # A movement may have told them a moment ago (it notes so on the account, not here):
        # written again, a notice is no new INSERT on the stream, so no second email.
        tx.add("notice", put_notice(self.ledger_table, notice, once=False))
        self._write(tx, notice)
        return notice

    def reschedule_lot(self, record: LotRecord, account: Account, due_at: datetime | None) -> None:
        """Look at the lot again at ``due_at`` (None: never again), while the account is still
        as read: forgetting a lot because it looked used up must not land after a refund gave
        it credits back (they would never expire)."""
        tx = Transaction()
        tx.add("lot", self._move_record(record, record.model_copy(update={"due_at": due_at})))
        tx.add("account", self._unchanged(account))
        self._write(tx, None)

    def expire_lot(self, record: LotRecord, movement: Movement) -> CreditNotice:
        """The lot's unused credits leave the balance: the EXPIRE entry, the account's new
        balance and lots, the record out of the index and the notice, together."""
        entry = movement.entry
        after = record.model_copy(
            update={"expired_at": movement.at, "expired_credits": -movement.credits, "due_at": None}
        )
        notice = CreditNotice(
            kind=CreditNoticeKind.EXPIRED,
            account_id=record.account_id,
            account_kind=movement.account.kind,
            account_name=movement.account.name,
            lot=record.number,
            credits=-movement.credits,
            expires_at=record.expires_at,
            at=movement.at,
            balance_after=entry.balance_after,
            recipients=rules.notice_recipients(movement.account_after),
        )
        tx = Transaction()
        add_movement(tx, self.ledger_table, movement, self.settings.due_shards)
        tx.add("lot", self._move_record(record, after))
        tx.add("notice", put_notice(self.ledger_table, notice))
        self._write(tx, entry)
        return notice

    def _unchanged(self, account: Account) -> Any:
        """A check that the account is still at the version read: every step of the sweep is
        decided on the lot's credits as they were, and lands only while they still are."""
        return {
            "ConditionCheck": {
                "TableName": self.ledger_table,
                "Key": to_item(keys.account(account.id)),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(account.version)}},
            }
        }

    def _move_record(self, before: LotRecord, after: LotRecord) -> Any:
        """The record written whole as ``after``, while it is still due as ``before`` was read:
        two sweeps at one lot act once."""
        assert before.due_at is not None  # only a due lot is acted on
        return {
            "Put": {
                "TableName": self.ledger_table,
                "Item": to_item(lot_values(after, self.settings.due_shards)),
                "ConditionExpression": "due_at = :seen",
                "ExpressionAttributeValues": {":seen": {"S": iso(before.due_at)}},
            }
        }

    def _read_keys(
        self, table: str, wanted: list[dict[str, Any]]
    ) -> tuple[dict[tuple[str, str], dict[str, Any]], float]:
        """Whole items by key (strongly consistent), by (pk, sk), and the read units spent."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        units = 0.0
        for start in range(0, len(wanted), 100):  # BatchGetItem takes 100 keys at most
            request: dict[str, Any] = {
                table: {"Keys": wanted[start : start + 100], "ConsistentRead": True}
            }
            while request:
                with aws_errors():
                    response = self._db.batch_get_item(
                        RequestItems=request, ReturnConsumedCapacity="TOTAL"
                    )
                for item in response.get("Responses", {}).get(table, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = from_item(item)
                units += sum(
                    float(c.get("CapacityUnits", 0.0)) for c in response.get("ConsumedCapacity", [])
                )
                request = dict(response.get("UnprocessedKeys") or {})
        return found, units


@dataclass
class LotPage:
    """A page of due lots with their accounts, and what reading it cost."""

    next_key: dict[str, Any] | None
    items_read: int
    capacity_units: float
    lots: list[tuple[LotRecord, Account]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
