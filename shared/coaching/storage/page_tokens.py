"""The page tokens a listing gives out, and reading them back: never trusted, always checked.

A token is opaque to the client; one it sends back that this API did not give out (or gave out
for another partition) is refused as a bad ``next_token``, and nothing is read.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from coaching.errors import ValidationFailed


def encode_token(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_token(token: str, partition: Mapping[str, str], names: set[str]) -> dict[str, Any]:
    """A client's page token: exactly the key ``names``, each a string, and the partition key
    forced to the caller's own partition."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        if (
            not isinstance(key, dict)
            or set(key) != names
            or not all(
                isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                for v in key.values()
            )
        ):
            raise ValueError("not a key")
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationFailed.on("next_token", "is not a token this API gave out") from error
    for name, value in partition.items():
        key[name] = {"S": value}
    return key


def encode_member_token(at: int, inner: str | None) -> str:
    """A page token across several members' partitions: which one, and the token within it."""
    return base64.urlsafe_b64encode(json.dumps({"m": at, "t": inner}).encode()).decode()


def decode_member_token(token: str, members: int) -> tuple[int, str | None]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        if (
            not isinstance(value, dict)
            or set(value) != {"m", "t"}
            or type(value["m"]) is not int
            or not 0 <= value["m"] < members
            or not (value["t"] is None or isinstance(value["t"], str))
        ):
            raise ValueError("not a token")
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ValidationFailed.on("next_token", "is not a token this API gave out") from error
    return value["m"], value["t"]


def decode_number_token(token: str | None, last: int) -> int:
    """A page token that is the number of the last entry given: 0 to ``last``."""
    if token is None:
        return 0
    if not token.isdigit() or not 0 < int(token) <= last:
        raise ValidationFailed.on("next_token", "is not a token this API gave out")
    return int(token)
