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
few per cent of the time: the bus publishes ≈ 2.6 M reads/s) to the drain. The drain ends
at the server's time of the last acknowledgement (a worker acknowledges after the MDMS
transaction committed); the benchmark looks for it twice a second, because each look asks
the server about 64 consumers and a quicker poll takes CPU from the workers. (Pausing the
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
    last_ack_s,
    load_average,
    make_registry,
    nats_server_cpu_s,
    observer,
    publish_slots,
    scratch_database,
    wait_for,
)

TTL_S = 15.0
#: how often the drain is looked at: each look asks the server about 64 consumers, so a
#: quick poll takes CPU from the workers; the end is the last acknowledgement's time
POLL_S = 0.5


def _start(names: list[str], config: JetStreamConfig, db_url: str, data_dir: Path) -> Any:
    """The workers, once each holds its fair share (stores opened, consumers subscribed);
    with the time the first of them got there."""
    procs = [Worker(name, config, db_url, data_dir, TTL_S) for name in names]
    shares = {n: fair_share(PARTITIONS, names, n) for n in names}
    wait_for(lambda: all(len(p.owned()) == shares[p.name] for p in procs), 600, "shares", procs)
    return procs, min(p.events("mdms.worker_partitions")[0]["at_s"] for p in procs)


def _drained(procs: list[Worker], watch: JetStreamBus, start_s: float, why: str) -> Any:
    """Wait for the drain; its seconds from ``start_s`` to the last acknowledgement, and
    each worker's."""
    everyone = list(range(PARTITIONS))
    wait_for(lambda: drained(watch, everyone), 3600, why, procs, POLL_S)
    ends = [round(last_ack_s(watch, p.owned()) - start_s, 2) for p in procs]
    return last_ack_s(watch, everyone) - start_s, ends


def drain(
    config: JetStreamConfig, db_url: str, tmp: Path, workers: int, ids: Any, slots: int
) -> dict[str, Any]:
    """Cold: the workers start on a stream holding the first half hour (opening their
    stores, building their state). Warm: the next ``slots`` half hours are published to the
    running workers and drained."""
    meter_ids, keys = ids
    publish_slots(config, meter_ids, keys, 0, 1)
    names = [f"bench{workers}-{i}" for i in range(workers)]
    announce(db_url, names)
    data_dir = tmp / f"run{workers}" / "data"
    data_dir.parent.mkdir()
    watch = observer(config)
    procs: list[Worker] = []
    try:
        procs, start_s = _start(names, config, db_url, data_dir)
        cold_s, _ = _drained(procs, watch, start_s, "the cold drain")
        cpu0 = [p.cpu_s() for p in procs], nats_server_cpu_s()
        start = time.time()  # publishing included (a few % of the time)
        publish_slots(config, meter_ids, keys, 2, slots + 1)
        warm_s, ends = _drained(procs, watch, start, "the warm drain")
        cpu1 = [p.cpu_s() for p in procs], nats_server_cpu_s()
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
        # where the warm period's time went: each worker's CPU and the end of its last ack
        "worker_cpu_s": [round(b - a, 2) for a, b in zip(cpu0[0], cpu1[0], strict=True)],
        "worker_done_s": ends,
        "nats_server_cpu_s": None
        if cpu0[1] is None or cpu1[1] is None
        else round(cpu1[1] - cpu0[1], 2),
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
        # the same ratio with the CPU each value cost taken out (it moves by ±15 % between
        # runs of the same code on this VM): how many cores two workers kept busy, per one
        "cores_busy_one": round(sum(one["worker_cpu_s"]) / one["wall_s"], 3),
        "cores_busy_two": round(sum(two["worker_cpu_s"]) / two["wall_s"], 3),
        "ratio_at_equal_cpu": round(
            (sum(two["worker_cpu_s"]) / two["wall_s"]) / (sum(one["worker_cpu_s"]) / one["wall_s"]),
            3,
        ),
        "one_worker_cpu_s": one["worker_cpu_s"],
        "two_workers_cpu_s": two["worker_cpu_s"],
        "two_workers_done_s": two["worker_done_s"],
        "nats_server_cpu_s_one": one["nats_server_cpu_s"],
        "nats_server_cpu_s_two": two["nats_server_cpu_s"],
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
    print(f"{'workers':<10}{'cold s':>10}{'warm s':>10}{'values/s':>14}{'CPU s':>14}", end="")
    print(f"{'peak GiB':>10}")
    for n, label in ((1, "one_worker"), (2, "two_workers")):
        cold, wall = out[f"{label}_cold_s"], out[f"{label}_wall_s"]
        rate, peak = out[f"{label}_values_per_s"], out[f"peak_rss_gib_{label.split('_')[0]}"]
        cpu = "+".join(str(c) for c in out[f"{label}_cpu_s"])
        print(f"{n:<10}{cold:>10}{wall:>10}{rate:>14,}{cpu:>14}{peak:>10}")
    print(
        f"2 workers / 1 worker: {out['ratio_two_to_one']}  (target ≥ 1.6); at equal CPU per "
        f"value {out['ratio_at_equal_cpu']} (cores busy {out['cores_busy_one']} / "
        f"{out['cores_busy_two']}; nats-server CPU "
        f"{out['nats_server_cpu_s_one']} / {out['nats_server_cpu_s_two']} s; "
        f"load average {out['load_average_1m']})"
    )


if __name__ == "__main__":
    main()
