"""Fixtures of the sweep stories."""

import io
from typing import TYPE_CHECKING

import pytest

from coaching.observability import logger
from coaching.storage import Storage
from tests.builders import World

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


@pytest.fixture
def one_shard(store: Storage, dynamodb_client: "DynamoDBClient") -> World:
    """A world whose Due index has a single shard, so every due session is in one partition
    and the sweep's order and its budget checks can be told exactly."""
    return World(Storage(dynamodb_client, store.settings.model_copy(update={"due_shards": 1})))


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the function logs, as the JSON lines CloudWatch Logs would receive."""
    written = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", written)
    return written
