"""Packing benchmark: closed days of A-route ticks → day rows (storage/day_pack.py).

Synthetic data: N meters (one supply point each), JST days of A-route ticks — one batch per
boundary holding one read of every meter — through the real VEE ingest (general path, narrow
rows ``hh_reads`` / ``hh_values``, slot-major), into a DuckDB file in a temporary directory.
Then ``pack_days`` packs the days (untimed: building the ticks, closing and reopening the
file so that both sizes — the bytes of the blocks in use — are measured after a checkpoint). Timed:

- the pack itself (one transaction: status, values, reads, day rows, deletes), in values/s;
- one supply point's days through ``DuckIntervalStore.current_values``, median of 15 random
  points, before and after packing.

    python benchmarks/bench_mdms_pack.py            # 20,000 meters × 2 days
    python benchmarks/bench_mdms_pack.py --small    # 2,000 meters × 2 days, < 60 s
    python benchmarks/bench_mdms_pack.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from mdms_fixtures import tick_reads
from openami.clock import day_first_slot, slot_start_s
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import load_vee_config
from openami.storage import duckdb_mdms
from openami.storage.day_pack import pack_days
from openami.storage.duckdb_interval import DuckIntervalStore

FIRST_DAY = day_first_slot(date(2026, 11, 1))


def _point_ms(store: DuckIntervalStore, keys: np.ndarray, lo: int, hi: int) -> float:
    times = []
    for k in keys:
        t0 = time.perf_counter()
        got = store.current_values(int(k), lo, hi)
        times.append(time.perf_counter() - t0)
        assert got.num_rows == hi - lo + 1
    return 1000 * statistics.median(times)


def _used_bytes(store: DuckIntervalStore) -> int:
    """Bytes of the file's blocks in use (freed blocks are reused, the file does not shrink)."""
    row = store.query("PRAGMA database_size").to_pylist()[0]
    return int(row["block_size"]) * int(row["used_blocks"])


def run(meters: int, days: int, seed: int = 1) -> dict[str, float | int | bool]:
    rng = np.random.default_rng(seed)
    cfg = load_vee_config()
    ids = np.arange(meters, dtype=np.int64)
    installations = pa.table(
        {
            "meter_id": ids,
            "supply_point_key": ids + 1,
            "valid_from": np.zeros(meters),
            "valid_to": pa.nulls(meters, pa.float64()),
        }
    )
    installs = InstallIndex(installations)
    amps = rng.choice(np.array([30, 40, 60]), meters)
    meter_index = MeterIndex(pa.table({"meter_id": ids, "contract_amperage_a": amps}), cfg)
    regs = rng.integers(0, 10**7, meters).astype(np.int64)
    exp = np.zeros(meters, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "interval.duckdb"
        store = DuckIntervalStore(path)
        duckdb_mdms.ensure_schema(store)
        cache = TickCache()
        t0 = time.perf_counter()
        for b in range(48 * days + 1):  # boundary FIRST_DAY … end of the last day
            boundary = FIRST_DAY + b
            if b:
                regs = regs + rng.integers(0, 900, meters)
                exp = exp + rng.integers(0, 50, meters)
            tick = tick_reads(ids, boundary, regs, exp, delay_s=90.0)
            received_at = slot_start_s(boundary) + 120
            context = IngestContext(
                store, installs, meter_index, cfg, received_at, tick_cache=cache
            )
            ingest_batch(context, tick)
        t_ticks = time.perf_counter() - t0
        store.close()
        store = DuckIntervalStore(path)
        size_before = _used_bytes(store)
        keys = rng.choice(ids + 1, 15, replace=False)
        lo, hi = FIRST_DAY, FIRST_DAY + 48 * days - 1
        point_before = _point_ms(store, keys, lo, hi)
        narrow_before = int(store.query("SELECT count(*) AS n FROM hh_values")["n"][0].as_py())
        t0 = time.perf_counter()
        result = pack_days(store, installations, FIRST_DAY, FIRST_DAY + 48 * (days - 1), 0.0)
        t_pack = time.perf_counter() - t0
        point_after = _point_ms(store, keys, lo, hi)
        narrow_after = int(store.query("SELECT count(*) AS n FROM hh_values")["n"][0].as_py())
        store.close()
        store = DuckIntervalStore(path)
        size_after = _used_bytes(store)
        store.close()
    slots = meters * 48 * days
    return {
        "meters": meters,
        "days": days,
        "slots": slots,
        "build_ticks_s": round(t_ticks, 1),
        "packed_days": result.packed_days,
        "explicit_days": result.explicit_days,
        "narrow_days": result.narrow_days,
        "hh_values_before": narrow_before,
        "hh_values_after": narrow_after,
        "pack_s": round(t_pack, 3),
        "pack_slots_per_s": round(result.values_packed / t_pack),
        # a slot has two values (import and export), as the issue counts them
        "pack_import_export_values_per_s": round(2 * result.values_packed / t_pack),
        "checkpointed": result.checkpointed,
        "point_query_before_ms": round(point_before, 2),
        "point_query_after_ms": round(point_after, 2),
        "file_bytes_before": size_before,
        "file_bytes_after": size_after,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=None, help="meters (default 20,000)")
    ap.add_argument("--days", type=int, default=2, help="JST days of ticks (default 2)")
    ap.add_argument("--small", action="store_true", help="2,000 meters × 2 days")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    meters = args.meters or (2_000 if args.small else 20_000)
    out = run(meters, args.days)
    if args.json:
        print(json.dumps(out))
        return
    print(f"packing A-route ticks into day rows, {meters:,} meters × {args.days} day(s)")
    print(f"ticks built through the VEE ingest in {out['build_ticks_s']} s (untimed below)")
    print(f"{'figure':<44}{'value':>16}")
    rows = [
        ("supply-point days packed / explicit / narrow", "{packed_days} / {explicit_days} / "
         "{narrow_days}"),
        ("hh_values rows before → after", "{hh_values_before:,} → {hh_values_after:,}"),
        ("pack time [s]", "{pack_s}"),
        ("pack rate [slots/s]", "{pack_slots_per_s:,}"),
        ("  = import+export values/s", "{pack_import_export_values_per_s:,}"),
        ("CHECKPOINT right after the pack", "{checkpointed}"),
        ("one point, all days, before [ms]", "{point_query_before_ms}"),
        ("one point, all days, after [ms]", "{point_query_after_ms}"),
        ("bytes in used blocks before → after", "{file_bytes_before:,} → {file_bytes_after:,}"),
    ]  # fmt: skip
    for name, fmt in rows:
        print(f"{name:<44}{fmt.format(**out):>16}")


if __name__ == "__main__":
    main()
