"""Bulk slot files at national size: one slot's current values → every retailer's Parquet
and CSV files written (``storage/slot_files.py``), against one Parquet write of the whole
slot in the same process (the baseline ratio).

Synthetic national slot (NumPy/Arrow, vectorised, untimed): N supply points (81.5 million
by default, ``--small`` 1 million) with 22-digit IDs in key order (as the point-major store
returns them), import 0-1,999 Wh, export 0-499 Wh for one point in ten (else 0), quality
mostly ``measured`` (1 in 50 ``missing`` without values, 1 in 200 ``estimated``), version 1
or 2. Retailers: 700 (``--retailers``), shares of a few incumbents and a long tail:

- 10 incumbents (the former regional utilities) hold 78 % of the points, split in
  proportion to their areas' low-voltage customers (TEPCO 35 %, Kansai 16 %, Chubu 12 %,
  Kyushu 10 %, Tohoku 9 %, Chugoku 6 %, Hokkaido 5 %, Shikoku 3.5 %, Hokuriku 2.5 %,
  Okinawa 1 % of the incumbents' part; approximate, for the shape of the distribution);
- the other 690 share 22 % (about the low-voltage switching rate reported by METI/OCCTO
  in 2023, *unverified*) with Zipf weights 1/k (k = 1…690): the largest new entrant holds
  about 2.5 % of all points, the smallest about 4,000 at national size.

Timed, in one process: (1) the split and write (``SlotFileStore.write``: Arrow counting sort
by retailer, per-retailer slices taken and written on ``--threads`` threads, write-then-
rename with fsync); (2) the baseline: the same table as one Parquet file; (3) the query that
feeds (1) in the embedded system (``SlotFileStore.slot_values``: the one "current value"
rule over the slot, joined to the audience) over a DuckDB store holding one slot of values
for ``--query-points`` points (default: N up to 4 million), reported per point and
extrapolated to N (an estimate, labelled as such). Peak RSS is reported (``ru_maxrss``),
and for each stage its process CPU seconds beside the wall seconds: on a shared machine
the wall time depends on the load average, which is printed too.

``--part pipeline`` (also part of the default ``all``): the pipeline latency, a read arriving
at the HES → its value in a downloadable file, p50/p95, for a city of ``--pipeline-meters``
(1 million by default, 10,000 with ``--small``) through the embedded system
(``benchmarks/slot_files_pipeline.py``).

Run::

    python benchmarks/bench_slot_files.py --small
    python benchmarks/bench_slot_files.py --json            # 81.5 M points: ~10 GiB RSS
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from openami.bus.messages import Quality
from openami.clock import day_first_slot
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_mdms import VALUE_SCHEMA, append_values
from openami.storage.slot_files import SlotFileStore

try:  # run as a script from the repository root or from benchmarks/
    from benchmarks.slot_files_pipeline import run_pipeline
except ImportError:  # pragma: no cover
    from slot_files_pipeline import run_pipeline  # type: ignore[no-redef]

NATIONAL_POINTS = 81_500_000
INCUMBENT_SHARE = 0.78
INCUMBENTS = (0.35, 0.16, 0.12, 0.10, 0.09, 0.06, 0.05, 0.035, 0.025, 0.01)
SLOT = day_first_slot(date(2026, 11, 2)) + 24  # 12:00-12:30 JST
CHUNK = 2_000_000  # generated in parts: a many-chunk table, as a query returns one
_TS = pa.timestamp("ms", tz="UTC")


def shares(retailers: int) -> np.ndarray:
    """Each retailer's share of the points (incumbents first, then the Zipf tail)."""
    incumbent = np.array(INCUMBENTS) / sum(INCUMBENTS) * INCUMBENT_SHARE
    tail = 1.0 / np.arange(1, retailers - len(INCUMBENTS) + 1)
    tail = tail / tail.sum() * (1.0 - INCUMBENT_SHARE)
    return np.concatenate([incumbent, tail])


def national_slot(points: int, retailers: int, seed: int = 1) -> pa.Table:
    """The slot's values joined to their retailer, in supply point order."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(shares(retailers))
    parts = []
    for start in range(0, points, CHUNK):
        n = min(CHUNK, points - start)
        keys = np.arange(start, start + n, dtype=np.int64)
        codes = np.searchsorted(cumulative, rng.random(n) * cumulative[-1]).astype(np.int32)
        area = (keys % 10 + 1).astype(np.int64)
        ids = pc.binary_join_element_wise(
            pc.utf8_lpad(pc.cast(pa.array(area), pa.string()), 2, "0"),
            pc.utf8_lpad(pc.cast(pa.array(keys), pa.string()), 20, "0"),
            "",
        )
        kind = rng.random(n)
        missing = kind < 0.02
        quality = np.where(missing, 2, np.where(kind < 0.025, 1, 0)).astype(np.int8)
        imports = pa.array(rng.integers(0, 2000, n), mask=missing)
        exports = np.where(rng.random(n) < 0.1, rng.integers(0, 500, n), 0)
        recorded_ms = (SLOT + 1) * 1_800_000 + rng.choice([120_000, 420_000, 3_600_000], n)
        parts.append(
            pa.table(
                {
                    "recipient": codes,
                    "supply_point_key": keys,
                    "supply_point_id": ids,
                    "slot_start": pa.array(np.full(n, SLOT * 1_800_000), _TS),
                    "import_wh": imports,
                    "export_wh": pa.array(exports, mask=missing),
                    "quality": pa.DictionaryArray.from_arrays(
                        pa.array(quality), pa.array(["measured", "estimated", "missing"])
                    ),
                    "version": np.where(missing, 1, rng.integers(1, 3, n)).astype(np.int32),
                    "recorded_at": pa.array(recorded_ms, _TS),
                }
            )
        )
    return pa.concat_tables(parts)


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_write(
    table: pa.Table, recipients: list[str], root: Path, threads: int
) -> tuple[float, float]:
    """(wall, CPU) seconds of the split and write."""
    store = SlotFileStore(root, None, threads=threads)  # type: ignore[arg-type]  # no queries
    t0, c0 = time.perf_counter(), time.process_time()
    store.write(SLOT, "deadline", 0, table, recipients, float((SLOT + 3) * 1800))
    return time.perf_counter() - t0, time.process_time() - c0


def time_baseline(table: pa.Table, root: Path) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    with open(root / "whole-slot.parquet", "wb") as fh:
        pq.write_table(
            table.drop(["recipient", "supply_point_key"]),
            fh,
            compression="zstd",
            row_group_size=65_536,
        )
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t0, time.process_time() - c0


def time_query(points: int, retailers: int, root: Path) -> tuple[float, float, int]:
    """One slot of value versions for ``points`` points in a DuckDB store, then the query
    that feeds the writer; returns (wall seconds, CPU seconds, rows)."""
    slot = national_slot(points, retailers, seed=2)
    store = DuckIntervalStore(root / "interval.duckdb")
    qcode = pc.cast(slot.column("quality").combine_chunks().indices, pa.uint8()).to_numpy()
    versions = pa.table(
        {
            "supply_point_key": slot.column("supply_point_key"),
            "slot": pa.array(np.full(points, SLOT, np.int64)),
            "import_wh": slot.column("import_wh"),
            "export_wh": slot.column("export_wh"),
            "qcode": np.where(qcode == 2, int(Quality.MISSING), qcode).astype(np.uint8),
            "version": slot.column("version"),
            "vee_flags": np.zeros(points, np.int32),
        },
        schema=VALUE_SCHEMA,
    )
    recorded_s = pc.cast(slot.column("recorded_at"), pa.int64()).to_numpy() / 1000.0
    with store.transaction() as cur:  # as the ticks stored them: one append per round
        for instant in np.unique(recorded_s):
            part = versions.filter(pa.array(recorded_s == instant))
            append_values(cur, part, float(instant), "register difference")
    audience = slot.select(["supply_point_key", "supply_point_id", "recipient"])
    del slot, versions
    files = SlotFileStore(root / "files", store)
    t0, c0 = time.perf_counter(), time.process_time()
    got = files.slot_values(SLOT, audience, float((SLOT + 3) * 1800))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    return elapsed, cpu, got.num_rows


def run(points: int, retailers: int, threads: int, query_points: int) -> dict[str, object]:
    load = os.getloadavg()
    recipients = [f"R{i:04d}" for i in range(retailers)]
    with tempfile.TemporaryDirectory(prefix="bench-slot-files-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        table = national_slot(points, retailers)
        generate_s = time.perf_counter() - t0
        write_s, write_cpu_s = time_write(table, recipients, root / "files", threads)
        files = [p for p in (root / "files").rglob("*") if p.is_file()]
        parquet_bytes = sum(p.stat().st_size for p in files if p.suffix == ".parquet")
        csv_bytes = sum(p.stat().st_size for p in files if p.suffix == ".csv")
        baseline_s, baseline_cpu_s = time_baseline(table, root)
        del table
        shutil.rmtree(root / "files")
        query_s, query_cpu_s, query_rows = time_query(query_points, retailers, root)
    return {
        "points": points,
        "retailers": retailers,
        "threads": threads,
        "largest_retailer_share": round(float(shares(retailers)[0]), 4),
        "files_written": len(files),
        "parquet_gib": round(parquet_bytes / 2**30, 2),
        "csv_gib": round(csv_bytes / 2**30, 2),
        "generate_untimed_s": round(generate_s, 1),
        "split_and_write_s": round(write_s, 2),
        "split_and_write_cpu_s": round(write_cpu_s, 2),
        "baseline_one_parquet_s": round(baseline_s, 2),
        "baseline_one_parquet_cpu_s": round(baseline_cpu_s, 2),
        "ratio_vs_baseline": round(write_s / baseline_s, 2),
        "query_points": query_points,
        "query_rows": query_rows,
        "query_s": round(query_s, 2),
        "query_cpu_s": round(query_cpu_s, 2),
        "query_us_per_point": round(query_s / query_points * 1e6, 3),
        "query_extrapolated_to_points_s": round(query_s / query_points * points, 1),
        "slot_stored_to_files_estimate_s": round(write_s + query_s / query_points * points, 1),
        "target_s": 60,
        "peak_rss_gib": round(rss_gib(), 2),
        "loadavg_1_5_15_at_start": [round(x, 2) for x in load],
        "loadavg_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=NATIONAL_POINTS)
    ap.add_argument("--small", action="store_true", help="1,000,000 points")
    ap.add_argument("--retailers", type=int, default=700)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--query-points", type=int, default=None, help="default: up to 4 M")
    ap.add_argument(
        "--part", choices=("all", "write", "pipeline"), default="all", help="what to measure"
    )
    ap.add_argument("--pipeline-meters", type=int, default=None, help="default 1 M (small 10 k)")
    ap.add_argument("--tick", type=float, default=60.0, help="pipeline tick [s]")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    points = 1_000_000 if args.small else args.points
    query_points = args.query_points or min(points, 4_000_000)
    figures: dict[str, object] = {}
    if args.part in ("all", "write"):
        figures.update(run(points, args.retailers, args.threads, query_points))
    if args.part in ("all", "pipeline"):
        meters = args.pipeline_meters or (10_000 if args.small else 1_000_000)
        figures.update(run_pipeline(meters, args.tick))
    if args.json:
        print(json.dumps(figures))
        return
    print(f"slot files: {points:,} supply points, {args.retailers} retailers, one slot")
    print("(write: --part write; pipeline: a city through the embedded system, --part pipeline)")
    for key, value in figures.items():
        print(f"  {key:<36} {value}")


if __name__ == "__main__":
    main()
