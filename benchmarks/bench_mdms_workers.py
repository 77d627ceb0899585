"""MDMS values/s through JetStream with 1 and 2 ``openami serve mdms --worker`` processes
(issue #13 §2).

One worker process taking all 64 partitions, then two taking 32 each: the real command, each
partition in a DuckDB store of its own under the run's data directory, leases and registry in
one SQLite file (``--db`` for PostgreSQL), a stream of its own per run. Cold: the workers
start on a stream holding every meter's first half hour; timed from the end of the first
worker's first lease round (its stores opened, consumers subscribed) until every consumer
has nothing pending or unacknowledged (opening a store and building its state cost about a
second per partition, whatever its size). Warm (the figure): ``slots`` more half hours are
then published to the running workers, timed from the start of publishing (which takes a
few per cent of the time: the bus publishes ≈ 2.6 M reads/s) to the drain. (Pausing the
workers with SIGSTOP while pre-loading does not work: pull requests expire meanwhile and
their messages come back only after the ack wait.) Target: 2 workers ≥ 1.6× one on the
2-core box.

    python benchmarks/bench_mdms_workers.py            # 100,000 meters × 8 slots
    python benchmarks/bench_mdms_workers.py --small    # 10,000 meters × 8 slots
    python benchmarks/bench_mdms_workers.py --json

The server is ``--url`` or ``OPENAMI_BUS_URL`` (default nats://127.0.0.1:4222); without one the
benchmark prints ``skipped``.
"""

from __future__ import annotations

import json
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
    common_arguments,
    drained,
    load_average,
    make_registry,
    observer,
    publish_slots,
    scratch_database,
    wait_for,
)

TTL_S = 15.0


def drain(
    config: JetStreamConfig, db_url: str, tmp: Path, workers: int, ids: Any, slots: int
) -> dict[str, Any]:
    """Cold: the workers start on a stream holding the first half hour (opening their
    stores, building their state). Warm: the next ``slots`` half hours are published and
    drained."""
    meter_ids, keys = ids
    publish_slots(config, meter_ids, keys, 0, 1)
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
        wait_for(lambda: drained(watch, list(range(PARTITIONS))), 3600, "the cold drain", procs)
        cold_s = time.time() - start_s
        start = time.perf_counter()  # publishing included (a few % of the time)
        publish_slots(config, meter_ids, keys, 2, slots + 1)
        wait_for(lambda: drained(watch, list(range(PARTITIONS))), 3600, "the warm drain", procs)
        warm_s = time.perf_counter() - start
        peak = max(p.peak_rss_gib() for p in procs)
    finally:
        watch.close()
        stopped = [p.stop() for p in procs]
    values = sum(int(s.get("values_new", 0)) for s in stopped)
    warm_values = len(meter_ids) * slots
    return {
        "values": values,
        "cold_s": round(cold_s, 3),
        "cold_values_per_s": round(len(meter_ids) / cold_s),
        "wall_s": round(warm_s, 3),
        "values_per_s": round(warm_values / warm_s),
        "peak_rss_gib": peak,
    }


def run(url: str, meters: int, slots: int, db_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_dir, scratch_database(db_url, Path(tmp_dir)) as db:
        tmp = Path(tmp_dir)
        meter_ids, keys = make_registry(db, meters)
        runs = {}
        for workers in (1, 2):
            config = JetStreamConfig(url=url, prefix=f"benchw{uuid.uuid4().hex[:8]}")
            try:
                runs[workers] = drain(config, db, tmp, workers, (meter_ids, keys), slots)
            finally:
                cleaner = JetStreamBus(config)
                cleaner.delete_streams()
                cleaner.close()
    one, two = runs[1], runs[2]
    expected = meters * (slots + 1)  # one value per meter and slot, the cold one included
    if one["values"] != expected or two["values"] != expected:
        raise SystemExit(f"values stored {one['values']}, {two['values']} of {expected}")
    return {
        "meters": meters,
        "slots": slots,
        "slot_values": meters * slots,
        "one_worker_cold_s": one["cold_s"],
        "two_workers_cold_s": two["cold_s"],
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
    ap = common_arguments((__doc__ or "").split("\n\n")[0], 100_000, 10_000)
    ap.add_argument("--slots", type=int, default=8)
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
    print(f"{'workers':<10}{'cold s':>10}{'warm s':>10}{'values/s':>14}{'peak GiB':>10}")
    for n, label in ((1, "one_worker"), (2, "two_workers")):
        cold, wall = out[f"{label}_cold_s"], out[f"{label}_wall_s"]
        rate, peak = out[f"{label}_values_per_s"], out[f"peak_rss_gib_{label.split('_')[0]}"]
        print(f"{n:<10}{cold:>10}{wall:>10}{rate:>14,}{peak:>10}")
    print(
        f"2 workers / 1 worker: {out['ratio_two_to_one']}  (target ≥ 1.6; "
        f"load average {out['load_average_1m']})"
    )


if __name__ == "__main__":
    main()
