"""Idempotency-Key records that commit in the same transaction as the change they answer.

Why not Powertools idempotency: it writes its record in requests of its own, before and after the
change. A function that dies between the change's commit and that second write leaves a record
saying "in progress" (or nothing), and the client's retry runs the change again: a grant lands
twice. Here the record, with the answer to replay, is one more item of the change's own
``TransactWriteItems``, so the change and its record exist together or not at all.

The HTTP entry point opens ``remembering(receipt)`` around a keyed request; the storage writes
the receipt into whichever transaction that request commits (each request commits at most one).
A request that commits nothing (a refusal, a conflict, a crash before the commit) leaves no
record, so its retry simply runs again.
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

# Where it was defined before the project's errors were gathered in one module.
from coaching.errors import KeyAlreadyUsed as KeyAlreadyUsed

KEPT_FOR = timedelta(hours=24)
"""How long a key's answer is replayed; after that the key may be used afresh."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as it is remembered and replayed: status, content type and exact body."""

    status: int
    body: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class Remembered:
    """A stored key record: the request it was first used for, and what that request answered."""

    fingerprint: str
    answer: Answer


@dataclass
class Receipt:
    """The Idempotency-Key of the request being served, waiting for the change it belongs to."""

    caller_id: str
    key: str
    fingerprint: str
    now: datetime
    present: Callable[[object], Answer]
    """Turns the change's result (the session, entry, account or service written) into the
    answer the client gets, so the answer can be stored before the transaction commits."""
    answer: Answer | None = None
    """The answer committed with the change; None until a transaction carrying it succeeds."""

    @property
    def record_id(self) -> str:
        return record_id(self.caller_id, self.key)

    @property
    def expires_at(self) -> datetime:
        return self.now + KEPT_FOR


def record_id(caller_id: str, key: str) -> str:
    """Keys are scoped to their caller, and hashed: a key may be long and arbitrary."""
    digest = hashlib.sha256(f"{caller_id}\0{key}".encode()).hexdigest()
    return f"KEY#{digest}"


_current: ContextVar[Receipt | None] = ContextVar("current_receipt", default=None)


@contextmanager
def remembering(receipt: Receipt | None) -> Iterator[Receipt | None]:
    """While open, the storage adds ``receipt`` to the transaction this request commits."""
    token = _current.set(receipt)
    try:
        yield receipt
    finally:
        _current.reset(token)


def current() -> Receipt | None:
    """The receipt of the request being served in this context, if it carries a key."""
    return _current.get()
