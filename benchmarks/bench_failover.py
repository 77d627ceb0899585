"""Seconds from ``kill -9`` of an MDMS worker to its partitions resuming on another
(issue #13 §2; target ≤ 30 s).

Two ``openami serve mdms --worker`` processes share 64 partitions of a readings stream
pre-loaded with ``slots`` half hours of every meter, and drain it. Then one is killed with
SIGKILL and the next half hour of every meter is published at once. Measured from the kill:
when the survivor holds the dead worker's partitions (its leases expired after the TTL and
it opened their stores), when it stored the first value of one of them, and when the last of
them had stored its first batch; then every value must have been stored exactly once. The
baseline is the lease TTL, the shortest any lease-based takeover can take: the ratio says
how much opening and resuming add to it.

    python benchmarks/bench_failover.py            # 20,000 meters, TTL 10 s
    python benchmarks/bench_failover.py --small    # 4,000 meters
    python benchmarks/bench_failover.py --json
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
from openami.storage.duckdb_interval import DuckIntervalStore
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

ALL = list(range(PARTITIONS))


def stored_values(data_dir: Path) -> tuple[int, int]:
    """Values in every partition store, and the highest version (1: each stored once)."""
    count, highest = 0, 0
    for path in sorted((data_dir / "partitions").glob("p*/interval.duckdb")):
        store = DuckIntervalStore(path)
        row = store.query("SELECT count(*) AS n, max(version) AS v FROM half_hour_values")
        count += int(row.column("n")[0].as_py())
        highest = max(highest, int(row.column("v")[0].as_py() or 0))
        store.close()
    return count, highest


def failover(
    config: JetStreamConfig, db: str, tmp: Path, meters: Any, ttl_s: float, slots: int
) -> dict[str, Any]:
    meter_ids, keys = meters
    publish_slots(config, meter_ids, keys, 0, slots)
    names = ["survivor", "victim"]
    announce(db, names)
    data_dir = tmp / "data"
    survivor, victim = (Worker(n, config, db, data_dir, ttl_s) for n in names)
    watch = observer(config)
    try:
        wait_for(
            lambda: (
                len(survivor.owned()) + len(victim.owned()) == PARTITIONS and drained(watch, ALL)
            ),
            900,
            "both workers sharing the partitions and the backlog stored",
            [survivor, victim],
        )
        dead = set(victim.owned())
        killed_s = time.time()
        victim.kill()
        publish_slots(config, meter_ids, keys, slots + 1, slots + 1)  # the next half hour
        wait_for(lambda: len(survivor.owned()) == PARTITIONS, 300, "the takeover", [survivor])
        taken_s = next(
            e["at_s"]
            for e in survivor.events("mdms.worker_partitions")
            if e["at_s"] > killed_s and dead & set(e["gained"])
        )

        def resumed() -> dict[int, float]:
            first: dict[int, float] = {}
            for e in survivor.events("mdms.worker_resumed"):
                if e["partition"] in dead and e["at_s"] > killed_s:
                    first.setdefault(int(e["partition"]), float(e["at_s"]))
            return first

        wait_for(lambda: set(resumed()) == dead, 300, "every dead partition resuming", [survivor])
        wait_for(lambda: drained(watch, ALL), 300, "the last half hour stored", [survivor])
        first = resumed()
        peak = survivor.peak_rss_gib()
    finally:
        watch.close()
        stopped = survivor.stop()
        if victim.process.poll() is None:
            victim.kill()
    stored, versions = stored_values(data_dir)
    if stored != len(meter_ids) * (slots + 1) or versions != 1:
        raise SystemExit(f"{stored} values stored (highest version {versions}), not once each")
    return {
        "dead_partitions": len(dead),
        "takeover_s": round(taken_s - killed_s, 2),
        "first_value_s": round(min(first.values()) - killed_s, 2),
        "all_resumed_s": round(max(first.values()) - killed_s, 2),
        "survivor_values": int(stopped.get("values_new", 0)),
        "values_stored": stored,
        "survivor_peak_rss_gib": peak,
    }


def run(url: str, meters: int, ttl_s: float, slots: int, db_url: str | None) -> dict[str, Any]:
    config = JetStreamConfig(url=url, prefix=f"benchf{uuid.uuid4().hex[:8]}")
    with tempfile.TemporaryDirectory() as tmp_dir, scratch_database(db_url, Path(tmp_dir)) as db:
        tmp = Path(tmp_dir)
        try:
            out = failover(config, db, tmp, make_registry(db, meters), ttl_s, slots)
        finally:
            cleaner = JetStreamBus(config)
            cleaner.delete_streams()
            cleaner.close()
    return {
        "meters": meters,
        "lease_ttl_s": ttl_s,
        **out,
        "ratio_first_value_to_ttl": round(out["first_value_s"] / ttl_s, 2),
        "target_s": 30,
        "load_average_1m": load_average(),
    }


def main() -> None:
    ap = common_arguments((__doc__ or "").split("\n\n")[0], 20_000, 4_000)
    ap.add_argument("--slots", type=int, default=2, help="half hours pre-loaded")
    ap.add_argument("--ttl", type=float, default=10.0, help="lease TTL [s]")
    args = ap.parse_args()
    configure()  # logs to stderr: stdout carries the table or the JSON object
    meters = args.meters or (4_000 if args.small else 20_000)
    try:
        out = run(args.url, meters, args.ttl, args.slots, args.db)
    except BusUnavailable as exc:
        out = {"skipped": str(exc)}
    if args.json:
        print(json.dumps(out))
        return
    if "skipped" in out:
        print(f"failover benchmark skipped: {out['skipped']}")
        return
    print(f"MDMS worker failover, {meters:,} meters, 64 partitions, lease TTL {args.ttl:g} s")
    print(f"{'from kill -9 to':<44}{'s':>8}")
    print(f"{'the survivor holding the dead partitions':<44}{out['takeover_s']:>8}")
    print(f"{'the first value of a dead partition stored':<44}{out['first_value_s']:>8}")
    print(f"{'every dead partition resumed':<44}{out['all_resumed_s']:>8}")
    print(
        f"first value / lease TTL: {out['ratio_first_value_to_ttl']}  (target ≤ 30 s; "
        f"load average {out['load_average_1m']})"
    )


if __name__ == "__main__":
    main()
