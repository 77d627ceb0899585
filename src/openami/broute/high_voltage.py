"""A high-voltage smart meter on the B route: node profile 0x0EF001 + meter 0x028A01.

The simulated load of a meter view is scaled up (``load_scale``) to a high-voltage point's
(≥ 50 kW); the meter counts on the secondary side of its CT/VT, so the raw counts are the
primary energy divided by the multiplier (乗率), which it gives as its coefficient (D3).
Demand (C3, C6, C1) is the average power of each half hour from the logged registers.
Frames, TIDs and the service rules are the low-voltage responder's
(:class:`~openami.broute.responder.MeterResponder`); only the device object differs. The
meter announces E3 and C3 after every :00 and :30.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

from openami.broute.responder import MeterResponder
from openami.clock import JST, Clock, day_first_slot, slot_at_s, slot_start
from openami.meter import MeterView
from openami.protocols.echonet import high_voltage_meter as hv
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.frame import Esv, Property
from openami.protocols.echonet.node import Notification
from openami.protocols.echonet.objects import DeviceObject, Getter, Setter

#: a low-voltage household's simulated load × this ≈ a small factory's (tens of kW)
DEFAULT_LOAD_SCALE = 40
DEFAULT_FIXED_DATE = 1


class HighVoltageResponder(MeterResponder):
    """An ECHONET Lite node holding one high-voltage smart electric energy meter."""

    def __init__(
        self,
        meter: MeterView,
        clock: Clock,
        *,
        hv_scale: hv.HighVoltageScale | None = None,
        load_scale: int = DEFAULT_LOAD_SCALE,
        fixed_date: int = DEFAULT_FIXED_DATE,
        retention_days: int = 45,
        max_opc: int | None = None,
    ) -> None:
        if load_scale < 1:
            raise ValueError("the load scale must be at least 1")
        self.hv_scale = hv_scale or hv.HighVoltageScale(coefficient=40)
        self.load_scale = load_scale
        self.fixed_date = hv.encode_fixed_date(fixed_date)
        self.energy_history_day = 0
        super().__init__(
            meter, clock, retention_days=retention_days, max_opc=max_opc, exports=False
        )

    # -- values -------------------------------------------------------------------------------
    def primary_wh(self, boundary: int) -> int | None:
        """The primary import register [Wh] logged at ``boundary`` (None: not retained)."""
        if not self._retained(boundary):
            return None
        regs = self.meter.boundary_registers(boundary)
        return None if regs is None else regs[0] * self.load_scale

    def demand_kw(self, slot: int) -> Fraction | None:
        """Average power of the slot [kW] from the registers at its ends."""
        start, end = self.primary_wh(slot), self.primary_wh(slot + 1)
        if start is None or end is None:
            return None
        return Fraction(end - start, 1000) * 2

    def monthly_max_demand_kw(self) -> Fraction | None:
        """The largest demand of the current month's complete slots (None: none retained)."""
        latest = self._latest_boundary()
        first = max(day_first_slot(self._today().replace(day=1)), latest - 31 * 48)
        values = [d for s in range(first, latest) if (d := self.demand_kw(s)) is not None]
        return max(values) if values else None

    def fixed_time_inf(self, now: datetime | None = None) -> bytes | None:
        """INF of E3 and C3 for the latest :00/:30 boundary (None when not logged)."""
        moment = self.clock.now() if now is None else now
        boundary = slot_at_s(moment.timestamp())
        if self.primary_wh(boundary) is None:
            return None
        props = (
            Property(hv.EPC_FIXED_TIME_CUMULATIVE, self._energy_at(boundary)),
            Property(hv.EPC_FIXED_TIME_DEMAND, self._demand_at(boundary)),
        )
        inf = Notification(self.meter_object.eoj, obj.CONTROLLER_EOJ, props, Esv.INF)
        return self.node.send(inf)

    # -- encodings ----------------------------------------------------------------------------
    def _raw_energy(self, boundary: int) -> int | None:
        wh = self.primary_wh(boundary)
        return None if wh is None else self.hv_scale.raw_energy(wh)

    def _raw_demand(self, slot: int) -> int | None:
        kw = self.demand_kw(slot)
        return None if kw is None else self.hv_scale.raw_demand(kw)

    def _energy_at(self, boundary: int) -> bytes:
        at = slot_start(boundary).replace(tzinfo=None)
        return sm.FixedTimeValue(at, self._raw_energy(boundary)).encode()

    def _demand_at(self, boundary: int) -> bytes:
        """C3: the demand of the slot ending at ``boundary``, stamped with that boundary."""
        at = slot_start(boundary).replace(tzinfo=None)
        return sm.FixedTimeValue(at, self._raw_demand(boundary - 1)).encode()

    def _history_day(self) -> date:
        return self._today() - timedelta(days=self.energy_history_day)

    def _energy_history(self) -> bytes:
        first = day_first_slot(self._history_day())
        values = tuple(self._raw_energy(first + k) for k in range(sm.HISTORY1_SLOTS))
        return sm.DayHistory(self.energy_history_day, values).encode()

    def _demand_history(self) -> bytes:
        first = day_first_slot(self._history_day())
        values = tuple(self._raw_demand(first + k) for k in range(sm.HISTORY1_SLOTS))
        return sm.DayHistory(self.energy_history_day, values).encode()

    def _set_energy_history_day(self, edt: bytes) -> bool:
        self.energy_history_day = sm.decode_history1_day(edt)
        return True

    def _monthly_max(self) -> bytes:
        kw = self.monthly_max_demand_kw()
        return sm.encode_u32(None if kw is None else self.hv_scale.raw_demand(kw))

    def _build_meter_object(self) -> DeviceObject:
        scale = self.hv_scale
        getters: dict[int, Getter] = {
            **self._device_getters(),
            hv.EPC_COEFFICIENT: lambda: sm.encode_coefficient(scale.coefficient),
            hv.EPC_MULTIPLYING_FACTOR: lambda: sm.encode_u8(scale.factor_code),
            hv.EPC_FIXED_DATE: lambda: self.fixed_date,
            hv.EPC_HISTORY_DAY: lambda: sm.encode_u8(self.energy_history_day),
            hv.EPC_CUMULATIVE: self._live_cumulative,
            hv.EPC_FIXED_TIME_CUMULATIVE: lambda: self._energy_at(self._latest_boundary()),
            hv.EPC_ENERGY_DIGITS: lambda: sm.encode_u8(scale.digits),
            hv.EPC_ENERGY_UNIT: lambda: sm.encode_u8(scale.energy_unit_code),
            hv.EPC_ENERGY_HISTORY: self._energy_history,
            hv.EPC_MONTHLY_MAX_DEMAND: self._monthly_max,
            hv.EPC_FIXED_TIME_DEMAND: lambda: self._demand_at(self._latest_boundary()),
            hv.EPC_DEMAND_DIGITS: lambda: sm.encode_u8(scale.digits),
            hv.EPC_DEMAND_UNIT: lambda: sm.encode_u8(scale.demand_unit_code),
            hv.EPC_DEMAND_HISTORY: self._demand_history,
        }
        setters: dict[int, Setter] = {
            obj.EPC_INSTALLATION_LOCATION: self._set_installation_location,
            hv.EPC_HISTORY_DAY: self._set_energy_history_day,
        }
        announced = {obj.EPC_OPERATION_STATUS, obj.EPC_INSTALLATION_LOCATION}
        announced |= {obj.EPC_FAULT_STATUS}
        return DeviceObject(
            eoj=hv.HIGH_VOLTAGE_METER_EOJ,
            getters=getters,
            setters=setters,
            announced=frozenset(announced),
        )

    def _live_cumulative(self) -> bytes:
        """E2: the register now, stamped with the meter's time (seconds included)."""
        now = self.clock.now().astimezone(JST).replace(tzinfo=None, microsecond=0)
        raw = self.hv_scale.raw_energy(self.meter.import_register_wh() * self.load_scale)
        return sm.FixedTimeValue(now, raw).encode()
