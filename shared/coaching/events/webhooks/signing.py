"""Standard Webhooks signatures, made by the ``standardwebhooks`` package itself.

Each request carries ``webhook-id`` (the event's id: the same for every attempt, so a receiver
drops repeats), ``webhook-timestamp`` (the attempt's time, seconds since the epoch) and
``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under
the secret's key, one such signature per secret that signs, separated by spaces. A receiver
accepts the request when any one of them matches its secret, which is how a rotated secret keeps
working for a day beside its successor.

The package (1.3) is the standard library's ``hmac`` and ``base64`` and nothing else, so the
layer signs with the very code receivers verify with rather than a copy of the spec.
"""

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32
"""Standard Webhooks asks for 24 to 64 random bytes."""


def new_secret() -> str:
    """A fresh signing secret as receivers configure it: ``whsec_`` and base64 of the key."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def headers(message_id: str, body: bytes, signing: Sequence[str], at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt, signed with every secret given."""
    if not signing:
        raise ValueError("a webhook needs at least one secret to sign with")
    moment = at.astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(msg_id=message_id, timestamp=moment, data=body)
            for secret in signing
        ),
    }
