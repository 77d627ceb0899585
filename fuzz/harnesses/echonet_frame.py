"""ECHONET Lite frames: decode (strict and lenient), re-encode, answer, decode every EDT.

Allowed: :class:`EchonetDecodeError` (the codec's documented error; a ValueError). Checks:
a frame that decodes re-encodes to the same bytes (strict) and decodes again to the same
frame; the service rules answer it without raising; every reply re-decodes strictly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from fuzz.engine import Finding
from openami.protocols.echonet import (
    DeviceObject,
    EchonetDecodeError,
    Esv,
    Frame,
    Property,
    decode_frame,
    decode_property_map,
    encode_frame,
    handle_request,
    node_profile,
)
from openami.protocols.echonet import objects as obj
from openami.protocols.echonet import smart_meter as sm

ALLOWED = (EchonetDecodeError,)
MAX_LEN = 1024

_EDT_DECODERS: tuple[Callable[[bytes], object], ...] = (
    decode_property_map,
    obj.decode_instance_list,
    obj.decode_class_list,
    sm.decode_u32_energy,
    sm.decode_power_w,
    sm.decode_currents,
    sm.decode_history1_day,
    sm.decode_datetime,
    sm.DayHistory.decode,
    sm.FixedTimeValue.decode,
    sm.History2Setting.decode,
    sm.History2.decode,
)


def _objects() -> list[DeviceObject]:
    store = {0xE5: b"\x00"}

    def set_e5(edt: bytes) -> bool:
        store[0xE5] = bytes([sm.decode_history1_day(edt)])
        return True

    meter = DeviceObject(
        eoj=sm.SMART_METER_EOJ,
        getters={
            0x80: lambda: b"\x30",
            0xE0: lambda: sm.encode_u32(123),
            0xE5: lambda: store[0xE5],
        },
        setters={0xE5: set_e5},
        announced=frozenset({0x80}),
    )
    return [node_profile([meter], manufacturer_code=0xFFFFFF, unique_id=b"openami-fuzz!"), meter]


def setup() -> Callable[[bytes], None]:
    objects = _objects()

    def one_input(data: bytes) -> None:
        try:
            lenient = decode_frame(data, strict=False)
        except EchonetDecodeError:
            lenient = None
        frame = decode_frame(data)  # raises the allowed error for malformed bytes
        if lenient != frame:
            raise Finding(f"strict and lenient decoding differ: {frame} vs {lenient}")
        if encode_frame(frame) != bytes(data):
            raise Finding("a strictly decoded frame does not re-encode to its bytes")
        for reply in handle_request(frame, objects):
            if decode_frame(reply.encode()) != reply:
                raise Finding(f"reply does not round-trip: {reply}")
        for prop in (*frame.properties, *frame.get_properties):
            for decoder in _EDT_DECODERS:
                with contextlib.suppress(EchonetDecodeError):
                    decoder(prop.edt)

    return one_input


def seeds() -> dict[str, bytes]:
    node, meter, controller = obj.NODE_PROFILE_EOJ, sm.SMART_METER_EOJ, obj.CONTROLLER_EOJ
    at = sm.History2Setting(None, 12).encode()
    frames = {
        "get-e0-e7": Frame(1, controller, meter, Esv.GET, (Property(0xE0), Property(0xE7))),
        "get-maps": Frame(
            2, controller, meter, Esv.GET, tuple(Property(e) for e in (0x9D, 0x9E, 0x9F))
        ),
        "setc-e5": Frame(3, controller, meter, Esv.SETC, (Property(0xE5, b"\x01"),)),
        "setc-ed": Frame(4, controller, meter, Esv.SETC, (Property(0xED, at),)),
        "setget": Frame(
            5, controller, meter, Esv.SETGET, (Property(0xE5, b"\x02"),), (Property(0xE2),)
        ),
        "inf-instance-list": Frame(
            6, node, node, Esv.INF, (Property(0xD5, obj.encode_instance_list([meter])),)
        ),
        "get-res-ea": Frame(
            7,
            meter,
            controller,
            Esv.GET_RES,
            (
                Property(
                    0xEA,
                    sm.FixedTimeValue(
                        sm.decode_datetime(bytes.fromhex("07ea0b0c031e00")), 12345
                    ).encode(),
                ),
            ),
        ),
        "inf-req-class-wide": Frame(8, controller, 0x028800, Esv.INF_REQ, (Property(0x80),)),
        "infc": Frame(9, meter, controller, Esv.INFC, (Property(0x80, b"\x30"),)),
    }
    return {name: f.encode() for name, f in frames.items()}
