"""Whose sessions GET /sessions lists: the caller's own, or for support the one it names."""

import pytest

from coaching import rules
from coaching.errors import Forbidden, ValidationFailed
from coaching.models import Caller, Role

MEMBER = Caller(id="m-1", role=Role.MEMBER)
COACH = Caller(id="c-1", role=Role.COACH)
SUPPORT = Caller(id="s-1", role=Role.SUPPORT)
ADMIN = Caller(id="a-1", role=Role.ADMIN)


def test_members_and_coaches_list_their_own() -> None:
    assert rules.session_listing(MEMBER, None, None) == rules.Listing("member", "m-1")
    assert rules.session_listing(COACH, None, None) == rules.Listing("coach", "c-1")


def test_support_lists_the_member_or_coach_it_names() -> None:
    assert rules.session_listing(SUPPORT, "m-9", None) == rules.Listing("member", "m-9")
    assert rules.session_listing(SUPPORT, None, "c-9") == rules.Listing("coach", "c-9")
    assert rules.session_listing(SUPPORT, "m-9", "c-9") == rules.Listing(
        "member", "m-9", with_coach="c-9"
    )


def test_support_must_name_someone() -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.session_listing(SUPPORT, None, None)

    assert {e.field for e in refused.value.errors} == {"member_id", "coach_id"}


@pytest.mark.parametrize(
    ("caller", "member_id", "coach_id"),
    [
        (ADMIN, None, None),
        (ADMIN, "m-1", None),
        (MEMBER, "m-1", None),
        (MEMBER, None, "c-1"),
        (COACH, None, "c-1"),
        (COACH, "m-1", None),
    ],
)
def test_nobody_else_may_name_whose_sessions(
    caller: Caller, member_id: str | None, coach_id: str | None
) -> None:
    with pytest.raises(Forbidden):
        rules.session_listing(caller, member_id, coach_id)
