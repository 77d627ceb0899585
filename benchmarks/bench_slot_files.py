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

Timed, in one process: (1) from a ready table (``SlotFileStore.write``: Arrow counting
sort by retailer, per-retailer slices taken and written on ``--threads`` threads, write-
then-rename with fsync): Parquet only (what a pass writes), then Parquet and CSV
(``eager_csv``, for comparison); the first download's CSV derivation of the largest and
of the median retailer; the baseline, the same table as one Parquet file; (2) "slot
stored" → every file written: ``SlotFileStore.publish`` (the slot's versions read from a
DuckDB store holding one slot of values for ``--query-points`` points, default all, the
current ones picked and joined to the audience, split, written, the manifest), and the
read alone; extrapolated to N when ``--query-points`` is smaller (labelled as such). Peak
RSS is reported (``ru_maxrss``), and for each stage its process CPU seconds beside the
wall seconds: on a shared machine the wall time depends on the load average, which is
printed too.

``--part pipeline`` (also part of the default ``all``): the pipeline latency, a read arriving
at the HES → its value in a downloadable file, p50/p95, for a city of ``--pipeline-meters``
(1 million by default, 10,000 with ``--small``) through the embedded system
(``benchmarks/slot_files_pipeline.py``).

Run::

    python benchmarks/bench_slot_files.py --small
    # 81.5 M points, about 8 GiB RSS:
    flock /work/bigmem.lock python benchmarks/bench_slot_files.py --part write \\
        --query-points 20000000
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
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from openami.bus.messages import Quality
from openami.clock import day_first_slot
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_mdms import VALUE_SCHEMA
from openami.storage.interval_appends import append_values
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


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, process CPU) seconds of ``fn()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def time_writes(
    table: pa.Table, recipients: list[str], root: Path, threads: int
) -> dict[str, object]:
    """The split and write from a ready table: Parquet only (the pass as it runs), Parquet
    and CSV (the eager way), the first download's CSV derivation of the largest and of the
    median retailer, and the baseline (the whole slot as one Parquet file)."""
    as_of_s = float((SLOT + 3) * 1800)
    out: dict[str, object] = {}
    lazy = SlotFileStore(root / "lazy", None, threads=threads)  # type: ignore[arg-type]
    wall, cpu = timed(lambda: lazy.write(SLOT, "deadline", 0, table, recipients, as_of_s))
    out |= {"write_parquet_s": round(wall, 2), "write_parquet_cpu_s": round(cpu, 2)}
    rows = lazy.manifests(SLOT)[0].rows
    by_size = sorted(rows, key=rows.__getitem__)
    file_id = f"{SLOT}-deadline-000.csv"
    for label, recipient in (("largest", by_size[-1]), ("median", by_size[len(by_size) // 2])):
        wall, cpu = timed(lambda r=recipient: lazy.file(r, file_id))  # type: ignore[misc]
        out |= {
            f"derive_csv_{label}_rows": rows[recipient],
            f"derive_csv_{label}_s": round(wall, 2),
            f"derive_csv_{label}_cpu_s": round(cpu, 2),
        }
    files = [p for p in (root / "lazy").rglob("*") if p.is_file()]
    out["files_per_pass"] = sum(1 for p in files if p.suffix == ".parquet")
    out["parquet_gib"] = round(
        sum(p.stat().st_size for p in files if p.suffix == ".parquet") / 2**30, 3
    )
    shutil.rmtree(root / "lazy")
    eager = SlotFileStore(root / "eager", None, threads=threads, eager_csv=True)  # type: ignore[arg-type]
    wall, cpu = timed(lambda: eager.write(SLOT, "deadline", 0, table, recipients, as_of_s))
    out |= {"write_eager_csv_s": round(wall, 2), "write_eager_csv_cpu_s": round(cpu, 2)}
    csv_bytes = sum(p.stat().st_size for p in (root / "eager").rglob("*.csv"))
    out["csv_gib"] = round(csv_bytes / 2**30, 2)
    shutil.rmtree(root / "eager")
    wall, cpu = timed(lambda: write_baseline(table, root))
    out |= {
        "baseline_one_parquet_s": round(wall, 2),
        "baseline_one_parquet_cpu_s": round(cpu, 2),
        "ratio_write_parquet_vs_baseline": round(
            float(out["write_parquet_s"]) / max(wall, 1e-9),
            2,  # type: ignore[arg-type]
        ),
    }
    return out


def write_baseline(table: pa.Table, root: Path) -> None:
    with open(root / "whole-slot.parquet", "wb") as fh:
        pq.write_table(
            table.drop(["recipient", "supply_point_key"]),
            fh,
            compression="zstd",
            row_group_size=65_536,
        )
        fh.flush()
        os.fsync(fh.fileno())


def stored_slot(points: int, retailers: int, root: Path) -> tuple[DuckIntervalStore, pa.Table]:
    """A DuckDB store holding one slot of value versions for ``points`` points (appended as
    three collection rounds would), and the audience (untimed)."""
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
    return store, slot.select(["supply_point_key", "supply_point_id", "recipient"])


def time_publish(points: int, recipients: list[str], root: Path, threads: int) -> dict[str, object]:
    """ "Slot stored" → every retailer's files written: the whole pass
    (``SlotFileStore.publish``: the slot's current values read and joined to the
    audience, split, every Parquet file written, the manifest), with the query alone
    timed in a second run."""
    store, audience = stored_slot(points, len(recipients), root)
    files = SlotFileStore(root / "files", store, threads=threads)
    as_of_s = float((SLOT + 3) * 1800)
    wall, cpu = timed(lambda: files.publish(SLOT, "deadline", 0, audience, recipients, as_of_s))
    query_wall, query_cpu = timed(lambda: files.slot_values(SLOT, audience, as_of_s))
    store.close()
    return {
        "query_points": points,
        "slot_stored_to_files_s": round(wall, 2),
        "slot_stored_to_files_cpu_s": round(cpu, 2),
        "query_s": round(query_wall, 2),
        "query_cpu_s": round(query_cpu, 2),
        "query_us_per_point": round(query_wall / points * 1e6, 3),
    }


def run(points: int, retailers: int, threads: int, query_points: int) -> dict[str, object]:
    load = os.getloadavg()
    recipients = [f"R{i:04d}" for i in range(retailers)]
    figures: dict[str, object] = {
        "points": points,
        "retailers": retailers,
        "threads": threads,
        "largest_retailer_share": round(float(shares(retailers)[0]), 4),
    }
    with tempfile.TemporaryDirectory(prefix="bench-slot-files-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        table = national_slot(points, retailers)
        figures["generate_untimed_s"] = round(time.perf_counter() - t0, 1)
        figures |= time_writes(table, recipients, root, threads)
        del table
        figures |= time_publish(query_points, recipients, root, threads)
    if query_points != points:
        figures["slot_stored_to_files_extrapolated_s"] = round(
            float(figures["slot_stored_to_files_s"]) / query_points * points,  # type: ignore[arg-type]
            1,
        )
    return figures | {
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
    ap.add_argument(
        "--query-points", type=int, default=None, help="points in the stored slot (default: all)"
    )
    ap.add_argument(
        "--part", choices=("all", "write", "pipeline"), default="all", help="what to measure"
    )
    ap.add_argument("--pipeline-meters", type=int, default=None, help="default 1 M (small 10 k)")
    ap.add_argument("--tick", type=float, default=60.0, help="pipeline tick [s]")
    ap.add_argument(
        "--pipeline-retention-days",
        type=int,
        default=2,
        help="days of registers each simulated meter keeps (45 in the field; 2 fit 1 M here)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    points = 1_000_000 if args.small else args.points
    query_points = args.query_points or points
    figures: dict[str, object] = {}
    if args.part in ("all", "write"):
        figures.update(run(points, args.retailers, args.threads, query_points))
    if args.part in ("all", "pipeline"):
        meters = args.pipeline_meters or (10_000 if args.small else 1_000_000)
        figures.update(run_pipeline(meters, args.tick, args.pipeline_retention_days))
    if args.json:
        print(json.dumps(figures))
        return
    print(f"slot files: {points:,} supply points, {args.retailers} retailers, one slot")
    print("(write: --part write; pipeline: a city through the embedded system, --part pipeline)")
    for key, value in figures.items():
        print(f"  {key:<36} {value}")


if __name__ == "__main__":
    main()
