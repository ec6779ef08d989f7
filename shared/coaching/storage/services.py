"""Coaches' services and weekly working hours (SessionsTable; keys in ``keys``)."""

import time

from coaching.models import Availability, Service
from coaching.storage import keys
from coaching.storage.dynamodb import Table, Transaction, only_fields, put
from coaching.storage.keys import iso


class ServiceStore(Table):
    def get_service(self, service_id: str) -> Service | None:
        item = self._get(self.sessions_table, keys.service(service_id))
        return None if item is None else Service.model_validate(only_fields(Service, item))

    def services_of(
        self, coach_id: str, limit: int, token: str | None
    ) -> tuple[list[Service], str | None]:
        """A coach's services, oldest first (ByCoach, partition ``SERVICES#{coach}``)."""
        partition = keys.services_of(coach_id)
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
            read=lambda item: Service.model_validate(only_fields(Service, item)),
        )

    def get_availability(self, coach_id: str) -> Availability | None:
        item = self._get(self.sessions_table, keys.availability(coach_id))
        return (
            None if item is None else Availability.model_validate(only_fields(Availability, item))
        )

    def put_service(self, service: Service) -> None:
        values = service.model_dump(mode="json", exclude_none=True)
        values |= {
            **keys.service(service.id),
            "entity": "SERVICE",
            # ByCoach: the coach's services, oldest first. Creation times are whole seconds;
            # the nanoseconds of the write order those of one second as they were made.
            "coach_pk": keys.services_of(service.coach_id),
            "start_at": f"{iso(service.created_at)}#{time.time_ns():020d}#{service.id}",
        }
        tx = Transaction()
        tx.add("new", put(self.sessions_table, values, "attribute_not_exists(pk)"))
        self._write(tx, service)

    def put_availability(self, hours: Availability) -> None:
        """Replace the coach's working hours (the last write wins: the document is whole)."""
        values = hours.model_dump(mode="json", exclude_none=True)
        values |= {
            **keys.availability(hours.coach_id),
            "entity": "AVAILABILITY",
        }
        tx = Transaction()
        tx.add("hours", put(self.sessions_table, values, None))
        self._write(tx, hours)
