"""The local gateway refuses what API Gateway and its JWT authorizer refuse before any function
runs: a body over 10 MB, a request whose event passes Lambda's 6 MB invocation payload (413), and
a token signed under a key id the issuer never used (401). Called as a WSGI app."""

from pathlib import Path
from typing import Any

import jwt
import pytest
from werkzeug.test import Client

from local import auth, template
from local.auth import Verifier
from local.gateway import MAX_BODY_BYTES, MAX_INVOKE_PAYLOAD_BYTES, Gateway
from local.lambdas import LambdaService


class Counting(LambdaService):
    """The template's functions, counting how many times one was invoked."""

    invoked = 0

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        Counting.invoked += 1
        return {"statusCode": 204, "body": ""}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "key.pem"


@pytest.fixture
def client(key_file: Path) -> Client:
    Counting.invoked = 0
    return Client(Gateway(Counting(template.load()), Verifier(key_file), {}))


def _token(key_file: Path, **headers: str) -> str:
    token = auth.mint("m-1", "member", key_file=key_file)
    if not headers:
        return token
    claims = jwt.decode(token, options={"verify_signature": False})
    key = auth._load_or_create_key(key_file)
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def test_a_body_over_10_mb_is_refused_before_any_function_runs(
    client: Client, key_file: Path
) -> None:
    reply = client.post(
        "/sessions",
        data=b"{" + b" " * MAX_BODY_BYTES + b"}",
        headers={"Authorization": f"Bearer {_token(key_file)}"},
        content_type="application/json",
    )

    assert reply.status_code == 413
    assert reply.json["code"] == "PAYLOAD_TOO_LARGE"
    assert Counting.invoked == 0


def test_a_request_over_lambda_s_6_mb_payload_is_refused(client: Client, key_file: Path) -> None:
    reply = client.post(
        "/sessions",
        data=b'{"x": "' + b"a" * MAX_INVOKE_PAYLOAD_BYTES + b'"}',
        headers={"Authorization": f"Bearer {_token(key_file)}"},
        content_type="application/json",
    )

    assert reply.status_code == 413
    assert reply.json["code"] == "PAYLOAD_TOO_LARGE"
    assert Counting.invoked == 0


def test_a_body_under_the_limits_reaches_its_function(client: Client, key_file: Path) -> None:
    reply = client.post(
        "/sessions",
        data=b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
        headers={"Authorization": f"Bearer {_token(key_file)}"},
        content_type="application/json",
    )

    assert reply.status_code == 204
    assert Counting.invoked == 1


@pytest.mark.parametrize("kid", ["local-2", "", "../local-1"])
def test_a_token_under_a_key_id_the_issuer_never_used_is_unauthenticated(
    client: Client, key_file: Path, kid: str
) -> None:
    reply = client.get(
        "/sessions", headers={"Authorization": f"Bearer {_token(key_file, kid=kid)}"}
    )

    assert reply.status_code == 401
    assert reply.json["code"] == "UNAUTHENTICATED"
    assert Counting.invoked == 0


def test_a_token_without_a_key_id_is_unauthenticated(client: Client, key_file: Path) -> None:
    token = auth.mint("m-1", "member", key_file=key_file)
    claims = jwt.decode(token, options={"verify_signature": False})
    unnamed = jwt.encode(claims, auth._load_or_create_key(key_file), algorithm="RS256")

    reply = client.get("/sessions", headers={"Authorization": f"Bearer {unnamed}"})

    assert reply.status_code == 401
    assert Counting.invoked == 0
