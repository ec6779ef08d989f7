"""What a balance may become, and which account an id names before anything is stored for it."""

import pytest

from coaching import rules
from coaching.errors import InsufficientCredits, ValidationFailed
from coaching.models import MAX_BALANCE, AccountKind, EntryKind
from tests.builders import MEMBER, group_account, personal_account


@pytest.mark.parametrize("kind", list(EntryKind))
def test_no_movement_takes_a_balance_below_zero(kind: EntryKind) -> None:
    account = personal_account(balance=3)

    rules.require_balance_allows(account, kind, -3)  # down to zero exactly
    with pytest.raises(InsufficientCredits) as refused:
        rules.require_balance_allows(account, kind, -4)

    assert "holds 3 credits" in refused.value.detail
    assert "needs 4" in refused.value.detail


def test_a_grant_stops_at_the_cap() -> None:
    account = personal_account(balance=MAX_BALANCE - 5)

    rules.require_balance_allows(account, EntryKind.GRANT, 5)
    with pytest.raises(ValidationFailed) as refused:
        rules.require_balance_allows(account, EntryKind.GRANT, 6)

    assert [e.field for e in refused.value.errors] == ["credits"]


@pytest.mark.parametrize("kind", [EntryKind.REFUND, EntryKind.RELEASE])
def test_credits_coming_back_are_never_refused_for_the_cap(kind: EntryKind) -> None:
    account = personal_account(balance=MAX_BALANCE)

    rules.require_balance_allows(account, kind, 10)  # no error: they are the member's own


def test_a_members_personal_account_exists_empty_before_it_is_funded() -> None:
    implicit = rules.implicit_account(f"personal-{MEMBER.id}")

    assert implicit is not None
    assert (implicit.kind, implicit.owner_id, implicit.balance, implicit.version) == (
        AccountKind.PERSONAL,
        MEMBER.id,
        0,
        0,
    )


@pytest.mark.parametrize("account_id", ["personal-", "group-acme", "nobody", "xpersonal-ann"])
def test_no_other_id_names_an_account_until_it_is_stored(account_id: str) -> None:
    assert rules.implicit_account(account_id) is None


def test_a_stored_group_account_is_not_implicit() -> None:
    assert rules.implicit_account(group_account().id) is None
