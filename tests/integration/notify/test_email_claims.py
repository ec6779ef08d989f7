"""The claim store: one holder at a time, leases that run out, and settled claims that stay so."""

import boto3
import pytest

from coaching.storage import Storage
from coaching.storage.email_claims import Claim, ClaimStatus, EmailClaims, Held

KEY = "session-1#2#CANCELED#coach"
T = 1_800_000_000.0
"""An instant, in epoch seconds; the store compares the times it is given, never its own."""


@pytest.fixture
def claims(store: Storage) -> EmailClaims:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return EmailClaims(client, store.settings.emails_table)


def take(claims: EmailClaims, owner: str, now: float) -> Claim | Held:
    return claims.take(
        KEY,
        owner=owner,
        now=now,
        lease_seconds=45,
        session_id="session-1",
        kind="CANCELED",
        audience="coach",
    )


def test_a_live_lease_keeps_others_out_until_it_runs_out(claims: EmailClaims) -> None:
    first = take(claims, "a", T)
    during = take(claims, "b", T + 44)
    after = take(claims, "b", T + 46)

    assert isinstance(first, Claim) and first.attempt == 1
    assert during == Held(key=KEY, status=ClaimStatus.SENDING, lease_until=T + 45)
    assert isinstance(after, Claim) and after.attempt == 2


def test_a_holder_that_lost_its_lease_cannot_settle_the_claim(claims: EmailClaims) -> None:
    late = take(claims, "a", T)
    current = take(claims, "b", T + 50)
    assert isinstance(late, Claim) and isinstance(current, Claim)

    assert not claims.mark_sent(late, "from-a", T + 51)
    assert claims.mark_sent(current, "from-b", T + 52)

    stored = claims.read(KEY)
    assert stored is not None
    assert (stored.status, stored.message_id, stored.lease_until) == (
        ClaimStatus.SENT,
        "from-b",
        None,
    )


@pytest.mark.parametrize("status", [ClaimStatus.SENT, ClaimStatus.FAILED])
def test_a_settled_claim_is_never_taken_again(claims: EmailClaims, status: ClaimStatus) -> None:
    claim = take(claims, "a", T)
    assert isinstance(claim, Claim)
    if status is ClaimStatus.SENT:
        claims.mark_sent(claim, "m-1", T + 1)
    else:
        claims.mark_failed(claim, "MessageRejected", T + 1)

    again = take(claims, "b", T + 10_000)

    assert again == Held(key=KEY, status=status, lease_until=None)
    assert isinstance(again, Held) and again.settled
    stored = claims.read(KEY)
    assert stored is not None and stored.attempts == 1
    assert stored.error_code == ("MessageRejected" if status is ClaimStatus.FAILED else None)


def test_a_released_claim_is_free_at_once_and_only_its_holder_can_release_it(
    claims: EmailClaims,
) -> None:
    claim = take(claims, "a", T)
    assert isinstance(claim, Claim)
    impostor = Claim(key=KEY, owner="b", lease_until=T + 45, attempt=1)

    assert not claims.release(impostor)
    assert claims.release(claim)
    assert isinstance(take(claims, "b", T + 1), Claim)
