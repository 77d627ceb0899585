"""Monthly wheeling run (託送料金) at N supply points with the embedded engine (SQLite
registry + DuckDB interval store), and the ratio to a bare DuckDB aggregation of the same
stored rows measured in the same process.

Target (issue 16): the monthly run at 1,000,000 supply points ≤ 60 s on the 2-core box.

Load (untimed, into a directory removed afterwards unless ``--dir`` keeps it):

- a registry of N supply points in the Tokyo area (03), one meter each (30/40/60 A), the
  seed's reading-day codes (1 … 17, spread evenly), ten retailers supplying the points in
  turn since 2020, and ``N / 1000`` switches to another retailer in the middle of the
  billing period (the period is cut in two lines there);
- through ``Mdms.ingest``: each meter's opening read at its period's first 計量日, then one
  batch per JST day with the 48 reads of every meter whose billing period covers that day
  (random 0-899 Wh per slot; a day file arrives an hour after the day ends), so every
  point has exactly its own period's values, stored as day rows (the dense ingest path).

Timed (``openami.mdms.wheeling``), once each, in this order:

- ``bare_aggregation``: ``SELECT supply_point_key, sum(day import), max(register) FROM
  day_rows GROUP BY supply_point_key`` over the period's rows: reading the same rows with
  the least work per row (the baseline; run before and after the wheeling run, mean of both);
- ``registry_inputs``: reading-day codes, contracts and amperages from the registry;
- ``periods`` / ``determinants`` / ``charges``: the steps of ``wheeling_run`` (segments by
  計量日 and contract; kWh, day/night/holiday bands, max demand per segment; tariffs and yen);
- ``invoices``: supply point IDs, one CSV and one HTML summary per retailer, written to files.

Run: ``python benchmarks/bench_wheeling.py [--points N] [--small] [--json] [--dir DIR]``;
``--dir DIR`` loads into DIR once and measures again on it on later runs (no load).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.clock import SLOTS_PER_DAY, ManualClock, day_first_slot
from openami.clock.calendar import (
    assign_reading_day_codes,
    month_span,
    parse_month,
    period_slots,
)
from openami.mdms import Mdms
from openami.mdms.wheeling import supply_point_ids_of, wheeling_inputs, wheeling_run
from openami.mdms.wheeling_invoices import invoices
from openami.mdms.wheeling_tariffs import load_tariffs
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

TARGET_S = 60.0
PERIOD = "2026-11"
RETAILERS = [f"R{i:02d}" for i in range(10)]


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _registry(path: Path, points: int, rng: np.random.Generator) -> Registry:
    registry = Registry.open(path)
    ids = [make_supply_point_id("03", i) for i in range(1, points + 1)]
    keys = np.asarray(registry.add_supply_points(ids), dtype=np.int64)
    codes = assign_reading_day_codes(keys)
    registry.set_reading_days(list(zip(keys.tolist(), codes.tolist(), strict=True)))
    amps = rng.choice(np.array([30, 40, 60]), points).tolist()
    expiry = date(2035, 1, 1)
    registry.add_meters(
        [
            Meter(int(k), "Toshiba", f"B{k}", a, "mesh", None, expiry)
            for k, a in zip(keys.tolist(), amps, strict=True)
        ]
    )
    registry.install_meters([(int(k), int(k)) for k in keys.tolist()], 0.0)
    registry.add_balancing_groups([BalancingGroup("BG1", "group")])
    registry.add_retailers([Retailer(r, r, "BG1") for r in RETAILERS])
    registry.add_supply_contracts(
        [(int(k), RETAILERS[int(k) % 10], date(2020, 1, 1), None) for k in keys.tolist()]
    )
    year, month = parse_month(PERIOD)
    first, _ = period_slots(codes, year, month)
    for k in keys[::1000].tolist():  # a switch in the middle of the point's period
        day = date(1970, 1, 1) + timedelta(days=int(first[k - 1] // SLOTS_PER_DAY) + 15)
        registry.end_supply_contract(int(k), RETAILERS[k % 10], day)
        registry.start_supply_contract(int(k), RETAILERS[(k + 1) % 10], day)
    return registry


def _reads(meters: np.ndarray, boundaries: np.ndarray, regs: np.ndarray, at: float) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": meters,
            "boundary": boundaries,
            "import_register_wh": regs,
            "export_register_wh": np.zeros(n, np.int64),
            "received_at": np.full(n, at),
            "source": np.zeros(n, np.uint8),
        },
        schema=READ_SCHEMA,
    )


def _load(mdms: Mdms, points: int, rng: np.random.Generator) -> dict[str, float]:
    """Every point's opening read and the day files of its own billing period."""
    year, month = parse_month(PERIOD)
    keys = np.arange(1, points + 1, dtype=np.int64)
    first, last = period_slots(assign_reading_day_codes(keys), year, month)
    regs = rng.integers(0, 10**7, points).astype(np.int64)
    span_first, span_last = month_span(year, month)
    t_ingest = t_make = 0.0
    values = 0
    for i in range((span_last - span_first).days + 1):
        day = span_first + timedelta(days=i)
        b0 = day_first_slot(day)
        t0 = time.perf_counter()
        opening = first == b0
        if opening.any():
            mdms.ingest(_reads(keys[opening], np.full(int(opening.sum()), b0), regs[opening], 0.0))
        active = (first <= b0) & (last >= b0)
        n = int(active.sum())
        t1 = time.perf_counter()
        inc = rng.integers(0, 900, (n, SLOTS_PER_DAY), dtype=np.int64)
        cum = regs[active][:, None] + np.cumsum(inc, axis=1)
        regs[active] = cum[:, -1]
        batch = _reads(
            np.repeat(keys[active], SLOTS_PER_DAY),
            np.tile(np.arange(b0 + 1, b0 + SLOTS_PER_DAY + 1, dtype=np.int64), n),
            cum.ravel(),
            (b0 + SLOTS_PER_DAY + 2) * 1800.0,
        )
        t2 = time.perf_counter()
        mdms.ingest(batch)
        t3 = time.perf_counter()
        t_make += t2 - t1
        t_ingest += (t1 - t0) + (t3 - t2)
        values += n * SLOTS_PER_DAY
        _log(f"day {day}: {n:,} meters, {values:,} values so far")
    mdms.store.query("CHECKPOINT")
    return {"load_generate_s": round(t_make, 1), "load_ingest_s": round(t_ingest, 1)}


_BARE = """
SELECT supply_point_key,
       sum(import_register_wh[48] - prev_import_register_wh) AS import_wh,
       max(import_register_wh[48]) AS top
FROM day_rows WHERE day_first_slot BETWEEN $first AND $last
GROUP BY supply_point_key
"""


def _bare(store: DuckIntervalStore) -> tuple[float, int]:
    year, month = parse_month(PERIOD)
    a, b = month_span(year, month)
    params = {"first": day_first_slot(a), "last": day_first_slot(b)}
    t0 = time.perf_counter()
    rows = store.query(_BARE, params).num_rows
    return time.perf_counter() - t0, rows


def _measure(mdms: Mdms, out: Path) -> dict[str, Any]:
    bare_before, bare_rows = _bare(mdms.store)
    _log(f"bare aggregation: {bare_before:.2f} s ({bare_rows:,} points)")
    tariffs = load_tariffs()
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = wheeling_inputs(mdms.registry)
    steps["registry_inputs"] = time.perf_counter() - t0
    marks = [("registry_inputs", time.perf_counter())]

    def step(name: str) -> None:
        marks.append((name, time.perf_counter()))
        _log(f"wheeling run: {name}")

    lines = wheeling_run(mdms.store, inputs, tariffs, PERIOD, progress=step)
    marks.append(("invoices", time.perf_counter()))
    for (name, start), (_, end) in itertools.pairwise(marks[1:]):
        steps[name] = end - start
    t_inv = time.perf_counter()
    bills = invoices(lines, supply_point_ids_of(mdms.registry, lines), PERIOD)
    out.mkdir(exist_ok=True)
    for bill in bills:
        (out / f"{bill.file_stem()}.csv").write_bytes(bill.csv)
        (out / f"{bill.file_stem()}.html").write_bytes(bill.html)
    steps["invoices"] = time.perf_counter() - t_inv
    total = sum(steps.values())
    bare_after, _ = _bare(mdms.store)
    bare = (bare_before + bare_after) / 2
    grand = sum(b.total_yen for b in bills)
    assert grand == int(np.sum(lines.column("total_yen").to_numpy()))
    return {
        "lines": lines.num_rows,
        "retailers": len(bills),
        "total_yen": grand,
        **{f"{k}_s": round(v, 2) for k, v in steps.items()},
        "wheeling_run_s": round(total, 2),
        "bare_aggregation_s": round(bare, 2),
        "ratio_bare_to_run": round(bare / total, 3),
        "ratio_bare_to_determinants": round(bare / steps["determinants"], 3),
        "target_s": TARGET_S,
        "target_met": total <= TARGET_S,
    }


#: the issue's size for the ≤ 60 s target
TARGET_POINTS = 1_000_000


def run(points: int, keep: Path | None, seed: int = 5) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    base = keep or Path(tempfile.mkdtemp(prefix="bench_wheeling_"))
    base.mkdir(parents=True, exist_ok=True)
    loaded = (base / "loaded.json").exists()
    clock = ManualClock(datetime(2026, 12, 7, tzinfo=UTC))
    try:
        t0 = time.perf_counter()
        if loaded:
            registry = Registry.open(base / "registry.sqlite")
            load = json.loads((base / "loaded.json").read_text())
        else:
            registry = _registry(base / "registry.sqlite", points, rng)
            load = {"load_registry_s": round(time.perf_counter() - t0, 1)}
        _log(f"registry ready ({registry.supply_point_count():,} points)")
        mdms = Mdms(DuckIntervalStore(base / "interval.duckdb"), registry, clock)
        if not loaded:
            load |= _load(mdms, points, rng) | {"points": points}
            (base / "loaded.json").write_text(json.dumps(load))
        result = {"period": PERIOD, **load, **_measure(mdms, base / "invoices")}
        # the target is stated for 1 M points: a smaller run cannot meet it
        result["target_met"] = bool(result["target_met"] and int(load["points"]) >= TARGET_POINTS)
        mdms.store.close()
        registry.close()
        return result
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="20,000 points (make bench)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--dir", type=Path, default=None, help="load into / reuse this dir")
    args = parser.parse_args()
    points = 20_000 if args.small else args.points
    result = run(points, args.dir)
    if args.json:
        print(json.dumps(result))
        return
    print(f"monthly wheeling run, billing month {PERIOD}, {result['points']:,} supply points")
    print(f"{'figure':<32}{'value':>16}")
    for key, value in result.items():
        if key not in ("period",):
            print(f"{key:<32}{value!s:>16}")


if __name__ == "__main__":
    main()
