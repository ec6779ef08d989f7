"""Configuration read once from the environment, at cold start, into a model."""

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    sessions_table: Annotated[str, Field(alias="SESSIONS_TABLE")] = "Sessions"
    ledger_table: Annotated[str, Field(alias="LEDGER_TABLE")] = "Ledger"
    idempotency_table: Annotated[str, Field(alias="IDEMPOTENCY_TABLE")] = "Idempotency"
    emails_table: Annotated[str, Field(alias="EMAILS_TABLE")] = "Emails"

    def table_names(self) -> dict[str, str]:
        """Physical table names by their logical id in template.yaml."""
        return {
            "SessionsTable": self.sessions_table,
            "LedgerTable": self.ledger_table,
            "IdempotencyTable": self.idempotency_table,
            "EmailsTable": self.emails_table,
        }

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.model_validate(dict(os.environ))
