"""The HEMS's decision: appliance state in, set commands out (pure, columnar).

:func:`decide` takes the state of N homes (:class:`HomesState`, one array per quantity, as
the HEMS read it from the meter and the appliances) and a :class:`Policy`, and gives the
:class:`Commands` to send. The live HEMS (``openami hems run``) calls it with N = 1; the
scenario benchmark with N = 1,000. No I/O, no clock: the moment is an argument.

Two steps:

1. **Peak shift** (what each device should do in this tariff band): in a cheap band, charge
   the battery and the EV and heat water; in a peak band, discharge the battery (following
   the load, down to the reserve) and stop the EV and the water heater; in a normal band,
   the battery runs automatic (PV self-consumption) above its reserve. The EV charges outside
   cheap hours only when the cheap hours left before departure cannot fill it; the water
   heater heats outside them only below its minimum.
2. **Peak cut** (keep the import under the policy's limit at this moment): estimate the
   import the step-1 intent gives, and while it is above the limit shed in the policy's
   order: stop the EV (unless it would miss its departure energy), stop the water heater
   (unless below its minimum), stop battery charging then discharge it (to its reserve),
   raise the AC's cooling set point (lower the heating one) up to the comfort bound.
   The AC's set point comes back toward the user's, one degree per decision, when there is
   room for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.hems.policy import Policy
from openami.protocols.echonet import appliances as ap

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
Bool = npt.NDArray[np.bool_]

UNCHANGED = 0
WATER_HEATER_FULL_H = 4.0  # hours a heat pump takes to heat a cold tank (the HEMS's estimate)
# reason bits, per home
SHED_EV, SHED_WATER, SHED_BATTERY, SHED_AC = 1, 2, 4, 8
SHIFT_CHARGE, SHIFT_DISCHARGE, OVER_LIMIT, SLOW_EV = 16, 32, 64, 128
EV_MIN_W = 1400.0  # the lowest charging power the HEMS sets (about 6 A at 200 V, plus margin)
REASONS = {
    SHED_EV: "peak cut: EV charging paused",
    SLOW_EV: "peak cut: EV charging slowed",
    SHED_WATER: "peak cut: water heating stopped",
    SHED_BATTERY: "peak cut: battery discharging",
    SHED_AC: "peak cut: AC set point eased",
    SHIFT_CHARGE: "peak shift: charging/heating in a cheap band",
    SHIFT_DISCHARGE: "peak shift: battery covering a peak band",
    OVER_LIMIT: "limit still exceeded after every allowed shed",
}


@dataclass
class HomesState:
    """What the HEMS knows of N homes (capacity 0 = the home lacks the device)."""

    import_w: F64  # the meter's instantaneous power (E7), + import
    ac_on: Bool
    ac_mode: U8
    ac_set_c: I64
    ac_power_w: F64
    ac_user_set_c: I64  # the set point before the HEMS moved it
    battery_capacity_wh: F64
    battery_soc_wh: F64
    battery_max_w: F64
    battery_power_w: F64  # + charging
    ev_connected: Bool
    ev_capacity_wh: F64
    ev_soc_wh: F64
    ev_max_w: F64
    ev_power_w: F64
    wh_present: Bool
    wh_fraction: F64  # remaining hot water / tank
    wh_power_w: F64
    stagger: F64  # 0–1 per home: where in the cheap hours its charging may start
    contract_limit_w: F64 | None = None  # per-home contract limits, else the policy's

    def __len__(self) -> int:
        return len(self.import_w)


@dataclass
class Commands:
    """Per-home commands; UNCHANGED (0) / -1 where nothing is to be sent."""

    ac_set_c: I64
    battery_mode: U8
    battery_w: F64  # the charge or discharge power to set with battery_mode
    ev_mode: U8
    ev_w: F64  # the EV's charging power to set (0xEB)
    wh_setting: U8
    limit_w: F64
    expected_import_w: F64
    reasons: I64

    def describe(self, i: int) -> list[str]:
        return [text for bit, text in REASONS.items() if self.reasons[i] & bit]


def _hour(at_s: float) -> float:
    return ((at_s + 9 * 3600) % 86_400) / 3600.0


def decide(state: HomesState, policy: Policy, at_s: float, interval_s: float = 300.0) -> Commands:
    """The commands for every home at ``at_s``; ``interval_s`` until the next decision (the
    battery is discharged no further than its reserve within it)."""
    n = len(state)
    hour = _hour(at_s)
    band = policy.band_at_hour(hour).kind
    limit = np.full(n, policy.limit_w(at_s))
    if state.contract_limit_w is not None:
        limit = np.minimum(limit, state.contract_limit_w - policy.margin_w)
    c = policy.comfort
    reasons = np.zeros(n, dtype=np.int64)
    has_bat = state.battery_capacity_wh > 0
    reserve_wh = state.battery_capacity_wh * c.battery_reserve
    spare_wh = np.clip(state.battery_soc_wh - reserve_wh, 0.0, None)
    bat_dis_w = np.minimum(state.battery_max_w, spare_wh * 0.95 * 3600.0 / interval_s)
    bat_room = state.battery_soc_wh < state.battery_capacity_wh * 0.99

    # 1. peak shift: the intent per device
    dep_h = c.ev_departure.hour + c.ev_departure.minute / 60
    ev_need_wh = np.clip(c.ev_departure_soc * state.ev_capacity_wh - state.ev_soc_wh, 0.0, None)
    cheap_left_h = policy.cheap_hours_between(hour, dep_h)
    hours_left = (dep_h - hour) % 24.0
    cheap_total_h = policy.cheap_hours_between((dep_h + 0.25) % 24.0, dep_h)
    ev_need_h = ev_need_wh / np.maximum(state.ev_max_w * 0.9, 1.0)
    ev_must = ev_need_h > cheap_left_h
    cheap = band == "cheap"
    ev_charge = state.ev_connected & (ev_need_wh > 0)
    ev_charge &= (
        cheap & _turn(cheap_left_h, cheap_total_h, ev_need_h, state.stagger, state.ev_power_w)
    ) | ev_must
    wh_low = state.wh_present & (state.wh_fraction < c.water_heater_min)
    wh_need_h = (1.0 - state.wh_fraction) * WATER_HEATER_FULL_H
    wh_turn = _turn(cheap_left_h, cheap_total_h, wh_need_h, state.stagger, state.wh_power_w)
    wh_heat = state.wh_present & ((cheap & (state.wh_fraction < 0.98) & wh_turn) | wh_low)
    bat_need_h = (state.battery_capacity_wh - state.battery_soc_wh) / np.maximum(
        state.battery_max_w * 0.95, 1.0
    )
    bat_turn = _turn(cheap_left_h, cheap_total_h, bat_need_h, state.stagger, state.battery_power_w)
    if band == "cheap":
        bat_mode = np.where(bat_room & bat_turn, ap.BATTERY_CHARGE, ap.BATTERY_STANDBY)
        bat_w = state.battery_max_w.copy()
        reasons |= np.where(has_bat & bat_room | ev_charge | wh_heat, SHIFT_CHARGE, 0)
    elif band == "peak":
        bat_mode = np.where(bat_dis_w > 0, ap.BATTERY_DISCHARGE, ap.BATTERY_STANDBY)
        bat_w = bat_dis_w
        reasons |= np.where(has_bat & (bat_dis_w > 0), SHIFT_DISCHARGE, 0)
    else:
        bat_mode = np.where(bat_dis_w > 0, ap.BATTERY_AUTO, ap.BATTERY_STANDBY)
        bat_w = bat_dis_w
    bat_mode = np.where(has_bat, bat_mode, UNCHANGED).astype(np.uint8)

    # the import this intent gives (device power changes estimated from what is known)
    ev_new_w = np.where(ev_charge, np.maximum(state.ev_power_w, state.ev_max_w), 0.0)
    wh_new_w = np.where(
        wh_heat, np.where(state.wh_power_w > 0, state.wh_power_w, policy.water_heater_w), 0.0
    )
    bat_new_w = _battery_estimate(state, bat_mode, bat_w)
    expected = (
        state.import_w
        + (ev_new_w - state.ev_power_w)
        + (wh_new_w - state.wh_power_w)
        + (bat_new_w - state.battery_power_w)
    )

    # 2. peak cut, in the policy's order
    ac_set = state.ac_set_c.copy()
    for device in policy.shed_order:
        excess = expected - limit
        over = excess > 0
        if not over.any():
            break
        if device == "ev":
            ev_w, cut, slowed = _shed_ev(
                ev_need_wh, ev_charge, ev_must, ev_new_w, excess, hours_left
            )
            expected -= ev_new_w - ev_w
            ev_new_w = ev_w
            ev_charge &= ~cut
            reasons |= np.where(cut, SHED_EV, 0) | np.where(slowed, SLOW_EV, 0)
        elif device == "water_heater":
            cut = over & wh_heat & ~wh_low
            expected -= np.where(cut, wh_new_w, 0.0)
            wh_heat &= ~cut
            reasons |= np.where(cut, SHED_WATER, 0)
        elif device == "battery":
            cut = over & has_bat
            charging_w = np.clip(bat_new_w, 0.0, None)
            discharge_w = np.minimum(bat_dis_w, np.clip(excess - charging_w, 0.0, None))
            discharge_w = np.maximum(discharge_w, np.clip(-bat_new_w, 0.0, None))
            discharge_w = np.minimum(discharge_w, bat_dis_w)  # never below the reserve
            new_w = np.where(cut, -discharge_w, bat_new_w)
            expected += new_w - bat_new_w
            bat_mode = np.where(
                cut, np.where(discharge_w > 0, ap.BATTERY_DISCHARGE, ap.BATTERY_STANDBY), bat_mode
            ).astype(np.uint8)
            bat_w = np.where(cut, discharge_w, bat_w)
            bat_new_w = new_w
            reasons |= np.where(cut & (discharge_w > 0), SHED_BATTERY, 0)
        elif device == "ac":
            ac_set, eased_w = _ease_ac(state, policy, ac_set, excess, over)
            expected -= eased_w
            reasons |= np.where(eased_w > 0, SHED_AC, 0)
    ac_set = _restore_ac(state, policy, ac_set, limit - expected, reasons)
    reasons |= np.where(expected > limit, OVER_LIMIT, 0)
    return Commands(
        ac_set_c=np.where(ac_set != state.ac_set_c, ac_set, -1),
        battery_mode=bat_mode,
        battery_w=np.round(bat_w),
        ev_w=np.floor(np.where(ev_charge, np.maximum(ev_new_w, 0.0), state.ev_max_w)),
        ev_mode=np.where(
            state.ev_connected, np.where(ev_charge, ap.EV_CHARGE, ap.EV_STANDBY), UNCHANGED
        ).astype(np.uint8),
        wh_setting=np.where(
            state.wh_present,
            np.where(wh_heat, ap.HEATING_MANUAL, ap.HEATING_STOPPED),
            UNCHANGED,
        ).astype(np.uint8),
        limit_w=limit,
        expected_import_w=expected,
        reasons=reasons,
    )


def _turn(
    cheap_left_h: float, cheap_total_h: float, need_h: F64, stagger: F64, power_w: F64
) -> Bool:
    """Whether a device's cheap-band run starts (or goes on). Its start is placed ``stagger``
    (0–1) of the way from the latest start that still fills it to the band's start, so the
    homes' starts spread evenly over the band instead of all at its first minute (a rebound
    peak) or its last hours. Running devices keep running."""
    slack_h = np.clip(cheap_total_h - need_h, 0.0, None)
    return (power_w > 0) | (cheap_left_h <= need_h + stagger * slack_h + 0.25)


def _shed_ev(
    need_wh: F64,
    charging: Bool,
    must: Bool,
    power_w: F64,
    excess: F64,
    hours_left: float,
) -> tuple[F64, Bool, Bool]:
    """EVs over the limit charge slower when the power that fits is at least EV_MIN_W and
    still fills them by departure; else they pause, unless they must charge now.
    Returns the new power, and which paused and which slowed."""
    over = charging & (excess > 0)
    fit_w = power_w - excess
    in_time = need_wh <= fit_w * 0.9 * hours_left
    slowed = over & (fit_w >= EV_MIN_W) & (in_time | ~must)
    cut = over & ~slowed & ~must
    new_w = np.where(slowed, np.floor(fit_w), np.where(cut, 0.0, power_w))
    return new_w, cut, slowed


def _battery_estimate(state: HomesState, mode: U8, power_w: F64) -> F64:
    """The battery power [W, + charging] a mode gives, as far as the HEMS can tell."""
    room_w = np.where(state.battery_soc_wh < state.battery_capacity_wh, state.battery_max_w, 0.0)
    load_w = np.clip(state.import_w - state.battery_power_w, 0.0, None)
    return np.select(
        [mode == ap.BATTERY_CHARGE, mode == ap.BATTERY_DISCHARGE, mode == ap.BATTERY_AUTO],
        [np.minimum(power_w, room_w), -np.minimum(power_w, load_w), state.battery_power_w],
        np.where(mode == UNCHANGED, state.battery_power_w, 0.0),
    )


def _ease_ac(
    state: HomesState, policy: Policy, ac_set: I64, excess: F64, over: Bool
) -> tuple[I64, F64]:
    """Move AC set points toward the comfort bound by the degrees the excess needs."""
    c = policy.comfort
    cooling = state.ac_mode == ap.AC_MODE_COOL
    heating = state.ac_mode == ap.AC_MODE_HEAT
    room_c = np.where(
        cooling, c.ac_cool_max_c - ac_set, np.where(heating, ac_set - c.ac_heat_min_c, 0)
    )
    need_c = np.ceil(np.clip(excess, 0.0, None) / policy.ac_w_per_c).astype(np.int64)
    steps = np.where(over & state.ac_on & (cooling | heating), np.minimum(need_c, room_c), 0)
    steps = np.clip(steps, 0, None)
    new_set = np.where(cooling, ac_set + steps, ac_set - steps)
    eased_w = np.minimum(steps * policy.ac_w_per_c, np.clip(state.ac_power_w, 0.0, None))
    return new_set.astype(np.int64), eased_w


def _restore_ac(
    state: HomesState, policy: Policy, ac_set: I64, headroom_w: F64, reasons: I64
) -> I64:
    """One degree back toward the user's set point where the limit leaves room for it."""
    moved = ac_set - state.ac_user_set_c
    room = (headroom_w > 2 * policy.ac_w_per_c) & (reasons & SHED_AC == 0)
    back = np.where(room & (moved != 0), -np.sign(moved), 0)
    return (ac_set + back).astype(np.int64)
