"""Lines of the openami PLC link profile (OPLC/1).

ASCII lines ending in CRLF; payloads as upper-case hex, so a line never carries a control
byte. Host → modem::

    PLCINFO                       → EINFO <modem MAC, 16 hex> <state>  then OK
    PLCSETID <B-route ID, 32>     → OK
    PLCSETPWD <password, 1–32>    → OK
    PLCJOIN                       → OK, then EVENT 25 <meter address> (authenticated),
                                    EVENT 24 (authentication failed) or
                                    EVENT 22 (no meter answered on the line)
    PLCSEND <len, 4 hex> <data>   → OK; each reply of the meter: ERX <address> <len> <data>
    PLCTERM                       → OK, then EVENT 27

Refusals: ``FAIL E01`` unknown command, ``FAIL E02`` bad argument, ``FAIL E10`` not joined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 1232  # an IPv6 minimum MTU's UDP payload: ECHONET Lite frames fit
MAX_LINE_BYTES = 16 + 2 * MAX_PAYLOAD_BYTES + 64
FAIL_UNKNOWN_COMMAND = 1
FAIL_BAD_ARGUMENT = 2
FAIL_NOT_JOINED = 10
PLC_EVENT_NO_METER = 0x22
PLC_EVENT_AUTH_FAILED = 0x24
PLC_EVENT_JOINED = 0x25
PLC_EVENT_TERMINATED = 0x27
_HEX = re.compile(r"^[0-9A-F]*$")


class PlcFormatError(ValueError):
    """A line that is not OPLC/1 (the one error this codec raises)."""


@dataclass(frozen=True)
class PlcOk:
    pass


@dataclass(frozen=True)
class PlcFail:
    code: int


@dataclass(frozen=True)
class PlcInfo:
    mac: bytes
    state: str


@dataclass(frozen=True)
class PlcEvent:
    event: int
    address: str | None


@dataclass(frozen=True)
class PlcReceived:
    address: str
    data: bytes


PlcLine = PlcOk | PlcFail | PlcInfo | PlcEvent | PlcReceived


def encode_command(name: str, *args: str) -> bytes:
    """One host command line."""
    for arg in args:
        if not arg or not arg.isascii() or any(c.isspace() for c in arg):
            raise PlcFormatError("arguments are non-empty ASCII without spaces")
    return (" ".join((name, *args)) + "\r\n").encode("ascii")


def encode_send(data: bytes) -> bytes:
    if not 0 < len(data) <= MAX_PAYLOAD_BYTES:
        raise PlcFormatError(f"a payload has 1–{MAX_PAYLOAD_BYTES} bytes")
    return encode_command("PLCSEND", f"{len(data):04X}", data.hex().upper())


def decode_payload(length: str, data: str) -> bytes:
    """The bytes of a ``<len> <hex>`` pair, checked."""
    if len(length) != 4 or not _HEX.match(length) or not _HEX.match(data) or len(data) % 2:
        raise PlcFormatError("length and data are upper-case hex, two digits a byte")
    payload = bytes.fromhex(data)
    if len(payload) != int(length, 16) or not 0 < len(payload) <= MAX_PAYLOAD_BYTES:
        raise PlcFormatError("the payload's length does not match")
    return payload


def ok() -> bytes:
    return b"OK\r\n"


def fail(code: int) -> bytes:
    return f"FAIL E{code:02d}\r\n".encode()


def event(number: int, address: str | None = None) -> bytes:
    tail = f" {address}" if address else ""
    return f"EVENT {number:02X}{tail}\r\n".encode()


def received(address: str, data: bytes) -> bytes:
    return f"ERX {address} {len(data):04X} {data.hex().upper()}\r\n".encode()


def info(mac: bytes, state: str) -> bytes:
    return f"EINFO {mac.hex().upper()} {state}\r\n".encode()


def parse_line(line: bytes) -> PlcLine:
    """What the modem printed (one line, without its CRLF)."""
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise PlcFormatError("lines are ASCII") from None
    fields = text.split()
    match fields:
        case ["OK"]:
            return PlcOk()
        case ["FAIL", code] if re.fullmatch(r"E\d\d", code):
            return PlcFail(int(code[1:]))
        case ["EINFO", mac, state] if len(mac) == 16 and _HEX.match(mac):
            return PlcInfo(bytes.fromhex(mac), state)
        case ["EVENT", number, *rest] if len(number) == 2 and _HEX.match(number) and len(rest) < 2:
            return PlcEvent(int(number, 16), rest[0] if rest else None)
        case ["ERX", address, length, data]:
            return PlcReceived(address, decode_payload(length, data))
    raise PlcFormatError(f"not an OPLC/1 line: {text[:40]!r}")
