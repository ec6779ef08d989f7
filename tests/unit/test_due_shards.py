"""Which Due index partition a session's entry goes to (pure: no AWS)."""

from collections import Counter

from coaching.settings import DEFAULT_DUE_SHARDS, Settings
from coaching.storage.store import due_partition, due_partitions


def test_a_sessions_shard_does_not_change_between_processes_or_releases() -> None:
    # A change of hash would move every entry: pinned values, not a second computation
    assert due_partition("session-1", 32) == "DUE#8"
    assert due_partition("session-1", 16) == "DUE#8"
    assert due_partition("session-1", 1) == "DUE#0"


def test_sessions_spread_evenly_over_the_shards() -> None:
    counts = Counter(due_partition(f"session-{n}", 32) for n in range(32_000))
    assert set(counts) == {f"DUE#{n}" for n in range(32)}
    assert all(900 <= count <= 1100 for count in counts.values()), counts


def test_the_sweep_reads_every_shard_and_then_the_partition_from_before_sharding() -> None:
    assert due_partitions(3) == ["DUE#0", "DUE#1", "DUE#2", "DUE"]


def test_the_shard_count_comes_from_the_environment_with_a_default() -> None:
    assert Settings.model_validate({"DUE_SHARDS": "64"}).due_shards == 64
    assert Settings.model_validate({}).due_shards == DEFAULT_DUE_SHARDS == 48
