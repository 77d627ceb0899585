"""The HEMS's ECHONET Lite link to a home's appliance node: discover, read, set.

One :class:`ApplianceLink` talks to one node (``openami appliances serve``, or any node with
the classes of :mod:`openami.protocols.echonet.appliances`) through a
:class:`~openami.hems.client.MeterClient` (the same request/answer machine as the meter's:
TIDs, timeouts, retries). It finds the node's appliances in the node profile's instance list
(0xD6), reads what :func:`openami.hems.control.decide` needs into a one-home
:class:`~openami.hems.control.HomesState`, and sends a decision's commands as SetC, only
for values that differ from what it read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.hems.client import MeterClient
from openami.hems.control import UNCHANGED, Commands, HomesState
from openami.protocols.echonet import appliances as ap
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet.errors import EchonetDecodeError
from openami.protocols.echonet.frame import eoj_class
from openami.protocols.echonet.property_spec import PropertySpec, unpack_min_max

AC, BATTERY, EV, WATER_HEATER = (
    ap.AIR_CONDITIONER_CLASS,
    ap.STORAGE_BATTERY_CLASS,
    ap.EV_CHARGER_CLASS,
    ap.WATER_HEATER_CLASS,
)
log = logging.getLogger(__name__)

#: what the HEMS reads of each class
READS: dict[int, list[int]] = {
    AC: [0x80, ap.EPC_AC_MODE, ap.EPC_AC_SET_TEMPERATURE, ap.EPC_INSTANT_POWER],
    BATTERY: [
        ap.EPC_BATTERY_RATED_ENERGY,
        ap.EPC_BATTERY_REMAINING_WH,
        ap.EPC_BATTERY_MIN_MAX_DISCHARGE_W,
        ap.EPC_BATTERY_INSTANT_POWER,
        ap.EPC_BATTERY_MODE,
    ],
    EV: [
        ap.EPC_EV_CONNECTION,
        ap.EPC_EV_REMAINING_WH,
        ap.EPC_EV_REMAINING_CHARGEABLE_WH,
        ap.EPC_EV_RATED_CHARGE_W,
        ap.EPC_EV_INSTANT_POWER,
        ap.EPC_EV_MODE,
        ap.EPC_EV_CHARGE_POWER,
    ],
    WATER_HEATER: [
        ap.EPC_WH_REMAINING_L,
        ap.EPC_WH_TANK_L,
        ap.EPC_INSTANT_POWER,
        ap.EPC_WH_HEATING_SETTING,
    ],
}


@dataclass(frozen=True)
class SetResult:
    """One Set the HEMS sent, and whether the appliance took it."""

    device: str
    epc: int
    value: int
    accepted: bool


def _decode(spec: PropertySpec, edt: bytes | None) -> int | None:
    """A value, or None when refused or not decodable (a device's bad value is not fatal)."""
    if edt is None:
        return None
    try:
        return spec.decode(edt)
    except EchonetDecodeError as exc:
        log.warning("undecodable value from an appliance: %s", exc)
        return None


class ApplianceLink:
    """Discovery, reading and control of the appliances of one node."""

    def __init__(self, client: MeterClient) -> None:
        self.client = client
        self.eojs: dict[int, int] = {}  # class → EOJ (the first instance of each)
        self.values: dict[int, dict[int, int | None]] = {}
        self.user_set_c: int | None = None
        self.hems_set_c: int | None = None  # the AC set point the HEMS set last

    def discover(self) -> dict[int, int]:
        """The node's appliances from its instance list (0xD6)."""
        edt = self.client.get([obj.EPC_SELF_NODE_INSTANCE_LIST], deoj=obj.NODE_PROFILE_EOJ)[
            obj.EPC_SELF_NODE_INSTANCE_LIST
        ]
        if edt is None:
            raise ValueError("the node gives no instance list (0xD6)")
        for eoj in obj.decode_instance_list(edt):
            cls = eoj_class(eoj)
            if cls in ap.APPLIANCE_CLASSES:
                self.eojs.setdefault(cls, eoj)
        return self.eojs

    def read(self) -> dict[int, dict[int, int | None]]:
        """Decoded values of the properties in READS, per class (None: refused)."""
        for cls, eoj in self.eojs.items():
            spec_of = ap.APPLIANCE_CLASSES[cls].spec
            got = self.client.get(READS.get(cls, []), deoj=eoj)
            self.values[cls] = {epc: _decode(spec_of(epc), edt) for epc, edt in got.items()}
        return self.values

    def _v(self, cls: int, epc: int, default: float = 0.0) -> float:
        value = self.values.get(cls, {}).get(epc)
        return default if value is None else float(value)

    def state(self, import_w: float, stagger: float = 0.5) -> HomesState:
        """A one-home state from the last :meth:`read` and the meter's power."""
        v = self._v
        ac_set = int(v(AC, ap.EPC_AC_SET_TEMPERATURE, 0))
        if self.user_set_c is None or ac_set != self.hems_set_c:
            # the household's set point: the first one seen, or one the HEMS did not set
            self.user_set_c = ac_set
            self.hems_set_c = None
        bat_cap = v(BATTERY, ap.EPC_BATTERY_RATED_ENERGY)
        bat_max = unpack_min_max(int(v(BATTERY, ap.EPC_BATTERY_MIN_MAX_DISCHARGE_W)))[1]
        ev_wh = v(EV, ap.EPC_EV_REMAINING_WH)
        connected = v(EV, ap.EPC_EV_CONNECTION, ap.EV_NOT_CONNECTED) in (0x40, 0x41, 0x43)
        tank_l = v(WATER_HEATER, ap.EPC_WH_TANK_L)

        def one(x: float) -> npt.NDArray[np.float64]:
            return np.array([x], dtype=np.float64)

        return HomesState(
            import_w=one(import_w),
            ac_on=np.array([v(AC, 0x80, 0x31) == 0x30]),
            ac_mode=np.array([int(v(AC, ap.EPC_AC_MODE, 0x40))], dtype=np.uint8),
            ac_set_c=np.array([ac_set], dtype=np.int64),
            ac_power_w=one(v(AC, ap.EPC_INSTANT_POWER)),
            ac_user_set_c=np.array([self.user_set_c], dtype=np.int64),
            battery_capacity_wh=one(bat_cap),
            battery_soc_wh=one(v(BATTERY, ap.EPC_BATTERY_REMAINING_WH)),
            battery_max_w=one(bat_max),
            battery_power_w=one(v(BATTERY, ap.EPC_BATTERY_INSTANT_POWER)),
            ev_connected=np.array([connected and EV in self.eojs]),
            ev_capacity_wh=one(ev_wh + v(EV, ap.EPC_EV_REMAINING_CHARGEABLE_WH)),
            ev_soc_wh=one(ev_wh),
            ev_max_w=one(v(EV, ap.EPC_EV_RATED_CHARGE_W)),
            ev_power_w=one(max(v(EV, ap.EPC_EV_INSTANT_POWER), 0.0)),
            wh_present=np.array([tank_l > 0]),
            wh_fraction=one(v(WATER_HEATER, ap.EPC_WH_REMAINING_L) / tank_l if tank_l else 0.0),
            wh_power_w=one(v(WATER_HEATER, ap.EPC_INSTANT_POWER)),
            stagger=one(stagger),
        )

    def _set(self, cls: int, epc: int, value: int, out: list[SetResult]) -> None:
        current = self.values.get(cls, {}).get(epc)
        if cls not in self.eojs or current == value:
            return
        spec = ap.APPLIANCE_CLASSES[cls].spec(epc)
        accepted = self.client.set(epc, spec.encode(value), deoj=self.eojs[cls])
        if accepted:
            self.values.setdefault(cls, {})[epc] = value
            if (cls, epc) == (AC, ap.EPC_AC_SET_TEMPERATURE):
                self.hems_set_c = value
        out.append(SetResult(ap.APPLIANCE_CLASSES[cls].name, epc, value, accepted))

    def apply(self, commands: Commands) -> list[SetResult]:
        """Send home 0's commands (only what changes); the appliances' answers."""
        out: list[SetResult] = []
        if commands.ac_set_c[0] >= 0:
            self._set(AC, ap.EPC_AC_SET_TEMPERATURE, int(commands.ac_set_c[0]), out)
        mode = int(commands.battery_mode[0])
        if mode != UNCHANGED:
            power = int(commands.battery_w[0])
            if mode == ap.BATTERY_CHARGE:
                self._set(BATTERY, ap.EPC_BATTERY_CHARGE_POWER, power, out)
            elif mode in (ap.BATTERY_DISCHARGE, ap.BATTERY_AUTO):
                self._set(BATTERY, ap.EPC_BATTERY_DISCHARGE_POWER, power, out)
            self._set(BATTERY, ap.EPC_BATTERY_MODE, mode, out)
        if commands.ev_mode[0] == ap.EV_CHARGE:
            self._set(EV, ap.EPC_EV_CHARGE_POWER, int(commands.ev_w[0]), out)
        if commands.ev_mode[0] != UNCHANGED:
            self._set(EV, ap.EPC_EV_MODE, int(commands.ev_mode[0]), out)
        if commands.wh_setting[0] != UNCHANGED:
            self._set(WATER_HEATER, ap.EPC_WH_HEATING_SETTING, int(commands.wh_setting[0]), out)
        return out
