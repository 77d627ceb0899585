"""The appliances of many homes as columns, stepped through time.

:class:`HomeFleet` holds the state of each home's air conditioner, storage battery, EV
charger, water heater and PV (one NumPy array per quantity) and integrates it forward
(``advance_to``) in steps of at most ``max_step_s``, never across a half-hour boundary, so
each slot's appliance energy is exact for the piecewise-constant power. Its net power is
added to the meter's (:class:`openami.meter.fleet.ApplianceLoad`): attach it with
``fleet.appliances = homes``, and the meter's half-hour values and instantaneous power
include what the appliances do.

Commands (what an ECHONET Lite Set or the HEMS decides) change the state at the current
time: ``set_*`` methods first integrate up to now. The household switches its AC on when it
comes home and off when it leaves (cool above 24 °C outdoors, heat below 16 °C), at its
preferred set temperature; anything set in between is kept.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from openami.clock import Clock
from openami.clock.slots import SLOT_SECONDS
from openami.home import params as hp
from openami.home.params import HomeParams
from openami.meter.load import HouseholdParams, household_power_w
from openami.protocols.echonet import appliances as ap

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

MAX_STEP_S = 300.0
KEEP_SLOTS = 96


class HomeFleet:
    """The appliances of the homes behind ``household``'s meters (same order)."""

    def __init__(
        self,
        household: HouseholdParams,
        seed: int,
        start_s: float,
        *,
        params: HomeParams | None = None,
        clock: Clock | None = None,
        max_step_s: float = MAX_STEP_S,
    ) -> None:
        self.household = household
        self.seed = seed
        self.p = params or HomeParams.draw(household, seed)
        self.clock = clock
        self.max_step_s = max_step_s
        self.now_s = float(start_s)
        self.start_s = float(start_s)
        n = len(self.p)
        hour = hp.jst_hour(start_s)
        self.ac_on = np.zeros(n, dtype=np.bool_)
        self.ac_mode = np.full(n, ap.AC_MODE_COOL, dtype=np.uint8)
        self.ac_set_c = np.full(n, hp.AC_COOL_PREFERRED_C, dtype=np.int64)
        self.ac_power_saving = np.zeros(n, dtype=np.bool_)
        self.ac_energy_wh = np.zeros(n)
        self._at_home = np.zeros(n, dtype=np.bool_)
        self.battery_mode = np.full(n, ap.BATTERY_AUTO, dtype=np.uint8)
        self.battery_charge_w = self.p.battery_max_w.copy()  # 0xEB
        self.battery_discharge_w = self.p.battery_max_w.copy()  # 0xEC
        self.battery_soc_wh = self.p.battery_capacity_wh * 0.5
        self.ev_connected = self._ev_plugged(hour)
        self.ev_mode = np.where(self.ev_connected, ap.EV_CHARGE, ap.EV_STANDBY).astype(np.uint8)
        self.ev_charge_w = self.p.ev_max_w.copy()  # 0xEB
        self.ev_soc_wh = np.where(self.ev_connected, hp.EV_CAPACITY_WH - self.p.ev_need_wh, 0.0)
        self.ev_departure_soc_wh = np.full(n, np.nan)  # the EV's energy when it last left
        self.wh_setting = np.full(n, ap.HEATING_AUTO, dtype=np.uint8)
        self.wh_daytime_reheat = np.ones(n, dtype=np.bool_)  # 0xC0: automatic reheat by day
        self.wh_shift_hour = np.zeros(n, dtype=np.int64)  # 0xC7 + 0xCA: heat at this hour
        self.wh_heat_wh = np.full(n, hp.TANK_FULL_WH * 0.6)
        self.wh_unserved_wh = np.zeros(n)  # hot water asked for while the tank was empty
        self.pv_energy_wh = np.zeros(n)
        self.device_power_w = np.zeros((4, n))  # W now: AC, battery (+ charging), EV, water heater
        self._slots: dict[int, F64] = {}
        self._update_power(start_s)

    def __len__(self) -> int:
        return len(self.p)

    # -- time -----------------------------------------------------------------------------------
    def sync(self) -> float:
        """Integrate up to the clock's time (when the fleet has a clock)."""
        if self.clock is not None:
            self.advance_to(self.clock.timestamp())
        return self.now_s

    def advance_to(self, t_s: float) -> None:
        """Integrate the appliances' state and energy up to ``t_s`` (never backwards)."""
        while self.now_s < t_s:
            boundary_s = (self.now_s // SLOT_SECONDS + 1) * SLOT_SECONDS
            step_s = min(t_s, boundary_s, self.now_s + self.max_step_s) - self.now_s
            self._step(step_s)

    def _step(self, dt_s: float) -> None:
        slot = int(self.now_s // SLOT_SECONDS)
        net_w = self.device_power_w.sum(axis=0)
        acc = self._slots.get(slot)
        if acc is None:
            acc = self._slots[slot] = np.zeros(len(self))
            for old in [s for s in self._slots if s < slot - KEEP_SLOTS]:
                del self._slots[old]
        acc += net_w * dt_s / 3600.0
        h = dt_s / 3600.0
        self.ac_energy_wh += self.device_power_w[0] * h
        bat_w = self.device_power_w[1]
        self.battery_soc_wh += (
            np.where(bat_w > 0, bat_w * hp.BATTERY_EFFICIENCY, bat_w / hp.BATTERY_EFFICIENCY) * h
        )
        self.battery_soc_wh = np.clip(self.battery_soc_wh, 0.0, self.p.battery_capacity_wh)
        self.ev_soc_wh = np.minimum(self.ev_soc_wh + self.device_power_w[2] * h, hp.EV_CAPACITY_WH)
        self._step_water(dt_s, h)
        self.pv_energy_wh += self.pv_w() * h
        self.now_s += dt_s
        self._update_power(self.now_s)

    def _step_water(self, dt_s: float, h: float) -> None:
        heat = self.wh_heat_wh + self.device_power_w[3] * hp.HEAT_PUMP_COP * h
        hour = hp.jst_hour(self.now_s + dt_s / 2)
        draw = self.p.wh_daily_heat_wh * hp.hot_water_share(hour) * h
        draw = np.where(self.p.has_water_heater, draw, 0.0)
        self.wh_unserved_wh += np.clip(draw - heat, 0.0, None)
        self.wh_heat_wh = np.clip(heat - draw, 0.0, hp.TANK_FULL_WH)

    # -- power ----------------------------------------------------------------------------------
    def _household_w(self, t_s: float) -> tuple[F64, F64]:
        idx = np.arange(len(self), dtype=np.int64)
        slot = np.int64(int(t_s // SLOT_SECONDS))
        return household_power_w(self.household, idx, slot, self.seed)

    def pv_w(self) -> F64:
        return self._household_w(self.now_s)[1]

    def _update_power(self, t_s: float) -> None:
        hour = hp.jst_hour(t_s)
        outdoor_c = hp.outdoor_temperature_c(t_s, self.seed)
        self._user_ac(hour, outdoor_c)
        self._ev_sessions(hour)
        self.outdoor_c = outdoor_c
        self.device_power_w[0] = self._ac_w(outdoor_c)
        self.device_power_w[2] = self._ev_w()
        self.device_power_w[3] = self._water_w(hour)
        consumption_w, pv_w = self._household_w(t_s)
        others_w = (
            consumption_w
            - pv_w
            + self.device_power_w[0]
            + self.device_power_w[2]
            + self.device_power_w[3]
        )
        self.device_power_w[1] = self._battery_w(others_w)

    def _user_ac(self, hour: float, outdoor_c: float) -> None:
        """Households coming home switch the AC on at their set point; leaving, off."""
        home = hp.at_home(hour, self.p.home_offset_h)
        came, left = home & ~self._at_home, ~home & self._at_home
        self._at_home = home
        if not (came.any() or left.any()):
            return
        wanted = outdoor_c > 24.0 or outdoor_c < 16.0
        cooling = outdoor_c >= 20.0
        self.ac_on = np.where(came, wanted, np.where(left, False, self.ac_on))
        mode = ap.AC_MODE_COOL if cooling else ap.AC_MODE_HEAT
        self.ac_mode = np.where(came, mode, self.ac_mode).astype(np.uint8)
        preferred = hp.AC_COOL_PREFERRED_C if cooling else hp.AC_HEAT_PREFERRED_C
        self.ac_set_c = np.where(came, preferred, self.ac_set_c).astype(np.int64)

    def _ac_w(self, outdoor_c: float) -> F64:
        set_c = self.ac_set_c.astype(np.float64)
        heating = self.ac_mode == ap.AC_MODE_HEAT
        gap_c = np.where(heating, set_c - outdoor_c, outdoor_c - set_c)
        gap_c = np.where(self.ac_mode == ap.AC_MODE_FAN, 0.0, np.clip(gap_c, 0.0, None))
        w = np.minimum(hp.AC_FAN_W + self.p.ac_w_per_c * gap_c, self.p.ac_max_w)
        w = np.where(self.ac_power_saving, 0.85 * w, w)
        return np.where(self.ac_on, w, 0.0)

    def _ev_plugged(self, hour: float) -> npt.NDArray[np.bool_]:
        plugged = (hour >= self.p.ev_arrival_h) | (hour < self.p.ev_departure_h)
        return plugged & self.p.has_ev

    def _ev_sessions(self, hour: float) -> None:
        plugged = self._ev_plugged(hour)
        arrived = plugged & ~self.ev_connected
        left = ~plugged & self.ev_connected
        self.ev_departure_soc_wh = np.where(left, self.ev_soc_wh, self.ev_departure_soc_wh)
        self.ev_soc_wh = np.where(arrived, hp.EV_CAPACITY_WH - self.p.ev_need_wh, self.ev_soc_wh)
        self.ev_mode = np.where(arrived, ap.EV_CHARGE, self.ev_mode).astype(np.uint8)
        self.ev_mode = np.where(left, ap.EV_STANDBY, self.ev_mode).astype(np.uint8)
        self.ev_connected = plugged

    def _ev_w(self) -> F64:
        room_w = (hp.EV_CAPACITY_WH - self.ev_soc_wh) * 3600.0 / self.max_step_s
        w = np.minimum(np.minimum(self.ev_charge_w, self.p.ev_max_w), room_w)
        return np.where(self.ev_connected & (self.ev_mode == ap.EV_CHARGE), w, 0.0)

    def _water_w(self, hour: float) -> F64:
        full = self.wh_heat_wh >= hp.TANK_FULL_WH * 0.999
        low = self.wh_heat_wh < hp.TANK_FULL_WH * 0.5
        heating_now = self.device_power_w[3] > 0
        daytime = 7.0 <= hour < 23.0
        auto = (self.wh_setting == ap.HEATING_AUTO) & (low | heating_now)
        auto &= self.wh_daytime_reheat | (not daytime)
        # a daytime heating shift (上げDR) heats from its hour on, until full
        shifted = (self.wh_shift_hour > 0) & (self.wh_shift_hour <= hour) & daytime
        shifted &= (self.wh_setting != ap.HEATING_STOPPED) & (
            (hour < self.wh_shift_hour + 1) | heating_now
        )
        manual = (self.wh_setting == ap.HEATING_MANUAL) | shifted
        on = (auto | manual) & ~full & self.p.has_water_heater
        return np.where(on, self.p.wh_heater_w, 0.0)

    def _battery_w(self, others_w: F64) -> F64:
        """Battery power [W], positive charging: never exports (no reverse flow, 0xDB 0x02)."""
        cap = self.p.battery_capacity_wh
        per_h = 3600.0 / self.max_step_s
        room_w = (cap - self.battery_soc_wh) * per_h
        stock_w = self.battery_soc_wh * per_h
        max_w = self.p.battery_max_w
        charge = np.minimum(np.minimum(self.battery_charge_w, max_w), room_w)
        discharge = np.minimum(np.minimum(self.battery_discharge_w, max_w), stock_w)
        follow = np.minimum(discharge, np.clip(others_w, 0.0, None))
        mode = self.battery_mode
        auto_w = np.where(others_w < 0, np.minimum(np.minimum(max_w, room_w), -others_w), -follow)
        w = np.select(
            [
                (mode == ap.BATTERY_CHARGE) | (mode == ap.BATTERY_RAPID_CHARGE),
                mode == ap.BATTERY_DISCHARGE,
                mode == ap.BATTERY_AUTO,
            ],
            [charge, -follow, auto_w],
            0.0,
        )
        return np.where(self.p.has_battery, w, 0.0)

    # -- what the meter sees (openami.meter.fleet.ApplianceLoad) ---------------------------------
    def slot_net_wh(self, index: I64, slot: int) -> F64:
        """Net appliance energy [Wh] in ``slot``; the slot in progress is projected to its
        end at the power of now. Slots before the homes' start are 0 (no appliances yet)."""
        self.sync()
        idx = np.asarray(index, dtype=np.int64)
        done = self._slots.get(slot)
        energy = np.zeros(len(self)) if done is None else done.copy()
        end_s = (slot + 1) * SLOT_SECONDS
        if self.now_s < end_s and slot * SLOT_SECONDS <= self.now_s:
            energy += self.device_power_w.sum(axis=0) * (end_s - self.now_s) / 3600.0
        return energy[idx]

    def power_w(self, index: I64, epoch_seconds: float) -> F64:
        """Net appliance power [W] now (``epoch_seconds`` is the meter's moment)."""
        self.advance_to(epoch_seconds)
        return self.device_power_w.sum(axis=0)[np.asarray(index, dtype=np.int64)]

    # -- commands -------------------------------------------------------------------------------
    def _apply(self) -> None:
        self._update_power(self.now_s)

    def set_ac(
        self,
        index: npt.ArrayLike,
        *,
        on: bool | None = None,
        mode: int | None = None,
        set_c: int | None = None,
        power_saving: bool | None = None,
    ) -> None:
        self.sync()
        idx = np.asarray(index, dtype=np.int64)
        if on is not None:
            self.ac_on[idx] = on
        if mode is not None:
            self.ac_mode[idx] = mode
        if set_c is not None:
            self.ac_set_c[idx] = set_c
        if power_saving is not None:
            self.ac_power_saving[idx] = power_saving
        self._apply()

    def set_battery(
        self,
        index: npt.ArrayLike,
        *,
        mode: int | None = None,
        charge_w: float | None = None,
        discharge_w: float | None = None,
    ) -> None:
        self.sync()
        idx = np.asarray(index, dtype=np.int64)
        if mode is not None:
            self.battery_mode[idx] = mode
        if charge_w is not None:
            self.battery_charge_w[idx] = charge_w
        if discharge_w is not None:
            self.battery_discharge_w[idx] = discharge_w
        self._apply()

    def set_ev(
        self, index: npt.ArrayLike, *, mode: int | None = None, charge_w: float | None = None
    ) -> None:
        self.sync()
        idx = np.asarray(index, dtype=np.int64)
        if mode is not None:
            self.ev_mode[idx] = mode
        if charge_w is not None:
            self.ev_charge_w[idx] = charge_w
        self._apply()

    def set_water_heater(
        self,
        index: npt.ArrayLike,
        setting: int | None = None,
        *,
        daytime_reheat: bool | None = None,
        shift_hour: int | None = None,
    ) -> None:
        """0xB0 setting; 0xC0 daytime reheating; a daytime shift hour (9–17, 0 = none)."""
        self.sync()
        idx = np.asarray(index, dtype=np.int64)
        if setting is not None:
            self.wh_setting[idx] = setting
        if daytime_reheat is not None:
            self.wh_daytime_reheat[idx] = daytime_reheat
        if shift_hour is not None:
            self.wh_shift_hour[idx] = shift_hour
        self._apply()

    def apply_arrays(
        self,
        ac_set_c: I64,
        battery_mode: U8,
        battery_w: F64,
        ev_mode: U8,
        wh_setting: U8,
        ev_w: F64 | None = None,
    ) -> None:
        """Columnar commands for every home (0 / -1 = unchanged), as the scenario gives them."""
        keep_ac = ac_set_c < 0
        self.ac_set_c = np.where(keep_ac, self.ac_set_c, ac_set_c)
        self.battery_mode = np.where(battery_mode == 0, self.battery_mode, battery_mode).astype(
            np.uint8
        )
        charge = battery_mode == ap.BATTERY_CHARGE
        discharge = (battery_mode == ap.BATTERY_DISCHARGE) | (battery_mode == ap.BATTERY_AUTO)
        self.battery_charge_w = np.where(charge, battery_w, self.battery_charge_w)
        self.battery_discharge_w = np.where(discharge, battery_w, self.battery_discharge_w)
        self.ev_mode = np.where(ev_mode == 0, self.ev_mode, ev_mode).astype(np.uint8)
        if ev_w is not None:
            self.ev_charge_w = np.where(ev_mode == ap.EV_CHARGE, ev_w, self.ev_charge_w)
        self.wh_setting = np.where(wh_setting == 0, self.wh_setting, wh_setting).astype(np.uint8)
        self._apply()
