"""Storage writes and reads DynamoDB attribute values without boto3 (its import costs every cold
start; see ``coaching.storage.codec``). Whatever boto3's ``TypeSerializer`` and
``TypeDeserializer`` would do, ours must do the same: same attribute values, same Python values
back, same refusals."""

from decimal import Decimal, Inexact
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from coaching.storage.codec import attribute, from_item, to_item

boto3_serializer = TypeSerializer()
boto3_deserializer = TypeDeserializer()

numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, max_value=10**20, min_value=-(10**20)
    ),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(), st.binary(min_size=1))
sets = st.one_of(
    st.frozensets(st.text(), min_size=1),
    st.frozensets(st.integers(min_value=-(10**12), max_value=10**12), min_size=1),
    st.frozensets(st.binary(min_size=1), min_size=1),
    st.frozensets(st.booleans(), min_size=1),  # boto3 writes these as numbers; so must we
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)


@given(values)
def test_a_value_is_written_as_boto3_writes_it(value: Any) -> None:
    # A set's members are listed in the set's own order, the same for both.
    assert attribute(value) == boto3_serializer.serialize(value)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_an_item_reads_back_as_boto3_reads_it(values_: dict[str, Any]) -> None:
    item = to_item(values_)
    theirs = {k: boto3_deserializer.deserialize(v) for k, v in item.items()}
    # boto3 wraps binary in its own Binary type; Powertools' reader gives the bytes.
    assert from_item(item) == _unwrap(theirs)
    assert set(item) == {k for k, v in values_.items() if v is not None}


def _unwrap(value: Any) -> Any:
    if isinstance(value, Binary):
        return value.value
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, set):
        return {_unwrap(v) for v in value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        [1, 2.0],
        {"a": 0.1},
        Decimal("NaN"),
        Decimal("Infinity"),
        object(),
        {1, "mixed"},
    ],
    ids=["float", "float-in-list", "float-in-map", "nan", "infinity", "object", "mixed-set"],
)
def test_what_boto3_refuses_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        boto3_serializer.serialize(value)
    with pytest.raises(TypeError):
        attribute(value)


def test_a_number_boto3_cannot_hold_exactly_is_refused_alike() -> None:
    too_precise = Decimal("1." + "1" * 40)
    with pytest.raises(Inexact):
        boto3_serializer.serialize(too_precise)
    with pytest.raises(Inexact):
        attribute(too_precise)
