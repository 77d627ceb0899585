"""Imbalance of one day: the columnar join (settlement sums × loss rates × plans) against a
plain-Python reference loop over the same rows, in the same run, and the voltage-class
check over the day's members.

Sizes: ``groups`` balancing groups each active in every one of the 10 areas with a plan,
so rows = groups × 10 × 48; ``members`` supply points (1 M: the full run's fleet). The
reference loop is the baseline: the ratio is loop time ÷ columnar time, and both must give
the same imbalance (checked). ``--small`` is sized for ``make bench`` on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from openami.clock import day_first_slot
from openami.mdms.imbalance import group_voltage_classes, imbalance_rows
from openami.mdms.loss_factors import RATES_SCHEMA
from openami.registry import AREAS

DAY = date(2026, 11, 2)
AREA_CODES = list(AREAS)


def inputs(groups: int, seed: int = 7) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    first = day_first_slot(DAY)
    bgs = [f"BG{i:04d}" for i in range(groups)]
    n = groups * len(AREA_CODES) * 48
    slot = np.tile(np.arange(48), groups * len(AREA_CODES))
    area = np.repeat(np.tile(AREA_CODES, groups), 48)
    bg = np.repeat(bgs, len(AREA_CODES) * 48)
    sums = pa.table(
        {
            "slot": slot + first,
            "area_code": area,
            "balancing_group_id": bg,
            "import_wh": rng.integers(0, 5_000_000, n),
            "export_wh": rng.integers(0, 200_000, n),
            "points": rng.integers(1, 20_000, n),
            "quality": ["measured"] * n,
        }
    )
    plans = pa.table(
        {
            "balancing_group_id": bg,
            "version": np.ones(n, dtype=np.int64),
            "area_code": area,
            "slot_of_day": slot,
            "energy_wh": rng.integers(0, 5_000_000, n),
        }
    )
    classes = pa.table(
        {
            "area_code": np.tile(AREA_CODES, groups),
            "balancing_group_id": np.repeat(bgs, len(AREA_CODES)),
            "voltage_class": ["low"] * (groups * len(AREA_CODES)),
        }
    )
    rates = pa.table(
        {
            "area_code": AREA_CODES,
            "voltage_class": ["low"] * len(AREA_CODES),
            "loss_rate": rng.uniform(0.05, 0.09, len(AREA_CODES)),
            "valid_from": [date(2016, 4, 1)] * len(AREA_CODES),
            "source": ["bench"] * len(AREA_CODES),
        },
        schema=RATES_SCHEMA,
    )
    return sums, plans, classes, rates


def reference(sums: pa.Table, plans: pa.Table, rates: pa.Table) -> dict[tuple[Any, ...], float]:
    """The same imbalance, one Python object per row: the baseline."""
    rate = {r["area_code"]: r["loss_rate"] for r in rates.to_pylist()}
    first = day_first_slot(DAY)
    out = {
        (r["slot"], r["area_code"], r["balancing_group_id"]): r["import_wh"]
        / (1 - rate[r["area_code"]])
        for r in sums.to_pylist()
    }
    for p in plans.to_pylist():
        key = (p["slot_of_day"] + first, p["area_code"], p["balancing_group_id"])
        out[key] = out.get(key, 0.0) - p["energy_wh"]
    return out


def members(count: int) -> pa.Table:
    keys = np.arange(count, dtype=np.int64)
    return pa.table(
        {
            "supply_point_key": keys,
            "area_code": np.array(AREA_CODES)[keys % len(AREA_CODES)],
            "balancing_group_id": np.char.add("BG", (keys % 500).astype(str)),
            "retailer_id": np.char.add("R", (keys % 700).astype(str)),
        }
    )


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run(groups: int, member_count: int) -> dict[str, Any]:
    sums, plans, classes, rates = inputs(groups)
    rows, columnar_s = timed(lambda: imbalance_rows(sums, plans, classes, rates, DAY))
    ref, reference_s = timed(lambda: reference(sums, plans, rates))
    got = dict(
        zip(
            zip(
                rows.column("slot").to_pylist(),
                rows.column("area_code").to_pylist(),
                rows.column("balancing_group_id").to_pylist(),
                strict=True,
            ),
            rows.column("imbalance_wh").to_pylist(),
            strict=True,
        )
    )
    assert got.keys() == ref.keys() and all(abs(got[k] - ref[k]) < 1e-6 for k in ref)
    day_members = members(member_count)
    _, classes_s = timed(lambda: group_voltage_classes(day_members))
    return {
        "groups": groups,
        "rows": rows.num_rows,
        "columnar_s": round(columnar_s, 4),
        "reference_loop_s": round(reference_s, 4),
        "speedup_vs_loop": round(reference_s / columnar_s, 1),
        "members": member_count,
        "voltage_classes_s": round(classes_s, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="sized for make bench")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(50, 100_000) if args.small else run(500, 1_000_000)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'figure':<22}{'value':>14}")
    for key, value in result.items():
        print(f"{key:<22}{value:>14}")


if __name__ == "__main__":
    main()
