"""One MDMS partition worker in a process of its own (for the failover test):
``python worker_process.py URL PREFIX LEASE_DB REGISTRY STORE NAME MODE``.

It steps its lease balancer until it holds every partition, storing what its partitions
deliver in the MDMS. Each batch stored prints one JSON line. MODE ``kill``: SIGKILL right
after the first batch's transaction committed, before the acknowledgement; MODE
``kill-in-transaction``: SIGKILL inside the ingest's transaction, its writes done but not
committed; MODE ``settle``: handle what is pending, print ``{"done": seconds since start}``,
leave cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pyarrow as pa

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import TOPIC_READINGS
from openami.clock import ManualClock
from openami.mdms import Mdms
from openami.mdms.partition_balance import LeaseBalancer
from openami.mdms.partition_worker import PartitionWorker
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.leases import PartitionLeases

PARTITIONS = 8
TTL_S = 2.0


class KillingStore(DuckIntervalStore):
    """Dies inside the next transaction once armed: after its statements, before COMMIT."""

    armed = False

    @contextmanager
    def transaction(self, lock: bool = True, counted: bool = True) -> Iterator[object]:  # type: ignore[override]
        with super().transaction(lock, counted) as cur:
            yield cur
            if self.armed and counted:  # a writing transaction (the ingest)
                os.kill(os.getpid(), signal.SIGKILL)


def main(url: str, prefix: str, lease_db: str, registry_path: str, store: str, name: str) -> None:
    mode = sys.argv[7]
    start = time.monotonic()
    registry = Registry.open(registry_path)
    duck = KillingStore(store)
    mdms = Mdms(duck, registry, ManualClock(datetime(2026, 11, 2, tzinfo=UTC)))
    config = JetStreamConfig(
        url=url, prefix=prefix, consumer="mdms", partitions=PARTITIONS, ack_wait_s=2.0
    )
    bus = JetStreamBus(config)

    def handle(batch: pa.Table) -> None:
        duck.armed = mode == "kill-in-transaction"
        result = mdms.ingest(batch)  # returns after its transaction committed
        line = {"worker": name, "rows": batch.num_rows, "reads_new": result.reads_new}
        print(json.dumps({**line, "values_new": result.values_new}), flush=True)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    leases = PartitionLeases(open_database(lease_db), "mdms", TTL_S)
    worker = PartitionWorker(bus, LeaseBalancer(leases, name, PARTITIONS), {TOPIC_READINGS: handle})
    while len(worker.consuming) < PARTITIONS:
        worker.step()
        time.sleep(TTL_S / 4)
    bus.settle(60)
    print(json.dumps({"done": round(time.monotonic() - start, 2)}), flush=True)
    worker.stop()
    bus.close()
    mdms.store.close()


if __name__ == "__main__":
    main(*sys.argv[1:7])
