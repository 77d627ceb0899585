"""MDMS queries at ≥ 1 billion stored values: one supply point's 45 days, one slot's sums.

Targets (issue 5): one supply point's 45 days of current values ≤ 20 ms; one slot's
settlement sums per (area, balancing group, retailer) ≤ 2 s. A value is one import or one
export number, so 250,000 supply points × 45 days × 48 slots × 2 = 1.08 billion values.

Load (into a temporary directory, removed afterwards), through the MDMS itself:

- the registry comes from ``build_city`` (one area, its retailers, balancing groups, meters,
  installations and supply contracts, so settlement membership exists); the fleet's ring log
  is kept at one day, as the benchmark never reads it;
- an ``Mdms`` on a ``DuckIntervalStore`` file gives the installation and meter indexes;
  one untimed ``ingest_batch`` stores each meter's seed read (its registers at the first
  boundary, 00:00 JST of day 1), as ``bench_mdms_ingest.py`` does;
- then, per JST day, ONE timed ``ingest_batch`` call with the 48 register reads (import and
  export registers, boundaries 00:30 … 24:00) of every meter, in meter order, all received at
  the same moment (one hour after the day ends). The registers are the running sums of the
  load model ``interval_energy_wh`` (NumPy columns, never a Python object per read). Such a
  batch takes the dense grid path (``openami.mdms.grid``): VEE on (meter-day × 48) grids,
  stored as one ``day_rows`` row per supply point and day; the benchmark prints the row
  counts of ``day_rows`` / ``hh_values`` / ``hh_reads`` to show where the data went;
- optional (``--no-parquet`` skips it): the wide day partitions of
  ``openami.storage.parquet_days`` written from the same day's arrays with the same schema,
  sort and writer settings as ``compact_day`` (which re-reads a day from DuckDB and would take
  longer than the load at full size); ``--small`` checks that day 1 equals ``compact_day``'s
  file, i.e. that the MDMS stored exactly the generated values.

Timed, median of ``--reps`` repetitions with random supply points / slots, after one
untimed warm-up of each query:

- ``point_45d_duckdb``: ``point_read.current_values`` (what ``Mdms.current_values`` runs:
  the highest version per slot, every column) over the loaded days of one supply point;
- ``point_45d_parquet``: ``parquet_days.read_values`` over the same days;
- ``slot_settlement``: the settlement code path pointed at one slot: ``members_on`` (registry
  membership of the day) and the settlement sums (``settlement_runs.settlement_sums``, the
  query a settlement run stores) with first = last = that slot (``settle_day`` itself always
  sums a whole day and stores a run; ``slot_sums_only`` is the query without
  ``members_on``).

Then the closed windows of 5 days are clustered point-major (``storage/day_cluster.py``, as
``openami mdms pack`` does for closed days; timed) and the point and slot queries are
measured again (figures prefixed ``clustered_``): the layout as ingested (day-major) and
as kept once days are closed.

Run: ``python benchmarks/bench_mdms_queries.py [--small] [--json] [--no-parquet]``;
``--keep`` leaves the loaded directory in place and ``--reuse DIR`` measures again on it
(e.g. after a query changed) without loading (load figures are those of the kept run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from openami.clock import SLOT_SECONDS, day_first_slot

DAY1 = date(2026, 10, 1)
TARGET_POINT_S = 0.020
TARGET_SLOT_S = 2.0
SLOT_S = float(SLOT_SECONDS)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _wide_day(keys_sorted: np.ndarray, imp: np.ndarray, exp: np.ndarray) -> pa.Table:
    """One day's wide table in ``parquet_days`` layout from (points, 48) arrays in key order."""
    points = keys_sorted.size

    def fixed(values: np.ndarray, typ: pa.DataType) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel(), typ), 48)

    return pa.table(
        {
            "supply_point_key": pa.array(keys_sorted, pa.int64()),
            "import_wh": fixed(imp.astype(np.int32), pa.int32()),
            "export_wh": fixed(exp.astype(np.int32), pa.int32()),
            "quality": fixed(np.zeros((points, 48), np.uint8), pa.uint8()),
            "max_version": pa.array(np.ones(points, np.int32), pa.int32()),
            "final": pa.array(np.zeros(points, bool), pa.bool_()),
        }
    )


def _reads(
    meter_ids: np.ndarray,
    first_boundary: int,
    imp_reg: np.ndarray,
    exp_reg: np.ndarray,
    received_at: float,
) -> pa.Table:
    """Register reads in ``READ_SCHEMA`` from (meters, k) register arrays, meter-major."""
    from openami.bus.messages import READ_SCHEMA

    meters, k = imp_reg.shape
    n = meters * k
    return pa.table(
        {
            "meter_id": np.repeat(meter_ids, k),
            "boundary": np.tile(
                np.arange(first_boundary, first_boundary + k, dtype=np.int64), meters
            ),
            "import_register_wh": imp_reg.ravel(),
            "export_register_wh": exp_reg.ravel(),
            "received_at": np.full(n, received_at),
            "source": np.zeros(n, dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )


def _count(store: Any, table: str) -> int:
    return int(store.query(f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py())


def load(
    root: Path,
    points: int,
    days: int,
    budget_s: float,
    parquet: bool,
    check_compact: bool,
    progress: bool = False,
) -> dict[str, Any]:
    from openami.clock import ManualClock
    from openami.mdms.ingest import IngestContext, ingest_batch
    from openami.mdms.service import Mdms
    from openami.meter.load import interval_energy_wh
    from openami.registry import Registry
    from openami.sim import CityConfig, build_city
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.parquet_days import ROW_GROUP_ROWS, compact_day, day_path

    t0 = time.perf_counter()
    registry = Registry.open(root / "registry.sqlite")
    city = build_city(CityConfig(meters=points, seed=5, start_day=DAY1, retention_days=1), registry)
    fleet = city.fleet
    meter_ids = np.asarray(fleet.meter_ids, dtype=np.int64)  # ascending: batches in meter order
    keys = np.asarray(city.supply_point_keys, dtype=np.int64)  # supply point of each meter
    order = np.argsort(keys, kind="stable")
    keys_sorted = keys[order]
    index = np.arange(points, dtype=np.int64)
    store = DuckIntervalStore(root / "interval.duckdb")
    mdms = Mdms(store, registry, ManualClock(datetime(2026, 9, 30, tzinfo=UTC)))
    installs, meter_index, cfg = mdms.install_index, mdms.meter_index, mdms.vee

    def context(recorded_at: float) -> IngestContext:
        return IngestContext(
            store, installs, meter_index, cfg, recorded_at, tick_cache=mdms.tick_cache
        )

    first_boundary = day_first_slot(DAY1)
    imp_reg = fleet.import_register_wh.astype(np.int64).copy()
    exp_reg = fleet.export_register_wh.astype(np.int64).copy()
    seed_batch = _reads(
        meter_ids, first_boundary, imp_reg[:, None], exp_reg[:, None], first_boundary * SLOT_S
    )
    ingest_batch(context(first_boundary * SLOT_S), seed_batch)
    del seed_batch
    city_s = time.perf_counter() - t0

    gen_s = parquet_s = 0.0
    ingest_day_s: list[float] = []
    phases: dict[str, float] = {}
    values_new = invalid = flagged = 0
    loaded = 0
    pq_root = root / "parquet"
    for d in range(days):
        day = DAY1 + timedelta(days=d)
        t = time.perf_counter()
        first = day_first_slot(day)
        slots = first + np.arange(48, dtype=np.int64)
        imp, exp = interval_energy_wh(fleet.params, index[:, None], slots[None, :], fleet.seed)
        imp_regs = imp_reg[:, None] + np.cumsum(imp, axis=1)
        exp_regs = exp_reg[:, None] + np.cumsum(exp, axis=1)
        imp_reg, exp_reg = imp_regs[:, -1].copy(), exp_regs[:, -1].copy()
        received_at = (first + 48) * SLOT_S + 3600.0  # the day log, an hour after the day
        batch = _reads(meter_ids, first + 1, imp_regs, exp_regs, received_at)
        del imp_regs, exp_regs
        gen_s += time.perf_counter() - t
        t = time.perf_counter()
        result = ingest_batch(context(received_at), batch, timings=phases)
        ingest_day_s.append(time.perf_counter() - t)
        if progress:
            print(f"day {d + 1}: ingest {ingest_day_s[-1]:.1f} s", file=sys.stderr, flush=True)
        del batch
        values_new += result.values_new
        invalid += result.invalid
        flagged += result.flagged
        if parquet:
            t = time.perf_counter()
            path = day_path(pq_root, day)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                _wide_day(keys_sorted, imp[order], exp[order]),
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
    if values_new != 48 * points * loaded:  # one (import, export) pair per point and slot
        raise AssertionError(f"the MDMS stored {values_new:,} half-hour values")
    counts = {t: _count(store, t) for t in ("day_rows", "hh_values", "hh_reads")}
    if counts["day_rows"] != points * loaded:
        raise AssertionError(f"day_rows holds {counts['day_rows']:,} rows, not one per point-day")
    if check_compact and parquet:  # the MDMS stored exactly the generated values
        ref = root / "compact_ref"
        compact_day(store, DAY1, ref)
        ours = pq.read_table(day_path(pq_root, DAY1))
        theirs = pq.read_table(day_path(ref, DAY1))
        if not ours.cast(theirs.schema).equals(theirs):
            raise AssertionError("wide Parquet of the generated values differs from compact_day")
        shutil.rmtree(ref)
    t = time.perf_counter()
    store.close()  # checkpoint, so the file size is the stored size
    close_s = time.perf_counter() - t
    registry.close()
    ingest_s = sum(ingest_day_s)
    per_day = [2 * 48 * points / s for s in ingest_day_s]
    return {
        "keys": keys,
        "days": loaded,
        "city_s": city_s,
        "generate_s": gen_s,
        "ingest_s": ingest_s,
        "checkpoint_s": close_s,
        "ingest_values_per_s": 2 * 48 * points * loaded / ingest_s,
        "ingest_day_values_per_s_median": statistics.median(per_day),
        "ingest_day_values_per_s_min": min(per_day),
        "ingest_day_values_per_s_max": max(per_day),
        "ingest_day_s_first": ingest_day_s[0],
        "ingest_day_s_last": ingest_day_s[-1],
        "load_parquet_s": parquet_s,
        "values": 2 * 48 * points * loaded,
        "half_hours_new": values_new,
        "invalid_values": invalid,
        "flagged_values": flagged,
        "day_rows": counts["day_rows"],
        "hh_values_rows": counts["hh_values"],
        "hh_reads_rows": counts["hh_reads"],
        **{f"phase_{k}_s": v for k, v in phases.items()},
        "duckdb_bytes": (root / "interval.duckdb").stat().st_size,
        "parquet_bytes": _dir_bytes(pq_root) if parquet else 0,
    }


def measure(
    root: Path, keys: np.ndarray, days: int, reps: int, seed: int, parquet: bool
) -> dict[str, float]:
    from openami.registry import Registry
    from openami.storage import settlement_runs
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.parquet_days import read_values
    from openami.storage.point_read import FinalPeriods, current_values

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
    final_periods = FinalPeriods(store)  # kept by the Mdms, as Mdms.current_values does
    # one untimed warm-up of each query (opens files, loads DuckDB metadata)
    current_values(store, int(keys[0]), first_slot, last_slot, final_periods)
    if parquet:
        read_values(root / "parquet", int(keys[0]), DAY1, last_day)
    settlement_runs.settlement_sums(store, registry.members_on(DAY1), first_slot, first_slot)
    for _ in range(reps):
        key = int(rng.choice(keys))
        t = time.perf_counter()
        got = current_values(store, key, first_slot, last_slot, final_periods)
        point_duck.append(time.perf_counter() - t)
        if got.num_rows != 48 * days:
            raise AssertionError(f"DuckDB gave {got.num_rows} values for {key}")
        if parquet:
            t = time.perf_counter()
            wide = read_values(root / "parquet", key, DAY1, last_day)
            point_pq.append(time.perf_counter() - t)
            if wide.column("import_wh").to_pylist() != got.column("import_wh").to_pylist():
                raise AssertionError(f"Parquet and DuckDB differ for {key}")
    rows_seen = 0
    for _ in range(reps):
        slot = int(rng.integers(first_slot, last_slot + 1))
        day = DAY1 + timedelta(days=(slot - first_slot) // 48)
        t = time.perf_counter()
        members = registry.members_on(day)
        t_sums = time.perf_counter()
        rows = settlement_runs.settlement_sums(store, members, slot, slot)
        end = time.perf_counter()
        slot_total.append(end - t)
        slot_sums.append(end - t_sums)
        area = [lv == "area" for lv in rows["level"].to_pylist()]
        points = rows["points"].to_pylist()
        measured = rows["measured"].to_pylist()
        if sum(p for p, a in zip(points, area, strict=True) if a) != members.num_rows:
            raise AssertionError("settlement sums do not cover every member")
        if sum(m for m, a in zip(measured, area, strict=True) if a) != members.num_rows:
            raise AssertionError("settlement sums found values missing")
        rows_seen = rows.num_rows
    store.close()
    registry.close()
    return {
        "point_45d_duckdb_s": statistics.median(point_duck),
        "point_45d_duckdb_max_s": max(point_duck),
        "point_45d_parquet_s": statistics.median(point_pq) if parquet else float("nan"),
        "slot_settlement_s": statistics.median(slot_total),
        "slot_settlement_max_s": max(slot_total),
        "slot_sums_only_s": statistics.median(slot_sums),
        "slot_rows": float(rows_seen),
        "sums_query_uses_hh_slots": float("hh_slots(" in settlement_runs._SUMS),
    }


def cluster(root: Path, days: int) -> dict[str, float]:
    """Cluster the closed windows point-major, as ``openami mdms pack`` does for closed days."""
    from openami.storage.day_cluster import WINDOW_DAYS, cluster_days
    from openami.storage.duckdb_interval import DuckIntervalStore

    store = DuckIntervalStore(root / "interval.duckdb")
    first = day_first_slot(DAY1)
    t = time.perf_counter()
    result = cluster_days(store, first, first + 48 * (days - 1), WINDOW_DAYS)
    took = time.perf_counter() - t
    store.close()
    return {
        "cluster_s": took,
        "cluster_windows": float(result.windows),
        "cluster_rows": float(result.rows),
        "cluster_window_days": float(WINDOW_DAYS),
    }


def _clustered(
    root: Path, keys: np.ndarray, days: int, reps: int, parquet: bool
) -> dict[str, float]:
    """Cluster, then measure again: figures prefixed ``clustered_``."""
    out = cluster(root, days)
    again = measure(root, keys, days, reps, 8, parquet=False)
    out.update({f"clustered_{k}": v for k, v in again.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=250_000, help="supply points")
    ap.add_argument("--days", type=int, default=45, help="JST days of register reads")
    ap.add_argument("--small", action="store_true", help="20,000 points × 10 days (< 60 s)")
    ap.add_argument("--reps", type=int, default=25, help="repetitions per query (≥ 20)")
    ap.add_argument("--no-parquet", action="store_true", help="skip the wide Parquet variant")
    ap.add_argument("--load-budget-s", type=float, default=3600.0, help="stop loading after")
    ap.add_argument("--dir", type=Path, default=None, help="parent of the temporary directory")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures")
    ap.add_argument("--keep", action="store_true", help="keep the loaded directory")
    ap.add_argument("--reuse", type=Path, default=None, help="measure only, on a --keep dir")
    ap.add_argument("--progress", action="store_true", help="each day's ingest time on stderr")
    args = ap.parse_args()
    points, days = (20_000, 10) if args.small else (args.points, args.days)
    parquet = not args.no_parquet
    if args.reuse is not None:  # measure again on a store kept by --keep
        root = args.reuse
        loaded = json.loads((root / "load.json").read_text())
        points, parquet = loaded.pop("points"), loaded.pop("parquet")
        keys = np.load(root / "keys.npy")
        figures = measure(root, keys, loaded["days"], max(args.reps, 1), 7, parquet)
        figures.update(_clustered(root, keys, loaded["days"], max(args.reps, 1), parquet))
    else:
        root = Path(tempfile.mkdtemp(prefix="bench-mdms-", dir=args.dir))
        try:
            loaded = load(
                root, points, days, args.load_budget_s, parquet, args.small, args.progress
            )
            keys = loaded.pop("keys")
            if args.keep:
                np.save(root / "keys.npy", keys)
                kept = {"points": points, "parquet": parquet, **loaded}
                (root / "load.json").write_text(json.dumps(kept))
                print(f"kept in {root} (measure again with --reuse)", file=sys.stderr)
            figures = measure(root, keys, loaded["days"], max(args.reps, 1), 7, parquet)
            figures.update(_clustered(root, keys, loaded["days"], max(args.reps, 1), parquet))
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    values = loaded["values"]
    out: dict[str, Any] = {"points": points, **loaded, **figures}
    out["duckdb_bytes_per_value"] = loaded["duckdb_bytes"] / values
    out["parquet_bytes_per_value"] = loaded["parquet_bytes"] / values if parquet else None
    out["point_45d_duckdb_vs_target"] = figures["point_45d_duckdb_s"] / TARGET_POINT_S
    out["point_45d_parquet_vs_target"] = (
        figures["point_45d_parquet_s"] / TARGET_POINT_S if parquet else None
    )
    if not parquet:
        out["point_45d_parquet_s"] = None
    out["slot_settlement_vs_target"] = figures["slot_settlement_s"] / TARGET_SLOT_S
    out["clustered_point_45d_vs_target"] = figures["clustered_point_45d_duckdb_s"] / TARGET_POINT_S
    out["clustered_slot_settlement_vs_target"] = (
        figures["clustered_slot_settlement_s"] / TARGET_SLOT_S
    )
    out["reps"] = args.reps
    if args.json:
        print(json.dumps(out))
        return
    d = loaded["days"]
    print(
        f"{points:,} supply points × {d} days = {values:,} values via ingest_batch "
        f"(build_city + seed reads {loaded['city_s']:.1f} s, generate {loaded['generate_s']:.1f} s)"
    )
    print(
        f"stored: day_rows {loaded['day_rows']:,}, hh_values {loaded['hh_values_rows']:,}, "
        f"hh_reads {loaded['hh_reads_rows']:,}; half hours new {loaded['half_hours_new']:,}, "
        f"invalid {loaded['invalid_values']:,}, flagged {loaded['flagged_values']:,}"
    )
    print(
        "ingest phases [s]: "
        + ", ".join(f"{k[6:-2]} {v:.1f}" for k, v in loaded.items() if k.startswith("phase_"))
    )
    print(
        "settlement sums query reads "
        + (
            "hh_slots(lo, hi)"
            if figures["sums_query_uses_hh_slots"]
            else "the half_hour_values view"
        )
    )
    print(f"{'figure':<40}{'value':>14}{'target':>10}{'ratio':>8}")
    rows: list[tuple[str, float, float | None]] = [
        ("ingest, all days [s]", loaded["ingest_s"], None),
        ("ingest [M values/s]", loaded["ingest_values_per_s"] / 1e6, None),
        ("  per day median [M values/s]", loaded["ingest_day_values_per_s_median"] / 1e6, None),
        ("  per day min [M values/s]", loaded["ingest_day_values_per_s_min"] / 1e6, None),
        ("DuckDB close (checkpoint) [s]", loaded["checkpoint_s"], None),
        ("DuckDB bytes/value", out["duckdb_bytes_per_value"], None),
        (f"point {d}d DuckDB current_values [ms]", figures["point_45d_duckdb_s"] * 1e3, 20.0),
        ("slot settlement [ms]", figures["slot_settlement_s"] * 1e3, 2000.0),
        ("  of which sums query [ms]", figures["slot_sums_only_s"] * 1e3, 2000.0),
    ]
    if parquet:
        rows[5:5] = [
            ("Parquet write [s]", loaded["load_parquet_s"], None),
            ("Parquet bytes/value", out["parquet_bytes_per_value"], None),
        ]
        rows.insert(
            -2, (f"point {d}d Parquet read_values [ms]", figures["point_45d_parquet_s"] * 1e3, 20.0)
        )
    rows += [
        (
            f"cluster {int(figures['cluster_windows'])} windows of "
            f"{int(figures['cluster_window_days'])} days [s]",
            figures["cluster_s"],
            None,
        ),
        (
            f"  then point {d}d current_values [ms]",
            figures["clustered_point_45d_duckdb_s"] * 1e3,
            20.0,
        ),
        ("  then slot settlement [ms]", figures["clustered_slot_settlement_s"] * 1e3, 2000.0),
        ("    of which sums query [ms]", figures["clustered_slot_sums_only_s"] * 1e3, 2000.0),
    ]
    for name, value, target in rows:
        ratio = f"{value / target:.2f}" if target else ""
        tgt = f"{target:g}" if target else ""
        print(f"{name:<40}{value:>14.3f}{tgt:>10}{ratio:>8}")


if __name__ == "__main__":
    main()
