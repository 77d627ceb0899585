"""MDMS ingest benchmark: register reads → VEE → stored half-hour values, in values per second,
and the ratio to a bare DuckDB insert of the same Arrow rows measured in the same run.

Synthetic data: N meters (one supply point each, contract 30/40/60 A), one batch per JST
day with the 48 register reads of every meter (boundaries 00:30 … 24:00), increments of
0-899 Wh per slot, 1 in 2,000 reads dropped (gaps) and 1 in 5,000 registers set back
(V04). Batches are in meter order by default (as a bulk file or a per-meter day log
arrives); ``--order arrival`` sends them boundary by boundary and the ingest sorts them.
A day batch arrives as one file, so its reads share one receipt time.

Each batch is first inserted bare into a plain table of its own DuckDB file (``INSERT INTO
t SELECT * FROM arrow``), then ingested by the MDMS into another file: whole meter-days on
fresh ground take the dense path (mdms/grid.py: rules V04-V11 on meter-day × 48 grids,
stored as one day row per supply point and day with its reads), anything else the general
path (dedup against stored reads, neighbour reads, rules V02-V11, versions); one transaction
per part either way. Both sums of wall time are reported, each with a final CHECKPOINT
(whatever either store left in its write-ahead log is compressed and written on its bill).
A slot has two values (import and export), as the issue counts them; both rates are
printed. The re-ingest of the last day
(nothing new) takes the general path.

    python benchmarks/bench_mdms_ingest.py            # 200,000 meters × 3 days
    python benchmarks/bench_mdms_ingest.py --small    # 20,000 meters × 2 days, < 30 s
    python benchmarks/bench_mdms_ingest.py --json
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from mdms_fixtures import one_point_per_meter
from openami.bus.messages import READ_SCHEMA
from openami.clock import day_first_slot, slot_start_s
from openami.mdms.ingest import IngestContext, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import load_vee_config
from openami.storage import duckdb_mdms
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.parquet_days import compact_day, day_path

FIRST_DAY = day_first_slot(date(2026, 11, 1))


def _cpu() -> float:
    """User + system CPU seconds of this process so far (every thread)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_day(
    rng: np.random.Generator, regs: np.ndarray, day: int, order: str
) -> tuple[pa.Table, np.ndarray]:
    """The 48 reads of every meter for one day; returns (batch, registers at day end)."""
    n = len(regs)
    inc = rng.integers(0, 900, (n, 48), dtype=np.int64)
    cum = regs[:, None] + np.cumsum(inc, axis=1)
    imp = cum.copy()
    back = rng.random(imp.shape) < 1 / 5000
    imp[back] -= 10_000  # register set back: V04
    meter = np.repeat(np.arange(n, dtype=np.int64), 48)
    boundary = np.tile(np.arange(1, 49, dtype=np.int64), n) + FIRST_DAY + 48 * day
    keep = rng.random(n * 48) >= 1 / 2000
    table = pa.table(
        {
            "meter_id": meter[keep],
            "boundary": boundary[keep],
            "import_register_wh": imp.ravel()[keep],
            "export_register_wh": np.zeros(int(keep.sum()), dtype=np.int64),
            # the day log arrives as one file an hour after the day ends
            "received_at": np.full(int(keep.sum()), slot_start_s(FIRST_DAY + 48 * day + 50)),
            "source": np.zeros(int(keep.sum()), dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )
    if order == "arrival":
        table = table.take(np.lexsort((table.column("meter_id"), table.column("boundary"))))
    return table, cum[:, -1]


def run(meters: int, days: int, order: str, seed: int = 1) -> dict[str, float | int | str]:
    rng = np.random.default_rng(seed)
    cfg = load_vee_config()
    ids = np.arange(meters, dtype=np.int64)
    amps = rng.choice(np.array([30, 40, 60]), meters)
    installs, meter_index = one_point_per_meter(meters, amps, cfg)
    regs = rng.integers(0, 10**7, meters).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        bare = duckdb.connect(str(Path(tmp) / "bare.duckdb"))
        bare.execute(
            "CREATE TABLE t (meter_id BIGINT, boundary BIGINT, import_register_wh BIGINT, "
            "export_register_wh BIGINT, received_at DOUBLE, source UTINYINT)"
        )
        store = DuckIntervalStore(Path(tmp) / "interval.duckdb")
        duckdb_mdms.ensure_schema(store)
        # day -1: the reads at the first boundary, so day 0 has neighbours (untimed)
        seed_reads = pa.table(
            {
                "meter_id": ids,
                "boundary": np.full(meters, FIRST_DAY, dtype=np.int64),
                "import_register_wh": regs,
                "export_register_wh": np.zeros(meters, dtype=np.int64),
                "received_at": np.full(meters, slot_start_s(FIRST_DAY)),
                "source": np.zeros(meters, dtype=np.uint8),
            },
            schema=READ_SCHEMA,
        )
        context = IngestContext(store, installs, meter_index, cfg, 0.0, tick_cache=TickCache())
        ingest_batch(context, seed_reads)
        t_bare = t_vee = cpu_bare = cpu_vee = 0.0
        phases: dict[str, float] = {}
        rows = values = invalid = flagged = 0
        for day in range(days):
            batch, regs = make_day(rng, regs, day, order)
            t0, c0 = time.perf_counter(), _cpu()
            bare.register("batch", batch)
            bare.execute("INSERT INTO t SELECT * FROM batch")
            bare.unregister("batch")
            t1, c1 = time.perf_counter(), _cpu()
            result = ingest_batch(context, batch, timings=phases)
            t2, c2 = time.perf_counter(), _cpu()
            t_bare += t1 - t0
            t_vee += t2 - t1
            cpu_bare += c1 - c0
            cpu_vee += c2 - c1
            rows += batch.num_rows
            values += result.values_new
            invalid += result.invalid
            flagged += result.flagged
        # both stores write what is still only in their write-ahead logs: each side pays
        # for its own compression and writes, whenever its checkpoint policy runs them
        t0, c0 = time.perf_counter(), _cpu()
        bare.execute("CHECKPOINT")
        t1, c1 = time.perf_counter(), _cpu()
        store.query("CHECKPOINT")
        t2, c2 = time.perf_counter(), _cpu()
        t_bare += t1 - t0
        t_vee += t2 - t1
        cpu_bare += c1 - c0
        cpu_vee += c2 - c1
        phases["final_checkpoint"] = t2 - t1
        day_rows = int(store.query("SELECT count(*) AS n FROM day_rows").column("n")[0].as_py())
        t0 = time.perf_counter()
        again = ingest_batch(context, batch)
        t_again = time.perf_counter() - t0
        assert again.reads_new == 0 and again.values_new == 0
        # compaction of the last day into a wide, supply-point-sorted Parquet partition
        last_day = date(2026, 11, 1) + timedelta(days=days - 1)
        t0 = time.perf_counter()
        compact_day(store, last_day, Path(tmp) / "days")
        t_compact = time.perf_counter() - t0
        parquet_bytes = day_path(Path(tmp) / "days", last_day).stat().st_size
        bare.close()
        store.close()
    return {
        "meters": meters,
        "days": days,
        "order": order,
        "reads": rows,
        "values": values,
        "invalid_values": invalid,
        "flagged_values": flagged,
        "bare_insert_s": round(t_bare, 3),
        "vee_ingest_s": round(t_vee, 3),
        "bare_rows_per_s": round(rows / t_bare),
        "vee_values_per_s": round(values / t_vee),
        # the issue counts import and export as two values per slot (163 M per national slot)
        "vee_import_export_values_per_s": round(2 * values / t_vee),
        "day_rows": day_rows,
        "ratio_to_bare": round(t_bare / t_vee, 3),
        # CPU seconds of the process (all threads, DuckDB's too) in the same intervals: on a
        # shared machine these move less than the wall times
        "bare_cpu_s": round(cpu_bare, 3),
        "vee_cpu_s": round(cpu_vee, 3),
        "reingest_last_day_s": round(t_again, 3),
        "compact_day_s": round(t_compact, 3),
        "parquet_bytes_per_value": round(parquet_bytes / (meters * 48 * 2), 2),
        **{f"phase_{k}_s": round(v, 3) for k, v in phases.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meters", type=int, default=None, help="meters (default 200,000)")
    ap.add_argument("--days", type=int, default=None, help="days, one batch each (default 3)")
    ap.add_argument("--order", choices=("meter", "arrival"), default="meter")
    ap.add_argument("--small", action="store_true", help="20,000 meters × 2 days")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    meters = args.meters or (20_000 if args.small else 200_000)
    days = args.days or (2 if args.small else 3)
    out = run(meters, days, args.order)
    if args.json:
        print(json.dumps(out))
        return
    print(f"MDMS ingest + VEE + store, {meters:,} meters × {days} day(s), {args.order} order")
    print(f"{'path':<28}{'seconds':>10}{'per second':>16}")
    print(
        f"{'bare DuckDB insert (rows)':<28}{out['bare_insert_s']:>10}{out['bare_rows_per_s']:>16,}"
    )
    print(f"{'VEE ingest (slots)':<28}{out['vee_ingest_s']:>10}{out['vee_values_per_s']:>16,}")
    print(
        f"{'  = import+export values':<28}{'':>10}{out['vee_import_export_values_per_s']:>16,}"
        "   (target ≥ 5,000,000/s)"
    )
    print(f"ratio bare time / VEE time: {out['ratio_to_bare']}  (target ≥ 0.5)")
    print(f"process CPU [s]: bare {out['bare_cpu_s']}, VEE {out['vee_cpu_s']}")
    print(
        "VEE phases [s]: "
        + ", ".join(f"{k[6:-2]} {v}" for k, v in out.items() if k.startswith("phase_"))
    )
    print(
        f"slots {out['values']:,} ({out['day_rows']:,} day rows), "
        f"invalid {out['invalid_values']:,}, "
        f"flagged {out['flagged_values']:,}; re-ingest of the last day: "
        f"{out['reingest_last_day_s']} s, nothing added"
    )
    print(
        f"compaction of the last day to wide Parquet: {out['compact_day_s']} s, "
        f"{out['parquet_bytes_per_value']} B per value (import and export)"
    )


if __name__ == "__main__":
    main()
