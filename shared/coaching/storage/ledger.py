"""Credit accounts, their memberships, their numbered entries and the numbered changes to a
group's people (LedgerTable; keys in ``keys``).

An account's balance and ``version`` change only in the same transaction as the entry numbered
``version + 1``, conditioned on the version read, so no entry is lost or numbered twice. A
group's name and people change only with the change record numbered ``revision + 1``, on the
same terms.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coaching import rules
from coaching.models import Account, AccountChange, Actor, EntryKind, LedgerEntry
from coaching.storage import keys
from coaching.storage.dynamodb import (
    Table,
    Transaction,
    aws_errors,
    from_item,
    only_fields,
    put,
    to_item,
)

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
        name, the people and the revision are written: the balance and its version stay as
        whatever movement last left them.
        """
        tx = Transaction()
        dumped = after.model_dump(mode="json")
        tx.add(
            "account",
            {
                "Update": {
                    "TableName": self.ledger_table,
                    "Key": to_item(keys.account(after.id)),
                    "UpdateExpression": "SET #name = :name, member_ids = :members, "
                    "admin_ids = :admins, revision = :next, updated_at = :at",
                    "ConditionExpression": f"attribute_exists(pk) AND {SAME_REVISION}",
                    "ExpressionAttributeNames": {"#name": "name"},  # a reserved word
                    "ExpressionAttributeValues": to_item(
                        {
                            ":name": dumped["name"],
                            ":members": dumped["member_ids"],
                            ":admins": dumped["admin_ids"],
                            ":next": dumped["revision"],
                            ":at": dumped["updated_at"],
                            ":r": before.revision,
                        }
                    ),
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
        add_movement(tx, self.ledger_table, movement)
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


def add_movement(tx: Transaction, table: str, movement: Movement) -> None:
    """Add to ``tx`` the account's new balance and the entry that records the movement.

    Conditioned on the account's version (its entries), and on its revision (its people), so
    that a booking the rules allowed for a member of the group never lands after the member
    was removed: the movement is refused, read again and decided again.
    """
    account = movement.account
    # Every movement passes here, so none can skip the floor or the cap.
    rules.require_balance_allows(account, movement.kind, movement.credits)
    entry = movement.entry
    if account.version == 0:
        # The account's first entry. A personal account is only implicit until now: the
        # item is born with its first entry. A group account exists with no entries yet.
        values = account.model_copy(
            update={"balance": entry.balance_after, "version": entry.seq}
        ).model_dump(mode="json", exclude_none=True)
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
                    "UpdateExpression": "SET balance = :after, version = :next",
                    # The version pins the balance we computed from; the balance check
                    # states the invariant itself, should the version ever be misused.
                    "ConditionExpression": "version = :v AND balance = :before AND "
                    + SAME_REVISION,
                    "ExpressionAttributeValues": to_item(
                        {
                            ":after": entry.balance_after,
                            ":next": entry.seq,
                            ":v": account.version,
                            ":before": account.balance,
                            ":r": account.revision,
                        }
                    ),
                }
            },
        )
    values = entry.model_dump(mode="json", exclude_none=True)
    values |= {**keys.entry(account.id, entry.seq), "entity": "ENTRY"}
    tx.add("entry", put(table, values, "attribute_not_exists(pk)"))


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
