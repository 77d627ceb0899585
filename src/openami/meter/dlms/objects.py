"""The COSEM objects of one simulated meter, reading through a :class:`MeterView`.

=====================  ===========  ==============================================================
object                 class (ver)  notes
=====================  ===========  ==============================================================
0.0.1.0.0.255          Clock 8 (0)  time in JST (deviation -540); settable: this meter's own clock
1.0.1.8.0.255          Register 3   +A import energy, double-long-unsigned, scaler 0, unit Wh
1.0.2.8.0.255          Register 3   -A export energy, same
1.0.11.7.0.255         Register 3   current (larger of R/T phase), long-unsigned, scaler -1, A
1.0.99.1.0.255         Profile 7(1) load profile: clock + both registers every 1800 s
0.0.99.98.0.255        Profile 7(1) standard event log: clock + event code (0.0.96.11.0.255)
0.0.96.11.0.255        Data 1       last event code
0.0.96.3.10.255        Disc. ctl 70 remote_disconnect (1), remote_reconnect (2), control_state
0.0.17.0.0.255         Limiter 71   threshold_active/normal = contract amperage × 10 (0.1 A units)
0.0.13.0.0.255         Act. cal. 20 time-of-use bands: SET passive (6-9), method 1 activates
0.0.40.0.0.255         Assoc. LN 15 object_list, partners, status; method 1 = HLS answer
0.0.43.1.0.255         Data 1       next invocation counter the meter expects (public)
0.0.42.0.0.255         Data 1       logical device name (public)
0.0.43.0.0.255         Sec. setup   policy 3, suite 0, system titles; method 2 = global_key_transfer
0.0.97.98.0.255        Data 1       alarm register 1: u32 bits; SET clears the bits written 1
0.0.97.98.10.255       Data 1       alarm filter 1: the bits that may rise (alarm_objects.py)
=====================  ===========  ==============================================================
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import structlog

from openami.bus.messages import CONTRACT_AMPERAGES_A
from openami.clock.slots import SLOT_SECONDS, slot_at_s
from openami.meter.dlms.alarm_objects import AlarmRegister
from openami.meter.dlms.calendar_object import ActivityCalendar, plan_code_of
from openami.meter.dlms.catalog import (
    ALARM_BIT_OF_EVENT,
    EVENT_CLOCK_SET,
    EVENT_KEYS_CHANGED,
    EVENT_LIMITER_CHANGED,
    EVENT_REMOTE_DISCONNECT,
    EVENT_REMOTE_RECONNECT,
    EVENT_TARIFF_CHANGED,
    KNOWN,
    OBJECT_LIST,
    SECURITY_EVENTS,
    logical_device_name,
    meter_system_title,
    readable,
)
from openami.meter.dlms.clock_object import MeterClock
from openami.meter.dlms.keys import Keyring, SharedSecrets, key_transfer, security_setup_attribute
from openami.meter.dlms.selection import (
    JST_OFFSET_MIN,
    BoundaryDatetimes,
    SelectionError,
    columns,
    time_bounds,
)
from openami.meter.load import interval_energy_wh
from openami.meter.view import MeterView
from openami.protocols.dlms import axdr
from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import (
    ACTIVITY_CALENDAR_LN,
    ALARM_FILTER_LN,
    ALARM_REGISTER_LN,
    ASSOCIATION_LN,
    CLOCK_LN,
    CURRENT_LN,
    DISCONNECT_CONTROL_LN,
    EVENT_CODE_LN,
    EVENT_LOG_LN,
    EXPORT_ENERGY_LN,
    IMPORT_ENERGY_LN,
    INVOCATION_COUNTER_LN,
    LIMITER_LN,
    LOAD_PROFILE_LN,
    LOGICAL_DEVICE_NAME_LN,
    SECURITY_SETUP_LN,
    ActionResult,
    AttributeRef,
    ClassId,
    DataAccessResult,
    MethodRef,
    Unit,
    obis,
)
from openami.protocols.dlms.lockout import AssociationLockout
from openami.protocols.dlms.profile import (
    CLOCK_TIME,
    CaptureObject,
    EntryDescriptor,
    RangeDescriptor,
    parse_access,
)
from openami.protocols.dlms.security import DeviceSecrets
from openami.protocols.dlms.server_session import (
    CounterStore,
    MemoryCounterStore,
    ServerAssociation,
)

log = structlog.get_logger(__name__)

THRESHOLD_UNITS_PER_AMPERE = 10  # limiter thresholds share the current register's scaler -1
EVENT_LOG_SIZE = 100
MIN_UNDER_THRESHOLD_S = 10  # automatic restore after the breaker trips (~10-60 s in Japan)

LOAD_PROFILE_COLUMNS = (
    CLOCK_TIME,
    CaptureObject(ClassId.REGISTER, IMPORT_ENERGY_LN, 2),
    CaptureObject(ClassId.REGISTER, EXPORT_ENERGY_LN, 2),
)
EVENT_LOG_COLUMNS = (CLOCK_TIME, CaptureObject(ClassId.DATA, EVENT_CODE_LN, 2))
_SCRIPT_TABLE_LN = obis("0.0.10.0.106.255")
_WILDCARD_DT = bytes.fromhex("ffffffffffffffffff8000ff")


class MeterObjects:
    """The COSEM objects of one meter: what the emulator answers GET, SET and ACTION from."""

    def __init__(
        self,
        view: MeterView,
        datetimes: BoundaryDatetimes | None = None,
        *,
        counters: CounterStore | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.view = view
        self.boundary_datetime = datetimes or BoundaryDatetimes()
        self.counters: CounterStore = counters or MemoryCounterStore()
        self.keyring: Keyring = keyring or SharedSecrets(DeviceSecrets())
        self.events: deque[tuple[int, int]] = deque(maxlen=EVENT_LOG_SIZE)
        self.lockouts: dict[int, AssociationLockout] = {}
        self.calendar = ActivityCalendar(int(view.fleet.supply_plan_code[view.index]))
        self.meter_clock = MeterClock(view.clock, lambda _s: self.log_event(EVENT_CLOCK_SET))
        self.alarms = AlarmRegister()

    @property
    def system_title(self) -> bytes:
        return meter_system_title(self.view.meter_id)

    def secrets(self) -> DeviceSecrets:
        return self.keyring.get(self.view.meter_id) or DeviceSecrets()

    def lockout(self, client_sap: int) -> AssociationLockout:
        """The failed-association count and backoff of one client of this meter."""
        lockout = self.lockouts.get(client_sap)
        if lockout is None:
            lockout = AssociationLockout(self.view.clock.timestamp)
            self.lockouts[client_sap] = lockout
        return lockout

    # -- helpers --------------------------------------------------------------------------------
    def log_event(self, code: int) -> None:
        """Log ``code`` in the event log; an alarm also raises its alarm register bit."""
        self.events.append((int(self.view.clock.timestamp()), code))
        bit = ALARM_BIT_OF_EVENT.get(code)
        if bit is not None:
            self.alarms.raise_bit(bit)

    def on_security_event(self, ctx: ServerAssociation, what: str) -> None:
        code = SECURITY_EVENTS.get(what)
        if code is not None:
            self.log_event(code)
        if what == "association-locked":
            lockout = self.lockout(ctx.client_sap)
            log.warning(
                "dlms.association_locked",
                meter_id=self.view.meter_id,
                client_sap=ctx.client_sap,
                failures=lockout.total_failures,
                until_s=lockout.locked_until_s,
            )

    def _sync(self) -> None:
        """Bring the fleet to the clock's current slot (as MeterView does before its reads),
        without computing live values: those cost a pass over the whole fleet."""
        boundary = slot_at_s(self.view.clock.timestamp())
        if boundary > self.view.fleet.now_boundary:
            self.view.fleet.advance_to(boundary)

    # -- GET ------------------------------------------------------------------------------------
    def get(
        self, ctx: ServerAssociation, attr: AttributeRef, access: SelectiveAccess | None
    ) -> bytes | int:
        key = (attr.class_id, attr.logical_name)
        spec = KNOWN.get(key)
        if spec is None:
            return DataAccessResult.OBJECT_UNDEFINED
        if not 1 <= attr.attribute_id <= spec[0]:
            return DataAccessResult.OBJECT_UNDEFINED
        if not readable(ctx, key):
            return DataAccessResult.READ_WRITE_DENIED
        if attr.attribute_id == 1:
            return axdr.octet_string(attr.logical_name)
        if access is not None and attr.class_id != ClassId.PROFILE_GENERIC:
            return DataAccessResult.OTHER_REASON
        getter = self._getters.get(key)
        if getter is None:  # pragma: no cover - every known object has a getter
            return DataAccessResult.OBJECT_UNAVAILABLE
        try:
            return getter(self, ctx, attr.attribute_id, access)
        except SelectionError as exc:
            return exc.code
        except (AxdrError, ValueError):
            return DataAccessResult.OTHER_REASON

    def live_registers_wh(self) -> tuple[int, int]:
        """This meter's (import, export) registers now, like ``MeterView.import_register_wh``.

        ``MeterFleet.live_registers_wh`` computes the current slot's energy for the whole
        fleet (≈ 27 ms at 65,535 meters); this computes it for one meter with the same model
        and the same limiter and switch rules (a test checks both agree).
        """
        fleet, i = self.view.fleet, self.view.index
        ts = self.view.clock.timestamp()
        self._sync()
        slot = fleet.now_boundary
        frac = min(max(ts / SLOT_SECONDS - slot, 0.0), 1.0)
        imp_wh, exp_wh = 0, 0
        if fleet.switch_connected[i]:
            imp, exp = interval_energy_wh(fleet.params, [i], np.int64(slot), fleet.seed)
            imp_wh = min(int(imp[0]), int(fleet.contract_amperage_a[i]) * 50)
            exp_wh = int(exp[0])
        return (
            int(fleet.import_register_wh[i]) + math.floor(imp_wh * frac),
            int(fleet.export_register_wh[i]) + math.floor(exp_wh * frac),
        )

    def _register(self, ln: bytes, a: int) -> bytes:
        if ln == CURRENT_LN:
            if a == 3:
                return axdr.structure(axdr.i8(-1), axdr.enum(Unit.AMPERE))
            r, t = self.view.currents_a()
            return axdr.u16(min(0xFFFF, round(max(r, t) * 10)))
        if a == 3:
            return axdr.structure(axdr.i8(0), axdr.enum(Unit.WH))
        imp, exp = self.live_registers_wh()
        return axdr.u32(imp if ln == IMPORT_ENERGY_LN else exp)

    def _get_import(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return self._register(IMPORT_ENERGY_LN, a)

    def _get_export(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return self._register(EXPORT_ENERGY_LN, a)

    def _get_current(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return self._register(CURRENT_LN, a)

    def _profile_attr(self, a: int, columns: tuple[CaptureObject, ...], period_s: int) -> bytes:
        if a == 3:
            return axdr.array([c.encode() for c in columns])
        if a == 4:
            return axdr.u32(period_s)
        if a == 5:
            return axdr.enum(1)  # fifo
        if a == 6:
            return CaptureObject(0, bytes(6), 0).encode()
        raise ValueError(a)

    def _get_load_profile(
        self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None
    ) -> bytes:
        fleet = self.view.fleet
        if a in (3, 4, 5, 6):
            return self._profile_attr(a, LOAD_PROFILE_COLUMNS, SLOT_SECONDS)
        self._sync()
        first, last = fleet.first_logged_boundary, fleet.now_boundary
        if a == 7:
            return axdr.u32(last - first + 1)
        if a == 8:
            return axdr.u32(fleet.retention_slots + 1)
        sel = parse_access(acc) if acc is not None else None
        cols = columns(LOAD_PROFILE_COLUMNS, sel)
        if isinstance(sel, RangeDescriptor):
            start, end = time_bounds(sel)
            lo = max(first, math.ceil(start / SLOT_SECONDS))
            hi = min(last, math.floor(end / SLOT_SECONDS))
        elif isinstance(sel, EntryDescriptor):
            lo = first + max(sel.from_entry, 1) - 1
            hi = last if sel.to_entry == 0 else min(last, first + sel.to_entry - 1)
        else:
            lo, hi = first, last
        if hi < lo:
            return b"\x01\x00"
        boundaries = np.arange(lo, hi + 1, dtype=np.int64)
        imp, exp = fleet.registers_at(np.full(len(boundaries), self.view.index), boundaries)
        rows: list[bytes] = []
        boundary_datetime = self.boundary_datetime
        known = boundary_datetime.known.get
        if cols == [0, 1, 2]:
            u32 = axdr.u32
            for b, i, e in zip(boundaries.tolist(), imp.tolist(), exp.tolist(), strict=True):
                if i >= 0:
                    encoded = known(b) or boundary_datetime(b)
                    rows.append(b"\x02\x03" + encoded + u32(i) + u32(e))
        else:
            for b, i, e in zip(boundaries.tolist(), imp.tolist(), exp.tolist(), strict=True):
                if i >= 0:
                    values = (boundary_datetime(b), axdr.u32(i), axdr.u32(e))
                    rows.append(axdr.structure(*(values[c] for c in cols)))
        return axdr.array(rows)

    def _get_event_log(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        if a in (3, 4, 5, 6):
            return self._profile_attr(a, EVENT_LOG_COLUMNS, 0)
        if a == 7:
            return axdr.u32(len(self.events))
        if a == 8:
            return axdr.u32(EVENT_LOG_SIZE)
        sel = parse_access(acc) if acc is not None else None
        cols = columns(EVENT_LOG_COLUMNS, sel)
        events = list(self.events)
        if isinstance(sel, RangeDescriptor):
            start, end = time_bounds(sel)
            events = [ev for ev in events if start <= ev[0] <= end]
        elif isinstance(sel, EntryDescriptor):
            stop = len(events) if sel.to_entry == 0 else sel.to_entry
            events = events[max(sel.from_entry, 1) - 1 : stop]
        rows = []
        for ts, code in events:
            moment = axdr.encode_epoch_datetime(ts, JST_OFFSET_MIN)
            values = (axdr.octet_string(moment), axdr.u16(code))
            rows.append(axdr.structure(*(values[c] for c in cols)))
        return axdr.array(rows)

    def _get_event_code(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return axdr.u16(self.events[-1][1] if self.events else 0)

    def _get_disconnect(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        connected = self.view.switch_connected
        if a == 2:
            return axdr.boolean(connected)
        if a == 3:
            return axdr.enum(1 if connected else 0)
        return axdr.enum(1)  # control_mode

    def _get_limiter(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        if a == 2:
            return axdr.structure(
                axdr.u16(ClassId.REGISTER), axdr.octet_string(CURRENT_LN), axdr.i8(2)
            )
        if a in (3, 4, 5):
            return axdr.u16(self.view.contract_amperage_a * THRESHOLD_UNITS_PER_AMPERE)
        return {
            6: axdr.u32(0),
            7: axdr.u32(MIN_UNDER_THRESHOLD_S),
            8: axdr.structure(axdr.u16(0), axdr.octet_string(_WILDCARD_DT), axdr.u32(0)),
            9: axdr.array([]),
            10: axdr.boolean(False),
            11: axdr.structure(
                axdr.structure(axdr.octet_string(_SCRIPT_TABLE_LN), axdr.u16(1)),
                axdr.structure(axdr.octet_string(_SCRIPT_TABLE_LN), axdr.u16(2)),
            ),
        }[a]

    def _get_association(
        self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None
    ) -> bytes | int:
        if a == 2:
            return OBJECT_LIST
        if a == 3:
            return axdr.structure(axdr.i8(ctx.client_sap), axdr.u16(ctx.server_sap))
        if a == 4:
            context = 3 if ctx.ciphered else 1
            return axdr.octet_string(bytes.fromhex("608574050801") + bytes((context,)))
        if a == 5:
            return axdr.structure(
                axdr.encode(axdr.BitString(24, ctx.conformance.to_bytes(3, "big"))),
                axdr.u16(2048),
                axdr.u16(ctx.client_max_pdu),
                axdr.u8(6),
                axdr.i8(0),
                axdr.octet_string(b""),
            )
        if a == 6:
            mech = ctx.mechanism
            return axdr.octet_string(bytes.fromhex("608574050802") + bytes((mech,)))
        if a == 7:
            return DataAccessResult.READ_WRITE_DENIED
        if a == 8:
            return axdr.enum(2 if ctx.mechanism == Mechanism.NONE or ctx.can_write else 1)
        return axdr.octet_string(obis("0.0.43.0.0.255"))

    def _get_counter(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return axdr.u32(self.counters.highest + 1)

    def _get_name(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return axdr.octet_string(logical_device_name(self.view.meter_id))

    def _get_setup(self, ctx: ServerAssociation, a: int, acc: SelectiveAccess | None) -> bytes:
        return security_setup_attribute(ctx, a, self.system_title)

    _getters: ClassVar[dict[tuple[int, bytes], Callable[..., Any]]] = {
        (ClassId.CLOCK, CLOCK_LN): lambda s, c, a, acc: s.meter_clock.get(a),
        (ClassId.REGISTER, IMPORT_ENERGY_LN): _get_import,
        (ClassId.REGISTER, EXPORT_ENERGY_LN): _get_export,
        (ClassId.REGISTER, CURRENT_LN): _get_current,
        (ClassId.PROFILE_GENERIC, LOAD_PROFILE_LN): _get_load_profile,
        (ClassId.PROFILE_GENERIC, EVENT_LOG_LN): _get_event_log,
        (ClassId.DATA, EVENT_CODE_LN): _get_event_code,
        (ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN): _get_disconnect,
        (ClassId.LIMITER, LIMITER_LN): _get_limiter,
        (ClassId.ACTIVITY_CALENDAR, ACTIVITY_CALENDAR_LN): lambda s, c, a, acc: s.calendar.get(a),
        (ClassId.ASSOCIATION_LN, ASSOCIATION_LN): _get_association,
        (ClassId.DATA, INVOCATION_COUNTER_LN): _get_counter,
        (ClassId.DATA, LOGICAL_DEVICE_NAME_LN): _get_name,
        (ClassId.SECURITY_SETUP, SECURITY_SETUP_LN): _get_setup,
        (ClassId.DATA, ALARM_REGISTER_LN): lambda s, c, a, acc: s.alarms.get(ALARM_REGISTER_LN),
        (ClassId.DATA, ALARM_FILTER_LN): lambda s, c, a, acc: s.alarms.get(ALARM_FILTER_LN),
    }

    # -- SET ------------------------------------------------------------------------------------
    def set(
        self,
        ctx: ServerAssociation,
        attr: AttributeRef,
        access: SelectiveAccess | None,
        value: bytes,
    ) -> int:
        key = (attr.class_id, attr.logical_name)
        if key not in KNOWN:
            return DataAccessResult.OBJECT_UNDEFINED
        if key == (ClassId.ACTIVITY_CALENDAR, ACTIVITY_CALENDAR_LN):
            return self.calendar.set(attr.attribute_id, value)
        if key == (ClassId.CLOCK, CLOCK_LN):
            return self.meter_clock.set(attr.attribute_id, value)
        if attr.logical_name in (ALARM_REGISTER_LN, ALARM_FILTER_LN):
            return self.alarms.set(attr.logical_name, attr.attribute_id, value)
        if key != (ClassId.LIMITER, LIMITER_LN) or attr.attribute_id not in (3, 4):
            return DataAccessResult.READ_WRITE_DENIED
        try:
            threshold = axdr.decode_all(value)
        except AxdrError:
            return DataAccessResult.TYPE_UNMATCHED
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            return DataAccessResult.TYPE_UNMATCHED
        amperes, rest = divmod(threshold, THRESHOLD_UNITS_PER_AMPERE)
        if rest or amperes not in CONTRACT_AMPERAGES_A:
            return DataAccessResult.OTHER_REASON
        self._sync()
        self.view.fleet.set_contract_amperage([self.view.index], amperes)
        self.log_event(EVENT_LIMITER_CHANGED)
        return DataAccessResult.SUCCESS

    # -- ACTION ---------------------------------------------------------------------------------
    def action(
        self, ctx: ServerAssociation, method: MethodRef, parameters: bytes | None
    ) -> tuple[int, bytes | None]:
        key = (method.class_id, method.logical_name)
        spec = KNOWN.get(key)
        if spec is None or not 1 <= method.method_id <= spec[1]:
            return ActionResult.OBJECT_UNDEFINED, None
        if key == (ClassId.SECURITY_SETUP, SECURITY_SETUP_LN):
            code = key_transfer(
                self.keyring,
                self.view.meter_id,
                method.method_id,
                parameters,
                lambda: self.log_event(EVENT_KEYS_CHANGED),
            )
            return code, None
        if key == (ClassId.ACTIVITY_CALENDAR, ACTIVITY_CALENDAR_LN):
            return self._activate_calendar(), None
        if key != (ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN):
            return ActionResult.READ_WRITE_DENIED, None
        self._sync()
        if method.method_id == 1:
            self.view.fleet.disconnect([self.view.index])
            self.log_event(EVENT_REMOTE_DISCONNECT)
        else:
            self.view.fleet.reconnect([self.view.index])
            self.log_event(EVENT_REMOTE_RECONNECT)
        return ActionResult.SUCCESS, None

    def _activate_calendar(self) -> int:
        code, cal = self.calendar.activate()
        if cal is not None:
            plan = plan_code_of(cal)
            if plan is not None:
                self.view.fleet.set_supply_plan([self.view.index], plan)
            self.log_event(EVENT_TARIFF_CHANGED)
        return code
