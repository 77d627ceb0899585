"""End-to-end simulation speed: a city's day through network model, HES, bus and MDMS.

Prints wall time for building the city and simulating one day, readings per second, and the
ratio to a baseline run in the same process: the meter model alone advancing the same day.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np

from openami.clock import JST, ManualClock, day_first_slot
from openami.meter import MeterFleet
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore

DAY = date(2026, 11, 1)


def run(meters: int) -> dict[str, float]:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=JST)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        registry = Registry.open(Path(tmp) / "registry.sqlite")
        city = build_city(CityConfig(meters=meters, seed=1, start_day=DAY), registry)
        t_build = time.perf_counter() - t0
        clock = ManualClock(start)
        sim = Simulation.create(city, DuckIntervalStore(Path(tmp) / "interval.duckdb"), clock)
        t0 = time.perf_counter()
        sim.run_until(start.timestamp() + 86400 + 3600)
        t_sim = time.perf_counter() - t0
        delivered = sim.hes.delivered

    fleet = MeterFleet(np.arange(1, meters + 1), day_first_slot(DAY), seed=1, retention_days=2)
    t0 = time.perf_counter()
    fleet.advance_to(day_first_slot(DAY) + 50)
    t_base = time.perf_counter() - t0
    return {
        "meters": meters,
        "build_s": t_build,
        "simulate_day_s": t_sim,
        "readings_delivered": delivered,
        "readings_per_s": delivered / t_sim,
        "meter_model_only_s": t_base,
        "ratio_full_to_meter_model": t_sim / t_base,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--small", action="store_true", help="500 meters (make bench)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = run(500 if args.small else args.meters)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{'figure':<28} {'value':>14}")
    for key, value in figures.items():
        print(
            f"{key:<28} {value:>14,.3f}" if isinstance(value, float) else f"{key:<28} {value:>14,}"
        )


if __name__ == "__main__":
    main()
