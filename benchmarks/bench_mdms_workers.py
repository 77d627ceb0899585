"""MDMS values/s through JetStream with 1 and 2 partition workers (issue #13 §2).

The readings stream is pre-loaded with ``slots`` half hours of every meter's registers
(partitioned by supply point), then drained once by one worker process holding all 64
partitions and once by two worker processes holding 32 each (each run with consumers of its
own, so both see every message). Each worker validates and stores through the MDMS's ingest
(VEE included) into an in-memory interval store of its own (a shared store that many
processes write is issue #13 §3); the registry is one SQLite file. Timing starts when every
worker is ready and ends when the last has drained its partitions. Target: 2 workers ≥ 1.6×
one on the 2-core box.

    python benchmarks/bench_mdms_workers.py            # 100,000 meters × 8 slots
    python benchmarks/bench_mdms_workers.py --small    # 10,000 meters × 8 slots
    python benchmarks/bench_mdms_workers.py --json

The server is ``--url`` or ``OPENAMI_BUS_URL`` (default nats://127.0.0.1:4222); without one the
benchmark prints ``skipped``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from mdms_fixtures import tick_reads
from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import PARTITIONS, TOPIC_READINGS
from openami.bus.port import BusUnavailable
from openami.bus.route import MeterRoute
from openami.clock import day_first_slot
from openami.log import configure
from openami.registry import Meter, Registry, make_supply_point_id

WORKER = Path(__file__).with_name("mdms_worker.py")
FIRST_BOUNDARY = day_first_slot(date(2026, 11, 20))


def make_registry(path: Path, meters: int) -> tuple[np.ndarray, np.ndarray]:
    registry = Registry.open(path)
    keys = registry.add_supply_points([make_supply_point_id("03", i + 1) for i in range(meters)])
    expiry = date(2035, 1, 1)
    registry.add_meters(
        [Meter(i + 1, "Toshiba", f"S{i + 1}", 30, "mesh", None, expiry) for i in range(meters)]
    )
    registry.install_meters([(k, i + 1) for i, k in enumerate(keys)], 0.0)
    registry.close()
    return np.arange(1, meters + 1, dtype=np.int64), np.asarray(keys, np.int64)


def preload(config: JetStreamConfig, meter_ids: np.ndarray, keys: np.ndarray, slots: int) -> None:
    bus = JetStreamBus(config, route=MeterRoute(lambda: (meter_ids, keys)))
    rng = np.random.default_rng(3)
    imp = rng.integers(0, 5_000_000, len(meter_ids))
    for slot in range(slots + 1):
        imp = imp + rng.integers(50, 600, len(meter_ids))
        exp = np.zeros(len(meter_ids), np.int64)
        bus.publish(TOPIC_READINGS, tick_reads(meter_ids, FIRST_BOUNDARY + slot, imp, exp))
    bus.close()


def drain(config: JetStreamConfig, registry: Path, workers: int) -> dict[str, Any]:
    consumer = f"run{workers}"
    procs = []
    for w in range(workers):
        own = ",".join(str(p) for p in range(PARTITIONS) if p % workers == w)
        args = [config.url, config.prefix, consumer, str(PARTITIONS), str(registry), own]
        procs.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate(timeout=3600)[0].splitlines()[-1]) for proc in procs]
    wall = time.perf_counter() - start
    values = sum(r["values"] for r in results)
    return {
        "values": values,
        "wall_s": round(wall, 3),
        "values_per_s": round(values / wall),
        "cpu_s": round(sum(r["cpu_s"] for r in results), 2),
    }


def run(url: str, meters: int, slots: int) -> dict[str, Any]:
    config = JetStreamConfig(url=url, prefix=f"benchw{uuid.uuid4().hex[:8]}")
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "registry.sqlite"
        meter_ids, keys = make_registry(registry, meters)
        try:
            preload(config, meter_ids, keys, slots)
            one = drain(config, registry, 1)
            two = drain(config, registry, 2)
        finally:
            cleaner = JetStreamBus(config)
            cleaner.delete_streams()
            cleaner.close()
    expected = meters * slots * 2  # import and export value of every slot
    if one["values"] * 2 != expected or two["values"] * 2 != expected:
        raise SystemExit(f"values stored {one['values']}, {two['values']} of {expected // 2} slots")
    return {
        "meters": meters,
        "slots": slots,
        "slot_values": meters * slots,
        "one_worker_values_per_s": one["values_per_s"],
        "two_workers_values_per_s": two["values_per_s"],
        "one_worker_wall_s": one["wall_s"],
        "two_workers_wall_s": two["wall_s"],
        "ratio_two_to_one": round(two["values_per_s"] / one["values_per_s"], 3),
        "cpu_s_one": one["cpu_s"],
        "cpu_s_two": two["cpu_s"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("OPENAMI_BUS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument("--meters", type=int, default=None, help="meters (default 100,000)")
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--small", action="store_true", help="10,000 meters")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    configure()  # logs to stderr: stdout carries the table or the JSON object
    meters = args.meters or (10_000 if args.small else 100_000)
    try:
        out = run(args.url, meters, args.slots)
    except BusUnavailable as exc:
        out = {"skipped": str(exc)}
    if args.json:
        print(json.dumps(out))
        return
    if "skipped" in out:
        print(f"MDMS workers benchmark skipped: {out['skipped']}")
        return
    print(f"MDMS workers on JetStream, {meters:,} meters × {args.slots} slots (values = slots)")
    print(f"{'workers':<10}{'wall s':>10}{'values/s':>14}{'CPU s':>10}")
    print(
        f"{'1':<10}{out['one_worker_wall_s']:>10}{out['one_worker_values_per_s']:>14,}"
        f"{out['cpu_s_one']:>10}"
    )
    print(
        f"{'2':<10}{out['two_workers_wall_s']:>10}{out['two_workers_values_per_s']:>14,}"
        f"{out['cpu_s_two']:>10}"
    )
    print(f"2 workers / 1 worker: {out['ratio_two_to_one']}  (target ≥ 1.6)")


if __name__ == "__main__":
    main()
