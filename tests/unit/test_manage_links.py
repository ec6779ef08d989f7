"""Manage links' tokens: one session, its member, until its end; anything else is refused."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from coaching.manage_links import (
    InvalidLink,
    LinkKeys,
    SigningKey,
    bearer,
    key_id,
    link,
    sign,
    verify,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
END = NOW + timedelta(days=3)
CURRENT = SigningKey(id="2", secret=b"k" * 64)
OLD = SigningKey(id="1", secret=b"o" * 64)
KEYS = LinkKeys(current=CURRENT, previous=(OLD,))


def token(keys: LinkKeys = KEYS, expires_at: datetime = END) -> str:
    return sign(keys, "session-1", "member-ann", expires_at)


def test_a_token_names_the_session_its_member_and_its_end() -> None:
    grant = verify(KEYS, token(), NOW)

    assert (grant.session_id, grant.member_id, grant.expires_at) == ("session-1", "member-ann", END)


def test_the_link_carries_the_token_in_its_fragment() -> None:
    value = token()

    assert link("https://app.example.com/", value) == f"https://app.example.com/manage#{value}"


def test_a_token_signed_with_a_previous_key_still_works_until_that_key_is_dropped() -> None:
    old = token(LinkKeys(current=OLD))

    assert verify(KEYS, old, NOW).session_id == "session-1"
    with pytest.raises(InvalidLink):
        verify(LinkKeys(current=CURRENT), old, NOW)


def _altered(value: str, part: int, change: str) -> str:
    parts = value.split(".")
    parts[part] = change
    return ".".join(parts)


def _payload(**claims: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()


REFUSED = {
    "empty": lambda: "",
    "not a token": lambda: "hello",
    "a JWT": lambda: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtZW1iZXItYW5uIn0.",
    "another version": lambda: _altered(token(), 0, "m2"),
    "an unknown key id": lambda: _altered(token(), 1, "9"),
    "another session in its payload": lambda: _altered(
        token(), 2, _payload(s="session-2", m="member-ann", e=int(END.timestamp()))
    ),
    "a later expiry in its payload": lambda: _altered(
        token(), 2, _payload(s="session-1", m="member-ann", e=int(END.timestamp()) + 86400)
    ),
    "its signature changed": lambda: token()[:-2] + ("AA" if token()[-2:] != "AA" else "BB"),
    "no signature": lambda: _altered(token(), 3, ""),
    "signed with a key we never had": lambda: token(LinkKeys(current=SigningKey("2", b"x" * 64))),
    "expired": lambda: token(expires_at=NOW),
    "too long": lambda: token() + "A" * 2000,
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_a_token_that_is_not_ours_as_we_made_it_is_refused(make: object) -> None:
    with pytest.raises(InvalidLink) as refused:
        verify(KEYS, make(), NOW)  # type: ignore[operator]

    assert refused.value.status == 401
    assert refused.value.code == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "claims",
    [{"s": "session-1"}, {"s": "a b", "m": "m", "e": 1}, {"s": "s", "m": "m", "e": "1"}, [1]],
)
def test_a_signed_payload_that_is_no_grant_is_refused(claims: object) -> None:
    # Signed with our own key (as a bug of ours might): still no grant
    signed = f"m1.2.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}"
    digest = hmac.new(CURRENT.secret, signed.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    with pytest.raises(InvalidLink):
        verify(KEYS, f"{signed}.{signature}", NOW)


@pytest.mark.parametrize(
    ("headers", "found"),
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"Authorization": "bearer  abc "}, "abc"),
        ({}, None),
        ({"authorization": "Basic abc"}, None),
        ({"authorization": "Bearer "}, None),
        (None, None),
    ],
)
def test_the_token_comes_as_a_bearer_token(
    headers: dict[str, str] | None, found: str | None
) -> None:
    if found is None:
        with pytest.raises(InvalidLink):
            bearer(headers)
    else:
        assert bearer(headers) == found


@pytest.mark.parametrize(
    "document",
    [
        "[]",
        '{"kid": "1"}',
        '{"kid": "1", "key": "short"}',
        '{"kid": "a b", "key": "' + "k" * 40 + '"}',
        '{"kid": "1", "key": "'
        + "k" * 40
        + '", "previous": [{"kid": "1", "key": "'
        + "o" * 40
        + '"}]}',
        '{"kid": "1", "key": "' + "k" * 40 + '", "previous": {}}',
    ],
)
def test_a_secret_that_is_no_key_set_fails_loudly_rather_than_sign_weakly(document: str) -> None:
    with pytest.raises(ValueError, match="manage link"):
        LinkKeys.from_secret(document)


def test_the_secret_as_the_template_generates_it_and_as_a_rotation_leaves_it() -> None:
    generated = LinkKeys.from_secret('{"kid": "1", "key": "' + "a" * 64 + '"}')
    rotated = LinkKeys.from_secret(
        '{"kid": "2", "key": "'
        + "b" * 64
        + '", "previous": [{"kid": "1", "key": "'
        + "a" * 64
        + '"}]}'
    )

    assert (generated.current.id, generated.previous) == ("1", ())
    assert (rotated.current.id, [k.id for k in rotated.previous]) == ("2", ["1"])
    assert verify(rotated, sign(generated, "s", "m", END), NOW).session_id == "s"
    assert key_id(sign(rotated, "s", "m", END)) == "2"
