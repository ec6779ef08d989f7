"""Coaches' services, the coach directory and weekly working hours (SessionsTable; keys in
``keys``).

A service is written conditioned on the version it was read at, and in the same transaction
its coach's directory entry (conditioned on its own version), so that the directory lists
exactly the services on offer: two edits never lose each other's change, and a coach's entry
never misses a service created or retired beside another.
"""

from typing import Any

from coaching.errors import ValidationFailed
from coaching.models import Availability, CoachEntry, Service
from coaching.storage import keys
from coaching.storage.codec import only_fields
from coaching.storage.dynamodb import Table, Transaction, put
from coaching.storage.keys import iso
from coaching.storage.page_tokens import decode_token


def service_from_item(item: dict[str, Any]) -> Service:
    return Service.model_validate(only_fields(Service, item))


def _version_is(version: int) -> tuple[str, dict[str, Any]]:
    """A condition that the item is still at ``version``. Items stored before they carried one
    read as version 1."""
    condition = "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :v)"
    return condition, {":v": {"N": str(version)}}


class ServiceStore(Table):
    def get_service(self, service_id: str) -> Service | None:
        item = self._get(self.sessions_table, keys.service(service_id))
        return None if item is None else service_from_item(item)

    def services_of(
        self, coach_id: str, limit: int, token: str | None, *, include_retired: bool = False
    ) -> tuple[list[Service], str | None]:
        """A coach's services, oldest first (ByCoach, partition ``SERVICES#{coach}``); the
        retired ones only when asked for."""
        partition = keys.services_of(coach_id)

        def read(item: dict[str, Any]) -> Service | None:
            service = service_from_item(item)
            return service if include_retired or service.retired_at is None else None

        return self._query(
            self.sessions_table,
            index="ByCoach",
            key_condition="coach_pk = :p",
            names=None,
            values={":p": {"S": partition}},
            forward=True,
            limit=limit,
            token=token,
            token_keys={"coach_pk": partition},
            key_names={"pk", "sk", "coach_pk", "start_at"},
            read=read,
        )

    def get_availability(self, coach_id: str) -> Availability | None:
        item = self._get(self.sessions_table, keys.availability(coach_id))
        if item is None or item.get("coach_id") != coach_id:  # another coach of the same tag
            return None
        return Availability.model_validate(only_fields(Availability, item))

    def put_service(self, service: Service, directory: CoachEntry | None = None) -> None:
        """A new service, and its coach's next directory entry (see ``_add_directory``)."""
        tx = Transaction()
        tx.add(
            "new", put(self.sessions_table, _service_values(service), "attribute_not_exists(pk)")
        )
        if directory is not None:
            self._add_directory(tx, directory)
        self._write(tx, service)

    def save_service(
        self, before: Service, after: Service, directory: CoachEntry | None = None
    ) -> None:
        """A service's next version, if it is still at the version ``before`` was read at; with
        its coach's directory entry where the change shows there."""
        tx = Transaction()
        condition, values = _version_is(before.version)
        request = put(self.sessions_table, _service_values(after), condition)
        request["Put"]["ExpressionAttributeValues"] = values
        tx.add("service", request)
        if directory is not None:
            self._add_directory(tx, directory)
        self._write(tx, after)

    def coach_entry(self, coach_id: str) -> CoachEntry | None:
        item = self._get(self.sessions_table, keys.coach_entry(coach_id))
        return None if item is None else CoachEntry.model_validate(only_fields(CoachEntry, item))

    def coach_directory(
        self, name_prefix: str, limit: int, token: str | None
    ) -> tuple[list[CoachEntry], str | None]:
        """Listed coaches by name (ByCoach, partition ``DIRECTORY``), those whose folded name
        starts with the folded ``name_prefix`` (every coach when it is empty)."""
        prefix = keys.folded(name_prefix)
        partition = keys.COACH_DIRECTORY
        key_names = {"pk", "sk", "coach_pk", "start_at"}
        condition, names = "coach_pk = :p", None
        values: dict[str, Any] = {":p": {"S": partition}}
        if prefix:  # a key condition cannot hold an empty string
            condition += " AND begins_with(#s, :q)"
            names, values[":q"] = {"#s": "start_at"}, {"S": prefix}
        if token is not None:
            # DynamoDB refuses a start key outside the key condition (a 400 of its own): a token
            # from another search is the caller's mistake, not ours.
            start = decode_token(token, {"coach_pk": partition}, key_names)
            if not start["start_at"]["S"].startswith(prefix):
                raise ValidationFailed.on("next_token", "belongs to another search")
        return self._query(
            self.sessions_table,
            index="ByCoach",
            key_condition=condition,
            names=names,
            values=values,
            forward=True,
            limit=limit,
            token=token,
            token_keys={"coach_pk": partition},
            key_names=key_names,
            read=lambda item: CoachEntry.model_validate(only_fields(CoachEntry, item)),
        )

    def _add_directory(self, tx: Transaction, entry: CoachEntry) -> None:
        """The coach's next directory entry (version 1: the first), on the condition that the
        stored one is still the version before it.

        Listed (ByCoach, partition ``DIRECTORY``, by name) while it names a service; an entry
        with none stays, without the index keys: its version still orders the coach's later
        changes, and a later first service is not read from an index that may lag.
        """
        values = entry.model_dump(mode="json", exclude_none=True)
        values |= {**keys.coach_entry(entry.coach_id), "entity": "DIRECTORY"}
        if entry.services:
            values |= {
                "coach_pk": keys.COACH_DIRECTORY,
                "start_at": keys.directory_position(entry.name, entry.coach_id),
            }
        if entry.version == 1:
            tx.add("directory", put(self.sessions_table, values, "attribute_not_exists(pk)"))
        else:
            request = put(self.sessions_table, values, "version = :v")
            request["Put"]["ExpressionAttributeValues"] = {":v": {"N": str(entry.version - 1)}}
            tx.add("directory", request)

    def put_availability(
        self, before: Availability, after: Availability, produced: object | None = None
    ) -> None:
        """The coach's booking rules' next version (hours, time off, sessions a day), on the
        condition that they are still those ``before`` was read as (a change of the hours and
        a change of the time off never lose each other). ``produced`` is what the change
        answers with when it is not the hours themselves (time off taken)."""
        values = after.model_dump(mode="json", exclude_none=True)
        values |= {**keys.availability(after.coach_id), "entity": "HOURS"}
        condition = "attribute_not_exists(pk)" if before.version == 0 else "version = :v"
        request = put(self.sessions_table, values, condition)
        if before.version:
            request["Put"]["ExpressionAttributeValues"] = {":v": {"N": str(before.version)}}
        tx = Transaction()
        tx.add("hours", request)
        self._write(tx, after if produced is None else produced)


def _service_values(service: Service) -> dict[str, Any]:
    values = service.model_dump(mode="json", exclude_none=True)
    values |= {
        **keys.service(service.id),
        "entity": "SERVICE",
        # ByCoach: the coach's services, oldest first (the id orders those of one second).
        "coach_pk": keys.services_of(service.coach_id),
        "start_at": f"{iso(service.created_at)}#{service.id}",
    }
    return values
