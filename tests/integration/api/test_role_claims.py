"""A role claim a user might write makes nobody support unless the deployment trusts it."""

import pytest

from coaching import runtime
from tests.api_client import Api
from tests.builders import World, member

from .api_steps import assert_ok, assert_problem


def _someone_elses_session(world: World) -> str:
    alice = member()
    world.fund(alice, 10)
    return world.book(alice, world.service(credits=3)).id


def test_a_role_claim_alone_does_not_make_a_member_support(api: Api, world: World) -> None:
    session_id = _someone_elses_session(world)
    claims = {"sub": "mallory", "role": "support", "custom:role": "support"}

    reply = api.get(None, f"/sessions/{session_id}", claims=claims)

    assert_problem(reply, 404, "NOT_FOUND")  # as a member, someone else's session is not there


def test_the_support_group_is_support(api: Api, world: World) -> None:
    session_id = _someone_elses_session(world)

    reply = api.get(
        None, f"/sessions/{session_id}", claims={"sub": "sam", "cognito:groups": "[support]"}
    )

    assert assert_ok(reply)["id"] == session_id


def test_a_trusted_role_claim_is_honoured(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = _someone_elses_session(world)
    monkeypatch.setenv("TRUST_ROLE_CLAIM", "true")
    runtime.reset()  # settings are read once per cold start

    reply = api.get(
        None, f"/sessions/{session_id}", claims={"sub": "sam", "custom:role": "support"}
    )

    assert assert_ok(reply)["id"] == session_id
