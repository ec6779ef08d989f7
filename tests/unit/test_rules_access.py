"""Who may see and touch what: a session's member, its coach and support see it; anyone else is
told it does not exist. Accounts: owners, members, admins and support.
"""

import pytest

from coaching import rules
from coaching.errors import DomainError, Forbidden, NotFound
from coaching.models import Account, Caller, Role
from tests.builders import (
    ADMIN,
    CALLERS,
    COACH,
    MEMBER,
    OTHER_MEMBER,
    STAFF,
    STRANGERS,
    SUPPORT,
    VISIBLE,
    group_account,
    personal_account,
    session,
)

# --- sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("member", "member"),
        ("coach", "coach"),
        ("support", "support"),
        ("admin", None),
        ("other_member", None),
        ("other_coach", None),
    ],
)
def test_relation_names_how_each_caller_stands_to_the_session(
    who: str, expected: str | None
) -> None:
    assert rules.relation(CALLERS[who], session()) == expected


def test_support_stands_as_support_to_every_session() -> None:
    # Given a session between two people support has never met
    someone_elses = session(member=OTHER_MEMBER, coach=Caller(id="coach-eve", role=Role.COACH))

    # Then support still sees it, as support
    assert rules.relation(SUPPORT, someone_elses) == "support"


@pytest.mark.parametrize(
    "caller",
    [
        Caller(id=MEMBER.id, role=Role.COACH),
        Caller(id=COACH.id, role=Role.MEMBER),
        Caller(id=MEMBER.id, role=Role.ADMIN),
        Caller(id=COACH.id, role=Role.ADMIN),
    ],
    ids=["member-id-as-coach", "coach-id-as-member", "member-id-as-admin", "coach-id-as-admin"],
)
def test_an_id_only_counts_with_the_role_it_holds_in_the_session(caller: Caller) -> None:
    # Given a token whose id matches one side of the session but whose role is another
    # Then it is a stranger to the session
    assert rules.relation(caller, session()) is None
    with pytest.raises(NotFound):
        rules.require_visible(caller, session())


@pytest.mark.parametrize("who", VISIBLE)
def test_require_visible_answers_the_relation_to_those_it_concerns(who: str) -> None:
    assert rules.require_visible(CALLERS[who], session()) == who


@pytest.mark.parametrize("who", STRANGERS)
def test_require_visible_answers_404_to_everyone_else(who: str) -> None:
    with pytest.raises(NotFound) as raised:
        rules.require_visible(CALLERS[who], session())

    assert raised.value.code == "NOT_FOUND"
    assert raised.value.status == 404
    assert raised.value.detail == "No such session."


@pytest.mark.parametrize("who", STAFF)
def test_require_staff_lets_the_coach_and_support_act(who: str) -> None:
    assert rules.require_staff(CALLERS[who], session(), "refund a session") == who


def test_require_staff_forbids_the_member_who_can_see_the_session() -> None:
    with pytest.raises(Forbidden) as raised:
        rules.require_staff(MEMBER, session(), "refund a session")

    assert raised.value.code == "FORBIDDEN"
    assert raised.value.status == 403
    assert "refund a session" in raised.value.detail


@pytest.mark.parametrize("who", STRANGERS)
def test_require_staff_answers_404_not_403_to_strangers(who: str) -> None:
    # A 403 would tell a stranger that the session exists.
    with pytest.raises(NotFound):
        rules.require_staff(CALLERS[who], session(), "refund a session")


# --- accounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("member", True),
        ("support", True),
        ("coach", False),
        ("admin", False),
        ("other_member", False),
        ("other_coach", False),
    ],
)
def test_a_personal_account_is_seen_by_its_owner_and_support(who: str, expected: bool) -> None:
    assert rules.can_view_account(CALLERS[who], personal_account(MEMBER)) is expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("member", True),
        ("admin", True),
        ("support", True),
        ("coach", False),
        ("other_member", False),
        ("other_coach", False),
    ],
)
def test_a_group_account_is_seen_by_its_members_admins_and_support(
    who: str, expected: bool
) -> None:
    assert rules.can_view_account(CALLERS[who], group_account()) is expected


def test_an_admin_of_another_group_does_not_see_this_one() -> None:
    other_admin = Caller(id="admin-zed", role=Role.ADMIN)
    assert rules.can_view_account(other_admin, group_account()) is False


@pytest.mark.parametrize("who", ["admin", "support"])
def test_a_groups_admins_and_support_may_grant_to_it(who: str) -> None:
    rules.require_can_grant(CALLERS[who], group_account())


def test_support_may_grant_to_a_members_personal_account() -> None:
    rules.require_can_grant(SUPPORT, personal_account(MEMBER))


@pytest.mark.parametrize(
    ("who", "account", "error", "code"),
    [
        # Visible but not theirs to fund: 403.
        ("member", "group", Forbidden, "FORBIDDEN"),
        ("member", "personal", Forbidden, "FORBIDDEN"),
        # Not visible at all: 404, as if the account did not exist.
        ("admin", "personal", NotFound, "NOT_FOUND"),
        ("coach", "group", NotFound, "NOT_FOUND"),
        ("coach", "personal", NotFound, "NOT_FOUND"),
        ("other_member", "group", NotFound, "NOT_FOUND"),
        ("other_member", "personal", NotFound, "NOT_FOUND"),
        ("other_coach", "group", NotFound, "NOT_FOUND"),
    ],
)
def test_everyone_else_is_refused_a_grant(
    who: str, account: str, error: type[DomainError], code: str
) -> None:
    target = group_account() if account == "group" else personal_account(MEMBER)

    with pytest.raises(error) as raised:
        rules.require_can_grant(CALLERS[who], target)

    assert raised.value.code == code


def test_an_admin_must_administer_the_group_to_grant_to_it() -> None:
    # Given an admin who only belongs to the group as a member
    pool = group_account(member_ids=[MEMBER.id, ADMIN.id], admin_ids=["admin-zed"])

    # When they grant, they see the account but may not fund it
    with pytest.raises(Forbidden):
        rules.require_can_grant(ADMIN, pool)


def test_being_listed_as_an_admin_needs_the_admin_role_to_grant() -> None:
    # Given a member whose id someone put in the group's admin list
    pool = group_account(admin_ids=[MEMBER.id])

    # Then they can read the account, but a grant needs the admin role too
    assert rules.can_view_account(MEMBER, pool) is True
    with pytest.raises(Forbidden):
        rules.require_can_grant(MEMBER, pool)


def test_a_member_spends_from_their_personal_account() -> None:
    rules.require_can_spend(MEMBER, personal_account(MEMBER))


def test_a_member_spends_from_a_group_they_belong_to() -> None:
    rules.require_can_spend(MEMBER, group_account())


@pytest.mark.parametrize(
    ("caller", "account"),
    [
        (OTHER_MEMBER, personal_account(MEMBER)),
        (OTHER_MEMBER, group_account()),
        # Running the pool is not belonging to it.
        (ADMIN, group_account()),
        (MEMBER, group_account(member_ids=[], admin_ids=[MEMBER.id])),
    ],
    ids=["someone-elses-personal", "group-not-joined", "admin-of-group", "listed-only-as-admin"],
)
def test_nobody_spends_from_an_account_they_do_not_belong_to(
    caller: Caller, account: Account
) -> None:
    with pytest.raises(NotFound) as raised:
        rules.require_can_spend(caller, account)

    assert raised.value.code == "NOT_FOUND"
