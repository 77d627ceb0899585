"""MDMS workers on JetStream with partition leases: each consumes only the partitions it
holds, every row is handled once, and a dead worker's partitions are taken over after its
leases expire, carrying on from the first message it had not acknowledged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from tests.bus.nats_server import js_config, nats_url
from tests.storage.engines import database, postgres_url

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import READ_SCHEMA, TOPIC_READINGS, partition_of
from openami.mdms.partition_balance import LeaseBalancer
from openami.mdms.partition_worker import PartitionWorker
from openami.storage.repositories import Database
from openami.storage.repositories.leases import PartitionLeases

__all__ = ["database", "js_config", "nats_url", "postgres_url"]
TTL_S = 3.0
PARTITIONS = 8


def reads(meters: np.ndarray) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": pa.array(meters, pa.int64()),
            "boundary": pa.array(np.full(n, 1000), pa.int64()),
            "import_register_wh": pa.array(np.arange(n), pa.int64()),
            "export_register_wh": pa.array(np.zeros(n, np.int64), pa.int64()),
            "received_at": pa.array(np.full(n, 1.8e6), pa.float64()),
            "source": pa.array(np.zeros(n, np.uint8), pa.uint8()),
        },
        schema=READ_SCHEMA,
    )


class Handled:
    def __init__(self) -> None:
        self.meters: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, batch: pa.Table) -> None:
        with self.lock:
            self.meters.extend(batch.column("meter_id").to_pylist())


@pytest.fixture
def config(js_config: JetStreamConfig) -> JetStreamConfig:
    return JetStreamConfig(
        url=js_config.url,
        prefix=js_config.prefix,
        consumer="mdms",
        partitions=PARTITIONS,
        ack_wait_s=2.0,
    )


@pytest.fixture
def buses(config: JetStreamConfig) -> Iterator[list[JetStreamBus]]:
    opened = [JetStreamBus(config) for _ in range(3)]
    yield opened
    for bus in opened:
        bus.close()


def worker(bus: JetStreamBus, database: Database, name: str) -> tuple[PartitionWorker, Handled]:
    handled = Handled()
    balancer = LeaseBalancer(PartitionLeases(database, "mdms", TTL_S), name, PARTITIONS)
    return PartitionWorker(bus, balancer, {TOPIC_READINGS: handled}), handled


def test_workers_share_partitions_and_take_over_a_dead_ones(
    buses: list[JetStreamBus], database: Database
) -> None:
    publisher, bus_a, bus_b = buses
    a, got_a = worker(bus_a, database, "a")
    b, got_b = worker(bus_b, database, "b")
    for _ in range(3):
        a.step()
        b.step()
    assert len(a.consuming) == len(b.consuming) == PARTITIONS // 2
    assert a.consuming.isdisjoint(b.consuming)

    first = np.arange(0, 800)
    publisher.publish(TOPIC_READINGS, reads(first))
    bus_a.settle(30)
    bus_b.settle(30)
    assert sorted(got_a.meters + got_b.meters) == first.tolist()  # each row once
    assert set(partition_of(np.array(got_a.meters), PARTITIONS).tolist()) == a.consuming
    assert set(partition_of(np.array(got_b.meters), PARTITIONS).tolist()) == b.consuming

    dead = set(b.consuming)
    bus_b.close()  # b dies: no release, its leases run until they expire
    second = np.arange(1000, 1800)
    publisher.publish(TOPIC_READINGS, reads(second))
    a.step()  # b's leases are still valid: a keeps to its own partitions
    bus_a.settle(30)
    before = set(got_a.meters) & set(second.tolist())
    assert set(partition_of(np.array(sorted(before)), PARTITIONS).tolist()) == a.consuming - dead

    time.sleep(TTL_S + 0.3)
    changes = a.step()
    assert set(changes.gained) == dead and len(a.consuming) == PARTITIONS
    bus_a.settle(30)
    handled_second = [m for m in got_a.meters + got_b.meters if m >= 1000]
    assert sorted(handled_second) == second.tolist()  # b's partitions resumed, nothing twice
    a.stop()
    assert a.consuming == set()
    assert PartitionLeases(database, "mdms", TTL_S).held() == {}
