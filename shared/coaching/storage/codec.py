"""Items as DynamoDB writes them and Python values as the stores use them, both ways."""

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any

# Not boto3's TypeSerializer: importing anything from boto3 runs boto3's package, which loads
# its resources and s3transfer, about 45 ms of every cold start for two small mappings. Powertools
# ships boto3's deserializer for its stream events; ``attribute`` here is boto3's serializer,
# and tests/unit/test_attribute_values.py holds both to boto3's on generated values.
from aws_lambda_powertools.shared.dynamodb_deserializer import DYNAMODB_CONTEXT, TypeDeserializer

_deserializer = TypeDeserializer()


def attribute(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value, exactly as boto3's ``TypeSerializer``
    writes it: numbers are ``int`` or ``Decimal`` (a float is refused, as it may not round-trip)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": value}
    if isinstance(value, AbstractSet):
        return _set(value)
    if isinstance(value, Mapping):
        return {"M": {k: attribute(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [attribute(v) for v in value]}
    raise TypeError(f"DynamoDB cannot store a {type(value).__name__}")


def _set(value: AbstractSet[Any]) -> dict[str, Any]:
    """A set of one type of members: numbers, strings or bytes."""
    members = list(value)
    if all(_is_number(m) for m in members):
        return {"NS": [_number(m) for m in members]}
    if all(isinstance(m, str) for m in members):
        return {"SS": members}
    if all(isinstance(m, bytes | bytearray) for m in members):
        return {"BS": members}
    raise TypeError(f"DynamoDB cannot store a {type(value).__name__}")


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal)  # a lone bool was taken as BOOL before this


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: attribute(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def only_fields(model: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in model.model_fields}
