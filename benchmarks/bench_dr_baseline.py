"""DR baselines ("High 4 of 5" with the same-day adjustment) for many customers, one event.

The columnar path (``openami.mdms.dr_baseline.high_x_of_y``: NumPy over all customers of a
chunk at once) against a plain loop over customers (the same rule, one customer at a time,
run on a sample and compared value for value) in the same process. Input: 31 days of
half-hour values before a weekday event plus the event day, 1 % of customer-days
incomplete, a few DR days; generating it is not timed. The full size is 100,000
customers (``--small``: 10,000).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta

import numpy as np

from openami.clock import SLOTS_PER_DAY
from openami.clock.calendar import holiday_flags
from openami.mdms.dr_baseline import BaselineRule, high_x_of_y

EVENT_DAY = date(2026, 7, 15)
FIRST_UNIT, UNITS = 26, 4  # 13:00–15:00 JST
N_DAYS = 32
CHUNK = 10_000


def make_chunk(rng: np.random.Generator, customers: int) -> tuple[np.ndarray, ...]:
    base = rng.gamma(4.0, 60.0, size=(customers, 1, 1))
    shape = 1.0 + 0.5 * np.sin(np.linspace(0, 2 * np.pi, SLOTS_PER_DAY))[None, None, :]
    noise = rng.normal(1.0, 0.2, size=(customers, N_DAYS, SLOTS_PER_DAY)).clip(0.1)
    load = (base * shape * noise).reshape(customers, N_DAYS * SLOTS_PER_DAY)
    complete = rng.random((customers, N_DAYS)) > 0.01
    dr_days = np.zeros((customers, N_DAYS), bool)
    dr_days[:, N_DAYS - 3] = rng.random(customers) < 0.2
    return load, complete, dr_days


def plain_loop(
    load: np.ndarray,
    complete: np.ndarray,
    dr_days: np.ndarray,
    holiday: np.ndarray,
    rule: BaselineRule,
) -> np.ndarray:
    """The same rule, one customer at a time (the baseline the columnar path is measured
    against)."""
    out = np.full((load.shape[0], UNITS), np.nan)
    event_day = N_DAYS - 1
    y_days, keep = rule.days_and_keep(bool(holiday[event_day]))
    back_first, back_last = rule.adjust_units
    for c in range(load.shape[0]):
        days = load[c].reshape(N_DAYS, SLOTS_PER_DAY)
        means = days[:, FIRST_UNIT : FIRST_UNIT + UNITS].mean(axis=1)
        eligible = [
            d
            for d in range(event_day - rule.lookback_days, event_day)
            if complete[c, d] and not dr_days[c, d] and holiday[d] == holiday[event_day]
        ]
        if not eligible:
            continue
        reference = sum(means[d] for d in eligible) / len(eligible)
        eligible = [d for d in eligible if means[d] >= rule.low_use_ratio * reference]
        chosen = eligible[-y_days:]
        if len(chosen) < y_days:
            continue
        kept = sorted(chosen, key=lambda d: (means[d], d), reverse=True)[:keep]
        baseline = days[kept, FIRST_UNIT : FIRST_UNIT + UNITS].mean(axis=0)
        flat = load[c]
        first = event_day * SLOTS_PER_DAY + FIRST_UNIT
        actual = flat[first - back_first : first - back_last].mean()
        past = np.mean(
            [
                flat[
                    d * SLOTS_PER_DAY + FIRST_UNIT - back_first : d * SLOTS_PER_DAY
                    + FIRST_UNIT
                    - back_last
                ]
                for d in kept
            ],
            axis=0,
        ).mean()
        out[c] = baseline + (actual - past)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="10,000 customers (a few seconds)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--customers", type=int, default=None)
    args = parser.parse_args()
    customers = args.customers or (10_000 if args.small else 100_000)
    sample = min(2_000, customers)
    rule = BaselineRule()
    holiday = holiday_flags(EVENT_DAY - timedelta(days=N_DAYS - 1), EVENT_DAY)
    rng = np.random.default_rng(18)
    columnar_s, loop_s, ok, max_diff = 0.0, 0.0, 0, 0.0
    for first in range(0, customers, CHUNK):
        n = min(CHUNK, customers - first)
        load, complete, dr_days = make_chunk(rng, n)
        t0 = time.perf_counter()
        result = high_x_of_y(load, complete, dr_days, holiday, FIRST_UNIT, UNITS, rule)
        columnar_s += time.perf_counter() - t0
        ok += int((result.status == 0).sum())
        if first == 0:
            t0 = time.perf_counter()
            loop = plain_loop(load[:sample], complete[:sample], dr_days[:sample], holiday, rule)
            loop_s = time.perf_counter() - t0
            diff = np.abs(np.nan_to_num(loop - result.baseline_wh[:sample], nan=0.0))
            same_nan = np.array_equal(np.isnan(loop), np.isnan(result.baseline_wh[:sample]))
            max_diff = float(diff.max()) if same_nan else float("inf")
    loop_per_customer_us = loop_s / sample * 1e6
    columnar_per_customer_us = columnar_s / customers * 1e6
    figures = {
        "customers": customers,
        "event_units": UNITS,
        "days": N_DAYS,
        "columnar_s": round(columnar_s, 3),
        "columnar_customers_per_s": round(customers / columnar_s),
        "loop_sample": sample,
        "loop_s": round(loop_s, 3),
        "loop_customers_per_s": round(sample / loop_s),
        "speedup": round(loop_per_customer_us / columnar_per_customer_us, 1),
        "baselines_ok": ok,
        "max_abs_diff_wh": max_diff,
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"High 4 of 5 baselines, one weekday event of {UNITS} units, {N_DAYS} days of values")
    print(f"{'path':<12}{'customers':>11}{'seconds':>10}{'customers/s':>14}")
    print(
        f"{'columnar':<12}{customers:>11}{columnar_s:>10.3f}{figures['columnar_customers_per_s']:>14,}"
    )
    print(f"{'plain loop':<12}{sample:>11}{loop_s:>10.3f}{figures['loop_customers_per_s']:>14,}")
    print(f"speed-up {figures['speedup']}×; {ok} baselines complete")
    print(f"columnar = plain loop within {max_diff:.2e} Wh on the sample")


if __name__ == "__main__":
    main()
