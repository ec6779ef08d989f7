"""Who is calling: the claims of the JWT that API Gateway's authorizer verified.

The role comes from the identity provider's groups (``cognito:groups``), which users cannot
write. A ``role`` or ``custom:role`` claim is read only where the deployment says its provider
lets no user write it (the template's ``TrustRoleClaim``): in a Cognito pool, a custom attribute
that the app client may write would let anyone make themselves support. A token with no known
role is a member's: the least privileged role.

An email address is kept only when the token does not say it is unverified, so that no email is
ever sent to an address its owner has not proven.
"""

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from coaching.errors import Unauthenticated
from coaching.models import Caller, Role

_ROLES = {role.value: role for role in Role}
ROLE_CLAIMS = ("role", "custom:role")
"""Claims read for the role only when the deployment trusts them."""


def _role(claims: Mapping[str, Any], trust_role_claim: bool) -> Role:
    if trust_role_claim:
        for name in ROLE_CLAIMS:
            value = claims.get(name)
            if isinstance(value, str) and value.lower() in _ROLES:
                return _ROLES[value.lower()]
    groups = claims.get("cognito:groups", [])
    if isinstance(groups, str):
        # API Gateway passes list claims as "[a b]" strings.
        groups = groups.strip("[]").replace(",", " ").split()
    if not isinstance(groups, list):
        return Role.MEMBER
    for group in groups:
        if str(group).lower() in _ROLES:
            return _ROLES[str(group).lower()]
    return Role.MEMBER


MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
"""An address no mail system takes is no address (RFC 5321's path limit)."""


def _name(claims: Mapping[str, Any]) -> str | None:
    """The token's name, cut to what a session keeps (its item stays bounded)."""
    name = claims.get("name")
    return name[:MAX_NAME_LENGTH] if isinstance(name, str) and name else None


def _email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or not email or len(email) > MAX_EMAIL_LENGTH:
        return None
    # API Gateway passes booleans on as strings; a provider that does not say is believed.
    verified = claims.get("email_verified")
    if verified is False or (isinstance(verified, str) and verified.strip().lower() == "false"):
        return None
    return email


def _zone(claims: Mapping[str, Any]) -> str:
    zone = claims.get("zoneinfo")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return "UTC"
        return zone
    return "UTC"


def caller_from_claims(
    claims: Mapping[str, Any] | None, *, trust_role_claim: bool = False
) -> Caller:
    if not claims or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthenticated("A signed-in user is required.")
    try:
        return Caller(
            id=claims["sub"],
            role=_role(claims, trust_role_claim),
            email=_email(claims),
            name=_name(claims),
            timezone=_zone(claims),
        )
    except ValidationError as error:  # a subject no id of ours can be: not a user we know
        raise Unauthenticated("The token's subject is not a valid user id.") from error
