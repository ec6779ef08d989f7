"""Sessions and the slot claims that hold their coach's time (SessionsTable; keys in ``keys``)."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from coaching import rules
from coaching.models import (
    AccountKind,
    Availability,
    HistoryEvent,
    Service,
    Session,
    SessionStatus,
)
from coaching.storage import keys
from coaching.storage.codec import from_item, only_fields, to_item
from coaching.storage.dynamodb import Table, Transaction, aws_errors, put_item
from coaching.storage.keys import iso
from coaching.storage.ledger import Movement, add_movement
from coaching.storage.page_tokens import (
    decode_member_token,
    decode_number_token,
    encode_member_token,
)
from coaching.storage.reminders import reminders_write

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SLOT_CLAIM_TTL = timedelta(days=7)
"""Claims of past slots are left for DynamoDB's TTL to delete a week after the slot."""


def is_session(item_keys: Mapping[str, Any]) -> bool:
    """Whether a stream record's ``Keys`` name a session item (not a slot claim or a service)."""
    return bool(item_keys.get("sk", {}).get("S") == keys.session("")["sk"])


def session_item(session: Session, *, due_shards: int) -> dict[str, Any]:
    values: dict[str, Any] = session.model_dump(mode="json", exclude_none=True)
    values |= {
        **keys.session(session.id),
        "entity": "SESSION",
        "member_pk": keys.sessions_of("member", session.member.id),
        "coach_pk": keys.sessions_of("coach", session.coach.id),
        "start_at": iso(session.start),
        "end_at": iso(session.end),
    }
    if session.account is not None and session.account.kind is AccountKind.GROUP:
        values["account_pk"] = keys.sessions_paid_by(session.account_id)
    due = rules.due_at(session)
    if due is not None:
        values |= {"due_pk": keys.due_partition(session.id, due_shards), "due_at": iso(due)}
    return to_item(values)


DAY_COUNT_TTL = timedelta(days=7)
"""A day's count of a coach's sessions is left for DynamoDB's TTL a week after the day."""


@dataclass(frozen=True)
class Count:
    """A counted limit a change moves by one: up, on the condition that the count is still
    below ``below`` (when given), or down. ``day-count``: the sessions coach ``of`` holds on
    day ``within`` (YYYY-MM-DD of their clock); ``member-count``: member ``of``'s upcoming
    sessions of service ``within``."""

    what: Literal["day-count", "member-count"]
    of: str
    within: str
    by: Literal[1, -1]
    below: int | None = None

    def update(self, table: str) -> "TransactWriteItemTypeDef":
        if self.what == "day-count":
            key = keys.day_count(self.of, self.within)
        else:
            key = keys.member_count(self.of, self.within)
        request: dict[str, Any] = {
            "TableName": table,
            "Key": to_item(key),
            "UpdateExpression": "ADD n :by SET entity = :entity",
            "ExpressionAttributeValues": {":by": {"N": str(self.by)}, ":entity": {"S": "COUNT"}},
        }
        if self.what == "day-count":
            day = datetime.fromisoformat(self.within).replace(tzinfo=UTC)
            request["UpdateExpression"] += ", #ttl = :ttl"
            request["ExpressionAttributeNames"] = {"#ttl": "ttl"}
            expires = int((day + DAY_COUNT_TTL).timestamp())
            request["ExpressionAttributeValues"][":ttl"] = {"N": str(expires)}
        if self.by > 0 and self.below is not None:
            request["ConditionExpression"] = "attribute_not_exists(n) OR n < :below"
            request["ExpressionAttributeValues"][":below"] = {"N": str(self.below)}
        return {"Update": request}  # type: ignore[typeddict-item]


def _service_unchanged(table: str, service: Service) -> "TransactWriteItemTypeDef":
    """The service a booking was made under, still at the version read."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": to_item(keys.service(service.id)),
            # Services stored before they carried a version read as version 1.
            "ConditionExpression": "attribute_exists(pk) AND "
            "(attribute_not_exists(version) OR version = :v)",
            "ExpressionAttributeValues": {":v": {"N": str(service.version)}},
        }
    }


def _still(table: str, key: dict[str, str], hours: Availability) -> "TransactWriteItemTypeDef":
    """A condition that a coach's booking rules are still those ``hours`` was read as."""
    if hours.version == 0:
        condition, values = "attribute_not_exists(pk)", None
    else:
        condition, values = "version = :v", {":v": {"N": str(hours.version)}}
    check: dict[str, Any] = {
        "TableName": table,
        "Key": to_item(key),
        "ConditionExpression": condition,
    }
    if values:
        check["ExpressionAttributeValues"] = values
    return {"ConditionCheck": check}  # type: ignore[typeddict-item]


def history_item(session_id: str, number: int, event: HistoryEvent) -> dict[str, Any]:
    """History entry ``number`` (1 is the first change) of a session, kept beside it."""
    return to_item(
        {
            **keys.history(session_id, number),
            "entity": "HISTORY",
            "number": number,
            **event.model_dump(mode="json", exclude_none=True),
        }
    )


def _spilled(before: Session | None, after: Session) -> list[tuple[int, HistoryEvent]]:
    """The history entries (numbered) that this write moves out of the session item."""
    moved = after.spilled - (before.spilled if before is not None else 0)
    if moved <= 0:
        return []
    gained = after.events_since(before)
    pending = [*(before.history if before is not None else []), *gained]
    first = (before.spilled if before is not None else 0) + 1
    return list(enumerate(pending[:moved], start=first))


def slot_claim_item(session: Session, slot: datetime) -> dict[str, Any]:
    """The item by which ``session`` holds its coach's 15-minute ``slot``."""
    return to_item(
        {
            **keys.slot(session.coach.id, slot),
            "entity": "SLOT",
            "session_id": session.id,
            "ttl": int((max(slot, session.end) + SLOT_CLAIM_TTL).timestamp()),
            # ByCoach: the coach's claims by time, for free times.
            "coach_pk": keys.slots_of(session.coach.id),
            "start_at": iso(slot),
        }
    )


def _history_event(values: Mapping[str, Any]) -> HistoryEvent:
    return HistoryEvent.model_validate(only_fields(HistoryEvent, values))


def session_from_item(item: Mapping[str, Any]) -> Session:
    return session_from_item_values(from_item(item))


def session_from_item_values(values: Mapping[str, Any]) -> Session:
    """A session from an item already turned into Python values."""
    return Session.model_validate(only_fields(Session, values))


class SessionStore(Table):
    def get_session(self, session_id: str) -> Session | None:
        item = self._get(self.sessions_table, keys.session(session_id))
        return None if item is None else session_from_item_values(item)

    def slot_holder(self, coach_id: str, slot: datetime) -> str | None:
        item = self._get(self.sessions_table, keys.slot(coach_id, slot))
        return None if item is None else str(item["session_id"])

    def sessions_of(
        self,
        role: Literal["member", "coach", "account"],
        user_id: str,
        view: Literal["upcoming", "past"],
        now: datetime,
        limit: int,
        token: str | None,
        statuses: Collection[SessionStatus] = (),
        with_coach: str | None = None,
    ) -> tuple[list[Session], str | None]:
        """A member's, a coach's or a group account's sessions, upcoming (soonest first) or past
        (latest first); for an account, ``user_id`` is the account's id.

        Which sessions each view shows is ``rules.listed``; the query reads the partition in
        the view's order, upcoming from ``rules.earliest_upcoming_start`` on.
        """
        index, key, partition = {
            "member": ("ByMember", "member_pk", keys.sessions_of("member", user_id)),
            "coach": ("ByCoach", "coach_pk", keys.sessions_of("coach", user_id)),
            "account": ("ByAccount", "account_pk", keys.sessions_paid_by(user_id)),
        }[role]
        names = {"#k": key}
        values: dict[str, Any] = {":p": {"S": partition}}
        if view == "upcoming":
            names["#s"] = "start_at"
            values[":earliest"] = {"S": iso(rules.earliest_upcoming_start(now))}
            condition, forward = "#k = :p AND #s > :earliest", True
        else:
            condition, forward = "#k = :p", False

        def read(item: dict[str, Any]) -> Session | None:
            session = session_from_item_values(item)
            return session if rules.listed(session, view, now, statuses, with_coach) else None

        return self._query(
            self.sessions_table,
            index=index,
            key_condition=condition,
            names=names,
            values=values,
            forward=forward,
            limit=limit,
            token=token,
            token_keys={key: partition},
            key_names={"pk", "sk", key, "start_at"},
            read=read,
        )

    def history_of(
        self, session: Session, limit: int, token: str | None
    ) -> tuple[list[tuple[int, HistoryEvent]], str | None]:
        """A session's whole history, oldest first and numbered from 1, in pages: the entries
        kept beside the session (read in order), then those in it. The token is the number of
        the last entry given."""
        given = decode_number_token(token, session.changes)
        page: list[tuple[int, HistoryEvent]] = []
        if given < session.spilled:
            wanted = min(limit, session.spilled - given)
            kwargs: dict[str, Any] = {
                "TableName": self.sessions_table,
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :from AND :to",
                "ExpressionAttributeValues": {
                    ":p": {"S": keys.session(session.id)["pk"]},
                    ":from": {"S": keys.history(session.id, given + 1)["sk"]},
                    ":to": {"S": keys.history(session.id, given + wanted)["sk"]},
                },
                "ConsistentRead": True,
            }
            while True:
                with aws_errors():
                    response = self._db.query(**kwargs)
                for item in response.get("Items", []):
                    values = from_item(item)
                    page.append((int(values["number"]), _history_event(values)))
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        inline_from = max(given, session.spilled)
        for offset, event in enumerate(session.history):
            number = session.spilled + offset + 1
            if number > inline_from and len(page) < limit:
                page.append((number, event))
        last = page[-1][0] if page else given
        return page, (str(last) if last < session.changes else None)

    def coach_sessions_between(
        self, coach_id: str, start: datetime, end: datetime
    ) -> list[Session]:
        """A coach's sessions that overlap ``start`` to ``end`` (ByCoach, by start: from the
        longest a session can last before ``start``)."""
        kwargs: dict[str, Any] = {
            "TableName": self.sessions_table,
            "IndexName": "ByCoach",
            "KeyConditionExpression": "coach_pk = :p AND start_at BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":p": {"S": keys.sessions_of("coach", coach_id)},
                ":from": {"S": iso(rules.earliest_upcoming_start(start))},
                ":to": {"S": iso(end - timedelta(seconds=1))},
            },
        }
        found: list[Session] = []
        while True:
            with aws_errors():
                response = self._db.query(**kwargs)
            for item in response.get("Items", []):
                session = session_from_item(item)
                if session.start < end and start < session.end:
                    found.append(session)
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def counts(
        self, coach_id: str, days: Sequence[str], member_id: str | None, service_id: str
    ) -> tuple[dict[str, int], int | None]:
        """The sessions the coach holds on each of ``days``, and (``member_id`` given) that
        member's upcoming sessions of the service, in one request."""
        wanted = [to_item(keys.day_count(coach_id, day)) for day in days]
        if member_id is not None:
            wanted.append(to_item(keys.member_count(member_id, service_id)))
        found = {
            str(i["pk"]): int(i.get("n", 0)) for i in self._batch_get({self.sessions_table: wanted})
        }
        by_day = {day: found.get(keys.day_count(coach_id, day)["pk"], 0) for day in days}
        if member_id is None:
            return by_day, None
        return by_day, found.get(keys.member_count(member_id, service_id)["pk"], 0)

    def members_with_email(self, email: str) -> list[str]:
        """The ids of the members who booked with ``email`` (any case), in id order."""
        kwargs: dict[str, Any] = {
            "TableName": self.sessions_table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": keys.members_with_email(email)}},
            "ConsistentRead": True,
        }
        found: list[str] = []
        while True:
            with aws_errors():
                response = self._db.query(**kwargs)
            found += [item["member_id"]["S"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return sorted(found)
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def sessions_of_members(
        self,
        member_ids: Sequence[str],
        view: Literal["upcoming", "past"],
        now: datetime,
        limit: int,
        token: str | None,
        statuses: Collection[SessionStatus] = (),
        with_coach: str | None = None,
    ) -> tuple[list[Session], str | None]:
        """The sessions of several members, one member's after another's, in pages: the
        token says whose partition the next page goes on with, and where in it."""
        at, inner = 0, None
        if token is not None:
            at, inner = decode_member_token(token, len(member_ids))
        found: list[Session] = []
        while at < len(member_ids) and len(found) < limit:
            page, inner = self.sessions_of(
                "member",
                member_ids[at],
                view,
                now,
                limit - len(found),
                inner,
                statuses=statuses,
                with_coach=with_coach,
            )
            found += page
            if inner is None:
                at += 1
        return found, (encode_member_token(at, inner) if at < len(member_ids) else None)

    def claimed_slots(self, coach_id: str, start: datetime, end: datetime) -> set[datetime]:
        """The coach's claimed slots from ``start`` up to (not including) ``end``.

        Reads the claims of that range only (ByCoach, partition ``SLOTS#{coach}``, by time),
        so the cost follows the range, not how many sessions the coach ever had. The index is
        eventually consistent: a slot claimed a moment ago may still read as free, and a
        booking of it is then refused by the claim's own condition (SLOT_TAKEN).
        """
        kwargs: dict[str, Any] = {
            "TableName": self.sessions_table,
            "IndexName": "ByCoach",
            "KeyConditionExpression": "coach_pk = :p AND start_at BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":p": {"S": keys.slots_of(coach_id)},
                ":from": {"S": iso(start)},
                # BETWEEN includes its end; the last slot before ``end`` starts 1 s before it.
                ":to": {"S": iso(end - timedelta(seconds=1))},
            },
            "ProjectionExpression": "start_at",
        }
        found: set[datetime] = set()
        while True:
            with aws_errors():
                response = self._db.query(**kwargs)
            for item in response.get("Items", []):
                found.add(datetime.fromisoformat(item["start_at"]["S"]))
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def save_session(
        self,
        *,
        before: Session | None,
        after: Session,
        claim: Sequence[datetime] = (),
        release: Sequence[datetime] = (),
        movement: Movement | None = None,
        service: Service | None = None,
        hours: Availability | None = None,
        counts: Sequence[Count] = (),
    ) -> None:
        """Write a session's new state with everything that must change with it, atomically.

        ``before`` is the session as read (None for a new booking): the write lands only if the
        stored session is still that version. ``claim`` and ``release`` are the coach's slots
        taken and freed; ``movement`` the credits that move with this change. ``service`` is the
        service a booking was made under, as read: it lands only while the service is still at
        that version, so an edit or a retirement racing it applies to it whole or not at all.
        The session's reminders record follows its time (``storage.reminders``).
        ``hours``, the coach's booking rules the change was decided under, likewise. ``counts``
        are the counted limits it moves (``Count``).
        """
        tx = Transaction()
        if hours is not None:
            tx.add("hours", _still(self.sessions_table, keys.availability(hours.coach_id), hours))
        for count in counts:
            tx.add(count.what, count.update(self.sessions_table))
        if service is not None:
            tx.add("service", _service_unchanged(self.sessions_table, service))
        self._add_session(tx, before, after)
        reminders = reminders_write(
            self.sessions_table, before, after, due_shards=self.settings.due_shards
        )
        if reminders is not None:
            # The reminders of the session's time change with the time, in the same step.
            tx.add("reminders", reminders)
        for number, event in _spilled(before, after):
            tx.add(
                "history",
                put_item(
                    self.sessions_table,
                    history_item(after.id, number, event),
                    "attribute_not_exists(pk)",
                ),
            )
        for slot in claim:
            tx.add(
                "slot-claim",
                put_item(
                    self.sessions_table, slot_claim_item(after, slot), "attribute_not_exists(pk)"
                ),
            )
        for slot in release:
            tx.add(
                "slot-release",
                {
                    "Delete": {
                        "TableName": self.sessions_table,
                        "Key": to_item(keys.slot(after.coach.id, slot)),
                        "ConditionExpression": "session_id = :s",
                        "ExpressionAttributeValues": {":s": {"S": after.id}},
                    }
                },
            )
        if movement is not None:
            add_movement(tx, self.ledger_table, movement, self.settings.due_shards)
        self._write(tx, after)

    def _add_session(self, tx: Transaction, before: Session | None, after: Session) -> None:
        """The session's own item: new (with the member's address, for support's search), or
        replacing the version that was read."""
        item = session_item(after, due_shards=self.settings.due_shards)
        if before is None:
            tx.add("new", put_item(self.sessions_table, item, "attribute_not_exists(pk)"))
            if after.member.email:
                # Support finds a member's sessions by the address they booked with.
                tx.add(
                    "email",
                    put_item(
                        self.sessions_table,
                        to_item(
                            {
                                **keys.member_with_email(after.member.email, after.member.id),
                                "entity": "MEMBER_EMAIL",
                                "member_id": after.member.id,
                            }
                        ),
                        None,
                    ),
                )
        else:
            tx.add(
                "session",
                {
                    "Put": {
                        "TableName": self.sessions_table,
                        "Item": item,
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {":v": {"N": str(before.version)}},
                    }
                },
            )
