"""The Due index spread over shards: the sweep reads every one, a sweep out of time leaves them
about equally behind and the next run finishes, two sweeps at once change each session once,
and entries of the index's one partition before sharding (``DUE``) are still swept.

The stories use four shards, so that a handful of sessions covers them all.
"""

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from coaching import operations, sweep
from coaching.errors import StorageUnavailable
from coaching.models import Session, SessionStatus
from coaching.storage import Storage
from coaching.storage.store import LEGACY_DUE_PARTITION, due_partition
from local.moto_server import SerializedMotoServer
from tests.builders import World, unique
from tests.integration.steps import due, stored
from tests.integration.sweep.test_sweep_cost import recording
from tests.integration.sweep.timeline import Countdown, events, plenty, session_at, sweep_at
from tests.racing import race

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SHARDS = 4


def with_shards(store: Storage, client: "DynamoDBClient", shards: int = SHARDS) -> World:
    """A world on ``store``'s tables whose Due index has ``shards`` shards."""
    return World(Storage(client, store.settings.model_copy(update={"due_shards": shards})))


@pytest.fixture
def sharded(store: Storage, dynamodb_client: "DynamoDBClient") -> World:
    return with_shards(store, dynamodb_client)


def ended_in_every_shard(world: World, per_shard: int) -> list[Session]:
    """``per_shard`` sessions in each shard, all ended by ``sweep_at(world)``.

    One real booking, then copies of it under ids picked for their shard, saved as new
    sessions (no slots: completing a session leaves its slots as they are).
    """
    original = session_at(world, 1).session
    wanted = dict.fromkeys(range(SHARDS), per_shard)
    made: list[Session] = []
    while any(wanted.values()):
        session_id = unique("sharded")
        shard = int(due_partition(session_id, SHARDS).removeprefix("DUE#"))
        if wanted[shard]:
            wanted[shard] -= 1
            copy = original.model_copy(update={"id": session_id})
            world.store.save_session(before=None, after=copy)
            made.append(copy)
    return made


def completed_once(world: World, sessions: list[Session]) -> bool:
    return all(
        (s.status, events(s, "COMPLETED")) == (SessionStatus.COMPLETED, 1)
        for s in (stored(world, session.id) for session in sessions)
    )


def test_every_shard_and_the_legacy_partition_are_read(sharded: World) -> None:
    # Given two ended sessions in each of four shards
    world = sharded
    ended = ended_in_every_shard(world, 2)
    store, calls = recording(world.store)

    # When the sweep runs
    result = sweep.run(store, sweep_at(world), plenty)

    # Then it queried each shard and the legacy partition, and completed every session once
    queried = {q["ExpressionAttributeValues"][":d"]["S"] for q in calls.of("Query")}
    assert queried == {"DUE#0", "DUE#1", "DUE#2", "DUE#3", "DUE"}
    assert (result.completed, result.items_read, result.finished, result.ok) == (9, 9, True, True)
    assert completed_once(world, ended)
    assert due(world.store, sweep_at(world)) == []


def test_a_sweep_out_of_time_leaves_every_shard_as_far_behind_and_the_next_run_finishes(
    sharded: World,
) -> None:
    # Given two ended sessions in each of four shards
    world = sharded
    ended_in_every_shard(world, 2)
    at = sweep_at(world)
    stale = due(world.store, at)
    assert len(stale) == 9  # and the session they were copied from

    # When a sweep reading one item a page has time for eight checks (a page or a session
    # each), and a second sweep follows with all the time it needs
    first = sweep.run(world.store, at, Countdown(8), page_size=1)
    done_first = [s for s in stale if stored(world, s.id).status is SessionStatus.COMPLETED]
    second = sweep.run(world.store, at, plenty, page_size=1)

    # Then the first took one page and one session from each shard in turn, and stopped
    assert (first.pages, first.completed, first.finished, first.ok) == (4, 4, False, True)
    assert sorted(world.store.due_partition(s.id) for s in done_first) == [
        f"DUE#{n}" for n in range(SHARDS)
    ]
    # ... the second did exactly the rest, and every session changed exactly once
    assert (second.completed, second.finished, second.ok) == (5, True, True)
    assert completed_once(world, stale)
    assert due(world.store, at) == []


def test_a_shard_that_cannot_be_read_waits_for_the_next_run_and_the_others_are_swept(
    sharded: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an ended session in each shard, and one shard whose reads DynamoDB throttles
    world = sharded
    ended_in_every_shard(world, 1)
    at = sweep_at(world)
    stale = due(world.store, at)
    read = world.store.due_page

    def throttled(partition: str, *args: Any, **kwargs: Any) -> Any:
        if partition == "DUE#2":
            raise StorageUnavailable("ThrottlingException")  # what storage makes of it
        return read(partition, *args, **kwargs)

    monkeypatch.setattr(world.store, "due_page", throttled)

    # When the sweep runs
    result = sweep.run(world.store, at, plenty)

    # Then it swept every other shard, and said it had not finished, so the run fails
    swept = [s for s in stale if world.store.due_partition(s.id) != "DUE#2"]
    assert (result.completed, result.query_failed, result.finished) == (len(swept), True, False)
    with pytest.raises(sweep.SweepFailed, match="Due index could not be read"):
        result.raise_for_failures()
    assert completed_once(world, swept)
    # ... and once the shard reads again, the next run sweeps what waited there
    monkeypatch.undo()
    rerun = sweep.run(world.store, at, plenty)
    assert (rerun.completed, rerun.ok, rerun.finished) == (len(stale) - len(swept), True, True)
    assert completed_once(world, stale)


def test_entries_of_the_partition_before_sharding_are_still_swept(
    sharded: World, dynamodb_client: "DynamoDBClient"
) -> None:
    # Given sessions booked by a deployment that wrote every Due entry under "DUE": one that
    # has ended, one upcoming and one upcoming that will be canceled
    world = sharded
    ended, upcoming, to_cancel = (session_at(world, h) for h in (1, 72, 96))
    for booked in (ended, upcoming, to_cancel):
        dynamodb_client.update_item(
            TableName=world.store.sessions_table,
            Key={"pk": {"S": f"SESSION#{booked.session.id}"}, "sk": {"S": "SESSION"}},
            UpdateExpression="SET due_pk = :legacy",
            ExpressionAttributeValues={":legacy": {"S": LEGACY_DUE_PARTITION}},
        )
    assert legacy_entries(world) == {ended.session.id, upcoming.session.id, to_cancel.session.id}

    # When the sweep runs, and the member cancels the third
    result = sweep.run(world.store, sweep_at(world), plenty)
    operations.cancel(world.store, to_cancel.who, to_cancel.session.id, None, world.now)

    # Then the ended one was completed from the legacy partition, and the canceled one left it
    assert (result.completed, result.finished) == (1, True)
    assert stored(world, ended.session.id).status is SessionStatus.COMPLETED
    assert legacy_entries(world) == {upcoming.session.id}
    # ... the upcoming one, left there, is swept when it ends, and the partition is then empty
    later = upcoming.session.end + timedelta(minutes=1)
    assert sweep.run(world.store, later, plenty).completed == 1
    assert legacy_entries(world) == set()


def test_a_changed_session_moves_from_the_legacy_partition_to_its_shard(
    sharded: World, dynamodb_client: "DynamoDBClient"
) -> None:
    # Given an upcoming session written under "DUE" by the old deployment
    world = sharded
    booked = session_at(world, 72)
    key = {"pk": {"S": f"SESSION#{booked.session.id}"}, "sk": {"S": "SESSION"}}
    dynamodb_client.update_item(
        TableName=world.store.sessions_table,
        Key=key,
        UpdateExpression="SET due_pk = :legacy",
        ExpressionAttributeValues={":legacy": {"S": LEGACY_DUE_PARTITION}},
    )

    # When its member moves it
    operations.reschedule(
        world.store,
        booked.who,
        booked.session.id,
        booked.session.start + timedelta(hours=2),
        None,
        world.now,
    )

    # Then its entry is in its own shard now
    item = dynamodb_client.get_item(TableName=world.store.sessions_table, Key=key)["Item"]
    assert item["due_pk"]["S"] == world.store.due_partition(booked.session.id) != "DUE"
    assert legacy_entries(world) == set()


def legacy_entries(world: World) -> set[str]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.query(
        TableName=world.store.sessions_table,
        IndexName="Due",
        KeyConditionExpression="due_pk = :d",
        ExpressionAttributeValues={":d": {"S": LEGACY_DUE_PARTITION}},
    )["Items"]
    return {item["pk"]["S"].removeprefix("SESSION#") for item in items}


@pytest.mark.race
def test_two_sweeps_at_once_across_shards_change_each_session_once(
    server_store: Storage, moto_server: SerializedMotoServer
) -> None:
    # Given three ended sessions in each of four shards, on the serialized moto server
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_server.url)
    world = with_shards(server_store, client)
    ended = ended_in_every_shard(world, 3)
    at = sweep_at(world)

    # When two sweeps, two items a page, run at once
    results = race(
        partial(sweep.run, world.store, at, plenty, 2),
        partial(sweep.run, world.store, at, plenty, 2),
    )

    # Then both finished, and between them they completed each session once
    assert all(isinstance(r, sweep.SweepResult) and r.ok and r.finished for r in results), results
    assert sum(r.completed for r in results) == len(ended) + 1
    assert completed_once(world, ended)
