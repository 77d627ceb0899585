"""Bus payloads: split by partition and size, decoded back, bad bytes refused with a code."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA, TOPIC_EVENTS, TOPIC_READINGS, partition_of
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
