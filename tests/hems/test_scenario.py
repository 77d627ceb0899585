"""The scenario on a small fleet: control lowers the peak, moves import into the cheap
band and keeps every comfort bound (same homes, same day, with and without the HEMS)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from openami.clock import slot_index
from openami.clock.slots import slot_of_day
from openami.hems.policy import load_policy
from openami.hems.scenario import build, run_day

POLICY = load_policy(Path(__file__).resolve().parents[2] / "examples" / "hems-policy.toml")
START = slot_index(datetime(2026, 8, 5, 3, 0, tzinfo=UTC))  # 12:00 JST


def test_control_cuts_the_peak_and_shifts_into_cheap_hours() -> None:
    base = run_day(*build(60, 11, START), None)
    ctl = run_day(*build(60, 11, START), POLICY)
    base_fleet, ctl_fleet = base.import_wh.sum(axis=0), ctl.import_wh.sum(axis=0)
    assert ctl_fleet.max() < 0.85 * base_fleet.max()
    hours = slot_of_day(np.arange(START, START + 48)) / 2
    cheap = (hours >= 23) | (hours < 7)
    assert ctl_fleet[cheap].sum() > base_fleet[cheap].sum() + 10_000  # > 10 kWh moved
    assert ctl.comfort_violations == 0 and ctl.decisions == 288
    # the meters' half-hour values are what the runs differ in: the first slot, before any
    # decision could matter much, is the same household load
    assert abs(int(ctl_fleet[0]) - int(base_fleet[0])) < 0.2 * base_fleet[0]
