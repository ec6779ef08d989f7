"""What an account's owners are told about credits that expire. Pure, no I/O.

Two moments, each told once per lot:

=============  ===========================================================================
notice         when
=============  ===========================================================================
EXPIRING       7 days before a lot expires, if it still holds credits then; at once when a
               lot opens with less than 7 days to go (a short grant, credits given back
               after theirs expired)
EXPIRED        when the sweep takes a lot's unused credits out (its EXPIRE entry)
=============  ===========================================================================

Who is told: a personal account's owner; a group's admins. Accounts keep no directory of
people: each keeps the name, address and time zone its owner's (or admin's) token carried the
last time they moved its credits (a booking, a cancel, a grant: ``rules.account_contacts``),
for its current owner and admins only. Someone who never did has no address there and is not
told.

The notice is an immutable item written in the same transaction as what it tells of (the lot's
opening, the sweep's warning, the EXPIRE entry), with the recipients as they stood then; the
ledger table's stream hands it to the notifier, which sends each recipient's email once.
"""

from enum import StrEnum
from typing import Literal

from pydantic import Field

from coaching.models import AccountKind, Identifier, Model, Person, UtcDatetime


class CreditNoticeKind(StrEnum):
    EXPIRING = "CREDITS_EXPIRING"
    EXPIRED = "CREDITS_EXPIRED"


CreditAudience = Literal["owner", "admin"]


class CreditNotice(Model):
    """One notice about one lot, as stored (``NOTICE#{lot}#{kind}``)."""

    kind: CreditNoticeKind
    account_id: Identifier
    account_kind: AccountKind
    account_name: str
    lot: int
    credits: int
    """EXPIRING: what the lot holds as the notice is written; EXPIRED: what left the balance."""
    expires_at: UtcDatetime
    at: UtcDatetime
    """When the notice was written."""
    balance_after: int | None = None
    """EXPIRED: the account's balance once they left."""
    recipients: list[Person] = Field(default_factory=list)


class CreditNotification(Model):
    """One email about a notice, to one person."""

    kind: CreditNoticeKind
    audience: CreditAudience
    recipient: Person
    notice: CreditNotice

    @property
    def change_id(self) -> str:
        """Stable across redeliveries: the account and the lot (which has one notice of each
        kind at most)."""
        return f"credits:{self.notice.account_id}:{self.notice.lot}"

    @property
    def claim_key(self) -> str:
        """One email per notice and recipient (a group has several admins)."""
        return f"{self.change_id}#{self.kind.value}#{self.audience}#{self.recipient.id}"


def decide(notice: CreditNotice) -> list[CreditNotification]:
    """The emails a notice means: one to each of its recipients with an address."""
    audience: CreditAudience = "admin" if notice.account_kind is AccountKind.GROUP else "owner"
    return [
        CreditNotification(kind=notice.kind, audience=audience, recipient=person, notice=notice)
        for person in notice.recipients
        if person.email
    ]
