"""Who the caller is: the role from the provider's groups, a role claim only when trusted, and
an email address only when the token does not call it unverified."""

from typing import Any

import pytest

from coaching.errors import Unauthenticated
from coaching.models import Role
from coaching.settings import Settings
from coaching.web.identity import caller_from_claims
from local import template


def _claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "u-1", **extra}


@pytest.mark.parametrize(
    "groups",
    [["support"], "[support]", "[nobody support member]", ["Support"]],
    ids=["a list", "as API Gateway passes it", "the first known, in precedence order", "any case"],
)
def test_the_role_comes_from_the_groups(groups: Any) -> None:
    assert caller_from_claims(_claims(**{"cognito:groups": groups})).role is Role.SUPPORT


@pytest.mark.parametrize("claim", ["role", "custom:role"])
def test_a_role_claim_is_ignored_unless_trusted(claim: str) -> None:
    claims = _claims(**{claim: "support"})

    assert caller_from_claims(claims).role is Role.MEMBER
    assert caller_from_claims(claims, trust_role_claim=True).role is Role.SUPPORT


def test_a_role_claim_cannot_raise_a_caller_above_their_groups_by_default() -> None:
    claims = _claims(**{"cognito:groups": "[coach]", "custom:role": "admin"})

    assert caller_from_claims(claims).role is Role.COACH


@pytest.mark.parametrize("groups", [None, [], "[]", "[nobody]", 7])
def test_no_known_group_is_a_member(groups: Any) -> None:
    assert caller_from_claims(_claims(**{"cognito:groups": groups})).role is Role.MEMBER


@pytest.mark.parametrize("verified", [False, "false", "False"])
def test_an_unverified_email_is_not_kept(verified: Any) -> None:
    caller = caller_from_claims(_claims(email="ann@example.com", email_verified=verified))

    assert caller.email is None
    assert caller.as_person().email is None  # so no session stores it, and no email goes to it


@pytest.mark.parametrize("verified", [True, "true", None])
def test_a_verified_or_unqualified_email_is_kept(verified: Any) -> None:
    claims = _claims(email="ann@example.com")
    if verified is not None:
        claims["email_verified"] = verified

    assert caller_from_claims(claims).email == "ann@example.com"


@pytest.mark.parametrize("sub", ["", None, "has spaces", "x" * 200])
def test_a_subject_that_is_no_user_id_is_not_signed_in(sub: Any) -> None:
    with pytest.raises(Unauthenticated):
        caller_from_claims({"sub": sub})


def test_the_setting_is_off_unless_the_environment_says_true() -> None:
    assert Settings.model_validate({}).trust_role_claim is False
    assert Settings.model_validate({"TRUST_ROLE_CLAIM": "false"}).trust_role_claim is False
    assert Settings.model_validate({"TRUST_ROLE_CLAIM": "true"}).trust_role_claim is True


def test_the_template_trusts_no_role_claim_by_default_and_tells_every_function() -> None:
    loaded = template.load()
    variables = loaded["Globals"]["Function"]["Environment"]["Variables"]

    assert loaded["Parameters"]["TrustRoleClaim"]["Default"] == "false"
    assert variables["TRUST_ROLE_CLAIM"] == {"Ref": "TrustRoleClaim"}


def test_a_name_is_kept_to_200_characters_and_an_overlong_address_is_no_address() -> None:
    caller = caller_from_claims(
        {"sub": "m-1", "name": "N" * 5000, "email": "a" * 250 + "@example.com"}
    )

    assert caller.name == "N" * 200
    assert caller.email is None
