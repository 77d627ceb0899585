"""The HEMS decision as a pure function: state in, commands out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest

from openami.hems.control import (
    SHED_AC,
    SHED_BATTERY,
    SHED_EV,
    SHED_WATER,
    HomesState,
    decide,
)
from openami.hems.policy import Policy, TariffBand, load_policy
from openami.protocols.echonet import appliances as ap

EXAMPLE = load_policy(Path(__file__).resolve().parents[2] / "examples" / "hems-policy.toml")
POLICY = replace(EXAMPLE, shed_order=("ev", "water_heater", "battery", "ac"))  # EV first


def at_jst(hour: int, minute: int = 0) -> float:
    return datetime(2026, 8, 5, hour, minute, tzinfo=UTC).timestamp() - 9 * 3600


def state(n: int = 1, **overrides: object) -> HomesState:
    def f(x: float) -> np.ndarray:  # type: ignore[type-arg]
        return np.full(n, x, dtype=np.float64)

    base = HomesState(
        import_w=f(3000),
        ac_on=np.ones(n, dtype=np.bool_),
        ac_mode=np.full(n, ap.AC_MODE_COOL, dtype=np.uint8),
        ac_set_c=np.full(n, 26, dtype=np.int64),
        ac_power_w=f(600),
        ac_user_set_c=np.full(n, 26, dtype=np.int64),
        battery_capacity_wh=f(10_000),
        battery_soc_wh=f(6_000),
        battery_max_w=f(2_000),
        battery_power_w=f(0),
        ev_connected=np.ones(n, dtype=np.bool_),
        ev_capacity_wh=f(40_000),
        ev_soc_wh=f(30_000),
        ev_max_w=f(3_000),
        ev_power_w=f(0),
        wh_present=np.ones(n, dtype=np.bool_),
        wh_fraction=f(0.6),
        wh_power_w=f(0),
        stagger=f(1.0),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_cheap_band_charges_and_heats() -> None:
    roomy = replace(POLICY, contract_amperage_a=100)  # 10 kW: room for all of it at once
    cmd = decide(state(import_w=np.array([500.0])), roomy, at_jst(23, 30))
    assert cmd.battery_mode[0] == ap.BATTERY_CHARGE and cmd.battery_w[0] == 2000
    assert cmd.ev_mode[0] == ap.EV_CHARGE
    assert cmd.wh_setting[0] == ap.HEATING_MANUAL
    assert cmd.reasons[0] & (SHED_EV | SHED_BATTERY | SHED_WATER | SHED_AC) == 0
    # under the example's 40 A contract, not all of it fits: the EV (first in the order) waits
    tight = decide(state(import_w=np.array([500.0])), POLICY, at_jst(23, 30))
    assert tight.ev_mode[0] == ap.EV_STANDBY and tight.reasons[0] & SHED_EV
    assert tight.expected_import_w[0] <= tight.limit_w[0]


def test_peak_band_discharges_to_the_reserve_and_defers_the_ev() -> None:
    # 18:00: 13 h to departure, 8 of them cheap: the 6 kWh the EV needs can wait
    cmd = decide(state(import_w=np.array([1500.0])), POLICY, at_jst(18), interval_s=300)
    assert cmd.battery_mode[0] == ap.BATTERY_DISCHARGE
    assert cmd.ev_mode[0] == ap.EV_STANDBY
    assert cmd.wh_setting[0] == ap.HEATING_STOPPED
    # a battery at its reserve (20 %) does not discharge at all
    low = decide(state(battery_soc_wh=np.array([2_000.0])), POLICY, at_jst(18))
    assert low.battery_mode[0] == ap.BATTERY_STANDBY


def test_the_ev_charges_outside_cheap_hours_when_it_must() -> None:
    # 05:00, empty-ish EV: 2 cheap hours left cannot give 26 kWh at 3 kW
    cmd = decide(state(ev_soc_wh=np.array([10_000.0])), POLICY, at_jst(5))
    assert cmd.ev_mode[0] == ap.EV_CHARGE
    dr = POLICY.set_dr_target(
        500, datetime(2026, 8, 4, 19, 0, tzinfo=UTC), datetime(2026, 8, 4, 21, 0, tzinfo=UTC)
    )
    cut = decide(
        state(ev_soc_wh=np.array([10_000.0]), ev_power_w=np.array([3000.0])), dr, at_jst(5)
    )
    assert cut.limit_w[0] == 500
    assert cut.ev_mode[0] == ap.EV_CHARGE  # the departure energy is a comfort bound: kept
    assert not cut.reasons[0] & SHED_EV


def test_peak_cut_sheds_in_the_policy_order_and_stops_when_under() -> None:
    # 23:30 (cheap): the EV charges at 3 kW and the import is 5 kW against a 2 kW DR target
    start = datetime(2026, 8, 5, 14, 0, tzinfo=UTC)
    dr = POLICY.set_dr_target(2000, start, start + timedelta(hours=1))
    s = state(import_w=np.array([5000.0]), ev_power_w=np.array([3000.0]))
    s.battery_soc_wh[:] = 10_000  # full: nothing to charge
    s.wh_fraction[:] = 0.99
    cmd = decide(s, dr, at_jst(23, 30))
    assert cmd.ev_mode[0] == ap.EV_STANDBY and cmd.reasons[0] & SHED_EV
    assert cmd.expected_import_w[0] == pytest.approx(2000)
    assert not cmd.reasons[0] & (SHED_BATTERY | SHED_AC)  # already under the limit
    # with the AC first in the order, the AC eases first (to its 28 °C bound at most)
    ac_first = replace(dr, shed_order=("ac", "ev", "water_heater", "battery"))
    cmd = decide(s, ac_first, at_jst(23, 30))
    assert cmd.ac_set_c[0] == 28 and cmd.reasons[0] & SHED_AC and cmd.reasons[0] & SHED_EV


def test_comfort_bounds_hold_however_deep_the_cut() -> None:
    start = datetime(2026, 8, 5, 8, 0, tzinfo=UTC)  # 17:00 JST
    dr = POLICY.set_dr_target(0, start, start + timedelta(hours=3))
    n = 50
    rng = np.random.default_rng(5)
    s = state(
        n,
        import_w=rng.uniform(1000, 8000, n),
        ac_set_c=rng.integers(24, 29, n),
        battery_soc_wh=rng.uniform(0, 10_000, n),
        ev_soc_wh=rng.uniform(0, 40_000, n),
        ev_power_w=rng.choice([0.0, 3000.0], n),
        wh_fraction=rng.uniform(0, 1, n),
    )
    cmd = decide(s, dr, at_jst(18), interval_s=300)
    new_set = np.where(cmd.ac_set_c >= 0, cmd.ac_set_c, s.ac_set_c)
    assert (new_set <= np.maximum(28, s.ac_set_c)).all()
    reserve_ok = s.battery_soc_wh - cmd.battery_w * 300 / 3600 / 0.95 >= 2000 - 1e-6
    assert reserve_ok[cmd.battery_mode == ap.BATTERY_DISCHARGE].all()
    low_tank = s.wh_fraction < 0.25
    assert (cmd.wh_setting[low_tank] == ap.HEATING_MANUAL).all()


def test_policy_band_lookup_wraps_midnight() -> None:
    night = TariffBand("night", "cheap", time(23), time(7), 24.0)
    policy = Policy(bands=(night,))
    assert policy.band_at_hour(23.5).kind == "cheap"
    assert policy.band_at_hour(6.9).kind == "cheap"
    assert policy.band_at_hour(7.0).kind == "normal"
    assert policy.cheap_hours_between(22.0, 7.0) == 8.0


def test_an_ev_over_the_limit_is_slowed_to_fit_when_it_still_fills_in_time() -> None:
    # 05:00, 2 h to departure: 4 kWh to go at 6 kW, but only 2.5 kW fit under the DR limit
    start = datetime(2026, 8, 4, 19, 0, tzinfo=UTC)
    dr = POLICY.set_dr_target(3000, start, start + timedelta(hours=2))
    s = state(
        import_w=np.array([6500.0]),
        ev_soc_wh=np.array([32_000.0]),
        ev_max_w=np.array([6_000.0]),
        ev_power_w=np.array([6_000.0]),
        battery_capacity_wh=np.array([0.0]),
        wh_present=np.array([False]),
        ac_on=np.array([False]),
    )
    cmd = decide(s, dr, at_jst(5))
    assert cmd.ev_mode[0] == ap.EV_CHARGE
    assert cmd.ev_w[0] == 2500  # 6,000 W less the 3,500 W over the limit
    assert "peak cut: EV charging slowed" in cmd.describe(0)
    assert cmd.expected_import_w[0] == pytest.approx(3000)
    # one that needs 12 kWh would not be full by 07:00 at 2.5 kW: it keeps its 6 kW
    s.ev_soc_wh[:] = 24_000
    cmd = decide(s, dr, at_jst(5))
    assert cmd.ev_w[0] == 6000 and cmd.reasons[0] & SHED_EV == 0


def test_the_ac_comes_back_to_the_household_set_point_when_there_is_room() -> None:
    eased = state(
        import_w=np.array([800.0]), ac_set_c=np.array([28]), ev_connected=np.array([False])
    )
    cmd = decide(eased, POLICY, at_jst(14))  # normal band, far under the limit
    assert cmd.ac_set_c[0] == 27  # one degree per round toward the household's 26 °C
    at_home = state(import_w=np.array([800.0]), ev_connected=np.array([False]))
    assert decide(at_home, POLICY, at_jst(14)).ac_set_c[0] == -1  # nothing to send
