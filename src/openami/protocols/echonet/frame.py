"""ECHONET Lite frames (EDATA format 1, "specified message format").

Layout: EHD1 0x10, EHD2 0x81, TID (u16 BE), SEOJ (3 B), DEOJ (3 B), ESV, OPC, then OPC
times EPC PDC EDT. SetGet-family services (0x6E, 0x7E, 0x5E) carry two blocks: OPCSet with its
properties, then OPCGet with its properties.

EOJs are handled as 24-bit integers (``0x028801``: class group 0x02, class 0x88, instance 0x01).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from openami.protocols.echonet.errors import EchonetDecodeError

EHD1_ECHONET_LITE = 0x10
EHD2_FORMAT_1 = 0x81
EHD2_FORMAT_2 = 0x82
HEADER_LEN = 12
MAX_TID = 0xFFFF
MAX_EOJ = 0xFFFFFF


class Esv(IntEnum):
    """Service codes (ESV)."""

    SETI_SNA = 0x50
    SETC_SNA = 0x51
    GET_SNA = 0x52
    INF_SNA = 0x53
    SETGET_SNA = 0x5E
    SETI = 0x60
    SETC = 0x61
    GET = 0x62
    INF_REQ = 0x63
    SETGET = 0x6E
    SET_RES = 0x71
    GET_RES = 0x72
    INF = 0x73
    INFC = 0x74
    INFC_RES = 0x7A
    SETGET_RES = 0x7E


REQUEST_ESVS = frozenset({Esv.SETI, Esv.SETC, Esv.GET, Esv.INF_REQ, Esv.SETGET})
SNA_ESVS = frozenset({Esv.SETI_SNA, Esv.SETC_SNA, Esv.GET_SNA, Esv.INF_SNA, Esv.SETGET_SNA})
TWO_BLOCK_ESVS = frozenset({Esv.SETGET, Esv.SETGET_RES, Esv.SETGET_SNA})
_KNOWN_ESVS = frozenset(int(e) for e in Esv)

# the "not possible" reply for each request service
SNA_FOR_REQUEST = {
    Esv.SETI: Esv.SETI_SNA,
    Esv.SETC: Esv.SETC_SNA,
    Esv.GET: Esv.GET_SNA,
    Esv.INF_REQ: Esv.INF_SNA,
    Esv.SETGET: Esv.SETGET_SNA,
}
# the positive reply for each request service (SetI has none)
RES_FOR_REQUEST = {
    Esv.SETC: Esv.SET_RES,
    Esv.GET: Esv.GET_RES,
    Esv.INF_REQ: Esv.INF,
    Esv.SETGET: Esv.SETGET_RES,
}


class Property(NamedTuple):
    """One EPC with its data (EDT). A Get request or a Set_Res echo has empty ``edt``.

    A plain named tuple, so decoding stays cheap; EPC range and EDT length (at most 255
    bytes) are checked when a frame is encoded.
    """

    epc: int
    edt: bytes = b""

    @property
    def pdc(self) -> int:
        return len(self.edt)


@dataclass(slots=True)
class Frame:
    """A decoded format-1 frame (treat it as a value: build a new one rather than mutate).

    ``properties`` is the only block for ordinary services and the *Set* block for the
    SetGet family; ``get_properties`` is the *Get* block of the SetGet family (else empty).
    """

    tid: int
    seoj: int
    deoj: int
    esv: int
    properties: tuple[Property, ...] = ()
    get_properties: tuple[Property, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.tid <= MAX_TID:
            raise ValueError(f"TID must fit in 16 bits, got {self.tid}")
        if not (0 <= self.seoj <= MAX_EOJ and 0 <= self.deoj <= MAX_EOJ):
            raise ValueError("EOJs must fit in 24 bits")
        if not 0 <= self.esv <= 0xFF:
            raise ValueError(f"ESV must be one byte, got {self.esv}")
        if len(self.properties) > 0xFF or len(self.get_properties) > 0xFF:
            raise ValueError("at most 255 properties per block")
        if self.get_properties and self.esv not in TWO_BLOCK_ESVS:
            raise ValueError(f"ESV {self.esv:#04x} has no Get block")

    @property
    def is_two_block(self) -> bool:
        return self.esv in TWO_BLOCK_ESVS

    def edt(self, epc: int) -> bytes | None:
        """EDT of the first property ``epc`` in either block, or None when absent."""
        for prop in (*self.properties, *self.get_properties):
            if prop.epc == epc:
                return prop.edt
        return None

    def encode(self) -> bytes:
        return encode_frame(self)


def eoj(class_group: int, class_code: int, instance: int) -> int:
    """Build a 24-bit EOJ from its three bytes."""
    for part in (class_group, class_code, instance):
        if not 0 <= part <= 0xFF:
            raise ValueError(f"EOJ part out of range: {part}")
    return (class_group << 16) | (class_code << 8) | instance


def eoj_class(code: int) -> int:
    """The 16-bit class (group + class code) of an EOJ."""
    return code >> 8


def eoj_instance(code: int) -> int:
    return code & 0xFF


def _encode_block(out: bytearray, props: tuple[Property, ...]) -> None:
    out.append(len(props))
    for epc, edt in props:
        if not 0 <= epc <= 0xFF or len(edt) > 0xFF:
            raise ValueError(f"EPC {epc:#x} with {len(edt)} bytes of EDT cannot be encoded")
        out.append(epc)
        out.append(len(edt))
        out += edt


def encode_frame(frame: Frame) -> bytes:
    """Frame → bytes."""
    if frame.tid > MAX_TID or frame.seoj > MAX_EOJ or frame.deoj > MAX_EOJ or frame.esv > 0xFF:
        raise ValueError(f"header field out of range in {frame!r}")
    header = ((0x1081 << 64) | (frame.tid << 48) | (frame.seoj << 24) | frame.deoj) << 8 | frame.esv
    out = bytearray(header.to_bytes(HEADER_LEN - 1, "big"))
    _encode_block(out, frame.properties)
    if frame.esv in TWO_BLOCK_ESVS:
        _encode_block(out, frame.get_properties)
    return bytes(out)


def _decode_block(data: bytes, pos: int, end: int) -> tuple[tuple[Property, ...], int]:
    if pos >= end:
        raise EchonetDecodeError(f"truncated: OPC missing at offset {pos}")
    count = data[pos]
    pos += 1
    props: list[Property] = []
    for i in range(count):
        if pos + 2 > end:
            raise EchonetDecodeError(f"truncated: property {i + 1} of {count} has no EPC/PDC")
        epc = data[pos]
        pdc = data[pos + 1]
        pos += 2
        if pos + pdc > end:
            raise EchonetDecodeError(
                f"truncated: EPC {epc:#04x} declares {pdc} bytes, {end - pos} left"
            )
        props.append(Property(epc, data[pos : pos + pdc]))
        pos += pdc
    return tuple(props), pos


def decode_frame(data: bytes | bytearray | memoryview, *, strict: bool = True) -> Frame:
    """Bytes → Frame. Raises :class:`EchonetDecodeError` for anything malformed.

    With ``strict`` (default) bytes after the last property are an error and the ESV must be
    a known service code; with ``strict=False`` trailing bytes are ignored and unknown ESVs
    are decoded as one-block frames.
    """
    raw = data if isinstance(data, bytes) else bytes(data)
    end = len(raw)
    if end < HEADER_LEN:
        raise EchonetDecodeError(f"frame too short: {end} bytes, header needs {HEADER_LEN}")
    if raw[0] != EHD1_ECHONET_LITE:
        raise EchonetDecodeError(f"EHD1 {raw[0]:#04x} is not ECHONET Lite (0x10)")
    if raw[1] != EHD2_FORMAT_1:
        kind = "format 2 (arbitrary) is not supported" if raw[1] == EHD2_FORMAT_2 else "unknown"
        raise EchonetDecodeError(f"EHD2 {raw[1]:#04x}: {kind}")
    esv = raw[10]
    if strict and esv not in _KNOWN_ESVS:
        raise EchonetDecodeError(f"unknown ESV {esv:#04x}")
    props, pos = _decode_block(raw, 11, end)
    get_props: tuple[Property, ...] = ()
    if esv in TWO_BLOCK_ESVS:
        get_props, pos = _decode_block(raw, pos, end)
    if strict and pos != end:
        raise EchonetDecodeError(f"{end - pos} unexpected bytes after the last property")
    return Frame(
        tid=(raw[2] << 8) | raw[3],
        seoj=(raw[4] << 16) | (raw[5] << 8) | raw[6],
        deoj=(raw[7] << 16) | (raw[8] << 8) | raw[9],
        esv=esv,
        properties=props,
        get_properties=get_props,
    )
