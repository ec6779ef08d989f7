"""Webhook signatures, held to the Standard Webhooks specification's own example and to the
``standardwebhooks`` package's verifier."""

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from coaching.events.webhooks import signing

# The example in the Standard Webhooks specification (and its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_example_signs_as_the_specification_says() -> None:
    at = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)

    headers = signing.headers(SPEC_ID, SPEC_BODY, [SPEC_SECRET], at)

    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_a_new_secret_is_whsec_and_32_random_bytes_in_base64() -> None:
    first, second = signing.new_secret(), signing.new_secret()

    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_two_secrets_sign_side_by_side_and_the_verifier_accepts_either() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"type":"session.booked","timestamp":"2026-12-01T09:00:00Z","data":{}}'

    headers = signing.headers("session:s:1:session.booked", body, [new, old], datetime.now(UTC))

    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(body, headers) == {
            "type": "session.booked",
            "timestamp": "2026-12-01T09:00:00Z",
            "data": {},
        }
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + b" ", headers)


def test_nothing_is_sent_unsigned() -> None:
    with pytest.raises(ValueError, match="secret"):
        signing.headers("id", b"{}", [], datetime.now(UTC))
