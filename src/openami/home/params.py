"""Per-home appliance parameters, drawn from the same seed and meter ids as the meter's
household model (:class:`openami.meter.HouseholdParams`), and the weather they run in.

Every quantity is a column aligned with the meters. Figures are plausible for a Japanese
detached house, not measurements (docs/hems.md lists them):

- air conditioner: 120 W fan + 70–110 W per °C between outdoor and set temperature, at most
  1.4–2.2 kW; the household is home (AC may run) 06–09 and 17–23, each household up to
  1.5 h later;
- storage battery (a share of homes): 5–10 kWh, 2–3 kW, 95 % efficient each way;
- EV (a share of homes): 40 kWh, 3 or 6 kW charger, plugged in from 17–20 h to 07–08 h,
  arriving with 6–16 kWh to refill;
- heat-pump water heater (a share of homes): 370 L tank, 1.2–1.6 kW, COP 3, 7–13 kWh of
  heat drawn a day (a fifth in the morning, the rest in the evening bath hours);
- PV: the household model's own generation (its capacity and clouds), reported, never added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.clock.slots import JST_OFFSET_S
from openami.meter.load import HouseholdParams, hash_normal, hash_uniform

F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]

EV_CAPACITY_WH = 40_000.0
TANK_L = 370.0
TANK_HOT_C, TANK_COLD_C = 65.0, 17.0
WH_PER_L_K = 1.163  # heat capacity of water
TANK_FULL_WH = TANK_L * (TANK_HOT_C - TANK_COLD_C) * WH_PER_L_K
HEAT_PUMP_COP = 3.0
BATTERY_EFFICIENCY = 0.95  # each way
AC_FAN_W = 120.0
AC_COOL_PREFERRED_C, AC_HEAT_PREFERRED_C = 26, 21
HOME_HOURS = ((6.0, 9.0), (17.0, 23.0))  # the earliest comings and goings
HOME_SPREAD_H = 1.5  # each household's are later by up to this much (seeded)


@dataclass(frozen=True)
class HomeParams:
    """Appliance parameters of each home (a capacity of 0 = the home has none)."""

    meter_ids: npt.NDArray[np.int64]
    ac_w_per_c: F64
    ac_max_w: F64
    battery_capacity_wh: F64
    battery_max_w: F64
    ev_max_w: F64
    ev_arrival_h: F64
    ev_departure_h: F64
    ev_need_wh: F64
    wh_heater_w: F64
    wh_daily_heat_wh: F64
    pv_capacity_w: F64
    home_offset_h: F64  # how much later than HOME_HOURS this household comes and goes

    @classmethod
    def draw(
        cls,
        household: HouseholdParams,
        seed: int,
        *,
        battery_share: float = 0.3,
        ev_share: float = 0.2,
        water_heater_share: float = 0.5,
    ) -> HomeParams:
        for name, share in (("battery", battery_share), ("ev", ev_share)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name}_share must be within 0..1, got {share}")
        if not 0.0 <= water_heater_share <= 1.0:
            raise ValueError(f"water_heater_share must be within 0..1, got {water_heater_share}")
        ids = household.meter_ids

        def u(stream: int) -> F64:
            return hash_uniform(seed, stream, ids)

        has_battery = u(31) < battery_share
        has_ev = u(32) < ev_share
        has_wh = u(33) < water_heater_share
        return cls(
            meter_ids=ids,
            ac_w_per_c=70.0 + 40.0 * u(34),
            ac_max_w=1400.0 + 800.0 * u(35),
            battery_capacity_wh=np.where(has_battery, 5000.0 + 5000.0 * u(36), 0.0),
            battery_max_w=np.where(has_battery, 2000.0 + 1000.0 * u(37), 0.0),
            ev_max_w=np.where(has_ev, np.where(u(38) < 0.7, 3000.0, 6000.0), 0.0),
            ev_arrival_h=17.0 + 3.0 * u(39),
            ev_departure_h=7.0 + 1.0 * u(40),
            ev_need_wh=6000.0 + 10_000.0 * u(41),
            wh_heater_w=np.where(has_wh, 1200.0 + 400.0 * u(42), 0.0),
            wh_daily_heat_wh=7000.0 + 6000.0 * u(43),
            pv_capacity_w=household.pv_capacity_w.copy(),
            home_offset_h=HOME_SPREAD_H * u(46),
        )

    def __len__(self) -> int:
        return len(self.meter_ids)

    @property
    def has_battery(self) -> BoolArr:
        return self.battery_capacity_wh > 0

    @property
    def has_ev(self) -> BoolArr:
        return self.ev_max_w > 0

    @property
    def has_water_heater(self) -> BoolArr:
        return self.wh_heater_w > 0

    @property
    def has_pv(self) -> BoolArr:
        return self.pv_capacity_w > 0


def jst_hour(epoch_s: float) -> float:
    """Hour of the JST day, 0 ≤ h < 24."""
    return ((epoch_s + JST_OFFSET_S) % 86_400.0) / 3600.0


def outdoor_temperature_c(epoch_s: float, seed: int) -> float:
    """A region's outdoor temperature [°C]: a season (about 5 °C in late January to 29 °C
    in early August), a day (warmest at 14:00, ±4 °C) and a seeded offset per day."""
    day = int((epoch_s + JST_OFFSET_S) // 86_400)
    doy = day % 365.25
    season = 17.0 - 12.0 * np.cos(2.0 * np.pi * (doy - 30.0) / 365.25)
    daily = 4.0 * np.cos(2.0 * np.pi * (jst_hour(epoch_s) - 14.0) / 24.0)
    offset = 1.5 * float(hash_normal(seed, 44, [day])[0])
    return float(season + daily + offset)


def at_home(hour: float, offset_h: F64) -> BoolArr:
    """Whether each household is home (its AC may run) at this JST hour."""
    shifted = (hour - offset_h) % 24.0
    home = np.zeros(offset_h.shape, dtype=np.bool_)
    for start, end in HOME_HOURS:
        home |= (shifted >= start) & (shifted < end)
    return home


def hot_water_share(hour: float) -> float:
    """Share of the day's hot water drawn per hour at ``hour`` (integrates to 1 over a day)."""
    if 6.0 <= hour < 8.0:
        return 0.2 / 2.0
    if 19.0 <= hour < 23.0:
        return 0.8 / 4.0
    return 0.0
