"""The accounts' part of the HTTP contract (docs/api.md): groups, grants, balances and their
lots, ledgers and the changes to a group. Only the accounts function imports it."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StrictInt, field_validator

from coaching import lots, rules
from coaching.models import (
    DEFAULT_REFUND_GRACE_DAYS,
    MAX_REFUND_GRACE_DAYS,
    MAX_VALID_DAYS,
    Account,
    AccountChange,
    AccountKind,
    Actor,
    Caller,
    EntryKind,
    GraceChange,
    LedgerEntry,
    LotMove,
    NameChange,
)
from coaching.web.api import WHOLE, Body, Id, Reason, View

GroupName = Annotated[str, Field(min_length=1, max_length=200)]


_GRACE_DOC = (
    f"Days that credits given back stay usable when the lot they were paid from has expired "
    f"meanwhile (they come back as a new lot expiring that long after the refund), 1 to "
    f"{MAX_REFUND_GRACE_DAYS}; left out or null: {DEFAULT_REFUND_GRACE_DAYS}."
)
GraceDays = Annotated[
    StrictInt, Field(ge=1, le=MAX_REFUND_GRACE_DAYS, description=_GRACE_DOC), WHOLE
]


class CreateAccountBody(Body):
    name: GroupName
    member_ids: Annotated[list[Id], Field(max_length=500)] = []
    admin_ids: Annotated[list[Id], Field(max_length=50)] = []
    refund_grace_days: GraceDays | None = None


# One change touches at most this many people: each gets a membership item in the change's one
# DynamoDB transaction (100 items at most, with the account, the change's record and the key's).
MAX_MEMBERS_PER_CHANGE = 40
MAX_ADMINS_PER_CHANGE = 5


class GroupPatchBody(Body):
    """A change to a group: a new name, and people added or removed. Adding someone already
    there, or removing someone who is not, changes nothing."""

    name: GroupName | None = None
    add_members: Annotated[list[Id], Field(max_length=MAX_MEMBERS_PER_CHANGE)] = []
    remove_members: Annotated[list[Id], Field(max_length=MAX_MEMBERS_PER_CHANGE)] = []
    add_admins: Annotated[list[Id], Field(max_length=MAX_ADMINS_PER_CHANGE)] = []
    remove_admins: Annotated[list[Id], Field(max_length=MAX_ADMINS_PER_CHANGE)] = []
    refund_grace_days: GraceDays | None = None
    """Left out: unchanged; null: back to the default."""

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        # Sent as null, a name would read as "no change": refuse it rather than guess.
        if value is None:
            raise ValueError("a group must have a name; leave the field out to keep it")
        return value

    def edit(self) -> rules.GroupEdit:
        return rules.GroupEdit(
            name=self.name,
            add_members=self.add_members,
            remove_members=self.remove_members,
            add_admins=self.add_admins,
            remove_admins=self.remove_admins,
            sets_refund_grace="refund_grace_days" in self.model_fields_set,
            refund_grace_days=self.refund_grace_days,
        )


class GrantBody(Body):
    credits: Annotated[StrictInt, Field(ge=1, le=100_000), WHOLE]
    note: Reason | None = None
    expires_at: (
        Annotated[
            AwareDatetime,
            Field(
                description=(
                    "When the credits expire: RFC 3339 with an offset, in the future, at most "
                    f"{MAX_VALID_DAYS} days ahead (kept to the second). Left out, with valid_days "
                    "left out too: they never expire."
                )
            ),
        ]
        | None
    ) = None
    valid_days: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=MAX_VALID_DAYS,
                description="Instead of expires_at: the credits expire this many days "
                "(of 24 hours) after the grant.",
            ),
            WHOLE,
        ]
        | None
    ) = None


class LotView(View):
    lot: int
    """The lot's number in this account (0: the credits that never expire)."""
    credits_left: int
    expires_at: datetime | None
    """None: they never expire. In the past: expired, leaving at the sweep's next run (it runs
    every few minutes); a booking no longer spends them."""


class ExpiringSoonView(View):
    credits: int
    """Credits that expire within the next 7 days."""
    expires_at: datetime
    """When the first of them expires."""


class AccountView(View):
    id: str
    kind: AccountKind
    name: str
    balance: int
    lots: list[LotView]
    """Where the balance is held, soonest to expire first, those that never expire last;
    their credits_left add up to the balance."""
    expiring_soon: ExpiringSoonView | None
    """None when nothing expires within the next 7 days."""
    refund_grace_days: int
    """How long credits given back after their lot expired stay usable, unless the session's
    service says otherwise."""
    member_ids: list[str] | None = None
    admin_ids: list[str] | None = None


def account_view(account: Account, caller: Caller, now: datetime) -> AccountView:
    """Group rosters are shown to their admins and support only; no one's contact details."""
    can_see_roster = account.kind is AccountKind.GROUP and (
        caller.id in account.admin_ids or caller.role.value == "support"
    )
    soon = lots.expiring_soon(account, now)
    return AccountView(
        id=account.id,
        kind=account.kind,
        name=account.name,
        balance=account.balance,
        lots=[
            LotView(lot=lot.number, credits_left=lot.credits_left, expires_at=lot.expires_at)
            for lot in lots.shown(account)
        ],
        expiring_soon=None
        if soon is None
        else ExpiringSoonView(credits=soon.credits, expires_at=soon.expires_at),
        refund_grace_days=account.refund_grace_days or DEFAULT_REFUND_GRACE_DAYS,
        member_ids=account.member_ids if can_see_roster else None,
        admin_ids=account.admin_ids if can_see_roster else None,
    )


class AccountList(View):
    items: list[AccountView]


class EntryView(View):
    id: str
    kind: EntryKind
    credits: int
    balance_after: int
    session_id: str | None
    actor: Actor | None
    at: datetime
    note: str | None
    lots: list[LotMove]
    """Which lots the credits came from or went to, adding up to ``credits``: a booking's
    soonest to expire first; ``replaces`` on credits given back into a new lot because the one
    they were paid from had expired. Empty on entries written before lots existed."""


def entry_view(entry: LedgerEntry) -> EntryView:
    return EntryView(**entry.model_dump(exclude={"account_id", "seq"}))


class LedgerPage(View):
    items: list[EntryView]
    next_token: str | None


class AccountChangeView(View):
    """One change to a group: who made it, when, and what it changed."""

    seq: int
    """1 for the group's first change, then 2, 3 ..."""
    at: datetime
    by: Actor
    name: NameChange | None
    """``{before, after}`` when it renamed the group."""
    added_members: list[str]
    removed_members: list[str]
    added_admins: list[str]
    removed_admins: list[str]
    refund_grace_days: GraceChange | None
    """``{before, after}`` when it changed the group's refund grace (null: the default)."""


def account_change_view(change: AccountChange) -> AccountChangeView:
    return AccountChangeView(**change.model_dump(exclude={"account_id"}))


class AccountChangeList(View):
    items: list[AccountChangeView]
    next_token: str | None


def answer_for(result: object, caller: Caller, now: datetime) -> tuple[int, BaseModel] | None:
    """The status and body an account's write answers with (see ``coaching.web.api``)."""
    if isinstance(result, LedgerEntry):
        return 201, entry_view(result)
    if isinstance(result, Account):
        # created, or changed
        return (201 if result.revision == 0 else 200), account_view(result, caller, now)
    return None
