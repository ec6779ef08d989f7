"""The load section's mix names operations the API section measures: a renamed operation
stops the section (it did once: "book" became "book, from two lots that expire")."""

from bench.api_ops import OPERATIONS
from bench.load import MIX, SWEPT


def test_every_change_in_the_mix_is_a_measured_operation_or_the_sweep() -> None:
    measured = {operation.name for operation in OPERATIONS}
    assert {name for name, _ in MIX} - measured == {SWEPT}
