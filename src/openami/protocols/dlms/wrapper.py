"""The DLMS TCP/UDP wrapper (IEC 62056-47, Green Book "wrapper"): 8-byte header + APDU.

Header: version ``0x0001``, source wPort, destination wPort, payload length (all uint16,
big-endian). The client's wPort is its SAP (16 = public client), the server's wPort its
logical device.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from openami.protocols.dlms.errors import DlmsCodecError

WRAPPER_VERSION = 1
HEADER = struct.Struct(">HHHH")
HEADER_SIZE = HEADER.size
DEFAULT_PORT = 4059


class WrapperError(DlmsCodecError):
    """The byte stream is not a DLMS wrapper stream (the connection should be closed)."""


@dataclass(frozen=True, slots=True)
class WrapperFrame:
    source: int
    destination: int
    payload: bytes


def encode_wrapper(source: int, destination: int, payload: bytes) -> bytes:
    if len(payload) > 0xFFFF:
        raise WrapperError(f"APDU of {len(payload)} bytes does not fit a wrapper frame")
    return HEADER.pack(WRAPPER_VERSION, source, destination, len(payload)) + payload


class WrapperDecoder:
    """Feed stream bytes, get complete frames. A bad version raises :class:`WrapperError`."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[WrapperFrame]:
        buf = self._buf
        buf += data
        frames: list[WrapperFrame] = []
        pos = 0
        n = len(buf)
        while n - pos >= HEADER_SIZE:
            version, src, dst, length = HEADER.unpack_from(buf, pos)
            if version != WRAPPER_VERSION:
                raise WrapperError(f"wrapper version {version}, expected {WRAPPER_VERSION}")
            end = pos + HEADER_SIZE + length
            if end > n:
                break
            frames.append(WrapperFrame(src, dst, bytes(buf[pos + HEADER_SIZE : end])))
            pos = end
        if pos:
            del buf[:pos]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)
