"""The shared interval store (Delta Lake) read from a reader process while a writer appends.

Untimed: ``--points`` supply points × ``--days`` JST days of compacted day files (one
commit per day, the day-file layout of ``storage/shared_layout.py``, import and export: at
the default 250,000 × 45 × 48 × 2 = 1.08 billion values), then its point-major window files
(``storage/shared_windows.py``, timed: the compaction step that builds them). Then a writer
*process* appends
tick commits (one MDMS partition's share of a slot each, ``points / 64`` value versions, as
version-2 estimates over the last day) without pause, and this process, as a reader
(``storage/shared_read.SharedValuesReader``, refreshing every second), measures:

- one supply point's ``--days`` days of current values (p50, p95 and max of
  ``--point-samples`` random points), with the windows and, as the baseline in the same
  process, with the day files only (the reader without windows; every answer compared);
- one slot's values and their sums over one retailer's supply points (1/7 of them), median
  of 9 random slots;
- how long after a commit the reader sees it (median and max of 10 commits).

A second baseline, same run and same files: DuckDB's ``read_parquet`` over the table's day
files (plain Parquet, no footer cache; every 5th point only, it takes seconds).
Targets (issue 13 §3): point ≤ 20 ms, slot ≤ 2 s.

    python benchmarks/bench_shared_store.py --small      # 20,000 points (make bench)
    python benchmarks/bench_shared_store.py --json       # 250,000 points, ~1.1 billion values
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, WriterProperties, write_deltalake

from openami.clock import day_first_slot
from openami.storage.shared_layout import PARTITION_BY, measured_day_rows, tick_rows
from openami.storage.shared_read import SharedValuesReader
from openami.storage.shared_values import DAY_ROW_GROUP_ROWS, SharedValueStore

FIRST_DAY = date(2026, 10, 1)


def _load(uri: str, points: int, days: int) -> None:
    rng = np.random.default_rng(1)
    keys = np.arange(1, points + 1, dtype=np.int64)
    props = WriterProperties(compression="ZSTD", max_row_group_size=DAY_ROW_GROUP_ROWS)
    for d in range(days):
        number = (FIRST_DAY + timedelta(days=d) - date(1970, 1, 1)).days
        imports = rng.integers(0, 900, (points, 48), dtype=np.int32)
        exports = rng.integers(0, 60, (points, 48), dtype=np.int32)
        rows = measured_day_rows(keys, number, imports, exports)
        write_deltalake(
            uri,
            rows,
            mode="append",
            partition_by=PARTITION_BY,
            writer_properties=props,
            target_file_size=1 << 40,
        )


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    """Median, 95th percentile and max."""
    p50, p95 = np.percentile(samples, [50, 95])
    return float(p50), float(p95), max(samples)


def _writer(uri: str, points: int, last_slot: int, stop: Any, commits: Any) -> None:
    """Tick commits without pause: version-2 values of one partition's points at a slot."""
    rng = np.random.default_rng(2)
    share = max(1, points // 64)
    i = 0
    while not stop.is_set():
        keys = np.sort(rng.choice(np.arange(1, points + 1), share, replace=False))
        slot = last_slot - (i % 48)
        versions = pa.table(
            {
                "supply_point_key": keys.astype(np.int64),
                "slot": np.full(share, slot, dtype=np.int64),
                "import_wh": rng.integers(0, 900, share),
                "export_wh": np.zeros(share, dtype=np.int64),
                "qcode": pa.array(np.ones(share, dtype=np.uint8)),
                "version": pa.array(np.full(share, 2, dtype=np.int32)),
                "recorded_at": np.full(share, time.time()),
                "vee_flags": pa.array(np.zeros(share, dtype=np.int32)),
                "final": np.zeros(share, dtype=bool),
                "method": pa.array(["mean"] * share),
                "edited_by": pa.nulls(share, pa.string()),
                "reason": pa.array(["estimate"] * share),
            }
        )
        write_deltalake(
            uri, tick_rows(versions, f"p{i % 64:02d}"), mode="append", partition_by=PARTITION_BY
        )
        commits.value += 1
        i += 1


def _ms(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return 1000 * (time.perf_counter() - t0), result


def _measure(uri: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    first = day_first_slot(FIRST_DAY)
    last = first + 48 * args.days - 1
    reader = SharedValuesReader(uri, refresh_s=1.0)
    by_day = SharedValuesReader(uri, refresh_s=1.0, windows=False)  # baseline: day files
    for r in (reader, by_day):  # opens the footers once (a reader process does)
        r.follow()  # refreshes in the background, as a long-lived reader does
        r.current_values(1, first, last)
    con = duckdb.connect()
    files = [f for f in DeltaTable(uri).file_uris() if "shape=day" in f]
    out: dict[str, Any] = {}

    point_ms, day_file_ms, duck_ms = [], [], []
    for i, key in enumerate(rng.integers(1, args.points + 1, args.point_samples)):
        ms, got = _ms(lambda k=int(key): reader.current_values(k, first, last))
        point_ms.append(ms)
        assert got.num_rows == 48 * args.days, got.num_rows
        ms, same = _ms(lambda k=int(key): by_day.current_values(k, first, last))
        day_file_ms.append(ms)
        # the windows change no answer; the two readers may hold different snapshots, and
        # the writer's ticks touch the last day only
        older = pc.less(got.column("slot"), last - 47)
        assert same.filter(pc.less(same.column("slot"), last - 47)).equals(got.filter(older))
        if i % 5 == 0:  # DuckDB's scan takes seconds: every 5th point
            ms, _ = _ms(
                lambda k=int(key): con.execute(
                    "SELECT day, import_wh_48, export_wh_48 FROM "
                    "read_parquet(?, hive_partitioning=true) WHERE supply_point_key = ?",
                    [files, k],
                ).fetchall()
            )
            duck_ms.append(ms)
    p50, p95, top = _percentiles(point_ms)
    d50, d95, dtop = _percentiles(day_file_ms)
    out.update(
        point_ms=p50,
        point_p95_ms=p95,
        point_max_ms=top,
        day_files_point_ms=d50,
        day_files_point_p95_ms=d95,
        day_files_point_max_ms=dtop,
        baseline_point_ms=statistics.median(duck_ms),
    )
    by_day.close()  # its refresh thread would compete with the slot figures

    members = np.sort(rng.choice(np.arange(1, args.points + 1), args.points // 7, replace=False))
    slot_ms, base_slot_ms = [], []
    for slot in rng.integers(first, last + 1, 9):
        ms, sums = _ms(lambda s=int(slot): reader.slot_sums(s, members))
        slot_ms.append(ms)
        assert sums[0] > 0
        day = (int(slot) - first) // 48
        position = (int(slot) - first) % 48 + 1
        day_files = [f for f in files if (FIRST_DAY + timedelta(days=day)).isoformat() in f]
        assert len(day_files) == 1, day_files
        ms, _ = _ms(
            lambda p=position, fs=day_files: con.execute(
                f"SELECT sum(import_wh_48[{p}]), sum(export_wh_48[{p}]) FROM read_parquet(?) "
                "WHERE supply_point_key IN (SELECT unnest(?))",
                [fs, members.tolist()],
            ).fetchall()
        )
        base_slot_ms.append(ms)
    out.update(
        slot_ms=statistics.median(slot_ms),
        slot_max_ms=max(slot_ms),
        baseline_slot_ms=statistics.median(base_slot_ms),
    )

    lags = []
    for _ in range(10):
        seen = reader.refresh()
        while reader.refresh() == seen:
            time.sleep(0.05)
        committed = DeltaTable(uri).history(1)[0]["timestamp"] / 1000
        lags.append(time.time() - committed)
    out.update(visible_after_s=statistics.median(lags), visible_max_s=max(lags))
    reader.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="20,000 points (make bench)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--point-samples", type=int, default=60, help="random points timed")
    parser.add_argument("--dir", type=Path, default=None, help="where the table goes (deleted)")
    args = parser.parse_args()
    args.points = args.points or (20_000 if args.small else 250_000)
    root = Path(tempfile.mkdtemp(prefix="openami-shared-", dir=args.dir))
    uri = str(root / "table")
    try:
        t0 = time.perf_counter()
        _load(uri, args.points, args.days)
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        windows = SharedValueStore(uri).build_windows()
        windows_s = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(uri).rglob("shape=day/*.parquet"))
        window_size = sum(f.stat().st_size for f in Path(uri).rglob("shape=win/*.parquet"))
        ctx = mp.get_context("spawn")  # delta-rs' runtime does not survive a fork
        stop, commits = ctx.Event(), ctx.Value("i", 0)
        last_slot = day_first_slot(FIRST_DAY) + 48 * args.days - 1
        writer = ctx.Process(
            target=_writer, args=(uri, args.points, last_slot, stop, commits), daemon=True
        )
        writer.start()
        try:
            while commits.value < 3:  # the writer is appending
                time.sleep(0.05)
            t1 = time.perf_counter()
            figures = _measure(uri, args)
            write_s, written = time.perf_counter() - t1, commits.value
        finally:
            stop.set()
            writer.join(120)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    values = args.points * args.days * 48 * 2
    summary = {
        "points": args.points,
        "days": args.days,
        "values": values,
        "load_s": load_s,
        "windows": len(windows),
        "windows_s": windows_s,
        "bytes_per_value": size / values,
        "window_bytes_per_value": window_size / values,
        "writer_commits_per_s": written / write_s,
        "load_average": os.getloadavg()[0],
        **figures,
        "ratio_point_vs_day_files": figures["point_ms"] / figures["day_files_point_ms"],
        "ratio_point_vs_baseline": figures["point_ms"] / figures["baseline_point_ms"],
        "ratio_slot_vs_baseline": figures["slot_ms"] / figures["baseline_slot_ms"],
        "point_target_ms": 20,
        "slot_target_ms": 2000,
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(
        f"{values:,} values ({args.points:,} points × {args.days} days × 48 × 2), loaded in "
        f"{load_s:.0f} s, {summary['bytes_per_value']:.2f} B/value; {len(windows)} window "
        f"files built in {windows_s:.0f} s, {summary['window_bytes_per_value']:.2f} B/value; "
        f"writer {summary['writer_commits_per_s']:.1f} "
        f"commits/s meanwhile; load {summary['load_average']:.1f}"
    )
    f = figures
    point = f"one point, {args.days} days"
    rows = [
        (f"{point} p50 ms", f["point_ms"], f["day_files_point_ms"], 20),
        (f"{point} p95 ms", f["point_p95_ms"], f["day_files_point_p95_ms"], None),
        (f"{point} max ms", f["point_max_ms"], f["day_files_point_max_ms"], None),
    ]
    print(f"{'figure':<30}{'windows':>10}{'day files':>11}{'ratio':>8}{'target':>8}")
    for name, mine, base, target in rows:
        print(f"{name:<30}{mine:>10.1f}{base:>11.1f}{mine / base:>8.3f}{target or '':>8}")
    print(
        f"{'one point, DuckDB read_parquet (p50) ms':<41}{f['baseline_point_ms']:>10.1f}"
        f" (ratio windows / DuckDB {summary['ratio_point_vs_baseline']:.4f})"
    )
    print(f"{'figure':<34}{'shared reader':>14}{'DuckDB Parquet':>16}{'ratio':>8}{'target':>9}")
    print(
        f"{'one slot sums (median) ms':<34}{f['slot_ms']:>14.1f}"
        f"{f['baseline_slot_ms']:>16.1f}{summary['ratio_slot_vs_baseline']:>8.3f}{2000:>9}"
    )
    print(f"{'one slot sums (max) ms':<34}{f['slot_max_ms']:>14.1f}")
    print(
        f"{'commit → visible (median / max) s':<34}{f['visible_after_s']:>8.2f} / "
        f"{f['visible_max_s']:.2f}"
    )


if __name__ == "__main__":
    main()
