"""Configuration read once from the environment, at cold start, into a model."""

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_DUE_SHARDS = 48
"""Enough for 10,000 session changes a second at under half a partition's write limit each
(``make bench``, the load model: 44 at least, since changes also write their reminders records
and counts; 32 was enough before). Each run of the sweeps reads every shard, so more would cost
every run (and the sweep's cold start) queries that find nothing."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    sessions_table: Annotated[str, Field(alias="SESSIONS_TABLE")] = "Sessions"
    ledger_table: Annotated[str, Field(alias="LEDGER_TABLE")] = "Ledger"
    idempotency_table: Annotated[str, Field(alias="IDEMPOTENCY_TABLE")] = "Idempotency"
    emails_table: Annotated[str, Field(alias="EMAILS_TABLE")] = "Emails"
    webhooks_table: Annotated[str, Field(alias="WEBHOOKS_TABLE")] = "Webhooks"
    # The notifier's: who the emails come from, where their links point, where refused ones go.
    sender_email: Annotated[str, Field(alias="SENDER_EMAIL")] = "sessions@example.com"
    ses_configuration_set: Annotated[str, Field(alias="SES_CONFIGURATION_SET")] = ""
    app_base_url: Annotated[str, Field(alias="APP_BASE_URL")] = "https://app.example.com"
    dead_letter_queue_url: Annotated[str, Field(alias="DEAD_LETTER_QUEUE_URL")] = ""
    # The Secrets Manager secret (ARN or name) whose keys sign the manage links in members'
    # emails (the notifier) and check them (the manage function): the template's ManageLinkKey.
    manage_link_secret: Annotated[str, Field(alias="MANAGE_LINK_SECRET")] = ""
    # The publish function's: the EventBridge bus the domain events go to.
    event_bus_name: Annotated[str, Field(alias="EVENT_BUS_NAME")] = ""
    # Read the role from a `role`/`custom:role` claim too (template parameter TrustRoleClaim):
    # only for a provider where users cannot write that claim. Groups alone by default.
    trust_role_claim: Annotated[bool, Field(alias="TRUST_ROLE_CLAIM")] = False
    # Partitions of the Due index (the template's DueShards): one key would cap the platform at
    # one partition's write rate. Only ever raise it: the sweep reads shards 0 to N-1.
    due_shards: Annotated[int, Field(alias="DUE_SHARDS", ge=1, le=1000)] = DEFAULT_DUE_SHARDS
    # Webhooks: the queue the bus's rule feeds, where retries due soon and manual retries go.
    webhook_queue_url: Annotated[str, Field(alias="WEBHOOK_QUEUE_URL")] = ""
    # The local stack's setting alone (template.yaml never sets it): webhooks may go to this
    # machine's loopback addresses, over http too, so a receiver on 127.0.0.1 can be tried.
    # Private, link-local and metadata addresses stay refused whatever it says.
    webhooks_allow_loopback: Annotated[bool, Field(alias="WEBHOOKS_ALLOW_LOOPBACK")] = False

    def table_names(self) -> dict[str, str]:
        """Physical table names by their logical id in template.yaml."""
        return {
            "SessionsTable": self.sessions_table,
            "LedgerTable": self.ledger_table,
            "IdempotencyTable": self.idempotency_table,
            "EmailsTable": self.emails_table,
            "WebhooksTable": self.webhooks_table,
        }

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.model_validate(dict(os.environ))
