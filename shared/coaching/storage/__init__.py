"""DynamoDB storage: the only package that talks to DynamoDB.

``store`` holds sessions, slot claims, services, accounts and the ledger. See its docstring for
the tables, keys and why every change is one conditional transaction. ``email_claims`` holds the
claims that send each email once (EmailsTable).
"""

from coaching.storage.email_claims import Claim, ClaimStatus, EmailClaims, Held, StoredClaim
from coaching.storage.store import (
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
    "Claim",
    "ClaimStatus",
    "EmailClaims",
    "Held",
    "Movement",
    "StaleRead",
    "Storage",
    "StoredClaim",
    "TransientConflict",
    "iso",
    "session_from_item",
    "session_item",
    "slot_claim_item",
]
