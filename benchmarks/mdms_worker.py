"""One MDMS worker process of ``bench_mdms_workers.py`` (not a benchmark itself).

``python mdms_worker.py URL PREFIX CONSUMER PARTITIONS REGISTRY P1,P2,…``: builds an MDMS on
an in-memory interval store, prints ``ready``, waits for a line on stdin, then consumes the
listed partitions of the (pre-loaded) readings stream until it is drained and prints one JSON
line: values and reads stored, wall and CPU seconds.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

import pyarrow as pa

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import TOPIC_READINGS
from openami.clock import ManualClock
from openami.log import configure
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore


def main(url: str, prefix: str, consumer: str, partitions: str, registry: str, own: str) -> None:
    configure()  # logs to stderr: stdout carries the results
    mdms = Mdms(
        DuckIntervalStore(), Registry.open(registry), ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
    )
    _ = mdms.install_index, mdms.meter_index  # registry look-ups before the clock starts
    totals: dict[str, float] = {"values": 0, "reads": 0, "batches": 0, "handler_s": 0.0}

    def handle(batch: pa.Table) -> None:
        start = time.perf_counter()
        result = mdms.ingest(batch)
        totals["handler_s"] += time.perf_counter() - start
        totals["values"] += result.values_new
        totals["reads"] += result.reads_new
        totals["batches"] += 1

    config = JetStreamConfig(
        url=url, prefix=prefix, consumer=consumer, partitions=int(partitions), ack_wait_s=300.0
    )
    bus = JetStreamBus(config)
    print("ready", flush=True)
    sys.stdin.readline()
    wall, cpu = time.perf_counter(), time.process_time()
    bus.subscribe(TOPIC_READINGS, handle, [int(p) for p in own.split(",")])
    bus.settle(3600)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({**totals, "wall_s": wall, "cpu_s": cpu}), flush=True)
    bus.close()


if __name__ == "__main__":
    main(*sys.argv[1:7])
