"""One 30-minute collection cycle of the HES over the network model, into the bus.

A fleet of N simulated meters (1,000,000 by default; ``--small`` uses 100,000) with the
default method mix (80 % mesh through concentrators, 10 % cellular, 10 % PLC) and the
default network parameters. The cycle is: the fleet logs its registers at the boundary, the
HES reads every meter (jitter, per-segment permits, retries with backoff, clock check) and
publishes every reading that has arrived by the end of the slot as one Arrow batch on the
bus. Set-up (fleet, network, HES) is timed separately. Everything is columnar: no Python
object per reading. Target: ≤ 30 s on 2 cores for 1,000,000 meters.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from datetime import date

import numpy as np
import pyarrow as pa

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import TOPIC_READINGS
from openami.clock import SLOT_SECONDS, day_first_slot
from openami.hes.engine import CollectionConfig, HeadEnd
from openami.meter.fleet import MeterFleet
from openami.meter.load import hash_uniform
from openami.network import METHOD_CODES, NetworkModel

MIX = {"mesh": 0.8, "cellular": 0.1, "plc": 0.1}


def run(meters: int, cycles: int) -> dict[str, float | int | str]:
    t0 = time.perf_counter()
    ids = np.arange(1, meters + 1, dtype=np.int64)
    start_b = day_first_slot(date(2026, 11, 1)) + 18  # 09:00 JST
    fleet = MeterFleet(ids, start_b, seed=1, retention_days=1)
    edges = np.cumsum([MIX[m] for m in METHOD_CODES])
    codes = np.minimum(np.searchsorted(edges, hash_uniform(1, 601, ids), side="right"), 2)
    network = NetworkModel(ids, codes.astype(np.uint8), seed=1)
    bus = InProcessBus()
    received: list[int] = []
    on_time: list[int] = []

    def sink(batch: pa.Table) -> None:
        received.append(batch.num_rows)
        delay = batch.column("received_at").to_numpy() - batch.column("boundary").to_numpy() * 1800
        on_time.append(int((delay <= SLOT_SECONDS).sum()))

    bus.subscribe(TOPIC_READINGS, sink)
    hes = HeadEnd(fleet, network, bus, CollectionConfig(window_slots=2 * 48))
    setup_s = time.perf_counter() - t0

    walls, advance, collect, publish = [], [], [], []
    for k in range(1, cycles + 1):
        b = start_b + k
        t1 = time.perf_counter()
        fleet.advance_to(b)
        t2 = time.perf_counter()
        hes.on_boundary(b)
        t3 = time.perf_counter()
        hes.tick((b + 1) * SLOT_SECONDS)
        t4 = time.perf_counter()
        advance.append(t2 - t1)
        collect.append(t3 - t2)
        publish.append(t4 - t3)
        walls.append(t4 - t1)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "meters": meters,
        "cycles": cycles,
        "setup_s": round(setup_s, 3),
        "cycle_wall_s": round(max(walls), 3),
        "cycle_wall_median_s": round(float(np.median(walls)), 3),
        "fleet_advance_s": round(float(np.median(advance)), 3),
        "hes_collect_s": round(float(np.median(collect)), 3),
        "hes_publish_s": round(float(np.median(publish)), 3),
        "attempts": hes.attempts,
        "readings_published": int(sum(received)),
        "on_time_30min_share": round(sum(on_time) / max(meters * cycles, 1), 5),
        "max_rss_mb": round(rss_mb, 1),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="100,000 meters instead of 1,000,000")
    parser.add_argument("--meters", type=int, default=None, help="fleet size (overrides --small)")
    parser.add_argument("--cycles", type=int, default=2, help="consecutive cycles to time")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    meters = args.meters or (100_000 if args.small else 1_000_000)
    result = run(meters, max(args.cycles, 1))
    if args.json:
        print(json.dumps(result))
        return
    print(f"HES collection cycle over the network model, {meters:,} meters")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(
            f"  {key:<{width}}  {value:,}"
            if isinstance(value, int)
            else f"  {key:<{width}}  {value}"
        )
    verdict = "meets" if meters < 1_000_000 or float(result["cycle_wall_s"]) <= 30 else "misses"
    print(f"target ≤ 30 s per cycle for 1,000,000 meters on 2 cores: {verdict}")


if __name__ == "__main__":
    main()
