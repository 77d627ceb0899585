"""Profiling throughput: monthly periods of conventional meters → integer half-hour values.

``profile`` spreads each period's energy over its slots with the load shape of its class
and exact integer sums (``mdms/profiling.py``). The baseline, run in the same process on the
same periods, is the plainest columnar even split (``np.repeat`` of the period's mean, no
shape, no exact sums): the ratio says what the shapes and the exact remainders cost. The
store path (``profile_manual_reads``: registry reads, placement, versions, append) is timed
on a smaller world with a real DuckDB store.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from openami.clock import SLOTS_PER_DAY, ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.mdms.conventional import profile_manual_reads
from openami.mdms.profiling import profile
from openami.registry import Meter, Registry, make_supply_point_id
from openami.registry.kinds import LOAD_SHAPES
from openami.storage.duckdb_interval import DuckIntervalStore

MONTH_SLOTS = 30 * SLOTS_PER_DAY


def _periods(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(16)
    energy = rng.integers(50_000, 800_000, n)
    first = np.full(n, day_first_slot(date(2026, 10, 1)), dtype=np.int64)
    slots = np.full(n, MONTH_SLOTS, dtype=np.int64)
    shape = rng.integers(0, len(LOAD_SHAPES), n)
    return energy, first, slots, shape


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_kernel(points: int, repeat: int) -> dict[str, float]:
    energy, first, slots, shape = _periods(points)
    profiled = _best(lambda: profile(energy, first, slots, shape), repeat)
    baseline = _best(lambda: np.repeat(energy // MONTH_SLOTS, slots), repeat)
    values = points * MONTH_SLOTS
    return {
        "points": points,
        "values": values,
        "profile_s": profiled,
        "values_per_s": values / profiled,
        "baseline_s": baseline,
        "ratio_to_baseline": profiled / baseline,
    }


def bench_store(points: int) -> dict[str, float]:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([make_supply_point_id("03", i) for i in range(points)])
    registry.add_meters(
        [Meter(i, "M", f"S{i}", 30, "mesh", None, date(2035, 1, 1)) for i in range(points)]
    )
    registry.install_meters([(k, i) for i, k in enumerate(keys)], 0.0)
    registry.kinds.set_meter_kinds([(i, "conventional", 1) for i in range(points)])
    rng = np.random.default_rng(3)
    reads = pa.table(
        {
            "meter_id": [str(i) for i in range(points) for _ in (0, 1)],
            "read_on": ["2026-10-01", "2026-11-01"] * points,
            "import_register_wh": [
                str(v) for i in range(points) for v in (0, int(rng.integers(50_000, 800_000)))
            ],
            "reader": ["R1"] * (2 * points),
        }
    )
    t0 = time.perf_counter()
    registry.kinds.add_manual_reads(reads, date(2026, 12, 1))
    reads_s = time.perf_counter() - t0
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 12, 1, tzinfo=UTC)))
    t0 = time.perf_counter()
    result = profile_manual_reads(mdms, registry.kinds)
    elapsed = time.perf_counter() - t0
    return {
        "points": points,
        "manual_reads": reads.num_rows,
        "manual_reads_s": reads_s,
        "values": result.values,
        "store_s": elapsed,
        "values_per_s": result.values / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a size fit for make bench")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    kernel_points, store_points, repeat = (2_000, 200, 3) if args.small else (50_000, 2_000, 3)
    kernel = bench_kernel(kernel_points, repeat)
    store = bench_store(store_points)
    if args.json:
        print(json.dumps({"kernel": kernel, "store": store}))
        return
    print(f"{'figure':<42}{'value':>16}")
    for label, value in (
        ("kernel: periods (30 days each)", f"{kernel['points']:,}"),
        ("kernel: half-hour values", f"{kernel['values']:,}"),
        ("kernel: profile [s]", f"{kernel['profile_s']:.3f}"),
        ("kernel: values per second", f"{kernel['values_per_s']:,.0f}"),
        ("kernel: baseline even split [s]", f"{kernel['baseline_s']:.3f}"),
        ("kernel: ratio to baseline", f"{kernel['ratio_to_baseline']:.1f}x"),
        ("store: points", f"{store['points']:,}"),
        ("store: manual reads checked and stored", f"{store['manual_reads']:,}"),
        ("store: manual reads [s]", f"{store['manual_reads_s']:.3f}"),
        ("store: new values", f"{store['values']:,}"),
        ("store: profile_manual_reads [s]", f"{store['store_s']:.3f}"),
        ("store: values per second", f"{store['values_per_s']:,.0f}"),
    ):
        print(f"{label:<42}{value:>16}")


if __name__ == "__main__":
    main()
