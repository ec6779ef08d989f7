"""Local stand-in for the HTTP API's JWT authorizer, and the tokens it accepts.

A signing key is made on first use and kept under ``.local/`` (never committed), so that
``local/token`` in one terminal mints tokens that the running stack in another accepts. The
gateway checks what API Gateway's JWT authorizer checks: signature, issuer, audience, expiry.
"""

import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.template import TEMPLATE

STATE = TEMPLATE.parent / ".local"
KEY_FILE = STATE / "jwt-signing-key.pem"
ISSUER = "https://auth.coaching.local/"
AUDIENCE = "coaching-local"
KEY_ID = "local-1"
TOKEN_LIFETIME_SECONDS = 3600


class InvalidToken(Exception):
    """Why the gateway refused a bearer token (no personal data in the message)."""


def _load_or_create_key(path: Path = KEY_FILE) -> rsa.RSAPrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def mint(
    sub: str,
    role: str,
    *,
    email: str | None = None,
    name: str | None = None,
    zoneinfo: str | None = None,
    email_verified: bool = True,
    lifetime: int = TOKEN_LIFETIME_SECONDS,
    key_file: Path = KEY_FILE,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> str:
    # Real time, not the functions' clock: the authorizer checks expiry against the real time,
    # so time travel must not make a fresh token look expired or not yet valid.
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        # As a Cognito pool says it: a group users cannot join by themselves.
        "cognito:groups": [role],
        "iat": now,
        "exp": now + lifetime,
    }
    for claim, value in (("email", email), ("name", name), ("zoneinfo", zoneinfo)):
        if value:
            claims[claim] = value
    if email:
        claims["email_verified"] = email_verified
    return jwt.encode(
        claims, _load_or_create_key(key_file), algorithm="RS256", headers={"kid": KEY_ID}
    )


class Verifier:
    """Checks bearer tokens against the local key, as the JWT authorizer would."""

    def __init__(self, key_file: Path = KEY_FILE) -> None:
        self._public_key = _load_or_create_key(key_file).public_key()

    def claims(self, authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise InvalidToken("missing bearer token")
        token = authorization.split(" ", 1)[1].strip()
        try:
            # The authorizer picks the issuer's key by the token's kid: one it does not know
            # signed nothing it trusts, whatever the signature says.
            if jwt.get_unverified_header(token).get("kid") != KEY_ID:
                raise InvalidToken("unknown kid")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("token expired") from error
        except jwt.InvalidTokenError as error:
            raise InvalidToken(type(error).__name__) from error
        return claims
