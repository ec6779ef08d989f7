"""Webhook endpoints and their deliveries (WebhooksTable; keys in ``keys``).

The API changes endpoints in transactions (``Table._write``), so that a request's
Idempotency-Key record commits with the change, each on the endpoint's version as read; an
admin's endpoint count lives on an owner item written in the same transaction, so the limit
holds under racing requests. The delivery function writes single conditional updates:

- A delivery is created once per event and endpoint: a put conditioned on its absence (a
  redelivered event finds it there), already claimed for its first attempt.
- A claim is a lease, ``lease_owner`` and ``lease_until`` (epoch seconds of real time: a lease
  measures how long an attempt may run, which moving the functions' clock does not change).
  Claiming a retry is a conditional update (PENDING, due, no live lease) that counts the
  attempt and moves the delivery in the Due index to the end of its lease, so an attempt that
  dies is found again once the lease is over.
- An outcome is written only while the lease is still the attempt's own.
- While a retry waits, the delivery is in the sparse Due index at its next attempt (``due_pk``,
  ``due_at``); a first attempt is not, which spares every delivery that succeeds at once two
  index writes. A first attempt that dies is found again by its event, which the queue brings
  back because the batch it was in never reported success.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from coaching.errors import ValidationFailed
from coaching.settings import Settings
from coaching.storage import keys
from coaching.storage.codec import from_item, only_fields, to_item
from coaching.storage.dynamodb import ConditionFailed, Table, Transaction, aws_errors, put
from coaching.storage.keys import iso
from coaching.storage.page_tokens import decode_token
from coaching.webhook_models import (
    DELIVERIES_KEPT,
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
    EndpointStatus,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

ENDPOINTS_INDEX = "Endpoints"
DUE_INDEX = "Due"


@dataclass(frozen=True)
class Found:
    """A delivery as stored, with what the delivery function's conditions look at."""

    delivery: Delivery
    lease_until: float | None
    scheduled: bool
    """In the Due index: a retry waits for it (or a claimed retry is under way)."""


def _seconds(value: float) -> Decimal:
    return Decimal(f"{value:.3f}")


class WebhookStore(Table):
    def __init__(self, client: "DynamoDBClient", settings: Settings) -> None:
        super().__init__(client, settings)
        self.webhooks_table = settings.webhooks_table

    # --- endpoints: the API ---------------------------------------------------------------------

    def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        item = self._get(self.webhooks_table, keys.webhook(endpoint_id))
        return None if item is None else _endpoint(item)

    def endpoint_count(self, owner_id: str) -> int:
        """How many endpoints the admin has now (strongly consistent)."""
        item = self._get(self.webhooks_table, keys.webhook_owner(owner_id))
        return 0 if item is None else int(item.get("endpoints", 0))

    def create_endpoint(self, endpoint: Endpoint, counted: int, result: object) -> None:
        """The endpoint, and its owner's count raised from the ``counted`` read before."""
        tx = Transaction()
        tx.add(
            "webhook",
            put(self.webhooks_table, _endpoint_item(endpoint), "attribute_not_exists(pk)"),
        )
        tx.add(
            "webhook-owner",
            {
                "Update": {
                    "TableName": self.webhooks_table,
                    "Key": to_item(keys.webhook_owner(endpoint.owner_id)),
                    "UpdateExpression": "SET endpoints = :next",
                    "ConditionExpression": "attribute_not_exists(pk) OR endpoints = :counted",
                    "ExpressionAttributeValues": to_item(
                        {":next": counted + 1, ":counted": counted}
                    ),
                }
            },
        )
        self._write(tx, result)

    def update_endpoint(self, before: Endpoint, after: Endpoint, result: object) -> None:
        """Write the fields the API changed, on the version it read (``after`` has the next)."""
        old = before.model_dump(mode="json", exclude={"version"})
        new = after.model_dump(mode="json", exclude={"version"})
        names: dict[str, str] = {"#version": "version"}
        values: dict[str, Any] = {":seen": before.version, ":next": after.version}
        sets, removes = ["#version = :next"], []
        for number, field in enumerate(sorted(k for k in new if new[k] != old.get(k))):
            names[f"#f{number}"] = field
            if new[field] is None:
                removes.append(f"#f{number}")
            else:
                sets.append(f"#f{number} = :f{number}")
                values[f":f{number}"] = new[field]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        tx = Transaction()
        tx.add(
            "webhook",
            {
                "Update": {
                    "TableName": self.webhooks_table,
                    "Key": to_item(keys.webhook(before.id)),
                    "UpdateExpression": expression,
                    "ConditionExpression": "#version = :seen",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": to_item(values),
                }
            },
        )
        self._write(tx, result)

    def delete_endpoint(self, endpoint: Endpoint) -> None:
        """The endpoint goes, and its owner's count with it; its deliveries age out (TTL)."""
        tx = Transaction()
        tx.add(
            "webhook",
            {
                "Delete": {
                    "TableName": self.webhooks_table,
                    "Key": to_item(keys.webhook(endpoint.id)),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        )
        tx.add(
            "webhook-owner",
            {
                "Update": {
                    "TableName": self.webhooks_table,
                    "Key": to_item(keys.webhook_owner(endpoint.owner_id)),
                    "UpdateExpression": "ADD endpoints :minus",
                    "ConditionExpression": "endpoints > :zero",
                    "ExpressionAttributeValues": to_item({":minus": -1, ":zero": 0}),
                }
            },
        )
        self._write(tx, None)

    def endpoints(
        self, owner_id: str | None, limit: int, token: str | None
    ) -> tuple[list[Endpoint], str | None]:
        """A page of endpoints, oldest first: one owner's, or (None) everyone's by owner."""
        prefix = keys.owners_webhooks(owner_id) if owner_id is not None else ""
        names = {"pk", "sk", "list_pk", "list_sk"}
        if token is not None:
            start = decode_token(token, {"list_pk": keys.WEBHOOKS_PARTITION}, names)
            if not str(start["list_sk"]["S"]).startswith(prefix):
                raise ValidationFailed.on("next_token", "is not a token this API gave out")
        condition = "list_pk = :p" + (" AND begins_with(list_sk, :o)" if prefix else "")
        values = {":p": {"S": keys.WEBHOOKS_PARTITION}}
        if prefix:
            values[":o"] = {"S": prefix}
        return self._query(
            self.webhooks_table,
            index=ENDPOINTS_INDEX,
            key_condition=condition,
            names=None,
            values=values,
            forward=True,
            limit=limit,
            token=token,
            token_keys={"list_pk": keys.WEBHOOKS_PARTITION},
            key_names=names,
            read=_endpoint,
        )

    # --- endpoints: the delivery function -------------------------------------------------------

    def all_endpoints(self) -> list[Endpoint]:
        """Every endpoint, from the Endpoints index (eventually consistent: an endpoint changed
        a moment ago may still read as it was)."""
        found: list[Endpoint] = []
        kwargs: dict[str, Any] = {
            "TableName": self.webhooks_table,
            "IndexName": ENDPOINTS_INDEX,
            "KeyConditionExpression": "list_pk = :p",
            "ExpressionAttributeValues": {":p": {"S": keys.WEBHOOKS_PARTITION}},
        }
        while True:
            with aws_errors():
                response = self._db.query(**kwargs)
            found += [_endpoint(from_item(item)) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def mark_failing(self, endpoint_id: str, since: datetime) -> None:
        """Note when the endpoint started failing, unless it is noted already."""
        self._update_endpoint(
            endpoint_id,
            "SET failing_since = if_not_exists(failing_since, :since)",
            "attribute_exists(pk)",
            {":since": iso(since)},
        )

    def clear_failing(self, endpoint_id: str) -> None:
        self._update_endpoint(
            endpoint_id, "REMOVE failing_since", "attribute_exists(failing_since)", None
        )

    def disable(
        self, endpoint_id: str, reason: DisabledReason, at: datetime, notice: str
    ) -> Endpoint | None:
        """Disable an enabled endpoint, with a notice for its owner to be emailed; None when it
        is disabled already (or gone), so only one disabling sends an email."""
        return self._update_endpoint(
            endpoint_id,
            "SET #status = :disabled, disabled_at = :at, disabled_reason = :reason, "
            "notice = :notice, #version = #version + :one",
            "#status = :enabled",
            {
                ":disabled": EndpointStatus.DISABLED.value,
                ":enabled": EndpointStatus.ENABLED.value,
                ":at": iso(at),
                ":reason": reason.value,
                ":notice": notice,
                ":one": 1,
            },
        )

    def notice_sent(self, endpoint_id: str, notice: str) -> None:
        self._update_endpoint(endpoint_id, "REMOVE notice", "notice = :notice", {":notice": notice})

    def _update_endpoint(
        self,
        endpoint_id: str,
        expression: str,
        condition: str,
        values: Mapping[str, Any] | None,
    ) -> Endpoint | None:
        request: dict[str, Any] = {
            "TableName": self.webhooks_table,
            "Key": to_item(keys.webhook(endpoint_id)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ReturnValues": "ALL_NEW",
        }
        names = {n: n[1:] for n in ("#status", "#version") if n in expression + condition}
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = to_item(values)
        try:
            with aws_errors():
                response = self._db.update_item(**request)
        except ConditionFailed:
            return None
        return _endpoint(from_item(response["Attributes"]))

    # --- deliveries -----------------------------------------------------------------------------

    def get_delivery(self, endpoint_id: str, delivery_id: str) -> Delivery | None:
        item = self._get(self.webhooks_table, keys.delivery(endpoint_id, delivery_id))
        return None if item is None else _delivery(item)

    def deliveries(
        self, endpoint_id: str, limit: int, token: str | None
    ) -> tuple[list[Delivery], str | None]:
        """An endpoint's deliveries, newest event first."""
        partition = keys.webhook_partition(endpoint_id)
        if token is not None:
            start = decode_token(token, {"pk": partition}, {"pk", "sk"})
            if not str(start["sk"]["S"]).startswith(keys.DELIVERY_PREFIX):
                raise ValidationFailed.on("next_token", "is not a token this API gave out")
        return self._query(
            self.webhooks_table,
            index=None,
            key_condition="pk = :p AND begins_with(sk, :d)",
            names=None,
            values={":p": {"S": partition}, ":d": {"S": keys.DELIVERY_PREFIX}},
            forward=False,
            limit=limit,
            token=token,
            token_keys={"pk": partition},
            key_names={"pk", "sk"},
            read=_delivery,
        )

    def create_delivery(self, delivery: Delivery, owner: str, lease_until: float) -> Found | None:
        """Put a new delivery, claimed by ``owner`` for its first attempt. None when it was
        put; what is stored when the event's delivery to this endpoint exists already."""
        values = delivery.model_dump(mode="json", exclude_none=True)
        values |= {
            **keys.delivery(delivery.endpoint_id, delivery.id),
            "entity": "DELIVERY",
            "lease_owner": owner,
            "lease_until": _seconds(lease_until),
            "ttl": int((delivery.event_time + DELIVERIES_KEPT).timestamp()),
        }
        try:
            with aws_errors():
                self._db.put_item(
                    TableName=self.webhooks_table,
                    Item=to_item(values),
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ConditionFailed as failed:
            if failed.item is not None:
                return _found(from_item(failed.item))
            stored = self._get(
                self.webhooks_table, keys.delivery(delivery.endpoint_id, delivery.id)
            )
            return None if stored is None else _found(stored)
        return None

    def claim(
        self,
        endpoint_id: str,
        delivery_id: str,
        *,
        owner: str,
        lease_until: float,
        real_now: float,
        now: datetime,
        lease_due: datetime,
        orphan: bool = False,
    ) -> Delivery | None:
        """Claim the next attempt of a delivery, counting it; None when it is not ours to try.

        A retry must be due by ``now`` and free of any live lease. An ``orphan`` is a first
        attempt whose invocation died (never scheduled, its lease over), claimed when its event
        comes back. Either way the delivery waits in the Due index until ``lease_due``, for the
        case where this attempt dies too.
        """
        if orphan:
            condition = "#state = :pending AND attribute_not_exists(due_at) AND lease_until < :real"
        else:
            condition = (
                "#state = :pending AND due_at <= :now AND "
                "(attribute_not_exists(lease_until) OR lease_until < :real)"
            )
        values: dict[str, Any] = {
            ":pending": DeliveryState.PENDING.value,
            ":real": _seconds(real_now),
            ":one": 1,
            ":owner": owner,
            ":until": _seconds(lease_until),
            ":due_pk": keys.delivery_due_partition(
                endpoint_id, delivery_id, self.settings.due_shards
            ),
            ":due_at": iso(lease_due),
        }
        if not orphan:
            values[":now"] = iso(now)
        try:
            with aws_errors():
                response = self._db.update_item(
                    TableName=self.webhooks_table,
                    Key=to_item(keys.delivery(endpoint_id, delivery_id)),
                    UpdateExpression="SET attempts = attempts + :one, lease_owner = :owner, "
                    "lease_until = :until, due_pk = :due_pk, due_at = :due_at",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues=to_item(values),
                    ReturnValues="ALL_NEW",
                )
        except ConditionFailed:
            return None
        return _delivery(from_item(response["Attributes"]))

    def settle(self, delivery: Delivery, owner: str) -> bool:
        """Write an attempt's outcome while ``owner`` still holds the lease; False when it no
        longer does (its lease ran out and another attempt took over, or it was retried)."""
        due = delivery.state is DeliveryState.PENDING and delivery.next_attempt_at is not None
        sets = {
            "#state": delivery.state.value,
            "attempts": delivery.attempts,
            "last_attempt_at": iso(delivery.last_attempt_at) if delivery.last_attempt_at else None,
            "last_status": delivery.last_status,
            "last_error": delivery.last_error,
            "next_attempt_at": iso(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        }
        if due and delivery.next_attempt_at is not None:
            sets["due_pk"] = keys.delivery_due_partition(
                delivery.endpoint_id, delivery.id, self.settings.due_shards
            )
            sets["due_at"] = iso(delivery.next_attempt_at)
        removes = ["lease_owner", "lease_until"] + [n for n, v in sets.items() if v is None]
        if not due:
            removes += ["due_pk", "due_at"]
        kept = {name: value for name, value in sets.items() if value is not None}
        placeholders = {name: f":v{number}" for number, name in enumerate(kept)}
        expression = "SET " + ", ".join(f"{n} = {placeholders[n]}" for n in kept)
        expression += " REMOVE " + ", ".join(removes)
        try:
            with aws_errors():
                self._db.update_item(
                    TableName=self.webhooks_table,
                    Key=to_item(keys.delivery(delivery.endpoint_id, delivery.id)),
                    UpdateExpression=expression,
                    ConditionExpression="lease_owner = :owner",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues=to_item(
                        {":owner": owner} | {placeholders[n]: v for n, v in kept.items()}
                    ),
                )
        except ConditionFailed:
            return False
        return True

    def give_up(self, endpoint_id: str, delivery_id: str, error: str, real_now: float) -> bool:
        """A waiting delivery whose endpoint was disabled or deleted: FAILED, out of the index."""
        try:
            with aws_errors():
                self._db.update_item(
                    TableName=self.webhooks_table,
                    Key=to_item(keys.delivery(endpoint_id, delivery_id)),
                    UpdateExpression="SET #state = :failed, last_error = :error "
                    "REMOVE next_attempt_at, due_pk, due_at, lease_owner, lease_until",
                    ConditionExpression="#state = :pending AND "
                    "(attribute_not_exists(lease_until) OR lease_until < :real)",
                    ExpressionAttributeNames={"#state": "state"},
                    ExpressionAttributeValues=to_item(
                        {
                            ":failed": DeliveryState.FAILED.value,
                            ":pending": DeliveryState.PENDING.value,
                            ":error": error,
                            ":real": _seconds(real_now),
                        }
                    ),
                )
        except ConditionFailed:
            return False
        return True

    def retry_now(self, before: Delivery, after: Delivery, result: object) -> None:
        """A manual retry: the delivery waits for an attempt now, whatever lease it had."""
        values: dict[str, Any] = {
            ":pending": DeliveryState.PENDING.value,
            ":seen": before.state.value,
            ":now": iso(after.next_attempt_at) if after.next_attempt_at else None,
            ":final": after.final_attempt,
            ":due_pk": keys.delivery_due_partition(
                before.endpoint_id, before.id, self.settings.due_shards
            ),
        }
        tx = Transaction()
        tx.add(
            "delivery",
            {
                "Update": {
                    "TableName": self.webhooks_table,
                    "Key": to_item(keys.delivery(before.endpoint_id, before.id)),
                    "UpdateExpression": "SET #state = :pending, next_attempt_at = :now, "
                    "due_pk = :due_pk, due_at = :now, final_attempt = :final "
                    "REMOVE lease_owner, lease_until",
                    "ConditionExpression": "#state = :seen",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": to_item(values),
                }
            },
        )
        self._write(tx, result)

    def due(self, partition: str, now: datetime, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` deliveries of one Due partition whose retry is due by ``now``, the
        longest waiting first, as (endpoint id, delivery id)."""
        with aws_errors():
            response = self._db.query(
                TableName=self.webhooks_table,
                IndexName=DUE_INDEX,
                KeyConditionExpression="due_pk = :d AND due_at <= :now",
                ExpressionAttributeValues={":d": {"S": partition}, ":now": {"S": iso(now)}},
                Limit=limit,
            )
        found = []
        for item in response.get("Items", []):
            endpoint_id = item["pk"]["S"].removeprefix("WEBHOOK#")
            delivery_id = item["sk"]["S"].removeprefix(keys.DELIVERY_PREFIX)
            found.append((endpoint_id, delivery_id))
        return found

    def due_partitions(self) -> list[str]:
        return [f"DUE#{n}" for n in range(self.settings.due_shards)]


def _endpoint_item(endpoint: Endpoint) -> dict[str, Any]:
    values = endpoint.model_dump(mode="json", exclude_none=True)
    return values | {
        **keys.webhook(endpoint.id),
        "entity": "WEBHOOK",
        "list_pk": keys.WEBHOOKS_PARTITION,
        "list_sk": keys.webhook_listing(
            endpoint.owner_id, endpoint.created_at, time.time_ns(), endpoint.id
        ),
    }


def _endpoint(item: Mapping[str, Any]) -> Endpoint:
    return Endpoint.model_validate(only_fields(Endpoint, item))


def _delivery(item: Mapping[str, Any]) -> Delivery:
    return Delivery.model_validate(only_fields(Delivery, item))


def _found(item: Mapping[str, Any]) -> Found:
    lease = item.get("lease_until")
    return Found(
        delivery=_delivery(item),
        lease_until=None if lease is None else float(lease),
        scheduled="due_at" in item,
    )
