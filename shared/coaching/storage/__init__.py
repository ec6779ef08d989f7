"""DynamoDB storage: the only package that talks to DynamoDB.

``Storage`` (``store``) is every store in one object: ``sessions`` (sessions and slot claims),
``services`` (services and working hours), ``ledger`` (accounts and entries) and ``due`` (the
sweep's index), built on ``dynamodb`` (reads, queries, the one conditional transaction a change is),
``codec`` (items to typed values and back) and ``page_tokens`` (what a listing gives out), with
every key from ``keys`` (see its docstring for the tables). ``receipts`` holds the
Idempotency-Key records written in those transactions; ``email_claims`` the claims that send
each email once (EmailsTable), imported from there by the notifier alone so that no HTTP
function's cold start loads it.
"""

from coaching.storage.sessions import is_session
from coaching.storage.store import (
    Count,
    Movement,
    StaleRead,
    Storage,
    TransientConflict,
    iso,
    session_from_item,
    session_item,
    slot_claim_item,
)

__all__ = [
    "Count",
    "Movement",
    "StaleRead",
    "Storage",
    "TransientConflict",
    "is_session",
    "iso",
    "session_from_item",
    "session_item",
    "slot_claim_item",
]
