"""A-XDR encoding of COSEM ``Data`` (IEC 62056-6-2 / Green Book) and the COSEM date-time.

Decoding returns plain Python values so that clients stay fast:

============================  ==============================================
DLMS type (tag)               Python value
============================  ==============================================
null-data (0)                 ``None``
array (1)                     ``list``
structure (2)                 ``tuple``
boolean (3)                   ``bool``
bit-string (4)                :class:`BitString`
integers (5, 6, 15-18, 20-22) ``int`` (enum (22) too)
octet-string (9)              ``bytes`` (a date-time is a 12-byte octet string)
visible-string (10), utf8     ``str``
float32 / float64 (23, 24)    ``float``
date-time/date/time (25-27)   ``bytes`` (the raw 12/5/4 bytes)
============================  ==============================================

Encoding is explicit: :func:`encode` takes natives for the unambiguous cases (``None``,
``bool``, ``bytes``, ``str``, ``tuple`` → structure, ``list`` → array) and a
:class:`Typed` wrapper for numbers, e.g. ``Typed(DataType.UINT32, 5)``. The small helpers
(:func:`u8`, :func:`u32`, :func:`octet_string` …) return encoded bytes directly and are what
hot paths use.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum
from typing import Any

from openami.protocols.dlms.errors import DlmsCodecError


class DataType(IntEnum):
    NULL = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    INT32 = 5  # double-long
    UINT32 = 6  # double-long-unsigned
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INT8 = 15  # integer
    INT16 = 16  # long
    UINT8 = 17  # unsigned
    UINT16 = 18  # long-unsigned
    COMPACT_ARRAY = 19
    INT64 = 20  # long64
    UINT64 = 21  # long64-unsigned
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27


class AxdrError(DlmsCodecError):
    """Malformed or unsupported A-XDR input."""


@dataclass(frozen=True, slots=True)
class BitString:
    """A bit-string: ``bits`` bits, most significant bit of ``data[0]`` first."""

    bits: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Typed:
    """A value with an explicit DLMS type, for :func:`encode`."""

    type: DataType
    value: Any


# --- length (BER-style, as A-XDR uses for variable-length items) -----------------------------
def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    return b"\x84" + n.to_bytes(4, "big")


def decode_length(buf: bytes, pos: int) -> tuple[int, int]:
    try:
        first = buf[pos]
    except IndexError:
        raise AxdrError("truncated length") from None
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(buf):
        raise AxdrError(f"bad length field 0x{first:02x}")
    return int.from_bytes(buf[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


# --- fixed-width encoders (fast paths) --------------------------------------------------------
_S_U8 = struct.Struct(">BB")
_S_I8 = struct.Struct(">Bb")
_S_U16 = struct.Struct(">BH")
_S_I16 = struct.Struct(">Bh")
_S_U32 = struct.Struct(">BI")
_S_I32 = struct.Struct(">Bi")
_S_U64 = struct.Struct(">BQ")
_S_I64 = struct.Struct(">Bq")
_S_F32 = struct.Struct(">Bf")
_S_F64 = struct.Struct(">Bd")


def null() -> bytes:
    return b"\x00"


def boolean(v: bool) -> bytes:
    return b"\x03\x01" if v else b"\x03\x00"


def u8(v: int) -> bytes:
    return _S_U8.pack(17, v)


def i8(v: int) -> bytes:
    return _S_I8.pack(15, v)


def u16(v: int) -> bytes:
    return _S_U16.pack(18, v)


def i16(v: int) -> bytes:
    return _S_I16.pack(16, v)


def u32(v: int) -> bytes:
    return _S_U32.pack(6, v)


def i32(v: int) -> bytes:
    return _S_I32.pack(5, v)


def u64(v: int) -> bytes:
    return _S_U64.pack(21, v)


def i64(v: int) -> bytes:
    return _S_I64.pack(20, v)


def enum(v: int) -> bytes:
    return _S_U8.pack(22, v)


def octet_string(v: bytes) -> bytes:
    return b"\x09" + encode_length(len(v)) + v


def visible_string(v: str) -> bytes:
    raw = v.encode("ascii")
    return b"\x0a" + encode_length(len(raw)) + raw


def structure(*items: bytes) -> bytes:
    return b"\x02" + encode_length(len(items)) + b"".join(items)


def array(items: list[bytes]) -> bytes:
    return b"\x01" + encode_length(len(items)) + b"".join(items)


_FIXED_ENCODERS: dict[DataType, Callable[[Any], bytes]] = {
    DataType.INT8: i8,
    DataType.UINT8: u8,
    DataType.INT16: i16,
    DataType.UINT16: u16,
    DataType.INT32: i32,
    DataType.UINT32: u32,
    DataType.INT64: i64,
    DataType.UINT64: u64,
    DataType.ENUM: enum,
    DataType.FLOAT32: lambda v: _S_F32.pack(23, v),
    DataType.FLOAT64: lambda v: _S_F64.pack(24, v),
    DataType.BOOLEAN: boolean,
}


def encode(value: Any) -> bytes:
    """Encode a value (see the module docstring for the mapping) as A-XDR ``Data``."""
    if value is None:
        return b"\x00"
    if isinstance(value, bool):
        return boolean(value)
    if isinstance(value, bytes | bytearray):
        return octet_string(bytes(value))
    if isinstance(value, str):
        return visible_string(value)
    if isinstance(value, tuple):
        return b"\x02" + encode_length(len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, list):
        return b"\x01" + encode_length(len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, BitString):
        return b"\x04" + encode_length(value.bits) + value.data
    if isinstance(value, Typed):
        enc = _FIXED_ENCODERS.get(value.type)
        if enc is not None:
            try:
                return enc(value.value)
            except struct.error as exc:
                raise AxdrError(f"{value.value!r} does not fit {value.type.name}") from exc
        if value.type in (DataType.DATE_TIME, DataType.DATE, DataType.TIME):
            return bytes((value.type,)) + bytes(value.value)
        if value.type == DataType.UTF8_STRING:
            raw = str(value.value).encode("utf-8")
            return b"\x0c" + encode_length(len(raw)) + raw
        return encode(value.value) if value.type in _NATIVE_TYPES else _unsupported(value.type)
    if isinstance(value, int):
        raise AxdrError("bare int is ambiguous in A-XDR; wrap it in Typed(DataType.X, v)")
    raise AxdrError(f"cannot encode {type(value).__name__}")


_NATIVE_TYPES = {
    DataType.NULL,
    DataType.ARRAY,
    DataType.STRUCTURE,
    DataType.OCTET_STRING,
    DataType.VISIBLE_STRING,
    DataType.BIT_STRING,
}


def _unsupported(tag: int) -> bytes:
    raise AxdrError(f"unsupported data type {tag}")


# --- decoder ----------------------------------------------------------------------------------
_FIXED_DECODE: dict[int, tuple[struct.Struct, int]] = {
    5: (struct.Struct(">i"), 4),
    6: (struct.Struct(">I"), 4),
    15: (struct.Struct(">b"), 1),
    16: (struct.Struct(">h"), 2),
    17: (struct.Struct(">B"), 1),
    18: (struct.Struct(">H"), 2),
    20: (struct.Struct(">q"), 8),
    21: (struct.Struct(">Q"), 8),
    22: (struct.Struct(">B"), 1),
    23: (struct.Struct(">f"), 4),
    24: (struct.Struct(">d"), 8),
}
_RAW_FIXED = {25: 12, 26: 5, 27: 4}
MAX_DEPTH = 16


def decode(buf: bytes, pos: int = 0, depth: int = 0) -> tuple[Any, int]:
    """Decode one ``Data`` item at ``pos``; return (value, position after it)."""
    try:
        tag = buf[pos]
    except IndexError:
        raise AxdrError("truncated data: missing tag") from None
    pos += 1
    fixed = _FIXED_DECODE.get(tag)
    if fixed is not None:
        st, size = fixed
        if pos + size > len(buf):
            raise AxdrError(f"truncated data of type {tag}")
        return st.unpack_from(buf, pos)[0], pos + size
    if tag == 9 or tag == 10 or tag == 12 or tag == 13:
        n, pos = decode_length(buf, pos)
        end = pos + n
        if end > len(buf):
            raise AxdrError("truncated string")
        raw = bytes(buf[pos:end])
        if tag == 10:
            return raw.decode("ascii", "replace"), end
        if tag == 12:
            return raw.decode("utf-8", "replace"), end
        return raw, end
    if tag == 2 or tag == 1:
        if depth >= MAX_DEPTH:
            raise AxdrError("data nested too deeply")
        n, pos = decode_length(buf, pos)
        if n > len(buf) - pos:
            raise AxdrError("element count larger than the data")
        items = []
        for _ in range(n):
            item, pos = decode(buf, pos, depth + 1)
            items.append(item)
        return (tuple(items) if tag == 2 else items), pos
    if tag == 0:
        return None, pos
    if tag == 3:
        if pos >= len(buf):
            raise AxdrError("truncated boolean")
        return buf[pos] != 0, pos + 1
    if tag == 4:
        bits, pos = decode_length(buf, pos)
        end = pos + (bits + 7) // 8
        if end > len(buf):
            raise AxdrError("truncated bit-string")
        return BitString(bits, bytes(buf[pos:end])), end
    raw_size = _RAW_FIXED.get(tag)
    if raw_size is not None:
        end = pos + raw_size
        if end > len(buf):
            raise AxdrError("truncated date/time")
        return bytes(buf[pos:end]), end
    raise AxdrError(f"unsupported data type tag {tag}")


_FIXED_SIZE = {tag: size for tag, (_st, size) in _FIXED_DECODE.items()}
_FIXED_SIZE.update({3: 1, **_RAW_FIXED})


def skip(buf: bytes, pos: int = 0, depth: int = 0) -> int:
    """Position just after the ``Data`` item at ``pos``, without building its value."""
    try:
        tag = buf[pos]
    except IndexError:
        raise AxdrError("truncated data: missing tag") from None
    pos += 1
    size = _FIXED_SIZE.get(tag)
    if size is not None:
        end = pos + size
    elif tag == 0:
        return pos
    elif tag in (9, 10, 12, 13):
        n, pos = decode_length(buf, pos)
        end = pos + n
    elif tag == 1 or tag == 2:
        if depth >= MAX_DEPTH:
            raise AxdrError("data nested too deeply")
        n, pos = decode_length(buf, pos)
        if n > len(buf) - pos:
            raise AxdrError("element count larger than the data")
        for _ in range(n):
            pos = skip(buf, pos, depth + 1)
        return pos
    elif tag == 4:
        bits, pos = decode_length(buf, pos)
        end = pos + (bits + 7) // 8
    else:
        raise AxdrError(f"unsupported data type tag {tag}")
    if end > len(buf):
        raise AxdrError(f"truncated data of type {tag}")
    return end


def decode_all(buf: bytes) -> Any:
    """Decode exactly one ``Data`` item that fills ``buf``."""
    value, pos = decode(buf, 0)
    if pos != len(buf):
        raise AxdrError(f"{len(buf) - pos} trailing bytes after data")
    return value


# --- COSEM date-time (12-byte octet string) ---------------------------------------------------
_DT = struct.Struct(">HBBBBBBBhB")
DEVIATION_UNSPECIFIED = -0x8000


def encode_datetime(moment: datetime, status: int = 0) -> bytes:
    """12-byte COSEM date-time in the moment's own local time.

    ``deviation`` follows the Blue Book / gurux convention: minutes *from local time to UTC*,
    so JST (UTC+9) is ``-540``.
    """
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("date-time must be timezone-aware")
    deviation = -int(offset.total_seconds() // 60)
    return _DT.pack(
        moment.year,
        moment.month,
        moment.day,
        moment.isoweekday(),
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 10000,
        deviation,
        status,
    )


def decode_datetime(raw: bytes, default_tz: timezone | None = None) -> datetime:
    """Aware datetime from a 12-byte COSEM date-time.

    Unspecified hundredths/seconds (0xFF) count as 0. An unspecified deviation uses
    ``default_tz`` (UTC when None). Wildcard date or time fields are refused.
    """
    if len(raw) != 12:
        raise AxdrError(f"a COSEM date-time has 12 bytes, got {len(raw)}")
    year, month, day, _dow, hour, minute, second, hundredths, deviation, _st = _DT.unpack(raw)
    if year == 0xFFFF or month > 12 or day > 31 or hour == 0xFF or minute == 0xFF:
        raise AxdrError("date-time with wildcard fields is not supported here")
    if second == 0xFF:
        second = 0
    if hundredths == 0xFF:
        hundredths = 0
    if deviation == DEVIATION_UNSPECIFIED:
        tz = default_tz or UTC
    else:
        if not -840 <= deviation <= 840:
            raise AxdrError(f"date-time deviation {deviation} out of range")
        tz = timezone(timedelta(minutes=-deviation))
    try:
        return datetime(year, month, day, hour, minute, second, hundredths * 10000, tzinfo=tz)
    except ValueError as exc:
        raise AxdrError(f"invalid date-time: {exc}") from exc


def encode_epoch_datetime(epoch_s: int, offset_minutes: int = 540) -> bytes:
    """Fast 12-byte date-time for whole-second epoch times at a fixed UTC offset."""
    moment = datetime.fromtimestamp(epoch_s, timezone(timedelta(minutes=offset_minutes)))
    return encode_datetime(moment)
