"""The appliances' physical models (columnar, many homes at once)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from openami.home import HomeFleet, HomeParams
from openami.home import params as hp
from openami.meter import HouseholdParams
from openami.protocols.echonet import appliances as ap

SEED = 5


def fleet(at: datetime, n: int = 40) -> HomeFleet:
    household = HouseholdParams.draw(np.arange(1, n + 1), SEED, pv_share=0.5)
    params = HomeParams.draw(
        household, SEED, battery_share=1.0, ev_share=1.0, water_heater_share=1.0
    )
    return HomeFleet(household, SEED, at.timestamp(), params=params)


def test_battery_energy_follows_power_and_efficiency() -> None:
    homes = fleet(datetime(2026, 8, 5, 15, 0, tzinfo=UTC))  # 00:00 JST
    homes.set_battery(np.arange(40), mode=ap.BATTERY_CHARGE, charge_w=1000)
    soc0 = homes.battery_soc_wh.copy()
    homes.advance_to(homes.now_s + 3600)
    assert homes.battery_soc_wh == pytest.approx(soc0 + 1000 * hp.BATTERY_EFFICIENCY)
    # discharging stops at empty and never exports (it follows the load)
    homes.set_battery(np.arange(40), mode=ap.BATTERY_DISCHARGE, discharge_w=3000)
    consumption_w, pv_w = homes._household_w(homes.now_s)
    others_w = consumption_w - pv_w + homes.device_power_w[[0, 2, 3]].sum(axis=0)
    assert (-homes.device_power_w[1] <= np.clip(others_w, 0, None) + 1e-9).all()
    assert (homes.device_power_w.sum(axis=0) + consumption_w - pv_w >= -1e-9).all()
    homes.advance_to(homes.now_s + 30 * 3600)
    assert (homes.battery_soc_wh >= 0).all() and (homes.device_power_w[1] <= 0).all()
    assert homes.battery_soc_wh.max() < 50  # ran down


def test_ev_sessions_arrive_charge_and_leave() -> None:
    homes = fleet(datetime(2026, 8, 5, 6, 0, tzinfo=UTC))  # 15:00 JST: every EV is away
    assert not homes.ev_connected.any()
    homes.advance_to(homes.now_s + 5.5 * 3600)  # 20:30: every EV has arrived (17–20 h)
    assert homes.ev_connected.all()
    charging = homes.device_power_w[2] > 0
    assert charging.any()
    assert (homes.device_power_w[2][charging] == homes.p.ev_max_w[charging]).any()
    homes.advance_to(homes.now_s + 12 * 3600)  # 08:30: all left, full (uncontrolled)
    assert not homes.ev_connected.any()
    assert homes.ev_departure_soc_wh == pytest.approx(hp.EV_CAPACITY_WH)


def test_water_heater_serves_draws_and_reheats_automatically() -> None:
    homes = fleet(datetime(2026, 8, 5, 9, 0, tzinfo=UTC))  # 18:00 JST, before the baths
    heat0 = homes.wh_heat_wh.copy()
    homes.advance_to(homes.now_s + 6 * 3600)  # to 24:00: the evening's hot water drawn
    assert (homes.wh_unserved_wh == 0).all()
    assert (homes.wh_heat_wh <= hp.TANK_FULL_WH).all()
    drawn = homes.p.wh_daily_heat_wh * 0.8
    reheated = homes.wh_heat_wh - (heat0 - drawn)
    assert (reheated >= -1e-6).all() and reheated.max() > 0  # some fell below half: reheated
    # stopped heaters never heat: their tanks only fall
    homes.set_water_heater(np.arange(40), ap.HEATING_STOPPED)
    before = homes.wh_heat_wh.copy()
    homes.advance_to(homes.now_s + 8 * 3600)
    assert (homes.wh_heat_wh <= before).all() and (homes.device_power_w[3] == 0).all()


def test_ac_power_grows_with_the_gap_to_outdoors() -> None:
    homes = fleet(datetime(2026, 8, 5, 10, 0, tzinfo=UTC))  # 19:00 JST: everyone is home
    assert homes.ac_on.all() and (homes.ac_mode == ap.AC_MODE_COOL).all()
    at_26 = homes.device_power_w[0].copy()
    homes.set_ac(np.arange(40), set_c=28)
    at_28 = homes.device_power_w[0]
    assert (at_28 <= at_26).all() and (at_28 < at_26).any()
    gap = homes.outdoor_c - 26
    expected = np.minimum(hp.AC_FAN_W + homes.p.ac_w_per_c * max(gap, 0), homes.p.ac_max_w)
    assert at_26 == pytest.approx(expected)
