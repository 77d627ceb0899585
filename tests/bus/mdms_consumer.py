"""An MDMS consuming readings from JetStream in a process of its own (for the redelivery
tests): ``python mdms_consumer.py URL PREFIX REGISTRY STORE MODE``.

Each batch handled prints one JSON line (rows, reads_new, values_new). MODE ``kill``: the
process kills itself with SIGKILL right after the MDMS transaction committed and before the
bus could acknowledge; MODE ``settle``: it handles what is pending, then exits cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime

import pyarrow as pa

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import TOPIC_READINGS
from openami.clock import ManualClock
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore


def main(url: str, prefix: str, registry_path: str, store_path: str, mode: str) -> None:
    registry = Registry.open(registry_path)
    store = DuckIntervalStore(store_path)
    mdms = Mdms(store, registry, ManualClock(datetime(2026, 11, 2, tzinfo=UTC)))
    bus = JetStreamBus(JetStreamConfig(url=url, prefix=prefix, consumer="mdms", ack_wait_s=2.0))

    def handle(batch: pa.Table) -> None:
        result = mdms.ingest(batch)  # returns after its transaction committed
        line = {"rows": batch.num_rows, "reads_new": result.reads_new}
        print(json.dumps({**line, "values_new": result.values_new}), flush=True)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    bus.subscribe(TOPIC_READINGS, handle)
    bus.settle(60)
    bus.close()
    store.close()
    registry.close()


if __name__ == "__main__":
    main(*sys.argv[1:6])
