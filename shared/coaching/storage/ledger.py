"""Credit accounts, their memberships, their numbered entries and the numbered changes to a
group's people (LedgerTable; keys in ``keys``).

An account's balance and ``version`` change only in the same transaction as the entry numbered
``version + 1``, conditioned on the version read, so no entry is lost or numbered twice. The lots
the balance is held in (``Account.lots``) change with them, as ``coaching.lots`` planned, and a
lot opened with an expiry gets its record (what the sweep reads) in that same transaction. A
group's name and people change only with the change record numbered ``revision + 1``, on the
same terms.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coaching import lots, rules
from coaching.credit_notices import CreditNotice, CreditNoticeKind
from coaching.lots import LotChange
from coaching.models import (
    Account,
    AccountChange,
    Actor,
    EntryKind,
    LedgerEntry,
    Lot,
    LotRecord,
    Person,
)
from coaching.storage import keys
from coaching.storage.codec import from_item, only_fields, to_item
from coaching.storage.dynamodb import Table, Transaction, aws_errors, put
from coaching.storage.keys import iso

SAME_REVISION = "(attribute_not_exists(revision) OR revision = :r)"
"""The condition that a group's people are still as read at revision ``:r``. Accounts stored
before revisions were kept, and personal accounts, have none: they read as revision 0."""


@dataclass(frozen=True)
class Movement:
    """Credits moving in or out of one account, as part of a session change or a grant."""

    account: Account
    """The account as we read it: the write only lands if it is still exactly this."""
    kind: EntryKind
    credits: int
    at: datetime
    actor: Actor | None
    lots: LotChange
    """Which lots the credits come from or go to (``coaching.lots``), and the account's lots
    after."""
    session_id: str | None = None
    note: str | None = None
    contact: Person | None = None
    """The acting owner's or admin's contact, kept on the account (``rules.contact_for``)."""

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
            lots=list(self.lots.moves),
        )

    @property
    def account_after(self) -> Account:
        """The account as this movement leaves it."""
        entry = self.entry
        return self.account.model_copy(
            update={
                "balance": entry.balance_after,
                "version": entry.seq,
                "lots": list(self.lots.lots),
                "lots_opened": self.lots.opened,
                "contacts": rules.account_contacts(self.account, self.contact),
            }
        )


class LedgerStore(Table):
    def get_account(self, account_id: str) -> Account | None:
        """The stored account; a personal account that was never funded reads as empty."""
        item = self._get(self.ledger_table, keys.account(account_id))
        return account_from(account_id, item)

    def ledger(
        self, account_id: str, limit: int, token: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """An account's entries, newest first."""
        partition = keys.account_partition(account_id)
        return self._query(
            self.ledger_table,
            index=None,
            key_condition="pk = :p AND begins_with(sk, :e)",
            names=None,
            values={":p": {"S": partition}, ":e": {"S": keys.ENTRY_PREFIX}},
            forward=False,
            limit=limit,
            token=token,
            token_keys={"pk": partition},
            key_names={"pk", "sk"},
            read=lambda item: LedgerEntry.model_validate(only_fields(LedgerEntry, item)),
        )

    def group_account_ids(self, user_id: str) -> list[str]:
        """The group accounts a user belongs to or administers."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.ledger_table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": keys.memberships_of(user_id)}},
            "ConsistentRead": True,
        }
        while True:
            with aws_errors():
                response = self._db.query(**kwargs)
            ids += [from_item(i)["account_id"] for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return ids
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def create_group_account(self, account: Account) -> None:
        """The account and one membership item per member and admin, together."""
        tx = Transaction()
        values = account.model_dump(mode="json", exclude_none=True)
        values |= {**keys.account(account.id), "entity": "ACCOUNT"}
        tx.add("new", put(self.ledger_table, values, "attribute_not_exists(pk)"))
        for user_id in sorted(set(account.member_ids) | set(account.admin_ids)):
            tx.add("membership", put(self.ledger_table, _membership(account, user_id), None))
        self._write(tx, account)

    def save_group(self, before: Account, after: Account, change: AccountChange) -> None:
        """A group's new name and people, with the record of the change and the membership
        items that list the group for each person it gained or lost, together.

        Conditioned on the revision read, so two changes never lose each other's, and only the
        name, the people, the refund grace and the revision are written: the balance, its
        version and its lots stay as whatever movement last left them.
        """
        tx = Transaction()
        dumped = after.model_dump(mode="json")
        values: dict[str, Any] = {
            ":name": dumped["name"],
            ":members": dumped["member_ids"],
            ":admins": dumped["admin_ids"],
            ":next": dumped["revision"],
            ":at": dumped["updated_at"],
            ":r": before.revision,
        }
        update = (
            "SET #name = :name, member_ids = :members, admin_ids = :admins, revision = :next, "
            "updated_at = :at"
        )
        if after.refund_grace_days is None:
            update += " REMOVE refund_grace_days"
        else:
            update += ", refund_grace_days = :grace"
            values[":grace"] = after.refund_grace_days
        tx.add(
            "account",
            {
                "Update": {
                    "TableName": self.ledger_table,
                    "Key": to_item(keys.account(after.id)),
                    "UpdateExpression": update,
                    "ConditionExpression": f"attribute_exists(pk) AND {SAME_REVISION}",
                    "ExpressionAttributeNames": {"#name": "name"},  # a reserved word
                    "ExpressionAttributeValues": to_item(values),
                }
            },
        )
        values = change.model_dump(mode="json", exclude_none=True)
        values |= {**keys.account_change(after.id, change.seq), "entity": "CHANGE"}
        tx.add("change", put(self.ledger_table, values, "attribute_not_exists(pk)"))
        touched = {
            *change.added_members,
            *change.removed_members,
            *change.added_admins,
            *change.removed_admins,
        }
        for user_id in sorted(touched):
            membership = keys.membership(user_id, after.id)
            if user_id in after.member_ids or user_id in after.admin_ids:
                tx.add("membership", put(self.ledger_table, _membership(after, user_id), None))
            else:
                tx.add(
                    "membership",
                    {"Delete": {"TableName": self.ledger_table, "Key": to_item(membership)}},
                )
        self._write(tx, after)

    def account_changes(
        self, account_id: str, limit: int, token: str | None
    ) -> tuple[list[AccountChange], str | None]:
        """A group's changes, newest first."""
        partition = keys.account_partition(account_id)
        return self._query(
            self.ledger_table,
            index=None,
            key_condition="pk = :p AND begins_with(sk, :c)",
            names=None,
            values={":p": {"S": partition}, ":c": {"S": keys.CHANGE_PREFIX}},
            forward=False,
            limit=limit,
            token=token,
            token_keys={"pk": partition},
            key_names={"pk", "sk"},
            read=lambda item: AccountChange.model_validate(only_fields(AccountChange, item)),
        )

    def move_credits(self, movement: Movement) -> LedgerEntry:
        """A movement that no session causes (a grant or an adjustment)."""
        tx = Transaction()
        add_movement(tx, self.ledger_table, movement, self.settings.due_shards)
        entry = movement.entry
        self._write(tx, entry)
        return entry


def _membership(account: Account, user_id: str) -> dict[str, Any]:
    """The item that lists ``account`` among a user's groups, with what they are in it."""
    return {
        **keys.membership(user_id, account.id),
        "account_id": account.id,
        "member": user_id in account.member_ids,
        "admin": user_id in account.admin_ids,
    }


def add_movement(tx: Transaction, table: str, movement: Movement, due_shards: int) -> None:
    """Add to ``tx`` the account's new balance and lots, the entry that records the movement,
    and the record of each lot it opens with an expiry (with its notice, when its owner must
    be told at once).

    Conditioned on the account's version (its entries), and on its revision (its people), so
    that a booking the rules allowed for a member of the group never lands after the member
    was removed: the movement is refused, read again and decided again.
    """
    account = movement.account
    # Every movement passes here, so none can skip the floor, the cap or the lots' sums.
    rules.require_balance_allows(account, movement.kind, movement.credits)
    lots.check(account, movement.lots, movement.credits)
    entry = movement.entry
    after = movement.account_after
    # Owners hear of credits that expire within the week as soon as one of them can be told.
    telling = lots.to_tell(after.lots, movement.at) if rules.notice_recipients(after) else []
    if telling:
        after = after.model_copy(update={"lots": lots.mark_told(after.lots, telling)})
    if account.version == 0:
        # The account's first entry. A personal account is only implicit until now: the
        # item is born with its first entry. A group account exists with no entries yet.
        values = after.model_dump(mode="json", exclude_none=True)
        values |= {**keys.account(account.id), "entity": "ACCOUNT"}
        first = put(
            table, values, f"attribute_not_exists(pk) OR (version = :v AND {SAME_REVISION})"
        )
        first["Put"]["ExpressionAttributeValues"] = to_item({":v": 0, ":r": account.revision})
        tx.add("account", first)
    else:
        tx.add(
            "account",
            {
                "Update": {
                    "TableName": table,
                    "Key": to_item(keys.account(account.id)),
                    "UpdateExpression": "SET balance = :after, version = :next, lots = :lots, "
                    "lots_opened = :opened, contacts = :contacts",
                    # The version pins the balance and lots we computed from; the balance
                    # check states the invariant itself, should the version ever be misused.
                    "ConditionExpression": "version = :v AND balance = :before AND "
                    + SAME_REVISION,
                    "ExpressionAttributeValues": to_item(
                        {
                            ":after": entry.balance_after,
                            ":next": entry.seq,
                            ":v": account.version,
                            ":before": account.balance,
                            ":r": account.revision,
                            **_lots_values(after),
                        }
                    ),
                }
            },
        )
    values = entry.model_dump(mode="json", exclude_none=True)
    values |= {**keys.entry(account.id, entry.seq), "entity": "ENTRY"}
    tx.add("entry", put(table, values, "attribute_not_exists(pk)"))
    told = {lot.number for lot in telling}
    for lot in movement.lots.new_lots:
        tx.add("lot", put_lot(table, after, lot, movement.at, lot.number in told, due_shards))
    for lot in telling:
        # Not conditioned: the sweep may have told the owners of this lot already (its record
        # says so, the account does not), and a notice written again is no new stream INSERT,
        # so no second email.
        notice = expiring_notice(after, lot, movement.at)
        tx.add("notice", put_notice(table, notice, once=False))


def _lots_values(account: Account) -> dict[str, object]:
    dumped = account.model_dump(mode="json", include={"lots", "contacts"})
    return {
        ":lots": dumped["lots"],
        ":opened": account.lots_opened,
        ":contacts": dumped["contacts"],
    }


def lot_record(account: Account, lot: Lot, at: datetime, told: bool) -> LotRecord:
    """The record of a lot just opened; told: its owners are told as it opens (it opens with
    less than the notice to go), so the sweep next looks at it when it expires."""
    assert lot.expires_at is not None  # only lots with an expiry have records
    return LotRecord(
        account_id=account.id,
        number=lot.number,
        expires_at=lot.expires_at,
        opened_at=at,
        warned_at=at if told else None,
        due_at=lot.expires_at if told else lots.first_due(lot, at),
    )


def lot_values(record: LotRecord, due_shards: int) -> dict[str, Any]:
    values: dict[str, Any] = record.model_dump(mode="json", exclude_none=True)
    values |= {**keys.lot(record.account_id, record.number), "entity": "LOT"}
    if record.due_at is not None:
        # In the ledger's sparse Due index while the sweep has something to do with it.
        values["due_pk"] = keys.lot_due_partition(record.account_id, record.number, due_shards)
        values["due_at"] = iso(record.due_at)
    return values


def put_lot(
    table: str, account: Account, lot: Lot, at: datetime, told: bool, due_shards: int
) -> Any:
    record = lot_record(account, lot, at, told)
    return put(table, lot_values(record, due_shards), "attribute_not_exists(pk)")


def expiring_notice(account: Account, lot: Lot, at: datetime) -> CreditNotice:
    assert lot.expires_at is not None
    return CreditNotice(
        kind=CreditNoticeKind.EXPIRING,
        account_id=account.id,
        account_kind=account.kind,
        account_name=account.name,
        lot=lot.number,
        credits=lot.credits_left,
        expires_at=lot.expires_at,
        at=at,
        recipients=rules.notice_recipients(account),
    )


def put_notice(table: str, notice: CreditNotice, *, once: bool = True) -> Any:
    """A notice's item. The emails go out when it is first written (the stream's INSERT);
    ``once``: only if it is not there yet (a second EXPIRE of a lot is impossible, not
    harmless)."""
    values = notice.model_dump(mode="json", exclude_none=True)
    values |= {**keys.notice(notice.account_id, notice.lot, notice.kind.value), "entity": "NOTICE"}
    return put(table, values, "attribute_not_exists(pk)" if once else None)


def is_notice(item: Mapping[str, Any]) -> bool:
    """A stream image of a notice item (marked NOTICE)."""
    return item.get("entity") == {"S": "NOTICE"}


def notice_from_item(item: Mapping[str, Any]) -> CreditNotice:
    """A notice from its item as DynamoDB types it (a stream image)."""
    return CreditNotice.model_validate(only_fields(CreditNotice, from_item(item)))


def account_from(account_id: str, item: Mapping[str, Any] | None) -> Account | None:
    if item is not None:
        return Account.model_validate(only_fields(Account, item))
    return rules.implicit_account(account_id)


def is_entry(item: Mapping[str, Any]) -> bool:
    """A stream image of an entry item (``ACCOUNT#{id}`` / ``ENTRY#{seq}``, marked ENTRY)."""
    return item.get("entity") == {"S": "ENTRY"}


def entry_from_item(item: Mapping[str, Any]) -> LedgerEntry:
    """A ledger entry from its item as DynamoDB types it (a stream image)."""
    return LedgerEntry.model_validate(only_fields(LedgerEntry, from_item(item)))
