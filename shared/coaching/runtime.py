"""The AWS clients and stores a function uses, built once per cold start on first use.

Nothing here runs at import time, so importing a handler never touches AWS; endpoints come from
boto3's own configuration (``AWS_ENDPOINT_URL`` in the local stack).
"""

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from coaching.settings import Settings
from coaching.storage import Storage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=20)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def dynamodb() -> "DynamoDBClient":
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def storage() -> Storage:
    return Storage(dynamodb(), settings())


@cache
def idempotency_store() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table, boto3_client=dynamodb()
    )


def reset() -> None:
    """Forget the cached clients and settings (tests and the local stack change them)."""
    for cached in (settings, dynamodb, storage, idempotency_store):
        cached.cache_clear()
