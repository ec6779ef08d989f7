"""DynamoDB storage: the only package that talks to DynamoDB.

``store`` holds sessions, slot claims, services, accounts and the ledger. See its docstring for
the tables, keys and why every change is one conditional transaction.
"""

from coaching.storage.store import (
    Movement,
    StaleRead,
    Storage,
    TransientConflict,
    iso,
    session_from_item,
    session_item,
)

__all__ = [
    "Movement",
    "StaleRead",
    "Storage",
    "TransientConflict",
    "iso",
    "session_from_item",
    "session_item",
]
