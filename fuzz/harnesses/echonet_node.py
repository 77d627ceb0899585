"""Stateful: sequences of Set (SetC, SetI, SetGet) then Get on the B-route meter node.

The target is :class:`openami.broute.responder.MeterResponder` (node profile + smart meter
0x028801 of a PV meter, on a fixed clock): a fresh node per input, then up to six
operations read from the input: a Set of one to three properties (mostly the meter's
settable EPCs 81, E5, ED, with any EDT) or a raw datagram, each followed by a Get of the
settable EPCs and EC (what they change), and at the end a Get of every property the meter
serves. ``respond`` never raises by contract, and its catch-all logs a
traceback: the harness turns that log into a finding. Checks: a SetC gets exactly one
Set_Res/SetC_SNA echoing its EPCs; every Get gets one Get_Res (every property that was
readable on a fresh node still is, whatever was set); the values the meter serves for
E2, E5, EA, EC, ED decode with openami's own codec.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np

from fuzz.engine import ByteReader, Finding
from openami.broute import responder as responder_module
from openami.broute.responder import MeterResponder
from openami.clock import ManualClock, slot_index
from openami.meter import MeterFleet, MeterView
from openami.protocols.echonet import EchonetDecodeError, Esv, Frame, Property, decode_frame
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet import smart_meter as sm

ALLOWED: tuple[type[BaseException], ...] = ()  # respond() must never raise
MAX_LEN = 512
FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # 2026-11-02 00:00 JST
CLOCK_START = FLEET_START + timedelta(days=10, hours=3, minutes=7)
SETTABLE = (obj.EPC_INSTALLATION_LOCATION, sm.EPC_HISTORY1_DAY, sm.EPC_HISTORY2_SETTING)
METER, CONTROLLER = sm.SMART_METER_EOJ, obj.CONTROLLER_EOJ
MAX_OPS = 6
# what the settable EPCs change: read after every step (every property at the end)
DEPENDENT = (*SETTABLE, sm.EPC_HISTORY2)
_OWN_DECODERS: dict[int, Callable[[bytes], object]] = {
    sm.EPC_HISTORY1_NORMAL: sm.DayHistory.decode,
    sm.EPC_HISTORY1_DAY: sm.decode_history1_day,
    sm.EPC_FIXED_TIME_NORMAL: sm.FixedTimeValue.decode,
    sm.EPC_HISTORY2: sm.History2.decode,
    sm.EPC_HISTORY2_SETTING: sm.History2Setting.decode,
}


class _RaisingLog:
    """Stands in for the responder's logger: a logged traceback becomes a finding."""

    def exception(self, msg: str, *args: Any) -> None:
        raise Finding("MeterResponder logged a traceback: " + msg % args)

    def debug(self, *args: Any, **kw: Any) -> None:
        pass

    info = warning = debug


class _CachedView:
    """The real :class:`MeterView` of a PV meter, its answers kept: the clock stands still, so
    they never change, and the load model would otherwise take 95 % of the time."""

    def __init__(self, clock: ManualClock) -> None:
        fleet = MeterFleet(np.array([4242]), slot_index(FLEET_START), seed=7, pv_share=1.0)
        self._view = MeterView(fleet, 0, clock)
        self.fleet = fleet
        self.meter_id = self._view.meter_id
        self.index = 0
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _cached(self, name: str, *args: Any) -> Any:
        key = (name, *args)
        if key not in self._memo:
            self._memo[key] = getattr(self._view, name)(*args)
        return self._memo[key]

    @property
    def fault(self) -> bool:
        return self._view.fault

    def import_register_wh(self) -> int:
        return int(self._cached("import_register_wh"))

    def export_register_wh(self) -> int:
        return int(self._cached("export_register_wh"))

    def power_w(self) -> float:
        return float(self._cached("power_w"))

    def currents_a(self) -> tuple[float, float]:
        return cast(tuple[float, float], self._cached("currents_a"))

    def boundary_registers(self, boundary: int) -> tuple[int, int] | None:
        return cast(tuple[int, int] | None, self._cached("boundary_registers", boundary))

    def day_log(self, day: date) -> list[tuple[int, int] | None]:
        return cast(list[tuple[int, int] | None], self._cached("day_log", day))


def _ask(responder: MeterResponder, frame: Frame) -> list[Frame]:
    return [decode_frame(reply) for reply in responder.respond(frame.encode())]


def setup() -> Callable[[bytes], None]:
    responder_module.log = _RaisingLog()  # type: ignore[assignment]
    clock = ManualClock(CLOCK_START)
    view = cast(MeterView, _CachedView(clock))
    fresh = MeterResponder(view, clock)
    get_map = fresh.meter_object.get(0x9F)
    assert get_map is not None
    readable = tuple(sorted(obj_epc for obj_epc in _get_map(get_map)))
    get_all = Frame(0x7777, CONTROLLER, METER, Esv.GET, tuple(Property(e) for e in readable))
    (baseline,) = _ask(fresh, get_all)
    if baseline.esv != Esv.GET_RES:
        raise Finding(f"a fresh meter does not serve its own get map: {baseline}")

    get_set = Frame(0x7778, CONTROLLER, METER, Esv.GET, tuple(Property(e) for e in DEPENDENT))

    def check_get(responder: MeterResponder, request: Frame) -> None:
        replies = _ask(responder, request)
        if len(replies) != 1 or replies[0].esv != Esv.GET_RES:
            raise Finding(f"Get of every readable property after Sets gave {replies}")
        for prop in replies[0].properties:
            decoder = _OWN_DECODERS.get(prop.epc)
            if decoder is not None:
                try:
                    decoder(prop.edt)
                except EchonetDecodeError as exc:
                    raise Finding(
                        f"the meter serves {prop.epc:#04x} it cannot decode: {exc}"
                    ) from exc

    def one_input(data: bytes) -> None:
        responder = MeterResponder(view, clock)
        r = ByteReader(data)
        tid = 1
        for _ in range(MAX_OPS):
            if not r.left:
                break
            kind = r.u8() % 4
            if kind == 3:
                responder.respond(r.take(r.u8()))
            else:
                props = tuple(_prop(r) for _ in range(r.u8() % 3 + 1))
                esv = (Esv.SETC, Esv.SETI, Esv.SETGET)[kind]
                gets = tuple(Property(p.epc) for p in props) if esv == Esv.SETGET else ()
                deoj = 0x028800 if r.u8() == 0xFF else METER  # class-wide, now and then
                replies = _ask(responder, Frame(tid, CONTROLLER, deoj, esv, props, gets))
                _check_set(esv, props, replies)
            tid += 1
            check_get(responder, get_set)
        check_get(responder, get_all)

    return one_input


def _get_map(edt: bytes) -> frozenset[int]:
    from openami.protocols.echonet import decode_property_map

    return decode_property_map(edt)


def _prop(r: ByteReader) -> Property:
    b = r.u8()
    epc = SETTABLE[b % len(SETTABLE)] if b < 0x80 else b
    return Property(epc, r.take(r.u8() % 24))


def _check_set(esv: int, props: tuple[Property, ...], replies: list[Frame]) -> None:
    if esv == Esv.SETI:
        if len(replies) > 1 or (replies and replies[0].esv != Esv.SETI_SNA):
            raise Finding(f"SetI answered with {replies}")
        return
    want = {Esv.SETC: (Esv.SET_RES, Esv.SETC_SNA), Esv.SETGET: (Esv.SETGET_RES, Esv.SETGET_SNA)}
    if len(replies) != 1 or replies[0].esv not in want[Esv(esv)]:
        raise Finding(f"ESV {esv:#04x} answered with {replies}")
    if [p.epc for p in replies[0].properties] != [p.epc for p in props]:
        raise Finding(f"the Set reply does not echo the EPCs in order: {replies[0]}")


def seeds() -> dict[str, bytes]:
    ed = sm.History2Setting(datetime(2026, 11, 12, 2, 30), 6).encode()
    old = (1887).to_bytes(2, "big") + bytes((12, 31, 23, 30, 1))

    def setc(*props: tuple[int, bytes]) -> bytes:
        out = bytearray((0, len(props) - 1))
        for epc, edt in props:
            index = SETTABLE.index(epc) if epc in SETTABLE else None
            out += bytes((index if index is not None else epc, len(edt))) + edt
        return bytes(out + b"\x00")

    return {
        "setc-e5-then-get": setc((sm.EPC_HISTORY1_DAY, b"\x05")),
        "setc-ed-valid": setc((sm.EPC_HISTORY2_SETTING, ed)),
        "setc-ed-1887": setc((sm.EPC_HISTORY2_SETTING, old)),
        "setc-location": setc((obj.EPC_INSTALLATION_LOCATION, b"\x08")),
        "setc-three": setc(
            (sm.EPC_HISTORY1_DAY, b"\x63"),
            (sm.EPC_HISTORY2_SETTING, ed),
            (obj.EPC_INSTALLATION_LOCATION, b"\x01" + bytes(16)),
        ),
        "raw-get": b"\x03"
        + bytes((14,))
        + Frame(9, CONTROLLER, METER, Esv.GET, (Property(0xEC),)).encode(),
    }
