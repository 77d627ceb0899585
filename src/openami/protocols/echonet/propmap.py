"""Property maps (EPC 0x9D announce, 0x9E Set, 0x9F Get).

Byte 0 is the number of properties N. With N < 16 the N EPCs follow as single bytes. With
N >= 16 a 16-byte bitmap follows: bit j of byte i stands for EPC ``0x80 + 0x10*j + i``.
"""

from __future__ import annotations

from collections.abc import Iterable

from openami.protocols.echonet.frame import EchonetDecodeError

BITMAP_THRESHOLD = 16


def encode_property_map(epcs: Iterable[int]) -> bytes:
    """Sorted, de-duplicated EPCs (0x80–0xFF) → property map EDT (list or bitmap form)."""
    codes = sorted(set(epcs))
    for code in codes:
        if not 0x80 <= code <= 0xFF:
            raise ValueError(f"EPC {code:#x} cannot appear in a property map (0x80–0xFF only)")
    if len(codes) < BITMAP_THRESHOLD:
        return bytes([len(codes), *codes])
    bitmap = bytearray(16)
    for code in codes:
        offset = code - 0x80
        bitmap[offset & 0x0F] |= 1 << (offset >> 4)
    return bytes([len(codes)]) + bytes(bitmap)


def decode_property_map(edt: bytes) -> frozenset[int]:
    """Property map EDT → set of EPCs. Raises :class:`EchonetDecodeError` when malformed."""
    if not edt:
        raise EchonetDecodeError("empty property map")
    count = edt[0]
    if count < BITMAP_THRESHOLD:
        if len(edt) != count + 1:
            raise EchonetDecodeError(
                f"property map lists {count} EPCs but carries {len(edt) - 1} bytes"
            )
        codes = frozenset(edt[1:])
        if len(codes) != count:
            raise EchonetDecodeError("property map lists an EPC twice")
        return codes
    if len(edt) != 17:
        raise EchonetDecodeError(f"bitmap property map must be 17 bytes, got {len(edt)}")
    found = frozenset(
        0x80 + (bit << 4) + byte_index
        for byte_index in range(16)
        for bit in range(8)
        if edt[1 + byte_index] & (1 << bit)
    )
    if len(found) != count:
        raise EchonetDecodeError(f"bitmap has {len(found)} bits set but count says {count}")
    return found
