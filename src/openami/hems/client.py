"""A HEMS controller (0x05FF01) reading one low-voltage smart meter (0x028801).

Transport-agnostic: :class:`MeterClient` sends ECHONET Lite frames through a
:class:`Transport` (plain UDP, or a Wi-SUN module over SKSTACK IP). An
:class:`~openami.protocols.echonet.node.EchonetNode` gives each request its TID, matches the
answer to it (TID, ESV, the object asked) and times it out on the injected clock; answers to
nothing and malformed frames are dropped. Frames the meter sends on its own (INF, e.g. the
fixed-time EA/EB) are kept in ``notifications``. Energy is converted with the meter's own
unit (E1) and coefficient (D3).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from openami.clock import JST
from openami.protocols.echonet import CONTROLLER_EOJ, SMART_METER_EOJ, Esv, Frame, Property
from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.errors import RemoteEchonetProtocolError
from openami.protocols.echonet.node import (
    EchonetNode,
    NodeEvent,
    NotificationReceived,
    Request,
    RequestReceived,
    ResponseReceived,
    TimedOut,
)
from openami.protocols.peer import MonotonicClock, Wait

log = logging.getLogger(__name__)

EPC_CURRENT_DATE = 0x98
MAX_OPC = 6  # AIF §2.4.4: a meter serves at least 6 properties per request


class HemsError(Exception):
    """The meter could not be read."""


class MeterTimeout(HemsError):
    """No answer within the time and retries allowed."""


class Transport(Protocol):
    """Carries ECHONET Lite frames to one meter and back."""

    def send(self, frame: bytes) -> None: ...

    def receive(self, timeout_s: float) -> bytes | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LiveReading:
    """What the meter says now. None where it has no value or lacks the property."""

    at: datetime
    power_w: int | None
    r_phase_a: float | None
    t_phase_a: float | None
    import_kwh: float | None
    export_kwh: float | None


@dataclass(frozen=True)
class HistorySlot:
    slot_start: datetime  # JST
    import_kwh: float | None
    export_kwh: float | None


class MeterClient:
    """Request/response with one meter; not thread-safe."""

    def __init__(
        self,
        transport: Transport,
        *,
        timeout_s: float = 20.0,
        retries: int = 3,
        clock: MonotonicClock = time.monotonic,
        target_eoj: int = SMART_METER_EOJ,
    ) -> None:
        self.transport = transport
        self.target_eoj = target_eoj
        self.timeout_s = timeout_s
        self.retries = retries
        self.clock = clock
        self.node = EchonetNode(clock, timeout_s=timeout_s, first_tid=1, strict=False)
        self.notifications: deque[Frame] = deque(maxlen=256)
        self.kwh_per_count: float | None = None

    # -- frames ----------------------------------------------------------------------------
    def request(self, esv: Esv, props: list[Property], *, deoj: int | None = None) -> Frame:
        """Send one request (to the meter, or to object ``deoj`` of the same node); return the
        matching reply (which may be a *_SNA)."""
        target = self.target_eoj if deoj is None else deoj
        for attempt in range(1, self.retries + 1):
            request = Request(CONTROLLER_EOJ, target, esv, tuple(props))
            self.transport.send(self.node.send(request))
            tid = self.node.last_tid
            while True:
                event = self._next_event()
                if isinstance(event, ResponseReceived) and event.request.tid == tid:
                    return event.frame
                if isinstance(event, TimedOut) and event.request.tid == tid:
                    break
            log.info("no answer to TID %04X (attempt %d of %d)", tid, attempt, self.retries)
        raise MeterTimeout(f"{target:06X} did not answer after {self.retries} attempts")

    def _next_event(self) -> NodeEvent:
        """The node's next event, waiting on the transport until a request's deadline."""
        node = self.node
        while True:
            try:
                event = node.next_event()
            except RemoteEchonetProtocolError as exc:
                log.debug("%s", exc)
                continue
            if not isinstance(event, Wait):
                self._keep_notification(event)
                return event
            deadline_s = node.next_deadline_s
            left_s = self.timeout_s if deadline_s is None else deadline_s - self.clock()
            data = self.transport.receive(max(0.0, left_s))
            if data is not None:
                node.receive_data(data)

    def _keep_notification(self, event: NodeEvent) -> None:
        """Frames the meter sends on its own (INF, INFC) go to ``notifications``."""
        frame = event.frame if isinstance(event, NotificationReceived | RequestReceived) else None
        if frame is not None and frame.esv in (Esv.INF, Esv.INFC):
            self.notifications.append(frame)

    def get(self, epcs: list[int], *, deoj: int | None = None) -> dict[int, bytes | None]:
        """Get properties (at most 6 per request); None for those the meter refuses."""
        out: dict[int, bytes | None] = {}
        for i in range(0, len(epcs), MAX_OPC):
            chunk = epcs[i : i + MAX_OPC]
            reply = self.request(Esv.GET, [Property(epc) for epc in chunk], deoj=deoj)
            got = {p.epc: p.edt for p in reply.properties}
            for epc in chunk:
                edt = got.get(epc)
                out[epc] = edt if edt else None
        return out

    def set(self, epc: int, edt: bytes, *, deoj: int | None = None) -> bool:
        """SetC of one property; True when the node answered Set_Res (False: SetC_SNA)."""
        reply = self.request(Esv.SETC, [Property(epc, edt)], deoj=deoj)
        return reply.esv == Esv.SET_RES

    # -- meter values ----------------------------------------------------------------------
    def energy_scale(self) -> float:
        """kWh per raw count: E1 unit × D3 coefficient (1 when D3 is missing)."""
        if self.kwh_per_count is None:
            got = self.get([sm.EPC_ENERGY_UNIT, sm.EPC_COEFFICIENT])
            unit_edt = got[sm.EPC_ENERGY_UNIT]
            if unit_edt is None or unit_edt[0] not in sm.ENERGY_UNIT_KWH:
                raise HemsError("the meter gives no usable energy unit (E1)")
            coefficient = got[sm.EPC_COEFFICIENT]
            factor = int.from_bytes(coefficient, "big") if coefficient else 1
            self.kwh_per_count = float(sm.ENERGY_UNIT_KWH[unit_edt[0]] * factor)
        return self.kwh_per_count

    def _kwh(self, raw: int | None) -> float | None:
        return None if raw is None else raw * self.energy_scale()

    def read_live(self) -> LiveReading:
        scale = self.energy_scale()
        epcs = [sm.EPC_INSTANT_POWER, sm.EPC_INSTANT_CURRENTS, sm.EPC_CUMULATIVE_NORMAL]
        got = self.get([*epcs, sm.EPC_CUMULATIVE_REVERSE])
        power = got[sm.EPC_INSTANT_POWER]
        currents = got[sm.EPC_INSTANT_CURRENTS]
        r_a, t_a = sm.decode_currents(currents) if currents else (None, None)
        imp, exp = got[sm.EPC_CUMULATIVE_NORMAL], got[sm.EPC_CUMULATIVE_REVERSE]
        imp_raw = sm.decode_u32_energy(imp) if imp else None
        exp_raw = sm.decode_u32_energy(exp) if exp else None
        return LiveReading(
            at=datetime.now(JST),
            power_w=sm.decode_power_w(power) if power else None,
            r_phase_a=r_a,
            t_phase_a=t_a,
            import_kwh=None if imp_raw is None else imp_raw * scale,
            export_kwh=None if exp_raw is None else exp_raw * scale,
        )

    def meter_date(self) -> date:
        """The meter's own date (0x98), else today in JST."""
        edt = self.get([EPC_CURRENT_DATE])[EPC_CURRENT_DATE]
        if edt is not None and len(edt) == 4:
            try:
                return date(int.from_bytes(edt[0:2], "big"), edt[2], edt[3])
            except ValueError:
                pass
        return datetime.now(JST).date()

    def read_history(self, day: int, *, today: date | None = None) -> list[HistorySlot]:
        """The 48 half-hour registers (00:00 … 23:30) of ``day`` days ago (E5, E2, E4)."""
        if not 0 <= day <= sm.MAX_HISTORY1_DAY:
            raise ValueError(f"day must be 0–{sm.MAX_HISTORY1_DAY}, got {day}")
        base = today if today is not None else self.meter_date()
        if not self.set(sm.EPC_HISTORY1_DAY, bytes([day])):
            raise HemsError(f"the meter refused history day {day}")
        got = self.get([sm.EPC_HISTORY1_NORMAL, sm.EPC_HISTORY1_REVERSE])
        normal_edt, reverse_edt = got[sm.EPC_HISTORY1_NORMAL], got[sm.EPC_HISTORY1_REVERSE]
        if normal_edt is None:
            raise HemsError("the meter gives no history (E2)")
        normal = sm.DayHistory.decode(normal_edt)
        reverse = sm.DayHistory.decode(reverse_edt) if reverse_edt else None
        the_day = base - timedelta(days=normal.day)
        midnight = datetime(the_day.year, the_day.month, the_day.day, tzinfo=JST)
        return [
            HistorySlot(
                midnight + timedelta(minutes=30 * k),
                self._kwh(normal.values[k]),
                self._kwh(reverse.values[k]) if reverse else None,
            )
            for k in range(sm.HISTORY1_SLOTS)
        ]

    def close(self) -> None:
        self.transport.close()
