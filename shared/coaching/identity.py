"""Who is calling: the claims of the JWT that API Gateway's authorizer verified.

Roles come from one place: a ``role`` (or ``custom:role``) claim, else the first known role in
``cognito:groups``, so that Cognito groups or any OIDC provider's custom claim both work. A token
with no role claim is a member's: the least privileged role.
"""

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coaching.errors import Unauthenticated
from coaching.models import Caller, Role

_ROLES = {role.value: role for role in Role}


def _role(claims: Mapping[str, Any]) -> Role:
    for name in ("role", "custom:role"):
        value = claims.get(name)
        if isinstance(value, str) and value.lower() in _ROLES:
            return _ROLES[value.lower()]
    groups = claims.get("cognito:groups", [])
    if isinstance(groups, str):
        # API Gateway passes list claims as "[a b]" strings.
        groups = groups.strip("[]").replace(",", " ").split()
    for group in groups:
        if str(group).lower() in _ROLES:
            return _ROLES[str(group).lower()]
    return Role.MEMBER


def _zone(claims: Mapping[str, Any]) -> str:
    zone = claims.get("zoneinfo")
    if isinstance(zone, str):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return "UTC"
        return zone
    return "UTC"


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    if not claims or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthenticated("A signed-in user is required.")
    return Caller(
        id=claims["sub"],
        role=_role(claims),
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        timezone=_zone(claims),
    )
