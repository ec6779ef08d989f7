"""Claims on emails, in ``EmailsTable``: the conditional writes that send each email once.

One item per email, keyed by the notification's claim key (``pk`` = session id, version, kind
and recipient side): the same change redelivered by the stream finds the same item.

  status       SENDING, then SENT or FAILED (both final)
  lease_owner  who holds a SENDING claim: a fresh token for every attempt
  lease_until  epoch seconds; once past, another attempt may take the claim over
  attempts     how many times the claim was taken
  message_id   SES's id for the email, once SENT
  error_code   why it FAILED: SES's code for a permanent refusal
  session_id, kind, audience   what the email is about (ids only, no personal data)
  ttl          epoch seconds: DynamoDB deletes the claim 30 days on, long after the stream
               (24 hours) could deliver its record again

Taking a claim is one conditional write that succeeds only when no claim exists or the one that
does is a SENDING claim whose lease has run out, so two invocations can never both hold it.
Marking it SENT or FAILED is conditioned on still holding it, so an attempt that lost its lease
cannot overwrite what the attempt that took over recorded.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from coaching.storage.dynamodb import ConditionFailed, aws_errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

CLAIM_TTL = timedelta(days=30)

_NAMES = {"#status": "status", "#ttl": "ttl", "#kind": "kind"}
_TAKE_TRIES = 3


class ClaimStatus(StrEnum):
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Claim:
    """A claim this attempt holds until ``lease_until``."""

    key: str
    owner: str
    lease_until: float
    attempt: int


@dataclass(frozen=True)
class Held:
    """The claim was not ours to take: already settled, or leased to another attempt."""

    key: str
    status: ClaimStatus
    lease_until: float | None = None

    @property
    def settled(self) -> bool:
        """SENT or FAILED: nothing is left to do for this email, ever."""
        return self.status is not ClaimStatus.SENDING


@dataclass(frozen=True)
class StoredClaim:
    key: str
    status: ClaimStatus
    attempts: int
    session_id: str
    kind: str
    audience: str
    ttl: int
    lease_until: float | None = None
    message_id: str | None = None
    error_code: str | None = None


def _number(value: float) -> dict[str, str]:
    return {"N": f"{value:.3f}"}


class EmailClaims:
    def __init__(self, client: "DynamoDBClient", table: str) -> None:
        self._db = client
        self.table = table

    def take(
        self,
        key: str,
        *,
        owner: str,
        now: float,
        lease_seconds: float,
        session_id: str,
        kind: str,
        audience: str,
    ) -> Claim | Held:
        """Claim the email for ``lease_seconds``, unless it is settled or leased to another."""
        until = now + lease_seconds
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": (
                "SET #status = :sending, lease_owner = :owner, lease_until = :until, "
                "session_id = :session, #kind = :kind, audience = :audience, "
                "claimed_at = :now, #ttl = :ttl ADD attempts :one"
            ),
            "ConditionExpression": (
                "attribute_not_exists(pk) OR (#status = :sending AND lease_until < :now)"
            ),
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": {
                ":sending": {"S": ClaimStatus.SENDING.value},
                ":owner": {"S": owner},
                ":until": _number(until),
                ":session": {"S": session_id},
                ":kind": {"S": kind},
                ":audience": {"S": audience},
                ":now": _number(now),
                ":ttl": {"N": str(int(now + CLAIM_TTL.total_seconds()))},
                ":one": {"N": "1"},
            },
            "ReturnValues": "UPDATED_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        for _ in range(_TAKE_TRIES):
            try:
                with aws_errors():
                    response = self._db.update_item(**request)
            except ConditionFailed as failed:
                item = failed.item
                found = self._read(key) if item is None else _stored(key, item)
                if found is None:
                    continue  # gone between the write and the read (its TTL): try again
                return Held(key=key, status=found.status, lease_until=found.lease_until)
            attempts = int(response.get("Attributes", {}).get("attempts", {}).get("N", "1"))
            return Claim(key=key, owner=owner, lease_until=until, attempt=attempts)
        # It keeps appearing and vanishing: treat it as busy, so the record is tried again.
        return Held(key=key, status=ClaimStatus.SENDING, lease_until=until)

    def mark_sent(self, claim: Claim, message_id: str, now: float) -> bool:
        """Settle the claim as SENT; False when this attempt no longer held it."""
        return self._settle(
            claim, ClaimStatus.SENT, now, "message_id = :detail", {":detail": {"S": message_id}}
        )

    def mark_failed(self, claim: Claim, error_code: str, now: float) -> bool:
        """Settle the claim as FAILED for good (a permanent refusal, sent to the DLQ)."""
        return self._settle(
            claim, ClaimStatus.FAILED, now, "error_code = :detail", {":detail": {"S": error_code}}
        )

    def release(self, claim: Claim) -> bool:
        """Give the lease up early, so that a retry need not wait for it to run out."""
        try:
            with aws_errors():
                self._db.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": claim.key}},
                    UpdateExpression="SET lease_until = :zero REMOVE lease_owner",
                    ConditionExpression="#status = :sending AND lease_owner = :owner",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":zero": {"N": "0"},
                        ":sending": {"S": ClaimStatus.SENDING.value},
                        ":owner": {"S": claim.owner},
                    },
                )
        except ConditionFailed:
            return False
        return True

    def read(self, key: str) -> StoredClaim | None:
        return self._read(key)

    def _settle(
        self,
        claim: Claim,
        status: ClaimStatus,
        now: float,
        detail: str,
        values: dict[str, Any],
    ) -> bool:
        try:
            with aws_errors():
                self._db.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": claim.key}},
                    UpdateExpression=f"SET #status = :final, settled_at = :now, {detail} "
                    "REMOVE lease_owner, lease_until",
                    ConditionExpression="#status = :sending AND lease_owner = :owner",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":final": {"S": status.value},
                        ":now": _number(now),
                        ":sending": {"S": ClaimStatus.SENDING.value},
                        ":owner": {"S": claim.owner},
                        **values,
                    },
                )
        except ConditionFailed:
            return False
        return True

    def _read(self, key: str) -> StoredClaim | None:
        with aws_errors():
            response = self._db.get_item(
                TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None else _stored(key, item)


def _stored(key: str, item: dict[str, Any]) -> StoredClaim:
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else str(value["S"])

    def number(name: str) -> Decimal | None:
        value = item.get(name)
        return None if value is None else Decimal(value["N"])

    lease_until = number("lease_until")
    return StoredClaim(
        key=key,
        status=ClaimStatus(text("status") or ClaimStatus.SENDING.value),
        attempts=int(number("attempts") or 0),
        session_id=text("session_id") or "",
        kind=text("kind") or "",
        audience=text("audience") or "",
        ttl=int(number("ttl") or 0),
        lease_until=None if lease_until is None else float(lease_until),
        message_id=text("message_id"),
        error_code=text("error_code"),
    )
