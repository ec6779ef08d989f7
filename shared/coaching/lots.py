"""Credits that expire: which lots a movement takes from or gives back to. Pure, no I/O.

An account's balance is held in lots (``Account.lots``): one per grant that expires (grants of
the same moment share one), one that never expires (``NEVER_EXPIRES``), and one for credits given
back after the lot they were paid from had expired. Every movement is planned here as a
``LotChange``: what it moves in or out of each lot (the entry's ``lots``) and the account's lots
after it, which ``storage.ledger.add_movement`` writes with the entry, in one transaction.

- **A booking** takes from the lots that expire soonest, never from one that has expired (the
  sweep has not come yet), the lot that never expires last (``take``).
- **A refund or release** gives back to the lots the booking took from, the last taken first, so
  a partial refund returns the credits that would have lasted longest (``give_back``). A lot that
  has expired meanwhile is not refilled: its credits come back as a new lot that expires after a
  grace (``renewal_expiry``). No lot ever gets back more than was taken from it.
- **The sweep** expires a lot whose time has come: its credits left, all at once (``expire``).
- **A grant** adds to the lot of its expiry, opening it if needed (``grant``).

Lots that are used up stay on the account until they expire (a refund may bring credits back to
them) and then drop off at the next movement (``current``); at most ``MAX_EXPIRING_LOTS`` lots
with an expiry are held at once, so the account item stays bounded.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from coaching.errors import InsufficientCredits, ValidationFailed
from coaching.models import (
    DEFAULT_REFUND_GRACE_DAYS,
    EXPIRY_NOTICE_DAYS,
    MAX_EXPIRING_LOTS,
    NEVER_EXPIRES,
    Account,
    Lot,
    LotMove,
    LotRecord,
    LotShare,
    Renewal,
    Session,
)

NOTICE = timedelta(days=EXPIRY_NOTICE_DAYS)
"""How long before a lot expires its owner is told, and how far ``expiring_soon`` looks."""
CLOSE_AFTER = timedelta(hours=1)
"""A lot used up when it expired is looked at once more this long after, before the sweep
forgets it: credits a refund gave back to it in its last moments (on a clock a little behind the
sweep's) still leave with an EXPIRE entry."""


@dataclass(frozen=True)
class LotChange:
    """What one movement does to an account's lots."""

    moves: tuple[LotMove, ...]
    """Per lot, signed like the movement; they add up to its credits."""
    lots: tuple[Lot, ...]
    """The account's lots after the movement (``ordered``)."""
    opened: int
    """``Account.lots_opened`` after the movement."""
    new_lots: tuple[Lot, ...] = ()
    """Lots with an expiry this movement opens: each gets a record the sweep reads."""
    renewed: Renewal | None = None
    """Credits given back into a new lot because theirs had expired."""

    @property
    def credits(self) -> int:
        return sum(m.credits for m in self.moves)


def expired(lot: Lot, now: datetime) -> bool:
    return lot.expires_at is not None and lot.expires_at <= now


def spendable(lot: Lot, now: datetime) -> bool:
    return lot.credits_left > 0 and not expired(lot, now)


def ordered(lots: Iterable[Lot]) -> tuple[Lot, ...]:
    """Soonest to expire first, the lot that never expires last."""
    return tuple(
        sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or 0, lot.number))
    )


def _after(lots: Iterable[Lot], now: datetime) -> tuple[Lot, ...]:
    return ordered(current(lots, now))


def current(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """The lots an account still needs at ``now``: every lot with credits (an expired one waits
    for the sweep), and used-up lots that have not expired yet."""
    return [
        lot
        for lot in lots
        if lot.credits_left > 0 or (lot.expires_at is not None and lot.expires_at > now)
    ]


def spendable_credits(account: Account, now: datetime) -> int:
    """What a booking may take at ``now``: the credits of the lots that have not expired."""
    return sum(lot.credits_left for lot in account.lots if spendable(lot, now))


def _expiring(lots: Iterable[Lot]) -> int:
    return sum(1 for lot in lots if lot.expires_at is not None)


def _with(lots: list[Lot], number: int, credits: int, expires_at: datetime | None) -> list[Lot]:
    """``lots`` with ``credits`` added to lot ``number`` (opened if it is not there)."""
    found = next((lot for lot in lots if lot.number == number), None)
    if found is None:
        return [*lots, Lot(number=number, credits_left=credits, expires_at=expires_at)]
    return [
        lot.model_copy(update={"credits_left": lot.credits_left + credits})
        if lot.number == number
        else lot
        for lot in lots
    ]


# --- a booking ---------------------------------------------------------------------------------


def take(account: Account, credits: int, now: datetime) -> LotChange:
    """Take ``credits`` from the lots that expire soonest, never from an expired one."""
    available = spendable_credits(account, now)
    if available < credits:
        waiting = account.balance - available
        if waiting > 0:
            raise InsufficientCredits(
                f"The account holds {available} credits that can be spent now ({waiting} more "
                f"have expired and leave it at the next sweep); this needs {credits}."
            )
        raise InsufficientCredits(f"The account holds {available} credits; this needs {credits}.")
    lots = current(account.lots, now)
    moves: list[LotMove] = []
    wanted = credits
    for lot in ordered(lots):
        if wanted == 0:
            break
        if not spendable(lot, now):
            continue
        taken = min(wanted, lot.credits_left)
        moves.append(LotMove(lot=lot.number, credits=-taken, expires_at=lot.expires_at))
        lots = _with(lots, lot.number, -taken, lot.expires_at)
        wanted -= taken
    return LotChange(moves=tuple(moves), lots=_after(lots, now), opened=account.lots_opened)


def shares(change: LotChange) -> list[LotShare]:
    """What a booking's change took, as the session keeps it (in the order taken)."""
    return [LotShare(lot=m.lot, credits=-m.credits, expires_at=m.expires_at) for m in change.moves]


# --- credits coming back -----------------------------------------------------------------------


def grace_days(session: Session, account: Account) -> int:
    """The service's grace as booked, else the account's, else the default."""
    return (
        session.policy.refund_grace_days or account.refund_grace_days or DEFAULT_REFUND_GRACE_DAYS
    )


def renewal_expiry(now: datetime, grace_days: int) -> datetime:
    return now.replace(microsecond=0) + timedelta(days=grace_days)


def paid_from(session: Session) -> list[LotShare]:
    """The lots a session was paid from; a session booked before lots existed was paid from
    credits that never expire."""
    if session.paid_from:
        return list(session.paid_from)
    return [LotShare(lot=NEVER_EXPIRES, credits=session.credits, expires_at=None)]


def _portions(
    taken: Sequence[LotShare], returned_before: int, credits: int
) -> list[tuple[LotShare, int]]:
    """Which shares the next ``credits`` given back come from: the last taken first, after the
    ``returned_before`` credits already given back the same way."""
    portions: list[tuple[LotShare, int]] = []
    skip, wanted = returned_before, credits
    for share in reversed(taken):
        left = share.credits
        if skip:
            skipped = min(skip, left)
            skip, left = skip - skipped, left - skipped
        if left and wanted:
            given = min(left, wanted)
            portions.append((share, given))
            wanted -= given
    if wanted or skip:
        raise ValueError("more credits given back than the session took")
    return portions


def give_back(
    account: Account, session: Session, credits: int, now: datetime, grace: int
) -> LotChange:
    """Give ``credits`` of ``session`` back to the lots they were taken from.

    A lot that has expired (or left the account) is not refilled: those credits come back
    together as one new lot expiring ``grace`` days from now (added to a lot that expires at that
    very moment, if there is one). When the account already holds ``MAX_EXPIRING_LOTS`` lots
    with an expiry, they go to the lot that never expires instead: credits coming back are
    never refused.
    """
    lots = current(account.lots, now)
    held = {lot.number: lot for lot in lots}
    moves: list[LotMove] = []
    renewing: list[tuple[LotShare, int]] = []
    for share, given in _portions(paid_from(session), session.refund.credits, credits):
        lot = held.get(share.lot)
        if share.expires_at is None:
            moves.append(LotMove(lot=NEVER_EXPIRES, credits=given))
            lots = _with(lots, NEVER_EXPIRES, given, None)
        elif lot is not None and not expired(lot, now):
            moves.append(LotMove(lot=lot.number, credits=given, expires_at=lot.expires_at))
            lots = _with(lots, lot.number, given, lot.expires_at)
        else:
            renewing.append((share, given))
    if not renewing:
        return LotChange(moves=tuple(moves), lots=_after(lots, now), opened=account.lots_opened)
    renewed = sum(given for _, given in renewing)
    expires_at: datetime | None = renewal_expiry(now, grace)
    opened, new_lots = account.lots_opened, tuple[Lot, ...]()
    same = next((lot for lot in lots if lot.expires_at == expires_at), None)
    if same is not None:
        number = same.number
    elif _expiring(lots) < MAX_EXPIRING_LOTS:
        opened += 1
        number = opened
        new_lots = (Lot(number=number, credits_left=renewed, expires_at=expires_at),)
    else:
        number, expires_at = NEVER_EXPIRES, None
    for share, given in renewing:
        moves.append(LotMove(lot=number, credits=given, expires_at=expires_at, replaces=share.lot))
    lots = _with(lots, number, renewed, expires_at)
    return LotChange(
        moves=tuple(moves),
        lots=_after(lots, now),
        opened=opened,
        new_lots=new_lots,
        renewed=Renewal(credits=renewed, expires_at=expires_at),
    )


# --- grants and expiry -------------------------------------------------------------------------


def grant(
    account: Account, credits: int, expires_at: datetime | None, now: datetime, field: str
) -> LotChange:
    """Add a grant's credits to the lot of its expiry, opening one when none expires then.

    ``field`` names what set the expiry (``expires_at`` or ``valid_days``) in a refusal.
    """
    lots = current(account.lots, now)
    if expires_at is None:
        return LotChange(
            moves=(LotMove(lot=NEVER_EXPIRES, credits=credits),),
            lots=_after(_with(lots, NEVER_EXPIRES, credits, None), now),
            opened=account.lots_opened,
        )
    if expires_at <= now:
        raise ValidationFailed.on(field, "must make the credits expire in the future")
    same = next((lot for lot in lots if lot.expires_at == expires_at), None)
    if same is not None:
        return LotChange(
            moves=(LotMove(lot=same.number, credits=credits, expires_at=expires_at),),
            lots=_after(_with(lots, same.number, credits, expires_at), now),
            opened=account.lots_opened,
        )
    if _expiring(lots) >= MAX_EXPIRING_LOTS:
        raise ValidationFailed.on(
            field,
            f"would open one more lot of credits that expire, and the account already holds "
            f"{MAX_EXPIRING_LOTS} (used up or not, until they expire): give an expiry it "
            "already holds, or none",
        )
    number = account.lots_opened + 1
    lot = Lot(number=number, credits_left=credits, expires_at=expires_at)
    return LotChange(
        moves=(LotMove(lot=number, credits=credits, expires_at=expires_at),),
        lots=_after([*lots, lot], now),
        opened=number,
        new_lots=(lot,),
    )


def expire(account: Account, number: int, now: datetime) -> LotChange | None:
    """Every credit left in lot ``number`` leaves, if it has expired; None when nothing does
    (not expired yet, used up, or expired already)."""
    lot = next((lot for lot in account.lots if lot.number == number), None)
    if lot is None or lot.credits_left == 0 or not expired(lot, now):
        return None
    lots = [other for other in account.lots if other.number != number]
    return LotChange(
        moves=(LotMove(lot=number, credits=-lot.credits_left, expires_at=lot.expires_at),),
        lots=_after(lots, now),
        opened=account.lots_opened,
    )


# --- what readers and the sweep see ------------------------------------------------------------


@dataclass(frozen=True)
class ExpiringSoon:
    credits: int
    expires_at: datetime
    """When the first of them expires."""


def expiring_soon(account: Account, now: datetime) -> ExpiringSoon | None:
    """Credits that expire within the next ``NOTICE`` (7 days), and the first moment one does."""
    soon = [
        (lot.expires_at, lot.credits_left)
        for lot in account.lots
        if spendable(lot, now) and lot.expires_at is not None and lot.expires_at <= now + NOTICE
    ]
    if not soon:
        return None
    return ExpiringSoon(
        credits=sum(credits for _, credits in soon), expires_at=min(at for at, _ in soon)
    )


def shown(account: Account) -> tuple[Lot, ...]:
    """The lots a reader is shown: those holding credits (an expired one until the sweep takes
    them: they are still in the balance), soonest to expire first."""
    return ordered(lot for lot in account.lots if lot.credits_left > 0)


def notice_due(expires_at: datetime) -> datetime:
    """When the owner is told that a lot's credits are about to expire."""
    return expires_at - NOTICE


MAX_NOTICES_AT_ONCE = 5
"""Lots one movement tells the owners about at most (each is one more item of its transaction);
the rest are told by a later movement, or by the sweep."""


def to_tell(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """The lots whose owners a movement at ``now`` should tell that their credits expire soon:
    holding credits, inside the notice (less than 7 days to go), not told yet. A lot opened so
    close to its expiry is told as it opens; one opened while nobody could be told (no address
    was known) is told by the first movement that knows one. Soonest first, a few at most."""
    due = [
        lot
        for lot in ordered(lots)
        if spendable(lot, now)
        and not lot.told
        and lot.expires_at is not None
        and notice_due(lot.expires_at) <= now
    ]
    return due[:MAX_NOTICES_AT_ONCE]


def mark_told(lots: Iterable[Lot], telling: Iterable[Lot]) -> list[Lot]:
    numbers = {lot.number for lot in telling}
    return [lot.model_copy(update={"told": True}) if lot.number in numbers else lot for lot in lots]


def check(account: Account, change: LotChange, credits: int) -> None:
    """What every movement's lots must satisfy before it is written: they account for the
    credits moved, no lot goes below zero, and the lots add up to the balance after. A
    violation is a bug, never a client's fault: it stops the write."""
    if change.credits != credits:
        raise ValueError(f"the lots move {change.credits} credits, the entry {credits}")
    if any(lot.credits_left < 0 for lot in change.lots):
        raise ValueError("a lot would go below zero")
    held = sum(lot.credits_left for lot in change.lots)
    if held != account.balance + credits:
        raise ValueError(f"the lots would hold {held}, the balance be {account.balance + credits}")


# --- the sweep ---------------------------------------------------------------------------------

LotAction = Literal["WARN", "EXPIRE", "WAIT", "CLOSE"]
"""What the sweep does to a lot that is due: tell its owner that its credits expire soon, take
out the credits it still holds once it has expired, look at it again later (nothing to tell or
take yet), or forget it (it expired used up)."""


@dataclass(frozen=True)
class LotStep:
    action: LotAction
    due_at: datetime | None
    """When the sweep looks at the lot next; None once it is done with it."""


def first_due(lot: Lot, now: datetime) -> datetime | None:
    """When the sweep first looks at a lot just opened: when its owner must be told."""
    return None if lot.expires_at is None else max(notice_due(lot.expires_at), now)


def sweep_step(
    record: LotRecord, account: Account, now: datetime, can_tell: bool = True
) -> LotStep | None:
    """What the sweep does to a lot at ``now``, from its record and the account that holds its
    credits; None when it is not due (or no longer). ``can_tell``: someone's address is known
    (else a movement that learns one tells them, before the lot expires)."""
    if record.due_at is None or now < record.due_at:
        return None
    lot = next((lot for lot in account.lots if lot.number == record.number), None)
    holds = lot is not None and lot.credits_left > 0
    if record.expires_at <= now:
        if holds:
            return LotStep("EXPIRE", None)
        closes = record.expires_at + CLOSE_AFTER
        return LotStep("CLOSE", None) if now >= closes else LotStep("WAIT", closes)
    told = record.warned_at is not None or (lot is not None and lot.told)
    if holds and can_tell and not told:
        return LotStep("WARN", record.expires_at)
    return LotStep("WAIT", record.expires_at)
