"""The HEMS over many homes at once: the same :func:`~openami.hems.control.decide` as the
live HEMS, fed from a :class:`~openami.home.HomeFleet` attached to a
:class:`~openami.meter.MeterFleet`, over a simulated day.

:func:`run_day` steps every ``interval_s`` (default 5 minutes): read the homes' state and
the meters' power, decide (unless uncontrolled), apply, integrate. The meters' half-hour
values (their logged registers) are the result, with the comfort checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.clock.slots import SLOT_SECONDS
from openami.hems.control import HomesState, decide
from openami.hems.policy import VOLTAGE_V, Policy
from openami.home import HomeFleet, HomeParams
from openami.home import params as hp
from openami.meter import HouseholdParams, MeterFleet
from openami.meter.load import hash_uniform
from openami.protocols.echonet import appliances as ap

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def homes_state(
    homes: HomeFleet, import_w: F64, user_set_c: I64, contract_limit_w: F64 | None = None
) -> HomesState:
    """What a HEMS would read from each home's meter and appliances."""
    p = homes.p
    return HomesState(
        import_w=import_w,
        ac_on=homes.ac_on.copy(),
        ac_mode=homes.ac_mode.copy(),
        ac_set_c=homes.ac_set_c.copy(),
        ac_power_w=homes.device_power_w[0].copy(),
        ac_user_set_c=user_set_c,
        battery_capacity_wh=p.battery_capacity_wh,
        battery_soc_wh=homes.battery_soc_wh.copy(),
        battery_max_w=p.battery_max_w,
        battery_power_w=homes.device_power_w[1].copy(),
        ev_connected=homes.ev_connected.copy(),
        ev_capacity_wh=np.where(p.has_ev, hp.EV_CAPACITY_WH, 0.0),
        ev_soc_wh=homes.ev_soc_wh.copy(),
        ev_max_w=p.ev_max_w,
        ev_power_w=homes.device_power_w[2].copy(),
        wh_present=p.has_water_heater,
        wh_fraction=homes.wh_heat_wh / hp.TANK_FULL_WH,
        wh_power_w=homes.device_power_w[3].copy(),
        stagger=hash_uniform(homes.seed, 45, p.meter_ids),
        contract_limit_w=contract_limit_w,
    )


@dataclass
class DayResult:
    """Half-hour import/export [Wh] per home (homes × slots) and the comfort checks."""

    import_wh: I64
    export_wh: I64
    ac_band_violations: int
    battery_reserve_violations: int
    ev_departure_violations: int
    hot_water_violations: int
    decisions: int
    stored_change_wh: float  # batteries' energy + tanks' heat (as electricity) at end - start

    @property
    def comfort_violations(self) -> int:
        return (
            self.ac_band_violations
            + self.battery_reserve_violations
            + self.ev_departure_violations
            + self.hot_water_violations
        )


def build(
    n_homes: int, seed: int, start_slot: int, **shares: float
) -> tuple[MeterFleet, HomeFleet]:
    """``n_homes`` meters with their homes' appliances attached, standing at ``start_slot``."""
    ids = np.arange(1, n_homes + 1, dtype=np.int64)
    household = HouseholdParams.draw(ids, seed, pv_share=shares.pop("pv_share", 0.3))
    fleet = MeterFleet(ids, start_slot, seed=seed, params=household, retention_days=2)
    params = HomeParams.draw(household, seed, **shares)
    homes = HomeFleet(household, seed, start_slot * SLOT_SECONDS, params=params)
    fleet.appliances = homes
    return fleet, homes


def run_day(
    fleet: MeterFleet,
    homes: HomeFleet,
    policy: Policy | None,
    *,
    slots: int = 48,
    interval_s: float = 300.0,
) -> DayResult:
    """Run ``slots`` half-hours from the fleet's boundary; ``policy`` None = no HEMS."""
    start = fleet.now_boundary
    idx = np.arange(len(fleet), dtype=np.int64)
    user_set_c = homes.ac_set_c.copy()
    was_on = homes.ac_on.copy()
    ac_bad = bat_bad = 0
    decisions = 0
    t_s = float(start * SLOT_SECONDS)
    end_s = (start + slots) * SLOT_SECONDS
    reserve = 0.0 if policy is None else policy.comfort.battery_reserve
    stored_start_wh = _stored_wh(homes)
    contract_w = fleet.contract_amperage_a.astype(np.float64) * VOLTAGE_V
    while t_s < end_s:
        homes.advance_to(t_s)
        # the household's own set point: what the AC had when it was switched on
        switched_on = homes.ac_on & ~was_on
        user_set_c = np.where(switched_on, homes.ac_set_c, user_set_c)
        was_on = homes.ac_on.copy()
        if policy is not None:
            power = fleet.power_w(idx, t_s)
            state = homes_state(homes, power, user_set_c, contract_w)
            cmd = decide(state, policy, t_s, interval_s)
            homes.apply_arrays(
                cmd.ac_set_c, cmd.battery_mode, cmd.battery_w, cmd.ev_mode, cmd.wh_setting, cmd.ev_w
            )
            decisions += 1
            ac_bad += int(_ac_out_of_band(homes, policy).sum())
        t_s += interval_s
        homes.advance_to(t_s)
        if policy is not None:
            low = homes.battery_soc_wh < homes.p.battery_capacity_wh * reserve - 1.0
            bat_bad += int((low & homes.p.has_battery & (homes.device_power_w[1] < 0)).sum())
        slot_done = int(t_s // SLOT_SECONDS)
        if slot_done > fleet.now_boundary:
            fleet.advance_to(slot_done)
    b = np.arange(start, start + slots + 1, dtype=np.int64)
    imp, exp = fleet.registers_at(idx[:, None], b[None, :])
    departure_soc = policy.comfort.ev_departure_soc if policy is not None else 0.9
    left = ~np.isnan(homes.ev_departure_soc_wh)
    ev_bad = int((left & (homes.ev_departure_soc_wh < departure_soc * hp.EV_CAPACITY_WH - 1)).sum())
    return DayResult(
        import_wh=np.diff(imp, axis=1),
        export_wh=np.diff(exp, axis=1),
        ac_band_violations=ac_bad,
        battery_reserve_violations=bat_bad,
        ev_departure_violations=ev_bad,
        hot_water_violations=int((homes.wh_unserved_wh > 1.0).sum()),
        decisions=decisions,
        stored_change_wh=_stored_wh(homes) - stored_start_wh,
    )


def _stored_wh(homes: HomeFleet) -> float:
    return float(homes.battery_soc_wh.sum() + homes.wh_heat_wh.sum() / hp.HEAT_PUMP_COP)


def _ac_out_of_band(homes: HomeFleet, policy: Policy) -> npt.NDArray[np.bool_]:
    c = policy.comfort
    cooling = homes.ac_on & (homes.ac_mode == ap.AC_MODE_COOL) & (homes.ac_set_c > c.ac_cool_max_c)
    heating = homes.ac_on & (homes.ac_mode == ap.AC_MODE_HEAT) & (homes.ac_set_c < c.ac_heat_min_c)
    return cooling | heating
