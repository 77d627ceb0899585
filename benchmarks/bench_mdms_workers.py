"""MDMS values/s through JetStream with 1 and 2 ``openami serve mdms --worker`` processes
(issue #13 §2).

The readings stream is pre-loaded with ``slots`` half hours of every meter's registers
(partitioned by supply point over 64 partitions), then drained once by one worker process
taking all 64 partitions and once by two taking 32 each: the real command, each partition in
a DuckDB store of its own under the run's data directory, leases and registry in one SQLite
file (``--db`` for PostgreSQL). Both runs read the same messages (a stream per run). Timing
starts when the first worker has opened its partitions and subscribed (the end of its first
lease round, from its log) and ends when every consumer of the run has nothing pending or
unacknowledged. Target: 2 workers ≥ 1.6× one on the 2-core box.

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
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import PARTITIONS
from openami.bus.port import BusUnavailable
from openami.log import configure
from openami.mdms.partition_balance import fair_share
from worker_procs import (
    Worker,
    announce,
    drained,
    load_average,
    make_registry,
    observer,
    publish_slots,
    wait_for,
)

TTL_S = 15.0


def drain(config: JetStreamConfig, db_url: str, tmp: Path, workers: int) -> dict[str, Any]:
    names = [f"bench{workers}-{i}" for i in range(workers)]
    announce(db_url, names)
    data_dir = tmp / f"run{workers}" / "data"
    data_dir.parent.mkdir()
    procs = [Worker(name, config, db_url, data_dir, TTL_S) for name in names]
    watch = observer(config)
    try:
        shares = {n: fair_share(PARTITIONS, names, n) for n in names}
        wait_for(lambda: all(len(p.owned()) == shares[p.name] for p in procs), 600, "shares", procs)
        start_s = min(p.events("mdms.worker_partitions")[0]["at_s"] for p in procs)
        wait_for(lambda: drained(watch, list(range(PARTITIONS))), 3600, "the drain", procs)
        wall_s = time.time() - start_s
        peak = max(p.peak_rss_gib() for p in procs)
    finally:
        watch.close()
        stopped = [p.stop() for p in procs]
    values = sum(int(s.get("values_new", 0)) for s in stopped)
    return {
        "values": values,
        "wall_s": round(wall_s, 3),
        "values_per_s": round(values / wall_s),
        "peak_rss_gib": peak,
    }


def run(url: str, meters: int, slots: int, db_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = db_url or f"sqlite:///{tmp / 'registry.sqlite'}"
        meter_ids, keys = make_registry(db, meters)
        runs = {}
        for workers in (1, 2):
            config = JetStreamConfig(url=url, prefix=f"benchw{uuid.uuid4().hex[:8]}")
            try:
                publish_slots(config, meter_ids, keys, 0, slots)
                runs[workers] = drain(config, db, tmp, workers)
            finally:
                cleaner = JetStreamBus(config)
                cleaner.delete_streams()
                cleaner.close()
    one, two = runs[1], runs[2]
    expected = meters * slots  # one value per meter and slot
    if one["values"] != expected or two["values"] != expected:
        raise SystemExit(f"values stored {one['values']}, {two['values']} of {expected}")
    return {
        "meters": meters,
        "slots": slots,
        "slot_values": expected,
        "one_worker_values_per_s": one["values_per_s"],
        "two_workers_values_per_s": two["values_per_s"],
        "one_worker_wall_s": one["wall_s"],
        "two_workers_wall_s": two["wall_s"],
        "ratio_two_to_one": round(two["values_per_s"] / one["values_per_s"], 3),
        "peak_rss_gib_one": one["peak_rss_gib"],
        "peak_rss_gib_two": two["peak_rss_gib"],
        "load_average_1m": load_average(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--url", default=os.environ.get("OPENAMI_BUS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument("--db", default=None, help="leases and registry (default: a SQLite file)")
    ap.add_argument("--meters", type=int, default=None, help="meters (default 100,000)")
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--small", action="store_true", help="10,000 meters")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    configure()  # logs to stderr: stdout carries the table or the JSON object
    meters = args.meters or (10_000 if args.small else 100_000)
    try:
        out = run(args.url, meters, args.slots, args.db)
    except BusUnavailable as exc:
        out = {"skipped": str(exc)}
    if args.json:
        print(json.dumps(out))
        return
    if "skipped" in out:
        print(f"MDMS workers benchmark skipped: {out['skipped']}")
        return
    print(f"`serve mdms` workers on JetStream, {meters:,} meters × {args.slots} slots")
    print(f"{'workers':<10}{'wall s':>10}{'values/s':>14}{'peak GiB':>10}")
    for n, label in ((1, "one"), (2, "two")):
        wall, rate = out[f"{label}_worker{'s' if n == 2 else ''}_wall_s"], None
        rate = out[f"{label}_worker{'s' if n == 2 else ''}_values_per_s"]
        print(f"{n:<10}{wall:>10}{rate:>14,}{out[f'peak_rss_gib_{label}']:>10}")
    print(
        f"2 workers / 1 worker: {out['ratio_two_to_one']}  (target ≥ 1.6; "
        f"load average {out['load_average_1m']})"
    )


if __name__ == "__main__":
    main()
