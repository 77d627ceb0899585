"""MDMS queries at ≥ 1 billion stored values: one supply point's 45 days, one slot's sums.

Targets (issue 5): one supply point's 45 days of current values ≤ 20 ms; one slot's
settlement sums per (area, balancing group, retailer) ≤ 2 s. A value is one import or one
export number, so 250,000 supply points × 45 days × 48 slots × 2 = 1.08 billion values.

Load (into a temporary directory, removed afterwards): the registry comes from
``build_city`` (one area, its retailers, balancing groups and supply contracts); the
half-hour values come from the load model ``interval_energy_wh``, generated one JST day at a
time as NumPy columns (never a Python object per value) and stored in both layouts openami has:

(a) DuckDB ``half_hour_values`` as the MDMS writes it: slot-major (all supply points of a
    slot, then the next slot), one ``measured`` version each, one INSERT of an Arrow table
    per day (as ``bench_hub_api.build_direct`` does; no register reads);
(b) the wide day partitions of ``openami.storage.parquet_days`` (one row per supply point and
    day, ``int32[48]`` import/export, quality codes, sorted by supply point, zstd, 16k-row
    groups, at ``day_path``). ``compact_day`` (the writer of ``openami mdms compact``)
    re-reads each day from DuckDB, which at full size would take longer than the load itself,
    so the benchmark writes the same table from the day's arrays with the same schema and
    writer settings; ``--small`` checks that one day equals ``compact_day``'s file.

Timed, median of ``--reps`` repetitions with random supply points / slots:

- ``point_45d_duckdb``: ``DuckIntervalStore.current_values`` (highest version per slot) over
  the loaded days of one supply point;
- ``point_45d_parquet``: ``parquet_days.read_values`` over the same days;
- ``slot_settlement``: the settlement code path pointed at one slot: ``members_on`` (registry
  membership of the day) and the settlement module's own sums query (current value per
  supply point, roll-ups per (area, BG, retailer), (area, BG) and area) with first = last =
  that slot, run on the loaded store (``settle_day`` itself always sums a whole day and
  stores a run; ``slot_sums_only`` is the same without ``members_on``).

Run: ``python benchmarks/bench_mdms_queries.py [--small] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from openami.clock import day_first_slot

DAY1 = date(2026, 10, 1)
TARGET_POINT_S = 0.020
TARGET_SLOT_S = 2.0


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _wide_day(
    keys_sorted: np.ndarray, order: np.ndarray, imp: np.ndarray, exp: np.ndarray
) -> pa.Table:
    """One day's wide table in ``parquet_days`` layout from (48, points) slot-major arrays."""
    points = keys_sorted.size

    def fixed(values: np.ndarray, typ: pa.DataType) -> pa.Array:
        flat = np.ascontiguousarray(values[:, order].T).ravel()
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, typ), 48)

    return pa.table(
        {
            "supply_point_key": pa.array(keys_sorted, pa.int64()),
            "import_wh": fixed(imp.astype(np.int32), pa.int32()),
            "export_wh": fixed(exp.astype(np.int32), pa.int32()),
            "quality": fixed(np.zeros((48, points), np.uint8), pa.uint8()),
            "max_version": pa.array(np.ones(points, np.int32), pa.int32()),
            "final": pa.array(np.zeros(points, bool), pa.bool_()),
        }
    )


def load(
    root: Path, points: int, days: int, budget_s: float, check_compact: bool
) -> dict[str, Any]:
    from openami.meter.load import interval_energy_wh
    from openami.registry import Registry
    from openami.sim import CityConfig, build_city
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.duckdb_mdms import ensure_schema
    from openami.storage.parquet_days import ROW_GROUP_ROWS, compact_day, day_path

    t0 = time.perf_counter()
    registry = Registry.open(root / "registry.sqlite")
    city = build_city(CityConfig(meters=points, seed=5, start_day=DAY1), registry)
    keys = np.asarray(city.supply_point_keys, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys_sorted = keys[order]
    index = np.arange(points, dtype=np.int64)
    store = DuckIntervalStore(root / "interval.duckdb")
    ensure_schema(store)  # the MDMS tables (final_periods, …) as the MDMS creates them
    city_s = time.perf_counter() - t0
    gen_s = duck_s = parquet_s = 0.0
    loaded = 0
    pq_root = root / "parquet"
    for d in range(days):
        day = DAY1 + timedelta(days=d)
        t = time.perf_counter()
        slots = day_first_slot(day) + np.arange(48, dtype=np.int64)
        imp, exp = interval_energy_wh(city.fleet.params, index[None, :], slots[:, None], 5)
        slot_col = np.repeat(slots, points)
        batch = pa.table(
            {
                "supply_point_key": np.tile(keys, 48),
                "slot": slot_col,
                "import_wh": imp.ravel(),
                "export_wh": exp.ravel(),
                "recorded_at": (slot_col + 1) * 1800.0 + 120.0,
            }
        )
        del slot_col
        gen_s += time.perf_counter() - t
        t = time.perf_counter()
        with store.transaction() as cur:
            cur.register("batch", batch)
            cur.execute(
                "INSERT INTO hh_values (supply_point_key, slot, import_wh, export_wh, "
                "quality, version, recorded_at, reason) SELECT supply_point_key, slot, "
                "import_wh, export_wh, 'measured', 1, recorded_at, 'register difference' "
                "FROM batch"
            )
            cur.unregister("batch")
        del batch
        duck_s += time.perf_counter() - t
        t = time.perf_counter()
        path = day_path(pq_root, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            _wide_day(keys_sorted, order, imp, exp),
            path,
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            write_statistics=True,
        )
        parquet_s += time.perf_counter() - t
        del imp, exp
        loaded += 1
        if time.perf_counter() - t0 > budget_s:
            break
    if check_compact:  # our writer's file equals the one ``openami mdms compact`` writes
        ref = root / "compact_ref"
        compact_day(store, DAY1, ref)
        ours = pq.read_table(day_path(pq_root, DAY1))
        theirs = pq.read_table(day_path(ref, DAY1))
        if not ours.cast(theirs.schema).equals(theirs):
            raise AssertionError("wide Parquet differs from compact_day's output")
        shutil.rmtree(ref)
    t = time.perf_counter()
    store.close()  # checkpoint, so the file size is the stored size
    duck_s += time.perf_counter() - t
    registry.store.close()
    return {
        "keys": keys,
        "days": loaded,
        "city_s": city_s,
        "generate_s": gen_s,
        "load_duckdb_s": duck_s,
        "load_parquet_s": parquet_s,
        "values": 2 * 48 * points * loaded,
        "duckdb_bytes": (root / "interval.duckdb").stat().st_size,
        "parquet_bytes": _dir_bytes(pq_root),
    }


def measure(root: Path, keys: np.ndarray, days: int, reps: int, seed: int) -> dict[str, float]:
    from openami.mdms.settlement import _SUMS, members_on
    from openami.registry import Registry
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.parquet_days import read_values

    rng = np.random.default_rng(seed)
    store = DuckIntervalStore(root / "interval.duckdb")
    registry = Registry.open(root / "registry.sqlite")
    first_slot = day_first_slot(DAY1)
    last_slot = first_slot + 48 * days - 1
    last_day = DAY1 + timedelta(days=days - 1)
    point_duck: list[float] = []
    point_pq: list[float] = []
    slot_total: list[float] = []
    slot_sums: list[float] = []
    # one untimed warm-up of each query (opens files, loads DuckDB metadata)
    store.current_values(int(keys[0]), first_slot, last_slot)
    read_values(root / "parquet", int(keys[0]), DAY1, last_day)
    rows_seen = 0
    for _ in range(reps):
        key = int(rng.choice(keys))
        t = time.perf_counter()
        got = store.current_values(key, first_slot, last_slot)
        point_duck.append(time.perf_counter() - t)
        if got.num_rows != 48 * days:
            raise AssertionError(f"DuckDB gave {got.num_rows} values for {key}")
        t = time.perf_counter()
        wide = read_values(root / "parquet", key, DAY1, last_day)
        point_pq.append(time.perf_counter() - t)
        if wide.num_rows != 48 * days:
            raise AssertionError(f"Parquet gave {wide.num_rows} values for {key}")
    for _ in range(reps):
        slot = int(rng.integers(first_slot, last_slot + 1))
        day = DAY1 + timedelta(days=(slot - first_slot) // 48)
        t = time.perf_counter()
        members = members_on(registry, day)
        t_sums = time.perf_counter()
        rows = store.query(_SUMS, [slot, slot, slot, slot], q_members=members)
        end = time.perf_counter()
        slot_total.append(end - t)
        slot_sums.append(end - t_sums)
        area_points = sum(
            p
            for p, lv in zip(rows["points"].to_pylist(), rows["level"].to_pylist(), strict=True)
            if lv == "area"
        )
        if area_points != members.num_rows:
            raise AssertionError("settlement sums do not cover every member")
        rows_seen = rows.num_rows
    store.close()
    registry.store.close()
    return {
        "point_45d_duckdb_s": statistics.median(point_duck),
        "point_45d_parquet_s": statistics.median(point_pq),
        "slot_settlement_s": statistics.median(slot_total),
        "slot_sums_only_s": statistics.median(slot_sums),
        "slot_rows": float(rows_seen),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=250_000, help="supply points")
    ap.add_argument("--days", type=int, default=45, help="JST days of half-hour values")
    ap.add_argument("--small", action="store_true", help="20,000 points × 10 days (< 30 s)")
    ap.add_argument("--reps", type=int, default=25, help="repetitions per query (≥ 20)")
    ap.add_argument("--load-budget-s", type=float, default=3600.0, help="stop loading after")
    ap.add_argument("--dir", type=Path, default=None, help="parent of the temporary directory")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures")
    args = ap.parse_args()
    points, days = (20_000, 10) if args.small else (args.points, args.days)
    root = Path(tempfile.mkdtemp(prefix="bench-mdms-", dir=args.dir))
    try:
        loaded = load(root, points, days, args.load_budget_s, check_compact=args.small)
        figures = measure(root, loaded.pop("keys"), loaded["days"], max(args.reps, 1), 7)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    values = loaded["values"]
    out: dict[str, Any] = {"points": points, **loaded, **figures}
    out["duckdb_bytes_per_value"] = loaded["duckdb_bytes"] / values
    out["parquet_bytes_per_value"] = loaded["parquet_bytes"] / values
    out["point_45d_duckdb_vs_target"] = figures["point_45d_duckdb_s"] / TARGET_POINT_S
    out["point_45d_parquet_vs_target"] = figures["point_45d_parquet_s"] / TARGET_POINT_S
    out["slot_settlement_vs_target"] = figures["slot_settlement_s"] / TARGET_SLOT_S
    out["reps"] = args.reps
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"{points:,} supply points × {loaded['days']} days = {values:,} values "
        f"(build_city {loaded['city_s']:.1f} s, generate {loaded['generate_s']:.1f} s)"
    )
    print(f"{'figure':<34}{'value':>14}{'target':>10}{'ratio':>8}")
    rows = [
        ("load DuckDB [s]", loaded["load_duckdb_s"], None),
        ("load Parquet [s]", loaded["load_parquet_s"], None),
        ("DuckDB bytes/value", out["duckdb_bytes_per_value"], None),
        ("Parquet bytes/value", out["parquet_bytes_per_value"], None),
        (f"point {loaded['days']}d DuckDB [ms]", figures["point_45d_duckdb_s"] * 1e3, 20.0),
        (f"point {loaded['days']}d Parquet [ms]", figures["point_45d_parquet_s"] * 1e3, 20.0),
        ("slot settlement [ms]", figures["slot_settlement_s"] * 1e3, 2000.0),
        ("  of which sums query [ms]", figures["slot_sums_only_s"] * 1e3, 2000.0),
    ]
    for name, value, target in rows:
        ratio = f"{value / target:.2f}" if target else ""
        tgt = f"{target:g}" if target else ""
        print(f"{name:<34}{value:>14.3f}{tgt:>10}{ratio:>8}")


if __name__ == "__main__":
    main()
