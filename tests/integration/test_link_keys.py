"""The manage links' keys, read from Secrets Manager (moto) as the template makes the secret,
and a rotation as the README describes it: a new current key, the old one kept as previous."""

import json

import boto3
import pytest

from coaching import manage_links
from coaching.link_keys import LinkKeySource
from tests.builders import NOW, link_secret

END = NOW.replace(year=NOW.year + 1)


@pytest.fixture
def secrets(aws: None) -> object:
    return boto3.client("secretsmanager", region_name="us-east-1")


def test_the_generated_secret_is_a_key_set_of_one_strong_key(secrets: object) -> None:
    keys = LinkKeySource(secrets, link_secret()).keys()  # type: ignore[arg-type]

    assert keys.current.id == "1" and keys.previous == ()
    assert len(keys.current.secret) == 64 and keys.current.secret.isalnum()


def test_a_rotation_reaches_the_functions_and_old_links_keep_working_until_dropped(
    secrets: object,
) -> None:
    arn = link_secret()
    clock = [0.0]
    source = LinkKeySource(
        secrets,  # type: ignore[arg-type]
        arn,
        refresh_seconds=300,
        retry_seconds=10,
        clock=lambda: clock[0],
    )
    old_token = manage_links.sign(source.keys(), "session-1", "member-ann", END)
    current = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])  # type: ignore[attr-defined]

    # When an operator rotates: a new current key, the old one kept as previous
    secrets.put_secret_value(  # type: ignore[attr-defined]
        SecretId=arn,
        SecretString=json.dumps(
            {"kid": "2", "key": "n" * 64, "previous": [{"kid": "1", "key": current["key"]}]}
        ),
    )
    clock[0] = 301  # the functions read it again within five minutes

    # Then new links are signed with the new key, and the old link still works
    assert manage_links.key_id(manage_links.sign(source.keys(), "s", "m", END)) == "2"
    assert manage_links.verify(source.keys("1"), old_token, NOW).session_id == "session-1"

    # And once the old key is dropped (its links expired, or it leaked), its links stop working
    secrets.put_secret_value(  # type: ignore[attr-defined]
        SecretId=arn, SecretString=json.dumps({"kid": "2", "key": "n" * 64})
    )
    clock[0] = 602
    with pytest.raises(manage_links.InvalidLink):
        manage_links.verify(source.keys("1"), old_token, NOW)


def test_a_link_signed_just_after_a_rotation_is_checked_at_once(secrets: object) -> None:
    arn = link_secret()
    clock = [0.0]
    checker = LinkKeySource(secrets, arn, clock=lambda: clock[0])  # type: ignore[arg-type]
    checker.keys()  # the manage function read the keys a moment ago
    secrets.put_secret_value(  # type: ignore[attr-defined]
        SecretId=arn, SecretString=json.dumps({"kid": "2", "key": "n" * 64})
    )
    new_token = manage_links.sign(
        LinkKeySource(secrets, arn).keys(),
        "session-1",
        "member-ann",
        END,  # type: ignore[arg-type]
    )
    clock[0] = 11  # a key id it does not know: it reads the secret again (at most every 10 s)

    assert (
        manage_links.verify(checker.keys(manage_links.key_id(new_token)), new_token, NOW).member_id
        == "member-ann"
    )
