"""Ledger entries from the ledger table's stream images (the item as ``store`` writes it)."""

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from coaching.models import LedgerEntry

_deserializer = TypeDeserializer()


def is_entry(item: Mapping[str, Any]) -> bool:
    """An entry item: ``ACCOUNT#{id}`` / ``ENTRY#{seq}``, marked ``entity`` ENTRY."""
    return item.get("entity") == {"S": "ENTRY"}


def entry_from_item(item: Mapping[str, Any]) -> LedgerEntry:
    values = {k: _deserializer.deserialize(v) for k, v in item.items()}
    return LedgerEntry.model_validate(
        {k: v for k, v in values.items() if k in LedgerEntry.model_fields}
    )
