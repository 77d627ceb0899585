"""The transport-free ECHONET Lite smart meter node: node profile 0x0EF001 + meter 0x028801.

:class:`MeterResponder` answers one received frame at a time (``respond``) and builds the
frames a meter sends on its own: the instance-list INF (0xD5) at start or after joining, and
the fixed-time INF (EA, and EB when the meter exports) after every :00 and :30.
Values come from a :class:`openami.meter.MeterView`; time from a :class:`Clock`. The frames
go in and out through an :class:`~openami.protocols.echonet.node.EchonetNode` (the sans-I/O
peer: TIDs, matching of answers to requests); the service rules are
:func:`~openami.protocols.echonet.service.handle_request`.

Decisions where the spec leaves room (see docs/broute.md):
- E5 accepts every day the spec allows (0–99). Days not retained (``retention_days``,
  default 45, so E5 0–44) and slots not yet reached give 0xFFFFFFFE.
- ED accepts a :00/:30 JST wall-clock time inside the retained log (not in the future, not
  before the oldest retained day, so never a year before 1888) and a count of 1–12; anything
  else gets SetC_SNA. While ED is unset (the initial FF FF FF FF FF FF 01) EC serves
  the latest boundary with ED's count.
- A meter without export metering (no PV) has no E3, E4 or EB: Get gives Get_SNA for them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from openami.clock import (
    JST,
    SLOT_SECONDS,
    Clock,
    day_first_slot,
    day_of_slot,
    slot_at_s,
    slot_start,
)
from openami.meter import MeterView
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.errors import MalformedFrame, RemoteEchonetProtocolError
from openami.protocols.echonet.frame import Esv, Property
from openami.protocols.echonet.node import EchonetNode, Notification, RequestReceived, Response
from openami.protocols.echonet.objects import DeviceObject, Getter, Setter, node_profile
from openami.protocols.echonet.service import handle_request

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 45
EXPERIMENTAL_MANUFACTURER_CODE = 0xFFFFFF  # no maker code is registered for openami
STANDARD_VERSION = bytes([0x00, 0x00, ord("R"), 0x00])  # Appendix Release R


@dataclass
class ResponderStats:
    """Counters of what the responder has seen and sent."""

    received: int = 0
    malformed: int = 0
    replies: int = 0
    ignored: int = 0


def respond_with(
    node: EchonetNode,
    objects: Sequence[DeviceObject],
    frame: bytes,
    stats: ResponderStats,
    *,
    max_opc: int | None = None,
) -> list[bytes]:
    """The replies of a node holding ``objects`` to one received datagram ([] when none is
    due): malformed frames and answers to nothing are counted and dropped, never raised."""
    stats.received += 1
    node.receive_data(frame)
    try:
        event = node.next_event()
    except MalformedFrame as exc:
        stats.malformed += 1
        log.debug("dropped malformed ECHONET frame (%d bytes): %s", len(frame), exc)
        return []
    except RemoteEchonetProtocolError as exc:  # a response to nothing this node asked
        stats.ignored += 1
        log.debug("dropped ECHONET frame: %s", exc)
        return []
    if not isinstance(event, RequestReceived):
        stats.ignored += 1
        return []
    try:
        replies = handle_request(event.frame, objects, max_opc=max_opc)
    except Exception:  # a bug must not stop the node; keep it visible in the log
        stats.malformed += 1
        log.exception("failed to answer frame %s", bytes(frame).hex())
        return []
    if not replies:
        stats.ignored += 1
    stats.replies += len(replies)
    return [node.send(Response(reply)) for reply in replies]


class MeterResponder:
    """An ECHONET Lite node holding one low-voltage smart electric energy meter."""

    def __init__(
        self,
        meter: MeterView,
        clock: Clock,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        scale: sm.EnergyScale | None = None,
        manufacturer_code: int = EXPERIMENTAL_MANUFACTURER_CODE,
        max_opc: int | None = None,
        exports: bool | None = None,
    ) -> None:
        if not 1 <= retention_days <= sm.MAX_HISTORY1_DAY + 1:
            raise ValueError(f"retention_days must be 1–100, got {retention_days}")
        if max_opc is not None and max_opc < 6:
            raise ValueError("the AIF requires a meter to serve at least 6 properties")
        self.meter = meter
        self.clock = clock
        self.retention_days = retention_days
        self.scale = scale or sm.EnergyScale()
        self.manufacturer_code = manufacturer_code
        self.max_opc = max_opc
        if exports is None:
            exports = bool(meter.fleet.params.has_pv[meter.index])
        self.exports = exports
        self.stats = ResponderStats()
        self.history1_day = 0
        self.history2_setting = sm.History2Setting(None, 1)
        self.installation_location = b"\x00"
        self.node = EchonetNode(clock.timestamp)
        self.meter_object = self._build_meter_object()
        self.node_profile = node_profile(
            [self.meter_object],
            manufacturer_code=manufacturer_code,
            unique_id=b"openami" + (meter.meter_id % 2**48).to_bytes(6, "big"),
        )
        self.objects = (self.node_profile, self.meter_object)

    # -- public ---------------------------------------------------------------------------------
    def respond(self, frame: bytes) -> list[bytes]:
        """Replies to one received frame; [] when none is due. Never raises on bad input."""
        return respond_with(self.node, self.objects, frame, self.stats, max_opc=self.max_opc)

    def instance_list_inf(self) -> bytes:
        """INF of 0xD5 from the node profile to the node profile class (start-up / join)."""
        instances = obj.encode_instance_list([self.meter_object.eoj])
        prop = Property(obj.EPC_INSTANCE_LIST_NOTIFICATION, instances)
        return self.node.send(Notification(obj.NODE_PROFILE_EOJ, obj.NODE_PROFILE_EOJ, (prop,)))

    def fixed_time_inf(self, now: datetime | None = None) -> bytes | None:
        """INF of EA (and EB with export) for the latest :00/:30 boundary at ``now``.

        None when the boundary's registers are not in the meter's log.
        """
        moment = self.clock.now() if now is None else now
        boundary = slot_at_s(moment.timestamp())
        props = [Property(sm.EPC_FIXED_TIME_NORMAL, self._fixed_time(boundary, export=False))]
        if self.exports:
            props.append(Property(sm.EPC_FIXED_TIME_REVERSE, self._fixed_time(boundary, True)))
        if sm.FixedTimeValue.decode(props[0].edt).value is None:
            return None
        inf = Notification(self.meter_object.eoj, obj.CONTROLLER_EOJ, tuple(props), Esv.INF)
        return self.node.send(inf)

    # -- helpers --------------------------------------------------------------------------------
    def _today(self) -> date:
        return self.clock.now().astimezone(JST).date()

    def _retained(self, boundary: int) -> bool:
        age_days = (self._today() - day_of_slot(boundary)).days
        return 0 <= age_days < self.retention_days

    def _raw_at(self, boundary: int) -> tuple[int | None, int | None]:
        """Raw (normal, reverse) counts logged at ``boundary``; None outside the log."""
        if not self._retained(boundary):
            return None, None
        regs = self.meter.boundary_registers(boundary)
        if regs is None:
            return None, None
        return self.scale.raw_from_wh(regs[0]), self.scale.raw_from_wh(regs[1])

    def _latest_boundary(self) -> int:
        return slot_at_s(self.clock.timestamp())

    def _fixed_time(self, boundary: int, export: bool) -> bytes:
        normal, reverse = self._raw_at(boundary)
        at = slot_start(boundary).replace(tzinfo=None)
        return sm.FixedTimeValue(at, reverse if export else normal).encode()

    def _history1(self, export: bool) -> bytes:
        day = self.history1_day
        if day >= self.retention_days:
            return sm.DayHistory(day, (None,) * sm.HISTORY1_SLOTS).encode()
        log_day = self.meter.day_log(self._today() - timedelta(days=day))
        values = tuple(
            None if pair is None else self.scale.raw_from_wh(pair[1 if export else 0])
            for pair in log_day
        )
        return sm.DayHistory(day, values).encode()

    def _set_history1_day(self, edt: bytes) -> bool:
        self.history1_day = sm.decode_history1_day(edt)
        return True

    def _history2(self) -> bytes:
        setting = self.history2_setting
        latest = self._latest_boundary()
        newest = latest if setting.at is None else _wall_clock_boundary(setting.at)
        if newest is None:  # pragma: no cover - refused when set
            raise ValueError(f"ED time {setting.at} is not a JST slot time")
        pairs = tuple(self._raw_at(newest - k) for k in range(setting.count))
        at = slot_start(newest).replace(tzinfo=None)
        return sm.History2(at, pairs).encode()

    def _set_history2(self, edt: bytes) -> bool:
        setting = sm.History2Setting.decode(edt)
        if setting.at is not None:
            boundary = _wall_clock_boundary(setting.at)
            if boundary is None or boundary > self._latest_boundary():
                return False  # not a JST slot time, or the future (which has no history)
            if boundary < day_first_slot(self._today() - timedelta(days=self.retention_days - 1)):
                return False  # before the oldest retained day
        self.history2_setting = setting
        return True

    def _set_installation_location(self, edt: bytes) -> bool:
        valid = (len(edt) == 1 and edt[0] != 0x01) or (len(edt) == 17 and edt[0] == 0x01)
        if valid:
            self.installation_location = bytes(edt)
        return valid

    def _device_getters(self) -> dict[int, Getter]:
        """The properties every meter class serves alike: status, location, version, fault
        status (the meter's own), maker, production number, the meter's time and date."""
        view = self.meter
        meter_id = view.meter_id

        def now_jst() -> datetime:
            return self.clock.now().astimezone(JST)

        return {
            obj.EPC_OPERATION_STATUS: lambda: bytes([obj.OPERATION_ON]),
            obj.EPC_INSTALLATION_LOCATION: lambda: self.installation_location,
            obj.EPC_VERSION: lambda: STANDARD_VERSION,
            obj.EPC_FAULT_STATUS: lambda: bytes([obj.FAULT if view.fault else obj.NO_FAULT]),
            obj.EPC_MANUFACTURER_CODE: lambda: self.manufacturer_code.to_bytes(3, "big"),
            obj.EPC_PRODUCTION_NUMBER: lambda: f"{meter_id % 10**12:012d}".encode("ascii"),
            obj.EPC_CURRENT_TIME: lambda: bytes([now_jst().hour, now_jst().minute]),
            obj.EPC_CURRENT_DATE: lambda: sm.encode_datetime(now_jst())[0:4],
        }

    def _build_meter_object(self) -> DeviceObject:
        view = self.meter
        scale = self.scale
        meter_id = view.meter_id
        getters: dict[int, Getter] = {
            **self._device_getters(),
            sm.EPC_B_ROUTE_ID: lambda: (
                b"\x00"
                + self.manufacturer_code.to_bytes(3, "big")
                + (meter_id % 2**96).to_bytes(12, "big")
            ),
            sm.EPC_COEFFICIENT: lambda: sm.encode_coefficient(scale.coefficient),
            sm.EPC_EFFECTIVE_DIGITS: lambda: sm.encode_u8(scale.digits),
            sm.EPC_CUMULATIVE_NORMAL: lambda: sm.encode_u32(
                scale.raw_from_wh(view.import_register_wh())
            ),
            sm.EPC_ENERGY_UNIT: lambda: sm.encode_u8(scale.unit_code),
            sm.EPC_HISTORY1_NORMAL: lambda: self._history1(export=False),
            sm.EPC_HISTORY1_DAY: lambda: sm.encode_u8(self.history1_day),
            sm.EPC_INSTANT_POWER: lambda: sm.encode_power_w(view.power_w()),
            sm.EPC_INSTANT_CURRENTS: lambda: sm.encode_currents(*view.currents_a()),
            sm.EPC_FIXED_TIME_NORMAL: lambda: self._fixed_time(self._latest_boundary(), False),
            sm.EPC_HISTORY2: self._history2,
            sm.EPC_HISTORY2_SETTING: lambda: self.history2_setting.encode(),
        }
        announced = {obj.EPC_OPERATION_STATUS, obj.EPC_INSTALLATION_LOCATION}
        announced |= {obj.EPC_FAULT_STATUS, sm.EPC_FIXED_TIME_NORMAL}
        if self.exports:
            getters[sm.EPC_CUMULATIVE_REVERSE] = lambda: sm.encode_u32(
                scale.raw_from_wh(view.export_register_wh())
            )
            getters[sm.EPC_HISTORY1_REVERSE] = lambda: self._history1(export=True)
            getters[sm.EPC_FIXED_TIME_REVERSE] = lambda: self._fixed_time(
                self._latest_boundary(), True
            )
            announced.add(sm.EPC_FIXED_TIME_REVERSE)
        setters: dict[int, Setter] = {
            obj.EPC_INSTALLATION_LOCATION: self._set_installation_location,
            sm.EPC_HISTORY1_DAY: self._set_history1_day,
            sm.EPC_HISTORY2_SETTING: self._set_history2,
        }
        return DeviceObject(
            eoj=sm.SMART_METER_EOJ,
            getters=getters,
            setters=setters,
            announced=frozenset(announced),
        )


def _wall_clock_boundary(at: datetime) -> int | None:
    """The slot whose JST wall-clock start is ``at`` (naive), or None when no slot starts
    then (before 1888 Tokyo kept local mean time, +09:18:59: no time round-trips)."""
    try:
        boundary = slot_at_s(at.replace(tzinfo=JST).timestamp())
        if slot_start(boundary).replace(tzinfo=None) != at:
            return None
    except (ValueError, OverflowError):
        return None
    return boundary if boundary * SLOT_SECONDS >= 0 else None
