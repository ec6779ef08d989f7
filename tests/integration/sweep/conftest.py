"""Fixtures of the sweep stories."""

import io
from typing import TYPE_CHECKING

import pytest

from coaching import clock
from coaching.observability import logger
from coaching.storage import Storage
from tests.builders import World
from tests.integration.sweep.timeline import SWEEP_AFTER

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


@pytest.fixture
def past(store: Storage) -> World:
    """A world seven hours behind the clock (``SWEEP_AFTER``): what it booked, or granted to
    expire an hour later, is due for the sweeps now."""
    return World(store, now=clock.now() - SWEEP_AFTER)
