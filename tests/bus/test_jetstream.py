"""The JetStream bus on a real NATS server: streams, partitions, sizes, redelivery."""

from __future__ import annotations

import asyncio
import threading

import nats
import numpy as np
import pyarrow as pa
import pytest

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import (
    READ_SCHEMA,
    TOPIC_EVENTS,
    TOPIC_READINGS,
    partition_of,
    partition_subject,
)


def reads(meters: np.ndarray, boundary: int = 1000) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": pa.array(meters, pa.int64()),
            "boundary": pa.array(np.full(n, boundary), pa.int64()),
            "import_register_wh": pa.array(np.arange(n) * 10, pa.int64()),
            "export_register_wh": pa.array(np.zeros(n, np.int64), pa.int64()),
            "received_at": pa.array(np.full(n, 1.8e6), pa.float64()),
            "source": pa.array(np.zeros(n, np.uint8), pa.uint8()),
        },
        schema=READ_SCHEMA,
    )


class Collected:
    def __init__(self) -> None:
        self.batches: list[pa.Table] = []
        self.lock = threading.Lock()

    def __call__(self, batch: pa.Table) -> None:
        with self.lock:
            self.batches.append(batch)

    def meters(self) -> list[int]:
        return sorted(m for b in self.batches for m in b.column("meter_id").to_pylist())


@pytest.fixture
def bus(js_config: JetStreamConfig) -> JetStreamBus:
    opened = JetStreamBus(js_config)
    yield opened
    opened.close()


def stream_messages(bus: JetStreamBus, topic: str) -> int:
    async def count() -> int:
        nc = await nats.connect(bus.config.url)
        info = await nc.jetstream().stream_info(bus.config.stream(topic))
        await nc.close()
        return int(info.state.messages)

    return asyncio.run(count())


def test_a_batch_reaches_a_subscriber_through_the_stream(bus: JetStreamBus) -> None:
    got = Collected()
    bus.subscribe(TOPIC_READINGS, got)
    bus.publish(TOPIC_READINGS, reads(np.arange(1, 501)))
    bus.settle(30)
    assert got.meters() == list(range(1, 501))
    assert all(b.schema == READ_SCHEMA for b in got.batches)
    # one message per partition the rows fall in
    expected = len(np.unique(partition_of(np.arange(1, 501), bus.config.partitions)))
    assert stream_messages(bus, TOPIC_READINGS) == expected


def test_a_consumer_of_one_partition_gets_that_partition_only(bus: JetStreamBus) -> None:
    meters = np.arange(1, 2001)
    part = partition_of(meters, bus.config.partitions)
    got = Collected()
    bus.subscribe(TOPIC_READINGS, got, partitions=[5])
    bus.publish(TOPIC_READINGS, reads(meters))
    bus.settle(30)
    assert got.meters() == meters[part == 5].tolist()
    assert got.meters()  # the partition is not empty


def test_rows_go_by_their_supply_point_partition(js_config: JetStreamConfig) -> None:
    def route(meter_ids: np.ndarray) -> np.ndarray:
        return meter_ids // 10  # ten meters per "supply point"

    bus = JetStreamBus(js_config, route=route)
    try:
        target = int(partition_of(np.array([3]), js_config.partitions)[0])
        got = Collected()
        bus.subscribe(TOPIC_READINGS, got, partitions=[target])
        bus.publish(TOPIC_READINGS, reads(np.arange(0, 1000)))
        bus.settle(30)
        keys = np.array(got.meters()) // 10
        assert 3 in keys.tolist()
        assert set(partition_of(keys, js_config.partitions).tolist()) == {target}
    finally:
        bus.close()


def test_a_large_batch_is_split_below_the_message_size(js_config: JetStreamConfig) -> None:
    config = JetStreamConfig(
        url=js_config.url, prefix=js_config.prefix, partitions=1, max_message_bytes=16384
    )
    bus = JetStreamBus(config)
    try:
        got = Collected()
        bus.subscribe(TOPIC_READINGS, got)
        bus.publish(TOPIC_READINGS, reads(np.arange(20_000)))
        bus.settle(60)
        assert got.meters() == list(range(20_000))
        # 20,000 reads of 41 bytes take over 800 KB: more than 40 messages of ≤ 16 KiB
        assert stream_messages(bus, TOPIC_READINGS) > 40
    finally:
        bus.close()


def test_the_same_batch_published_twice_is_stored_once(bus: JetStreamBus) -> None:
    batch = reads(np.arange(1, 301))
    bus.publish(TOPIC_READINGS, batch)
    first = stream_messages(bus, TOPIC_READINGS)
    bus.publish(TOPIC_READINGS, batch)
    assert stream_messages(bus, TOPIC_READINGS) == first


def test_a_failing_handler_gets_the_batch_again(bus: JetStreamBus) -> None:
    calls: list[int] = []

    def flaky(batch: pa.Table) -> None:
        calls.append(batch.num_rows)
        if len(calls) == 1:
            raise RuntimeError("database away")

    bus.subscribe(TOPIC_READINGS, flaky)
    bus.publish(TOPIC_READINGS, reads(np.array([7, 7, 7]), boundary=1000))
    bus.settle(30)
    assert calls == [3, 3]


def test_a_batch_of_the_wrong_schema_is_refused_before_sending(bus: JetStreamBus) -> None:
    with pytest.raises(ValueError, match="columns"):
        bus.publish(TOPIC_EVENTS, reads(np.arange(3)))
    assert stream_messages(bus, TOPIC_EVENTS) == 0


def test_bytes_that_are_not_a_batch_are_kept_but_not_delivered(bus: JetStreamBus) -> None:
    got = Collected()
    bus.subscribe(TOPIC_READINGS, got)

    async def send_garbage() -> None:
        nc = await nats.connect(bus.config.url)
        subject = partition_subject(bus.config.prefix, TOPIC_READINGS, 0)
        await nc.jetstream().publish(subject, b"not arrow")
        await nc.close()

    asyncio.run(send_garbage())
    bus.publish(TOPIC_READINGS, reads(np.array([1])))
    bus.settle(30)
    assert got.meters() == [1]
    assert stream_messages(bus, TOPIC_READINGS) == 2  # the bad message stays for inspection


def test_no_server_is_a_clear_error() -> None:
    from openami.bus.jetstream import BusUnavailable

    with pytest.raises(BusUnavailable, match="no NATS server answers"):
        JetStreamBus(JetStreamConfig(url="nats://127.0.0.1:1", connect_timeout_s=1))


def test_the_error_never_shows_the_password() -> None:
    from openami.bus.jetstream import BusUnavailable

    with pytest.raises(BusUnavailable) as caught:
        JetStreamBus(JetStreamConfig(url="nats://svc:s3cret@127.0.0.1:1", connect_timeout_s=1))
    assert "s3cret" not in str(caught.value) and "svc:********@127.0.0.1:1" in str(caught.value)
