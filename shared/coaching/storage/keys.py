"""Every key the storage writes or reads, built here and nowhere else.

The tables, all defined in ``template.yaml``:

``SessionsTable`` (its stream drives the emails)
  - session   ``SESSION#{id}`` / ``SESSION``; indexes ByMember, ByCoach (by start time, whole
    sessions: a listing shows them whole) and the sparse Due index (keys only; only sessions
    the sweep will have to look at carry ``due_pk``, one of ``DUE#0`` .. ``DUE#{N-1}`` from a
    hash of the id, so no one partition takes every change)
  - history   ``SESSION#{id}`` / ``HISTORY#{n}``: a session's older history entries, once its
    item keeps only the latest (``models.HISTORY_KEPT``), numbered from 1 and never changed
  - reminders ``SESSION#{id}`` / ``REMINDERS``: the reminders and last calls its current time
    still owes (``coaching.reminders``); in the Due index by the next one's time, in the
    session's shard, while one is left
  - slot      ``SLOT#{coach}#{time}`` / ``SLOT``: one per 15 minutes a coach's session holds;
    a conditional put claims it, so a time cannot be booked twice. Also in ByCoach under
    ``SLOTS#{coach}`` by time, so free times read only the claims of the range asked for
  - service   ``SERVICE#{id}`` / ``SERVICE``; in ByCoach under ``SERVICES#{coach}``
  - hours     ``HOURS#{coach tag}`` / ``HOURS``: the coach's booking rules (weekly working hours,
    time off, sessions a day), keyed by the tag new session and service ids carry
  - counts    ``COUNT#DAY#{coach}#{day}`` and ``COUNT#MEMBER#{member}#{service}`` / ``COUNT``:
    the sessions a coach holds on a day, and a member's upcoming sessions of a service; a
    booking's transaction adds to them on the condition that the limit is not reached
  - directory ``DIRECTORY#{coach}`` / ``DIRECTORY``: a coach who offers an active service, with
    those services; in ByCoach under the one partition ``DIRECTORY``, sorted by folded name
  - email     ``EMAIL#{sha256 of the address}`` / ``MEMBER#{id}``: a member who booked with that
    address, so support can find their sessions by email; the key holds a hash, not the address

A session paid from a group account is also in the sparse ByAccount index under
``ACCOUNT#{account}`` by start, for the group's admins; one paid personally is not.

ByCoach holds three kinds of partition per coach, told apart by their prefix: ``COACH#`` (the
coach's sessions by start), ``SLOTS#`` (their slot claims by slot time) and ``SERVICES#`` (their
services by creation time); and one shared by all coaches, ``DIRECTORY`` (the coach directory,
by ``directory_position``). A slot claim keeps its own key (``SLOT#{coach}#{time}``), so the
condition that stops a double booking is the same as before; the index only serves reads.

``LedgerTable``
  - account   ``ACCOUNT#{id}`` / ``ACCOUNT``: running balance and ``version`` (entries so far),
    and the lots the balance is held in (``Account.lots``, bounded)
  - entry     ``ACCOUNT#{id}`` / ``ENTRY#{seq}``: immutable, numbered 1, 2, 3 ... per account
  - lot       ``ACCOUNT#{id}`` / ``LOT#{n}``: a lot with an expiry, from its opening to its end;
    while the sweep has something to do with it (tell the owner, expire it) it carries ``due_pk``
    (``DUE#0`` .. ``DUE#{N-1}`` from a hash of the account and number) and ``due_at``, and so is
    in the table's sparse Due index (keys only), as sessions are in the sessions table's
  - notice    ``ACCOUNT#{id}`` / ``NOTICE#{n}#{kind}``: immutable, what the owner is told about
    lot ``n`` (its credits expire soon, or have expired); the stream turns it into the emails
  - member    ``MEMBER#{user}`` / ``ACCOUNT#{id}``: the group accounts a user belongs to or runs
  - change    ``ACCOUNT#{id}`` / ``CHANGE#{seq}``: immutable, one per change to a group's name or
    people, numbered 1, 2, 3 ... per account

``IdempotencyTable`` records are keyed by ``receipts.record_id``.

``WebhooksTable``
  - endpoint  ``WEBHOOK#{id}`` / ``WEBHOOK``; in the Endpoints index under ``WEBHOOKS`` by
    ``{owner}#{created}#{nanoseconds}#{id}``: support lists every endpoint, an admin the prefix
    of their own, the delivery function reads them all
  - owner     ``WEBHOOK_OWNER#{admin}`` / ``OWNER``: how many endpoints the admin has, counted
    in the transaction that creates or deletes one, so the limit cannot be passed by a race
  - delivery  ``WEBHOOK#{endpoint}`` / ``DELIVERY#{delivery}``: one per event and endpoint, its id
    made from the event (its time, its version or number, a hash of its id), so a redelivered
    event finds the record it made before and deliveries list newest first. In the sparse Due index
    (``due_pk`` one of ``DUE#0`` .. ``DUE#{N-1}``, ``due_at``) only while a retry waits

Keys here are plain values (``{"pk": ..., "sk": ...}``); ``codec.to_item`` types them.
"""

import hashlib
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Literal

Key = dict[str, str]


def iso(moment: datetime) -> str:
    """Index keys sort as text, so every time in a key has this one fixed UTC format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- SessionsTable -------------------------------------------------------------------------------


def session(session_id: str) -> Key:
    return {"pk": f"SESSION#{session_id}", "sk": "SESSION"}


def history(session_id: str, number: int) -> Key:
    """History entry ``number`` of a session, kept beside it once its item holds only the latest
    (zero-padded, so that entries sort by number)."""
    return {"pk": f"SESSION#{session_id}", "sk": f"HISTORY#{number:08d}"}


def reminders(session_id: str) -> Key:
    """The record of what a session's current time still owes in reminders and last calls."""
    return {"pk": f"SESSION#{session_id}", "sk": "REMINDERS"}


def slot(coach_id: str, at: datetime) -> Key:
    return {"pk": f"SLOT#{coach_id}#{iso(at)}", "sk": "SLOT"}


def service(service_id: str) -> Key:
    return {"pk": f"SERVICE#{service_id}", "sk": "SERVICE"}


COACH_TAG_LENGTH = 20


def coach_tag(coach_id: str) -> str:
    """A coach's short tag: 20 hex digits of a SHA-256 of their id (80 bits).

    New session and service ids carry it, and a coach's booking rules are keyed by it, so a
    booking (which knows the service id) and a move (which knows the session id) read the rules
    in the request they make anyway, and still make two round trips in all."""
    return hashlib.sha256(coach_id.encode()).hexdigest()[:COACH_TAG_LENGTH]


def tagged_id(coach_id: str) -> str:
    """A new session id: the coach's tag, then 80 random bits (40 hex digits in all)."""
    return coach_tag(coach_id) + secrets.token_hex(10)


def tagged_service_id(coach_id: str, at_ns: int) -> str:
    """A new service id: 16 hex digits of when it was made (a coach's services list by it), the
    coach's tag, and 16 random bits (40 hex digits in all)."""
    return f"{at_ns:016x}{coach_tag(coach_id)}{secrets.token_hex(2)}"


def tag_in_session_id(session_id: str) -> str | None:
    """The coach's tag a session id carries; None for ids made before ids carried one."""
    return _hex_part(session_id, 0)


def tag_in_service_id(service_id: str) -> str | None:
    """The coach's tag a service id carries (after 16 digits of its time); None before."""
    return _hex_part(service_id, 16)


def _hex_part(value: str, at: int) -> str | None:
    if len(value) != 40 or any(c not in "0123456789abcdef" for c in value):
        return None
    return value[at : at + COACH_TAG_LENGTH]


def availability(coach_id: str) -> Key:
    """A coach's booking rules (working hours, time off, sessions a day), keyed by their tag."""
    return hours_by_tag(coach_tag(coach_id))


def hours_by_tag(tag: str) -> Key:
    return {"pk": f"HOURS#{tag}", "sk": "HOURS"}


def day_count(coach_id: str, day: str) -> Key:
    """How many sessions a coach holds on ``day`` (YYYY-MM-DD, their own clock)."""
    return {"pk": f"COUNT#DAY#{coach_id}#{day}", "sk": "COUNT"}


def member_count(member_id: str, service_id: str) -> Key:
    """How many upcoming sessions of a service a member holds."""
    return {"pk": f"COUNT#MEMBER#{member_id}#{service_id}", "sk": "COUNT"}


def sessions_of(role: Literal["member", "coach"], user_id: str) -> str:
    """The ByMember (``member_pk``) or ByCoach (``coach_pk``) partition of someone's sessions."""
    return f"{role.upper()}#{user_id}"


def sessions_paid_by(account_id: str) -> str:
    """The ByAccount (``account_pk``) partition of the sessions a group account paid for."""
    return f"ACCOUNT#{account_id}"


def email_digest(email: str) -> str:
    """An address as a key may hold it: a hash of its lower-cased form, never the address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def members_with_email(email: str) -> str:
    """The partition naming every member who booked with ``email`` (one item each)."""
    return f"EMAIL#{email_digest(email)}"


def member_with_email(email: str, member_id: str) -> Key:
    return {"pk": members_with_email(email), "sk": f"MEMBER#{member_id}"}


def slots_of(coach_id: str) -> str:
    """The ByCoach partition of a coach's slot claims, by slot time."""
    return f"SLOTS#{coach_id}"


def services_of(coach_id: str) -> str:
    """The ByCoach partition of a coach's services, by creation time."""
    return f"SERVICES#{coach_id}"


def coach_entry(coach_id: str) -> Key:
    return {"pk": f"DIRECTORY#{coach_id}", "sk": "DIRECTORY"}


COACH_DIRECTORY = "DIRECTORY"
"""The ByCoach partition of the coach directory: every listed coach, by folded name."""

_NAME_END = "\x1f"
"""Ends the name in a directory position: below every character a folded name keeps, so "Ann"
sorts before "Ann Lee" (a "#" there would sort it after)."""


def folded(text: str) -> str:
    """A name as the directory compares it: case and accents dropped, spaces collapsed.

    "Zoë  O'Brien" and "zoe o'brien" fold alike; control characters go, so nothing folded can
    hold ``_NAME_END``.
    """
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()))
    kept = "".join(
        c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c)[0] != "C"
    )
    return " ".join(kept.casefold().split())


def directory_position(name: str, coach_id: str) -> str:
    """A coach's sort key in the directory: their folded name, then their id for equal names."""
    return f"{folded(name)}{_NAME_END}{coach_id}"


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


# --- LedgerTable ---------------------------------------------------------------------------------


def account_partition(account_id: str) -> str:
    """The partition holding an account and its entries."""
    return f"ACCOUNT#{account_id}"


def account(account_id: str) -> Key:
    return {"pk": account_partition(account_id), "sk": "ACCOUNT"}


ENTRY_PREFIX = "ENTRY#"


def entry(account_id: str, seq: int) -> Key:
    """Zero-padded, so that entries sort by number."""
    return {"pk": account_partition(account_id), "sk": f"{ENTRY_PREFIX}{seq:010d}"}


CHANGE_PREFIX = "CHANGE#"


def account_change(account_id: str, seq: int) -> Key:
    """Zero-padded, so that a group's changes sort by number."""
    return {"pk": account_partition(account_id), "sk": f"{CHANGE_PREFIX}{seq:010d}"}


def memberships_of(user_id: str) -> str:
    """The partition listing the group accounts a user belongs to or runs."""
    return f"MEMBER#{user_id}"


def membership(user_id: str, account_id: str) -> Key:
    return {"pk": memberships_of(user_id), "sk": account_partition(account_id)}


LOT_PREFIX = "LOT#"


def lot(account_id: str, number: int) -> Key:
    """A lot with an expiry (zero-padded, so that lots sort by number)."""
    return {"pk": account_partition(account_id), "sk": f"{LOT_PREFIX}{number:010d}"}


def notice(account_id: str, number: int, kind: str) -> Key:
    """What the owner is told about lot ``number``: one of each kind at most, ever."""
    return {"pk": account_partition(account_id), "sk": f"NOTICE#{number:010d}#{kind}"}


def lot_due_partition(account_id: str, number: int, shards: int) -> str:
    """The ledger's Due index partition of a lot: ``DUE#0`` to ``DUE#{shards-1}``, spread as
    sessions are (``due_partition``), from the account and the lot's number."""
    return due_partition(f"{account_id}#{number}", shards)


def lot_due_partitions(shards: int) -> list[str]:
    """Every partition of the ledger's Due index (it has no legacy partition)."""
    return [f"DUE#{n}" for n in range(shards)]


# --- WebhooksTable -------------------------------------------------------------------------------

WEBHOOKS_PARTITION = "WEBHOOKS"
"""The Endpoints index's one partition: every endpoint, by owner and creation."""


def webhook_partition(endpoint_id: str) -> str:
    """The partition holding an endpoint and its deliveries."""
    return f"WEBHOOK#{endpoint_id}"


def webhook(endpoint_id: str) -> Key:
    return {"pk": webhook_partition(endpoint_id), "sk": "WEBHOOK"}


def webhook_listing(owner_id: str, created_at: datetime, written_ns: int, endpoint_id: str) -> str:
    """An endpoint's sort key in the Endpoints index: its owner's endpoints sit together (owner
    ids hold no ``#``), oldest first; creation times are whole seconds, and the nanoseconds of
    the write order those of one second as they were made."""
    return f"{owners_webhooks(owner_id)}{iso(created_at)}#{written_ns:020d}#{endpoint_id}"


def owners_webhooks(owner_id: str) -> str:
    """The prefix of one owner's endpoints in the Endpoints index."""
    return f"{owner_id}#"


def webhook_owner(owner_id: str) -> Key:
    return {"pk": f"WEBHOOK_OWNER#{owner_id}", "sk": "OWNER"}


DELIVERY_PREFIX = "DELIVERY#"


def delivery(endpoint_id: str, delivery_id: str) -> Key:
    return {"pk": webhook_partition(endpoint_id), "sk": f"{DELIVERY_PREFIX}{delivery_id}"}


def delivery_id(event_id: str, event_time: datetime, number: int = 0) -> str:
    """The id of an event's delivery: the same for the same event, whenever it is seen again.

    Its time, then its number where it has one (a session's version, a ledger entry's), so an
    endpoint's deliveries sort by when their events happened, and one session's changes of
    the same second by version; then a hash of the event's id (ids such as
    ``session:{id}:{version}:{type}`` hold characters a path segment had better not)."""
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:16]
    return f"{event_time.astimezone(UTC):%Y%m%dT%H%M%SZ}-{number:010d}-{digest}"


def delivery_due_partition(endpoint_id: str, delivery_id: str, shards: int) -> str:
    """The Due index partition of a delivery waiting for a retry (the sessions' hash and shards)."""
    return due_partition(f"{endpoint_id}/{delivery_id}", shards)
