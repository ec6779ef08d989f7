"""The bench's index write rules, on which the load model's figures rest (pure: no AWS)."""

from bench.capacity import Index, index_partition_writes

KEYS = ("pk", "sk")
DUE = Index("Due", ("due_pk", "due_at"), (), KEYS)
BY_MEMBER = Index("ByMember", ("member_pk", "start_at"), None, KEYS)


def session(**changes: str) -> dict[str, dict[str, str]]:
    values = {
        "pk": "SESSION#1",
        "sk": "SESSION",
        "member_pk": "MEMBER#m",
        "start_at": "2026-12-03T10:00:00Z",
        "due_pk": "DUE#3",
        "due_at": "2026-12-03T11:00:00Z",
        "status": "SCHEDULED",
        "history": "x" * 1500,
    } | changes
    return {name: {"S": value} for name, value in values.items()}


def test_a_keys_only_index_is_not_written_when_only_other_attributes_change() -> None:
    before, after = session(), session(history="y" * 1600)
    assert index_partition_writes(DUE, before, after) == []
    # ... while an index of whole items rewrites its (2 KB) entry
    assert index_partition_writes(BY_MEMBER, before, after) == [("MEMBER#m", 2.0)]


def test_a_key_change_takes_the_old_entry_out_and_puts_the_new_one_in() -> None:
    before, after = session(), session(due_at="2026-12-03T12:00:00Z")
    assert index_partition_writes(DUE, before, after) == [("DUE#3", 1.0), ("DUE#3", 1.0)]
    moved = session(due_pk="DUE#5")
    assert index_partition_writes(DUE, session(due_pk="DUE"), moved) == [
        ("DUE", 1.0),
        ("DUE#5", 1.0),
    ]


def test_entering_and_leaving_a_sparse_index_write_once() -> None:
    gone = {k: v for k, v in session().items() if k not in ("due_pk", "due_at")}
    assert index_partition_writes(DUE, None, session()) == [("DUE#3", 1.0)]
    assert index_partition_writes(DUE, session(), gone) == [("DUE#3", 1.0)]
    assert index_partition_writes(DUE, gone, gone) == []
