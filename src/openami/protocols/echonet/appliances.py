"""Five ECHONET Lite appliance classes a HEMS controls for peak cut and peak shift.

Home air conditioner 0x0130, storage battery 0x027D, EV charger/discharger 0x027E, electric
water heater 0x026B and household solar power generation 0x0279: the EPCs openami serves,
their EDT layout, value range and Set/announce rules. Facts from the ECHONET Consortium's
*APPENDIX Detailed Requirements for ECHONET Device Objects*, **Release R**, as rendered in
its Machine Readable Appendix v1.3.0 (2024-07-26), summarised in
``shared/reference/customer-side-dr.md`` §1.2–§1.7. Where a release changed a code table
(0x027E 0xDA), the Release R table is used.

Only the properties openami's emulated appliances implement are listed; the super-class
ones every device shares (0x80 operation status, 0x81 location, 0x82 version, 0x88 fault,
0x8A maker) are in :data:`SUPER_CLASS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openami.protocols.echonet.frame import eoj
from openami.protocols.echonet.property_spec import (
    S32_MAX_VALUE,
    U16_MAX_VALUE,
    U32_MAX_VALUE,
    PropertySpec,
    enum,
    ranged,
)

ON_OFF = {0x30: "on", 0x31: "off"}
YES_NO_41 = {0x41: "on", 0x42: "off"}


@dataclass(frozen=True)
class ApplianceClass:
    """One device class: its code, name and the properties it serves."""

    class_code: int
    name: str
    properties: Mapping[int, PropertySpec]

    def eoj(self, instance: int = 1) -> int:
        return eoj(self.class_code >> 8, self.class_code & 0xFF, instance)

    def spec(self, epc: int) -> PropertySpec:
        return self.properties[epc]

    @property
    def settable(self) -> frozenset[int]:
        return frozenset(e for e, s in self.properties.items() if s.settable)

    @property
    def announced(self) -> frozenset[int]:
        return frozenset(e for e, s in self.properties.items() if s.announced)


def _table(*specs: PropertySpec) -> dict[int, PropertySpec]:
    return {s.epc: s for s in specs}


# -- super class (§1.2) ------------------------------------------------------------------------
EPC_OPERATION_STATUS = 0x80
EPC_INSTANT_POWER = 0x84
EPC_CUMULATIVE_ENERGY = 0x85
EPC_POWER_SAVING = 0x8F
#: 0x80 as a Get-only property: the super class makes its Set optional (only the AC requires it)
OPERATION_STATUS = enum(EPC_OPERATION_STATUS, "operation status", ON_OFF, announced=True)
INSTANT_POWER = ranged(EPC_INSTANT_POWER, "instantaneous power [W]", "u16", 0, U16_MAX_VALUE)
CUMULATIVE_ENERGY = ranged(
    EPC_CUMULATIVE_ENERGY, "cumulative energy [0.001 kWh]", "u32", 0, U32_MAX_VALUE
)

# -- home air conditioner 0x0130 (§1.3) --------------------------------------------------------
AIR_CONDITIONER_CLASS = 0x0130
AC_MODE_AUTO, AC_MODE_COOL, AC_MODE_HEAT, AC_MODE_DRY, AC_MODE_FAN = 0x41, 0x42, 0x43, 0x44, 0x45
AC_MODES = {
    0x40: "other",
    AC_MODE_AUTO: "auto",
    AC_MODE_COOL: "cool",
    AC_MODE_HEAT: "heat",
    AC_MODE_DRY: "dehumidify",
    AC_MODE_FAN: "air circulation",
}
EPC_AC_MODE = 0xB0
EPC_AC_SET_TEMPERATURE = 0xB3
EPC_AC_ROOM_TEMPERATURE = 0xBB
EPC_AC_OUTDOOR_TEMPERATURE = 0xBE
EPC_AC_AIR_FLOW = 0xA0
UNMEASURABLE_S8 = 0x7E
UNDEFINED_U8 = 0xFD
AIR_CONDITIONER = ApplianceClass(
    AIR_CONDITIONER_CLASS,
    "home air conditioner",
    _table(
        enum(EPC_OPERATION_STATUS, "operation status", ON_OFF, settable=True, announced=True),
        enum(EPC_POWER_SAVING, "power-saving operation", YES_NO_41, settable=True, announced=True),
        enum(
            EPC_AC_AIR_FLOW,
            "air-flow rate",
            {0x41: "auto", **{c: f"level {c - 0x30}" for c in range(0x31, 0x39)}},
            settable=True,
            announced=True,
        ),
        enum(EPC_AC_MODE, "operation mode", AC_MODES, settable=True, announced=True),
        PropertySpec(
            EPC_AC_SET_TEMPERATURE,
            "set temperature [°C]",
            "u8",
            0,
            50,
            settable=True,
            sentinels=frozenset({UNDEFINED_U8}),
        ),
        PropertySpec(
            EPC_AC_ROOM_TEMPERATURE,
            "room temperature [°C]",
            "s8",
            -127,
            125,
            sentinels=frozenset({UNMEASURABLE_S8}),
        ),
        PropertySpec(
            EPC_AC_OUTDOOR_TEMPERATURE,
            "outdoor temperature [°C]",
            "s8",
            -127,
            125,
            sentinels=frozenset({UNMEASURABLE_S8}),
        ),
        INSTANT_POWER,
        CUMULATIVE_ENERGY,
    ),
)

# -- storage battery 0x027D (§1.4) -------------------------------------------------------------
STORAGE_BATTERY_CLASS = 0x027D
BATTERY_RAPID_CHARGE, BATTERY_CHARGE, BATTERY_DISCHARGE = 0x41, 0x42, 0x43
BATTERY_STANDBY, BATTERY_AUTO = 0x44, 0x46
BATTERY_MODES = {
    0x40: "other",
    BATTERY_RAPID_CHARGE: "rapid charging",
    BATTERY_CHARGE: "charging",
    BATTERY_DISCHARGE: "discharging",
    BATTERY_STANDBY: "standby",
    0x45: "test",
    BATTERY_AUTO: "automatic",
    0x48: "restart",
    0x49: "effective capacity recalculation",
}
#: the modes openami's battery accepts by Set (the Appendix requires charge, discharge, standby)
BATTERY_SETTABLE_MODES = frozenset(
    {BATTERY_RAPID_CHARGE, BATTERY_CHARGE, BATTERY_DISCHARGE, BATTERY_STANDBY, BATTERY_AUTO}
)
EPC_BATTERY_CHARGEABLE_ENERGY = 0xA4
EPC_BATTERY_DISCHARGEABLE_ENERGY = 0xA5
EPC_BATTERY_MIN_MAX_CHARGE_W = 0xC8
EPC_BATTERY_MIN_MAX_DISCHARGE_W = 0xC9
EPC_BATTERY_WORKING_STATUS = 0xCF
EPC_BATTERY_RATED_ENERGY = 0xD0
EPC_BATTERY_INSTANT_POWER = 0xD3
EPC_BATTERY_MODE = 0xDA
EPC_BATTERY_GRID_CONNECTION = 0xDB
EPC_BATTERY_REMAINING_WH = 0xE2
EPC_BATTERY_SOC = 0xE4
EPC_BATTERY_TYPE = 0xE6
EPC_BATTERY_CHARGE_POWER = 0xEB
EPC_BATTERY_DISCHARGE_POWER = 0xEC
LITHIUM_ION = 0x04
STORAGE_BATTERY = ApplianceClass(
    STORAGE_BATTERY_CLASS,
    "storage battery",
    _table(
        OPERATION_STATUS,
        ranged(EPC_BATTERY_CHARGEABLE_ENERGY, "AC chargeable energy [Wh]", "u32", 0, U32_MAX_VALUE),
        ranged(
            EPC_BATTERY_DISCHARGEABLE_ENERGY,
            "AC dischargeable energy [Wh]",
            "u32",
            0,
            U32_MAX_VALUE,
        ),
        ranged(EPC_BATTERY_MIN_MAX_CHARGE_W, "min/max charge power [W]", "u32x2", 0, U32_MAX_VALUE),
        ranged(
            EPC_BATTERY_MIN_MAX_DISCHARGE_W,
            "min/max discharge power [W]",
            "u32x2",
            0,
            U32_MAX_VALUE,
        ),
        enum(EPC_BATTERY_WORKING_STATUS, "working operation status", BATTERY_MODES, announced=True),
        ranged(EPC_BATTERY_RATED_ENERGY, "rated energy [Wh]", "u32", 0, U32_MAX_VALUE),
        ranged(
            EPC_BATTERY_INSTANT_POWER,
            "charge(+)/discharge(-) power [W]",
            "s32",
            -S32_MAX_VALUE,
            S32_MAX_VALUE,
        ),
        enum(EPC_BATTERY_MODE, "operation mode", BATTERY_MODES, settable=True, announced=True),
        enum(
            EPC_BATTERY_GRID_CONNECTION,
            "grid connection",
            {0x00: "reverse flow", 0x01: "independent", 0x02: "no reverse flow"},
        ),
        ranged(EPC_BATTERY_REMAINING_WH, "remaining energy [Wh]", "u32", 0, U32_MAX_VALUE),
        ranged(EPC_BATTERY_SOC, "state of charge [%]", "u8", 0, 100),
        enum(EPC_BATTERY_TYPE, "battery type", {LITHIUM_ION: "lithium-ion"}),
        ranged(
            EPC_BATTERY_CHARGE_POWER, "charging power [W]", "u32", 0, U32_MAX_VALUE, settable=True
        ),
        ranged(
            EPC_BATTERY_DISCHARGE_POWER,
            "discharging power [W]",
            "u32",
            0,
            U32_MAX_VALUE,
            settable=True,
        ),
    ),
)

# -- EV charger/discharger 0x027E (§1.5) -------------------------------------------------------
EV_CHARGER_CLASS = 0x027E
EV_CHARGE, EV_DISCHARGE, EV_STANDBY, EV_IDLE = 0x42, 0x43, 0x44, 0x47
EV_MODES = {  # Release P–R table of 0xDA
    0x40: "other",
    EV_CHARGE: "charging",
    EV_DISCHARGE: "discharging",
    EV_STANDBY: "standby",
    0x46: "charging/discharging",
    EV_IDLE: "idle",
    0x48: "preparation",
    0x49: "automatic",
}
EV_SETTABLE_MODES = frozenset({EV_CHARGE, EV_STANDBY})  # openami's charger does not discharge
EV_NOT_CONNECTED, EV_CONNECTED_CHARGEABLE = 0x30, 0x41
EV_CONNECTION = {
    EV_NOT_CONNECTED: "not connected",
    0x40: "connected",
    EV_CONNECTED_CHARGEABLE: "connected, chargeable",
    0x42: "connected, dischargeable",
    0x43: "connected, chargeable and dischargeable",
    0x44: "connected, unknown",
    0xFF: "undefined",
}
EPC_EV_RATED_CHARGE_W = 0xC5
EPC_EV_CONNECTION = 0xC7
EPC_EV_MIN_MAX_CHARGE_W = 0xC8
EPC_EV_REMAINING_CHARGEABLE_WH = 0xCF
EPC_EV_INSTANT_POWER = 0xD3
EPC_EV_MODE = 0xDA
EPC_EV_ACTUAL_MODE = 0xE1
EPC_EV_REMAINING_WH = 0xE2
EPC_EV_REMAINING_PERCENT = 0xE4
EPC_EV_CHARGE_POWER = 0xEB
EV_CHARGER = ApplianceClass(
    EV_CHARGER_CLASS,
    "EV charger/discharger",
    _table(
        OPERATION_STATUS,
        ranged(EPC_EV_RATED_CHARGE_W, "rated charge power [W]", "u32", 0, U32_MAX_VALUE),
        enum(EPC_EV_CONNECTION, "vehicle connection", EV_CONNECTION, announced=True),
        ranged(EPC_EV_MIN_MAX_CHARGE_W, "min/max charge power [W]", "u32x2", 0, U32_MAX_VALUE),
        ranged(
            EPC_EV_REMAINING_CHARGEABLE_WH, "remaining chargeable [Wh]", "u32", 0, U32_MAX_VALUE
        ),
        ranged(
            EPC_EV_INSTANT_POWER,
            "charge(+)/discharge(-) power [W]",
            "s32",
            -S32_MAX_VALUE,
            S32_MAX_VALUE,
        ),
        enum(EPC_EV_MODE, "operation mode", EV_MODES, settable=True, announced=True),
        enum(EPC_EV_ACTUAL_MODE, "actual operation mode", EV_MODES, announced=True),
        ranged(EPC_EV_REMAINING_WH, "remaining battery [Wh]", "u32", 0, U32_MAX_VALUE),
        ranged(EPC_EV_REMAINING_PERCENT, "remaining battery [%]", "u8", 0, 100),
        ranged(EPC_EV_CHARGE_POWER, "charging power [W]", "u32", 0, U32_MAX_VALUE, settable=True),
    ),
)

# -- electric water heater 0x026B (§1.6) -------------------------------------------------------
WATER_HEATER_CLASS = 0x026B
HEATING_AUTO, HEATING_MANUAL, HEATING_STOPPED = 0x41, 0x42, 0x43
HEATING_SETTINGS = {
    HEATING_AUTO: "automatic",
    HEATING_MANUAL: "manual heating",
    HEATING_STOPPED: "manual heating stopped",
}
HEATING, NOT_HEATING = 0x41, 0x42
EPC_WH_HEATING_SETTING = 0xB0
EPC_WH_HEATING_STATUS = 0xB2
EPC_WH_HEATING_TEMPERATURE = 0xB3
EPC_WH_DAYTIME_REHEATING = 0xC0
EPC_WH_ENERGY_SHIFT = 0xC7
EPC_WH_SHIFT_TIME_1 = 0xCA
EPC_WH_REMAINING_L = 0xE1
EPC_WH_TANK_L = 0xE2
WATER_HEATER = ApplianceClass(
    WATER_HEATER_CLASS,
    "electric water heater",
    _table(
        OPERATION_STATUS,
        enum(
            EPC_WH_HEATING_SETTING,
            "automatic heating setting",
            HEATING_SETTINGS,
            settable=True,
            announced=True,
        ),
        enum(
            EPC_WH_HEATING_STATUS,
            "heating status",
            {HEATING: "heating", NOT_HEATING: "not heating"},
            announced=True,
        ),
        ranged(EPC_WH_HEATING_TEMPERATURE, "heating temperature [°C]", "u8", 0, 100),
        enum(EPC_WH_DAYTIME_REHEATING, "daytime reheating permission", YES_NO_41, settable=True),
        enum(
            EPC_WH_ENERGY_SHIFT,
            "energy-shift participation",
            {0x01: "participate", 0x00: "not participate"},
            settable=True,
        ),
        enum(
            EPC_WH_SHIFT_TIME_1,
            "daytime heating shift time 1",
            {0x00: "cleared", **{h: f"{h}:00" for h in range(0x09, 0x12)}},
            settable=True,
        ),
        ranged(EPC_WH_REMAINING_L, "remaining hot water [L]", "u16", 0, U16_MAX_VALUE),
        ranged(EPC_WH_TANK_L, "tank capacity [L]", "u16", 0, U16_MAX_VALUE),
        INSTANT_POWER,
    ),
)

# -- household solar power generation 0x0279 (§1.7) --------------------------------------------
SOLAR_CLASS = 0x0279
EPC_PV_GRID_CONNECTION = 0xD0
EPC_PV_RESTRAINT = 0xD1
EPC_PV_INSTANT_W = 0xE0
EPC_PV_CUMULATIVE = 0xE1
EPC_PV_RATED_W = 0xE8
SOLAR = ApplianceClass(
    SOLAR_CLASS,
    "household solar power generation",
    _table(
        OPERATION_STATUS,
        enum(
            EPC_PV_GRID_CONNECTION,
            "grid connection",
            {0x00: "reverse flow", 0x01: "independent", 0x02: "no reverse flow", 0x03: "unknown"},
        ),
        enum(
            EPC_PV_RESTRAINT,
            "output restraint status",
            {0x41: "output control", 0x42: "other control", 0x43: "reason unknown", 0x44: "none"},
        ),
        ranged(EPC_PV_INSTANT_W, "instantaneous generation [W]", "u16", 0, U16_MAX_VALUE),
        ranged(EPC_PV_CUMULATIVE, "cumulative generation [0.001 kWh]", "u32", 0, U32_MAX_VALUE),
        ranged(EPC_PV_RATED_W, "rated output [W]", "u16", 0, U16_MAX_VALUE),
    ),
)

APPLIANCE_CLASSES: dict[int, ApplianceClass] = {
    c.class_code: c for c in (AIR_CONDITIONER, STORAGE_BATTERY, EV_CHARGER, WATER_HEATER, SOLAR)
}


def wrap_cumulative(energy_mwh: float) -> int:
    """A cumulative register in 0.001 kWh (Wh) as the Appendix wraps it (0–999,999,999)."""
    return int(energy_mwh) % (U32_MAX_VALUE + 1)
