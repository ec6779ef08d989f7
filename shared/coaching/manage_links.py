"""Manage links: a member's emails let them manage that one session without signing in. Pure.

A link is ``{APP_URL}/manage#<token>``: the token rides in the URL's fragment, which browsers
never send to a server, so it reaches no access log on the way. The front end at ``APP_URL``
reads it and calls the ``/manage/*`` routes with ``Authorization: Bearer <token>``.

A token names one session and its member and the moment it stops working (the session's end),
signed with HMAC-SHA256 under a key kept in AWS Secrets Manager (``coaching.link_keys``)::

    m1.<key id>.<payload>.<signature>
    payload   = base64url of the JSON {"s": session id, "m": member id, "e": expiry, epoch seconds}
    signature = base64url of HMAC-SHA256(key, "m1.<key id>.<payload>")

Why not a JWT library: the layer would ship one more package for one algorithm, and a JWT's
header names its own algorithm, which verifiers have been tricked into reading (``alg: none``).
Here the one algorithm is fixed, the key is chosen by its id among the keys we hold, and the
signature is compared in constant time. A token signed with a key that was rotated out, or
changed in any byte, or past its expiry, is refused (``InvalidLink``: 401), and none is ever
logged. Rotation: the secret holds the current key and the previous ones (``LinkKeys``); tokens
are signed with the current one and verified with any of them.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coaching.errors import Unauthenticated
from coaching.formats import ID_MAX_LENGTH, ID_PATTERN

VERSION = "m1"
MAX_TOKEN_LENGTH = 1024
"""A token this module makes is a few hundred characters; anything longer is not one."""
_ID = re.compile(ID_PATTERN)
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class InvalidLink(Unauthenticated):
    """The manage token is missing, malformed, altered, signed by a key we no longer hold, or
    past its expiry. One answer for all: which it was is nobody's business but ours."""

    def __init__(self) -> None:
        super().__init__(
            "This link to manage a session is not valid or has expired; sign in to manage it."
        )


@dataclass(frozen=True)
class SigningKey:
    id: str
    secret: bytes


@dataclass(frozen=True)
class LinkKeys:
    """The keys manage tokens are signed and checked with: the current one signs, every one
    checks (the previous ones are kept while tokens they signed may still be in use)."""

    current: SigningKey
    previous: tuple[SigningKey, ...] = ()

    @classmethod
    def from_secret(cls, text: str) -> "LinkKeys":
        """The secret's JSON: ``{"kid": ..., "key": ..., "previous": [{"kid", "key"}, ...]}``.

        ``key`` is a random string of at least 32 characters (the template has Secrets Manager
        generate 64). Raises ValueError for anything else: a misconfigured secret must fail
        loudly, not sign with a weak key.
        """
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("the manage link secret must be a JSON object")
        previous = document.get("previous", [])
        if not isinstance(previous, list):
            raise ValueError("the manage link secret's previous keys must be a list")
        keys = LinkKeys(current=_key(document), previous=tuple(_key(item) for item in previous))
        ids = [keys.current.id, *(key.id for key in keys.previous)]
        if len(set(ids)) != len(ids):
            raise ValueError("the manage link secret names a key id twice")
        return keys

    def find(self, key_id: str) -> SigningKey | None:
        return next((k for k in (self.current, *self.previous) if k.id == key_id), None)


def _key(item: Any) -> SigningKey:
    if not isinstance(item, dict):
        raise ValueError("a manage link key must be an object with kid and key")
    key_id, secret = item.get("kid"), item.get("key")
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ValueError("a manage link key id must be 1 to 64 letters, digits, - or _")
    if not isinstance(secret, str) or len(secret) < 32:
        raise ValueError("a manage link key must be a string of at least 32 characters")
    return SigningKey(id=key_id, secret=secret.encode())


@dataclass(frozen=True)
class Grant:
    """What a valid token lets its holder do: manage ``session_id`` as ``member_id``."""

    session_id: str
    member_id: str
    expires_at: datetime


def sign(keys: LinkKeys, session_id: str, member_id: str, expires_at: datetime) -> str:
    """A token for ``member_id`` to manage ``session_id`` until ``expires_at`` (its end)."""
    payload = _encode(
        json.dumps(
            {"s": session_id, "m": member_id, "e": int(expires_at.timestamp())},
            separators=(",", ":"),
        ).encode()
    )
    signed = f"{VERSION}.{keys.current.id}.{payload}"
    return f"{signed}.{_signature(keys.current, signed)}"


def verify(keys: LinkKeys, token: str, now: datetime) -> Grant:
    """The grant a token carries, or ``InvalidLink``."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidLink()
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise InvalidLink()
    _, key_id, payload, signature = parts
    key = keys.find(key_id)
    if key is None:
        raise InvalidLink()
    expected = _signature(key, f"{VERSION}.{key_id}.{payload}")
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidLink()
    try:
        claims = json.loads(_decode(payload))
    except (ValueError, binascii.Error):
        raise InvalidLink() from None
    if not isinstance(claims, dict):
        raise InvalidLink()
    session_id, member_id, expiry = claims.get("s"), claims.get("m"), claims.get("e")
    if not (
        isinstance(session_id, str)
        and isinstance(member_id, str)
        and _is_id(session_id)
        and _is_id(member_id)
        and type(expiry) is int
    ):
        raise InvalidLink()
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise InvalidLink()
    return Grant(session_id=session_id, member_id=member_id, expires_at=expires_at)


def bearer(headers: dict[str, Any] | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or ``InvalidLink``."""
    found = next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), None)
    if not isinstance(found, str):
        raise InvalidLink()
    scheme, _, token = found.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidLink()
    return token.strip()


def key_id(token: str) -> str | None:
    """The id of the key a token says it was signed with (to find it), unchecked."""
    parts = token.split(".")
    return parts[1] if len(parts) == 4 and _KEY_ID.fullmatch(parts[1]) else None


def link(app_url: str, token: str) -> str:
    """Where an email sends the member: the front end's manage page, the token in its fragment."""
    return f"{app_url.rstrip('/')}/manage#{token}"


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= ID_MAX_LENGTH and bool(_ID.fullmatch(value))


def _signature(key: SigningKey, signed: str) -> str:
    return _encode(hmac.new(key.secret, signed.encode(), hashlib.sha256).digest())


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
