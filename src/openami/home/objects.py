"""ECHONET Lite device objects for one home of a :class:`HomeFleet`.

Each object is a :class:`DeviceObject` whose getters read the home's state (integrated up
to now first) and whose setters decode the EDT with the class's
:class:`~openami.protocols.echonet.property_spec.PropertySpec` (wrong length, out of range
or a code the appliance does not take → the setter refuses, the node answers SetC_SNA /
SetI_SNA, and nothing changes). Only EPCs marked settable in
:mod:`openami.protocols.echonet.appliances` get setters; the Set property map (0x9E) is
derived from them.
"""

from __future__ import annotations

from collections.abc import Callable

from openami.home import params as hp
from openami.home.model import HomeFleet
from openami.protocols.echonet import appliances as ap
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet.objects import DeviceObject, Getter, Setter
from openami.protocols.echonet.property_spec import U16_MAX_VALUE, pack_min_max

STANDARD_VERSION_R = bytes([0x00, 0x00, ord("R"), 0x01])
EXPERIMENTAL_MANUFACTURER_CODE = 0xFFFFFF


class _Builder:
    """Getters/setters of one appliance class for one home."""

    def __init__(self, homes: HomeFleet, index: int, cls: ap.ApplianceClass) -> None:
        self.homes = homes
        self.i = index
        self.cls = cls
        self.getters: dict[int, Getter] = {}
        self.setters: dict[int, Setter] = {}
        self.location = b"\x00"
        self.get(ap.EPC_OPERATION_STATUS, lambda: obj.OPERATION_ON)
        self.getters[obj.EPC_INSTALLATION_LOCATION] = lambda: self.location
        self.getters[obj.EPC_VERSION] = lambda: STANDARD_VERSION_R
        self.getters[obj.EPC_FAULT_STATUS] = lambda: bytes([obj.NO_FAULT])
        self.getters[obj.EPC_MANUFACTURER_CODE] = lambda: EXPERIMENTAL_MANUFACTURER_CODE.to_bytes(
            3, "big"
        )
        self.setters[obj.EPC_INSTALLATION_LOCATION] = self._set_location

    def get(self, epc: int, value: Callable[[], float]) -> None:
        spec = self.cls.spec(epc)

        def getter() -> bytes:
            self.homes.sync()
            return spec.encode(round(float(value())))

        self.getters[epc] = getter

    def set(self, epc: int, apply: Callable[[int], bool | None]) -> None:
        spec = self.cls.spec(epc)
        if not spec.settable:
            raise ValueError(f"{self.cls.name}: {epc:#04x} is not settable")

        def setter(edt: bytes) -> bool:
            value = spec.decode_set(edt)  # EchonetDecodeError → SNA
            return apply(value) is not False

        self.setters[epc] = setter

    def _set_location(self, edt: bytes) -> bool:
        valid = (len(edt) == 1 and edt[0] != 0x01) or (len(edt) == 17 and edt[0] == 0x01)
        if valid:
            self.location = bytes(edt)
        return valid

    def build(self, instance: int = 1) -> DeviceObject:
        announced = self.cls.announced | {obj.EPC_INSTALLATION_LOCATION, obj.EPC_FAULT_STATUS}
        return DeviceObject(
            eoj=self.cls.eoj(instance),
            getters=self.getters,
            setters=self.setters,
            announced=frozenset(announced),
        )


def air_conditioner(homes: HomeFleet, i: int) -> DeviceObject:
    b = _Builder(homes, i, ap.AIR_CONDITIONER)
    b.get(ap.EPC_OPERATION_STATUS, lambda: 0x30 if homes.ac_on[i] else 0x31)
    b.set(ap.EPC_OPERATION_STATUS, lambda v: homes.set_ac([i], on=v == 0x30))
    b.get(ap.EPC_POWER_SAVING, lambda: 0x41 if homes.ac_power_saving[i] else 0x42)
    b.set(ap.EPC_POWER_SAVING, lambda v: homes.set_ac([i], power_saving=v == 0x41))
    air_flow = [0x41]
    b.get(ap.EPC_AC_AIR_FLOW, lambda: air_flow[0])
    b.set(ap.EPC_AC_AIR_FLOW, lambda v: air_flow.__setitem__(0, v))
    b.get(ap.EPC_AC_MODE, lambda: int(homes.ac_mode[i]))
    b.set(ap.EPC_AC_MODE, lambda v: _ac_mode(homes, i, v))
    b.get(ap.EPC_AC_SET_TEMPERATURE, lambda: int(homes.ac_set_c[i]))
    b.set(ap.EPC_AC_SET_TEMPERATURE, lambda v: _ac_set_c(homes, i, v))
    b.get(ap.EPC_AC_ROOM_TEMPERATURE, lambda: _room_c(homes, i))
    b.get(ap.EPC_AC_OUTDOOR_TEMPERATURE, lambda: homes.outdoor_c)
    b.get(ap.EPC_INSTANT_POWER, lambda: homes.device_power_w[0, i])
    b.get(ap.EPC_CUMULATIVE_ENERGY, lambda: ap.wrap_cumulative(homes.ac_energy_wh[i]))
    return b.build()


AC_SETTABLE_MODES = frozenset({ap.AC_MODE_COOL, ap.AC_MODE_HEAT, ap.AC_MODE_FAN})
AC_MIN_SET_C, AC_MAX_SET_C = 16, 32  # what the emulated unit's remote allows


def _ac_mode(homes: HomeFleet, i: int, mode: int) -> bool:
    if mode not in AC_SETTABLE_MODES:
        return False
    homes.set_ac([i], mode=mode)
    return True


def _ac_set_c(homes: HomeFleet, i: int, set_c: int) -> bool:
    if not AC_MIN_SET_C <= set_c <= AC_MAX_SET_C:
        return False
    homes.set_ac([i], set_c=set_c)
    return True


def _room_c(homes: HomeFleet, i: int) -> float:
    if homes.ac_on[i] and homes.device_power_w[0, i] < homes.p.ac_max_w[i]:
        return float(homes.ac_set_c[i])
    return 22.0 + 0.6 * (homes.outdoor_c - 22.0)  # an insulated house drifts toward outdoors


def storage_battery(homes: HomeFleet, i: int) -> DeviceObject:
    b = _Builder(homes, i, ap.STORAGE_BATTERY)
    p = homes.p
    eff = hp.BATTERY_EFFICIENCY
    cap = float(p.battery_capacity_wh[i])
    b.get(ap.EPC_BATTERY_CHARGEABLE_ENERGY, lambda: (cap - homes.battery_soc_wh[i]) / eff)
    b.get(ap.EPC_BATTERY_DISCHARGEABLE_ENERGY, lambda: homes.battery_soc_wh[i] * eff)
    max_w = float(p.battery_max_w[i])
    b.get(ap.EPC_BATTERY_MIN_MAX_CHARGE_W, lambda: pack_min_max(0, round(max_w)))
    b.get(ap.EPC_BATTERY_MIN_MAX_DISCHARGE_W, lambda: pack_min_max(0, round(max_w)))
    b.get(ap.EPC_BATTERY_WORKING_STATUS, lambda: _battery_working(homes, i))
    b.get(ap.EPC_BATTERY_RATED_ENERGY, lambda: cap)
    b.get(ap.EPC_BATTERY_INSTANT_POWER, lambda: homes.device_power_w[1, i])
    b.get(ap.EPC_BATTERY_MODE, lambda: int(homes.battery_mode[i]))
    b.set(ap.EPC_BATTERY_MODE, lambda v: _battery_mode(homes, i, v))
    b.get(ap.EPC_BATTERY_GRID_CONNECTION, lambda: 0x02)
    b.get(ap.EPC_BATTERY_REMAINING_WH, lambda: homes.battery_soc_wh[i])
    b.get(ap.EPC_BATTERY_SOC, lambda: 100.0 * homes.battery_soc_wh[i] / cap)
    b.get(ap.EPC_BATTERY_TYPE, lambda: ap.LITHIUM_ION)
    b.get(ap.EPC_BATTERY_CHARGE_POWER, lambda: homes.battery_charge_w[i])
    b.set(ap.EPC_BATTERY_CHARGE_POWER, lambda v: _battery_w(homes, i, v, charge=True))
    b.get(ap.EPC_BATTERY_DISCHARGE_POWER, lambda: homes.battery_discharge_w[i])
    b.set(ap.EPC_BATTERY_DISCHARGE_POWER, lambda v: _battery_w(homes, i, v, charge=False))
    return b.build()


def _battery_working(homes: HomeFleet, i: int) -> int:
    w = homes.device_power_w[1, i]
    return ap.BATTERY_CHARGE if w > 0 else ap.BATTERY_DISCHARGE if w < 0 else ap.BATTERY_STANDBY


def _battery_mode(homes: HomeFleet, i: int, mode: int) -> bool:
    if mode not in ap.BATTERY_SETTABLE_MODES:
        return False
    homes.set_battery([i], mode=mode)
    return True


def _battery_w(homes: HomeFleet, i: int, power_w: int, *, charge: bool) -> bool:
    if power_w > round(homes.p.battery_max_w[i]):
        return False  # beyond the unit's rating (0xC8/0xC9)
    if charge:
        homes.set_battery([i], charge_w=power_w)
    else:
        homes.set_battery([i], discharge_w=power_w)
    return True


def ev_charger(homes: HomeFleet, i: int) -> DeviceObject:
    b = _Builder(homes, i, ap.EV_CHARGER)
    b.get(ap.EPC_EV_RATED_CHARGE_W, lambda: homes.p.ev_max_w[i])
    b.get(ap.EPC_EV_MIN_MAX_CHARGE_W, lambda: pack_min_max(0, round(homes.p.ev_max_w[i])))
    b.get(
        ap.EPC_EV_CONNECTION,
        lambda: ap.EV_CONNECTED_CHARGEABLE if homes.ev_connected[i] else ap.EV_NOT_CONNECTED,
    )
    b.get(ap.EPC_EV_REMAINING_CHARGEABLE_WH, lambda: _ev_room_wh(homes, i))
    b.get(ap.EPC_EV_INSTANT_POWER, lambda: homes.device_power_w[2, i])
    b.get(ap.EPC_EV_MODE, lambda: int(homes.ev_mode[i]))
    b.set(ap.EPC_EV_MODE, lambda v: _ev_mode(homes, i, v))
    b.get(ap.EPC_EV_ACTUAL_MODE, lambda: _ev_actual(homes, i))
    b.get(ap.EPC_EV_REMAINING_WH, lambda: homes.ev_soc_wh[i] if homes.ev_connected[i] else 0)
    b.get(ap.EPC_EV_REMAINING_PERCENT, lambda: _ev_percent(homes, i))
    b.get(ap.EPC_EV_CHARGE_POWER, lambda: homes.ev_charge_w[i])
    b.set(ap.EPC_EV_CHARGE_POWER, lambda v: _ev_w(homes, i, v))
    return b.build()


def _ev_room_wh(homes: HomeFleet, i: int) -> float:
    return hp.EV_CAPACITY_WH - homes.ev_soc_wh[i] if homes.ev_connected[i] else 0.0


def _ev_percent(homes: HomeFleet, i: int) -> float:
    return 100.0 * homes.ev_soc_wh[i] / hp.EV_CAPACITY_WH if homes.ev_connected[i] else 0.0


def _ev_actual(homes: HomeFleet, i: int) -> int:
    if not homes.ev_connected[i]:
        return ap.EV_IDLE
    return ap.EV_CHARGE if homes.device_power_w[2, i] > 0 else ap.EV_STANDBY


def _ev_mode(homes: HomeFleet, i: int, mode: int) -> bool:
    if mode not in ap.EV_SETTABLE_MODES:
        return False
    homes.set_ev([i], mode=mode)
    return True


def _ev_w(homes: HomeFleet, i: int, power_w: int) -> bool:
    if power_w > round(homes.p.ev_max_w[i]):
        return False
    homes.set_ev([i], charge_w=power_w)
    return True


def water_heater(homes: HomeFleet, i: int) -> DeviceObject:
    b = _Builder(homes, i, ap.WATER_HEATER)
    per_l = (hp.TANK_HOT_C - hp.TANK_COLD_C) * hp.WH_PER_L_K
    b.get(ap.EPC_WH_HEATING_SETTING, lambda: int(homes.wh_setting[i]))
    b.set(ap.EPC_WH_HEATING_SETTING, lambda v: homes.set_water_heater([i], v))
    b.get(
        ap.EPC_WH_HEATING_STATUS,
        lambda: ap.HEATING if homes.device_power_w[3, i] > 0 else ap.NOT_HEATING,
    )
    b.get(ap.EPC_WH_HEATING_TEMPERATURE, lambda: hp.TANK_HOT_C)
    b.get(ap.EPC_WH_DAYTIME_REHEATING, lambda: 0x41 if homes.wh_daytime_reheat[i] else 0x42)
    b.set(
        ap.EPC_WH_DAYTIME_REHEATING,
        lambda v: homes.set_water_heater([i], daytime_reheat=v == 0x41),
    )
    shift = {"participate": 0x00, "hour": 0x00}  # 0xC7 and 0xCA: heat at the hour if both

    def set_shift(key: str, value: int) -> None:
        shift[key] = value
        hour = shift["hour"] if shift["participate"] == 0x01 else 0
        homes.set_water_heater([i], shift_hour=hour)

    b.get(ap.EPC_WH_ENERGY_SHIFT, lambda: shift["participate"])
    b.set(ap.EPC_WH_ENERGY_SHIFT, lambda v: set_shift("participate", v))
    b.get(ap.EPC_WH_SHIFT_TIME_1, lambda: shift["hour"])
    b.set(ap.EPC_WH_SHIFT_TIME_1, lambda v: set_shift("hour", v))
    b.get(ap.EPC_WH_REMAINING_L, lambda: homes.wh_heat_wh[i] / per_l)
    b.get(ap.EPC_WH_TANK_L, lambda: hp.TANK_L)
    b.get(ap.EPC_INSTANT_POWER, lambda: homes.device_power_w[3, i])
    return b.build()


def solar(homes: HomeFleet, i: int) -> DeviceObject:
    b = _Builder(homes, i, ap.SOLAR)
    b.get(ap.EPC_PV_GRID_CONNECTION, lambda: 0x00)
    b.get(ap.EPC_PV_RESTRAINT, lambda: 0x44)
    b.get(ap.EPC_PV_INSTANT_W, lambda: min(homes.pv_w()[i], U16_MAX_VALUE))
    b.get(ap.EPC_PV_CUMULATIVE, lambda: ap.wrap_cumulative(homes.pv_energy_wh[i]))
    b.get(ap.EPC_PV_RATED_W, lambda: homes.p.pv_capacity_w[i])
    return b.build()


def home_objects(homes: HomeFleet, i: int) -> list[DeviceObject]:
    """The device objects of home ``i``: those of the appliances it has (AC always)."""
    p = homes.p
    objects = [air_conditioner(homes, i)]
    if p.has_battery[i]:
        objects.append(storage_battery(homes, i))
    if p.has_ev[i]:
        objects.append(ev_charger(homes, i))
    if p.has_water_heater[i]:
        objects.append(water_heater(homes, i))
    if p.has_pv[i]:
        objects.append(solar(homes, i))
    return objects


__all__ = ["home_objects"]
