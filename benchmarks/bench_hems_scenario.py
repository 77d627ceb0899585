"""The HEMS over 1,000 homes for a simulated day: the meters' half-hour values with and
without control.

Three runs of the same seeded homes (household load, PV, AC, battery, EV, water heater of
openami.home) through the same day (a summer day from 12:00 JST to 12:00 the next day), each
stepping every 5 minutes:

- **baseline**: no HEMS (AC at the household's set point, batteries on automatic, EVs
  charging on arrival, water heaters reheating when half empty);
- **controlled**: the policy of examples/hems-policy.toml (peak shift under its TOU bands,
  peak cut under each home's contract limit), decided by openami.hems.control.decide;
- **controlled + DR**: the same with a DR target (``--dr-limit-w`` per home, 18:00–20:00).

Reported: the fleet's peak half-hour import (kW) and its reduction (kW, %), the import moved
into the cheap band (kWh), total import, export and the change of stored energy (kWh),
comfort violations (AC set point out of band, battery below reserve while discharging, EV
short at departure, hot water unserved) and the wall time of each run; the ratio is
controlled peak / baseline peak (same process).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from openami.clock import JST, slot_index
from openami.clock.slots import slot_of_day
from openami.hems.policy import Policy, load_policy
from openami.hems.scenario import DayResult, build, run_day

POLICY = Path(__file__).resolve().parent.parent / "examples" / "hems-policy.toml"
DAY_START_UTC = datetime(2026, 8, 5, 3, 0, tzinfo=UTC)  # 2026-08-05 12:00 JST
DR_FROM_H, DR_HOURS = 18, 2  # the DR event: 18:00–20:00 JST


def _figures(result: DayResult, start_slot: int, policy: Policy, wall_s: float) -> dict[str, Any]:
    fleet_wh = result.import_wh.sum(axis=0)
    slots = np.arange(start_slot, start_slot + fleet_wh.size)
    hours = slot_of_day(slots).astype(np.float64) / 2.0 + 0.25
    cheap = np.array([policy.band_at_hour(h).kind == "cheap" for h in hours])
    peak_slot = int(np.argmax(fleet_wh))
    dr_window = (hours >= DR_FROM_H) & (hours < DR_FROM_H + DR_HOURS)
    return {
        "dr_window_import_kw": float(fleet_wh[dr_window].mean()) * 2 / 1000,
        "peak_import_kw": float(fleet_wh.max()) * 2 / 1000,
        "peak_at_jst": f"{int(hours[peak_slot]):02d}:{int(hours[peak_slot] % 1 * 60) - 15:02d}",
        "import_kwh": float(result.import_wh.sum()) / 1000,
        "export_kwh": float(result.export_wh.sum()) / 1000,
        "cheap_band_import_kwh": float(fleet_wh[cheap].sum()) / 1000,
        "stored_change_kwh": result.stored_change_wh / 1000,
        "comfort_violations": result.comfort_violations,
        "ac_band_violations": result.ac_band_violations,
        "battery_reserve_violations": result.battery_reserve_violations,
        "ev_departure_violations": result.ev_departure_violations,
        "hot_water_violations": result.hot_water_violations,
        "decisions": result.decisions,
        "wall_s": wall_s,
    }


def _one(homes: int, seed: int, policy: Policy | None, scored_by: Policy) -> dict[str, Any]:
    start = slot_index(DAY_START_UTC)
    fleet, home_fleet = build(homes, seed, start)
    t0 = time.perf_counter()
    result = run_day(fleet, home_fleet, policy)
    return _figures(result, start, scored_by, time.perf_counter() - t0)


def run(homes: int, seed: int, dr_limit_w: float) -> dict[str, Any]:
    policy = load_policy(POLICY)
    dr_start = DAY_START_UTC.astimezone(JST) + timedelta(hours=DR_FROM_H - 12)
    with_dr = policy.set_dr_target(dr_limit_w, dr_start, dr_start + timedelta(hours=DR_HOURS))
    base = _one(homes, seed, None, policy)
    ctl = _one(homes, seed, policy, policy)
    dr = _one(homes, seed, with_dr, policy)
    out: dict[str, Any] = {
        "homes": homes,
        "seed": seed,
        "day": "2026-08-05 12:00 to 2026-08-06 12:00 JST",
        "dr_limit_w_per_home": dr_limit_w,
        "load_avg_1m": os.getloadavg()[0],
        "baseline": base,
        "controlled": ctl,
        "controlled_dr": dr,
    }
    for name in ("controlled", "controlled_dr"):
        run_ = out[name]
        run_["peak_reduction_kw"] = base["peak_import_kw"] - run_["peak_import_kw"]
        run_["peak_reduction_pct"] = 100 * run_["peak_reduction_kw"] / base["peak_import_kw"]
        run_["shifted_into_cheap_kwh"] = (
            run_["cheap_band_import_kwh"] - base["cheap_band_import_kwh"]
        )
        run_["import_change_kwh"] = run_["import_kwh"] - base["import_kwh"]
    out["ratio_controlled_peak_to_baseline"] = ctl["peak_import_kw"] / base["peak_import_kw"]
    return out


ROWS = [
    ("peak half-hour import [kW]", "peak_import_kw", ",.0f"),
    ("  at (JST)", "peak_at_jst", ""),
    ("peak reduction [kW]", "peak_reduction_kw", ",.0f"),
    ("peak reduction [%]", "peak_reduction_pct", ".1f"),
    ("mean import 18:00–20:00 [kW]", "dr_window_import_kw", ",.0f"),
    ("import in cheap band [kWh]", "cheap_band_import_kwh", ",.0f"),
    ("shifted into cheap band [kWh]", "shifted_into_cheap_kwh", ",.0f"),
    ("total import [kWh]", "import_kwh", ",.0f"),
    ("total import change [kWh]", "import_change_kwh", ",.0f"),
    ("total export [kWh]", "export_kwh", ",.0f"),
    ("stored energy change [kWh]", "stored_change_kwh", ",.0f"),
    ("comfort violations", "comfort_violations", "d"),
    ("decision rounds (5 min)", "decisions", "d"),
    ("wall time [s]", "wall_s", ".2f"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=1_000, help="homes in the scenario")
    parser.add_argument("--small", action="store_true", help="100 homes (make bench)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--dr-limit-w", type=float, default=1_500.0, help="DR import limit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(100 if args.small else args.homes, args.seed, args.dr_limit_w)
    if args.json:
        print(json.dumps(result))
        return
    runs = [result["baseline"], result["controlled"], result["controlled_dr"]]
    print(f"HEMS scenario: {result['homes']:,} homes, {result['day']}")
    print(f"{'':<32}{'baseline':>12}{'controlled':>12}{'ctl + DR':>12}")
    for label, key, spec in ROWS:
        cells = [format(r[key], spec) if key in r else "—" for r in runs]
        print(f"{label:<32}" + "".join(f"{c:>12}" for c in cells))
    ratio = result["ratio_controlled_peak_to_baseline"]
    print(f"ratio controlled peak / baseline peak: {ratio:.3f}")
    print(f"DR: import ≤ {args.dr_limit_w:,.0f} W per home 18:00–20:00 JST")
    print(f"load average (1 min): {result['load_avg_1m']:.2f}")


if __name__ == "__main__":
    main()
