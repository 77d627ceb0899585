"""A worker that gains a partition whose store another process still holds open (a previous
holder alive but late) gives the lease back and opens the store at a later step, once the
file is free: never two writers of one partition file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.bus.nats_server import js_config, nats_url
from tests.mdms.worker_cluster import make_registry

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.clock import ManualClock
from openami.mdms.worker import MdmsWorker, WorkerOptions
from openami.mdms.worker_partition import PARTITION_STORE_FILE, RegistryLookups, partition_dir
from openami.registry import Registry
from openami.storage.repositories import open_database
from openami.storage.repositories.leases import PartitionLeases

__all__ = ["js_config", "nats_url"]
HOLD = "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('held', flush=True); input()"


def test_a_store_held_elsewhere_is_opened_only_once_it_is_free(
    js_config: JetStreamConfig, tmp_path: Path
) -> None:
    db = str(tmp_path / "registry.sqlite")
    make_registry(db, 4)
    data_dir = tmp_path / "data"
    busy = partition_dir(data_dir, 1)
    busy.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(busy / PARTITION_STORE_FILE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    database = open_database(db)
    bus = JetStreamBus(JetStreamConfig(url=js_config.url, prefix=js_config.prefix, partitions=2))
    options = WorkerOptions("w1", data_dir, partitions=2, lease_ttl_s=30.0, step_s=1.0)
    leases = PartitionLeases(database, "mdms", options.lease_ttl_s)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    worker = MdmsWorker(options, bus, leases, RegistryLookups(Registry(database), 2, 300), clock)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        changes = worker.step()
        assert changes.gained == [0] and changes.lost == []  # 1 taken, then given back
        assert worker.owned == [0] and set(leases.held()) == {0}  # the lease is free again
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=30)
        assert worker.step().gained == [1]
        assert worker.owned == [0, 1]
    finally:
        worker.stop()
        bus.close()
        if holder.poll() is None:
            holder.kill()
    assert leases.held() == {}
    database.close()
