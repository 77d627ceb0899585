"""Bus payloads: split by partition and size, decoded back, bad bytes refused with a code."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import (
    COMMAND_SCHEMA,
    READ_SCHEMA,
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_READINGS,
    UNKNOWN_REFUSAL,
    partition_of,
    refusal_reason,
)
from openami.bus.payload import Message, PayloadError, decode, encode, split


def reads(meters: np.ndarray) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": pa.array(meters, pa.int64()),
            "boundary": pa.array(np.arange(n), pa.int64()),
            "import_register_wh": pa.array(np.arange(n) * 7, pa.int64()),
            "export_register_wh": pa.array(np.zeros(n, np.int64), pa.int64()),
            "received_at": pa.array(np.full(n, 1.0), pa.float64()),
            "source": pa.array(np.zeros(n, np.uint8), pa.uint8()),
        },
        schema=READ_SCHEMA,
    )


def test_messages_hold_one_partition_each_below_the_size_in_row_order() -> None:
    meters = np.tile(np.arange(1, 101), 300)  # 30,000 rows over 100 meters
    messages = list(split(reads(meters), None, 8, max_bytes=16384))
    assert all(len(m.payload) <= 16384 for m in messages)
    assert sum(m.rows for m in messages) == 30_000
    for message in messages:
        table = decode(TOPIC_READINGS, message.payload)
        got = table.column("meter_id").to_numpy()
        assert set(partition_of(got, 8).tolist()) == {message.partition}
        assert (np.diff(table.column("boundary").to_numpy()) > 0).all()  # order kept


def test_a_route_maps_meters_to_the_keys_they_are_partitioned_by() -> None:
    meters = np.arange(1000)
    messages = list(split(reads(meters), lambda m: m // 100, 64))
    for message in messages:
        got = decode(TOPIC_READINGS, message.payload).column("meter_id").to_numpy()
        assert set(partition_of(got // 100, 64).tolist()) == {message.partition}
    assert len(messages) == len(set(partition_of(np.arange(10), 64).tolist()))


def test_message_ids_differ_by_content_and_subject() -> None:
    def only(meter: int) -> Message:
        (message,) = split(reads(np.array([meter])), None, 1)
        return message

    assert only(1).message_id("a") == only(1).message_id("a")
    assert only(1).message_id("a") != only(2).message_id("a")
    assert only(1).message_id("a") != only(1).message_id("b")


def test_an_empty_batch_sends_nothing() -> None:
    assert list(split(reads(np.array([], np.int64)), None, 64)) == []


def test_bytes_that_are_not_arrow_are_refused_with_a_code() -> None:
    with pytest.raises(PayloadError) as caught:
        decode(TOPIC_READINGS, b"\x00garbage")
    assert caught.value.code == "E_NOT_ARROW"


def test_a_batch_of_another_topic_is_refused_with_a_code() -> None:
    with pytest.raises(PayloadError) as caught:
        decode(TOPIC_EVENTS, encode(reads(np.array([1]))))
    assert caught.value.code == "E_SCHEMA"


def test_an_outcome_of_the_earlier_contract_is_read_with_no_refusal() -> None:
    """A ``hes.commands`` batch published before outcomes carried ``refusal`` (still in the
    stream across an upgrade) decodes with it null; one that lacks another column does not."""
    row = {"correlation_id": 5, "meter_id": 7, "kind": 1, "priority": 0, "state": 3}
    row |= {"attempts": 0, "issued_at": 1.0, "completed_at": 2.0, "import_register_wh": -1}
    row |= {"export_register_wh": -1, "clock_offset_s": None}
    earlier = pa.schema([f for f in COMMAND_SCHEMA if f.name != "refusal"])
    old = pa.Table.from_pylist([row], schema=earlier)
    got = decode(TOPIC_COMMANDS, encode(old))
    assert got.schema == COMMAND_SCHEMA
    assert got.to_pylist() == [row | {"refusal": None}]
    current = pa.Table.from_pylist([row | {"refusal": "fleet_cap"}], schema=COMMAND_SCHEMA)
    assert decode(TOPIC_COMMANDS, encode(current)).column("refusal").to_pylist() == ["fleet_cap"]
    with pytest.raises(PayloadError) as err:
        decode(TOPIC_COMMANDS, encode(old.drop_columns(["clock_offset_s"])))
    assert err.value.code == "E_SCHEMA"


def test_a_refusal_is_shown_only_as_a_known_code() -> None:
    assert refusal_reason("fleet_cap") == "fleet_cap"
    assert refusal_reason(None) is None
    assert refusal_reason("key=00112233 leaked") == UNKNOWN_REFUSAL  # never echoed
