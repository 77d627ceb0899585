"""SKSTACK IP lines of Wi-SUN modules (BP35A1 "A1" and BP35C2 "C2" dialects).

Pure functions: commands the host sends, and the responses and events the module prints.
Lines are ASCII and end in CRLF; hex fields are upper case. The two dialects differ in a
"side" field (C2 only) in EINFO, EVENT, ERXUDP, SKSCAN and SKSENDTO, an LQI field in C2's
ERXUDP when register SA2 is 1, and a ``Side:`` line in C2's EPANDESC block.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from openami.protocols.skstack.errors import SkFormatError

CRLF = b"\r\n"
ECHONET_PORT = 0x0E1A  # 3610
PANA_PORT = 0x02CC  # 716
MULTICAST_ALL_NODES = "FF02:0000:0000:0000:0000:0000:0000:0001"
MAX_UDP_PAYLOAD = 0x04D0  # 1232 bytes
A1_SIDE_FIELD = 0xFFFE  # what a BP35A1 prints where a BP35C2 prints its side


class Dialect(enum.Enum):
    """The two SKSTACK IP command families."""

    BP35A1 = "bp35a1"
    BP35C2 = "bp35c2"

    @property
    def has_side(self) -> bool:
        return self is Dialect.BP35C2


class ErrorCode(enum.IntEnum):
    """``FAIL ERxx`` codes."""

    UNSUPPORTED = 4  # ER04 unknown or unsupported command
    INVALID_ARGUMENT = 5  # ER05 wrong argument count or value
    SYNTAX = 6  # ER06 syntax error
    UART_INPUT = 9  # ER09 serial input error (e.g. line too long)
    FAILED = 10  # ER10 accepted but failed to execute


class Event(enum.IntEnum):
    """``EVENT xx`` numbers (hex on the wire)."""

    NS_RECEIVED = 0x01
    NA_RECEIVED = 0x02
    ECHO_REQUEST = 0x05
    ED_SCAN_DONE = 0x1F
    BEACON = 0x20
    UDP_SENT = 0x21
    ACTIVE_SCAN_DONE = 0x22
    PANA_FAILED = 0x24
    PANA_OK = 0x25
    TERM_REQUESTED = 0x26
    TERM_DONE = 0x27
    TERM_TIMEOUT = 0x28
    SESSION_EXPIRED = 0x29
    TX_LIMIT_ON = 0x32
    TX_LIMIT_OFF = 0x33


# -- addresses --------------------------------------------------------------------------------
def ipv6_text(raw: bytes) -> str:
    """16 bytes as the module prints them: 8 groups of 4 upper-case hex digits."""
    if len(raw) != 16:
        raise ValueError(f"an IPv6 address has 16 bytes, got {len(raw)}")
    h = raw.hex().upper()
    return ":".join(h[i : i + 4] for i in range(0, 32, 4))


def link_local_of(mac: bytes) -> str:
    """``SKLL64``: FE80::/64 plus the EUI-64 with the universal/local bit flipped."""
    if len(mac) != 8:
        raise ValueError(f"a MAC (EUI-64) has 8 bytes, got {len(mac)}")
    iid = bytes([mac[0] ^ 0x02]) + mac[1:]
    return ipv6_text(bytes.fromhex("FE80000000000000") + iid)


def mac_text(mac: bytes) -> str:
    return mac.hex().upper()


def scan_duration_s(duration: int) -> float:
    """Air time of an active scan on real radio: 0.0096 s × (2^duration + 1) × 28 channels."""
    return 0.0096 * (2**duration + 1) * 28


def pairing_id(rbid: str) -> str:
    """The pairing ID (register S0A) a module derives from a B-route ID: its last 8 chars."""
    return rbid[-8:].upper()


# -- host -> module commands ------------------------------------------------------------------
def encode_command(name: str, *args: str) -> bytes:
    """A command line as a host sends it (CRLF-terminated)."""
    return " ".join((name, *args)).encode("ascii") + CRLF


def encode_sksendto(
    dialect: Dialect,
    dest: str,
    payload: bytes,
    *,
    handle: int = 1,
    port: int = ECHONET_PORT,
    sec: int = 2,
    side: int = 0,
) -> bytes:
    """SKSENDTO header, one space and the raw payload, with no terminator."""
    if not 1 <= len(payload) <= MAX_UDP_PAYLOAD:
        raise ValueError(f"SKSENDTO carries 1..{MAX_UDP_PAYLOAD} bytes, got {len(payload)}")
    fields = ["SKSENDTO", str(handle), dest, f"{port:04X}", str(sec)]
    if dialect.has_side:
        fields.append(str(side))
    fields.append(f"{len(payload):04X}")
    return (" ".join(fields) + " ").encode("ascii") + payload


# -- module -> host lines ---------------------------------------------------------------------
def ok() -> bytes:
    return b"OK" + CRLF


def fail(code: ErrorCode | int) -> bytes:
    return f"FAIL ER{int(code):02d}".encode("ascii") + CRLF


def line(text: str) -> bytes:
    return text.encode("ascii") + CRLF


def format_event(
    dialect: Dialect, event: Event | int, addr: str, param: int | None = None, side: int = 0
) -> bytes:
    """``EVENT <num> <addr> [<side>] [<param>]`` (side only in the C2 dialect)."""
    fields = ["EVENT", f"{int(event):02X}", addr]
    if dialect.has_side:
        fields.append(str(side))
    if param is not None:
        fields.append(f"{param:02X}")
    return line(" ".join(fields))


def format_einfo(
    dialect: Dialect, ip6: str, mac: bytes, channel: int, pan_id: int, side: int = 0
) -> bytes:
    """``EINFO``: A1 prints ADDR16 FFFE in the 5th field, C2 prints its side there."""
    last = f"{A1_SIDE_FIELD:04X}" if dialect is Dialect.BP35A1 else str(side)
    return line(f"EINFO {ip6} {mac_text(mac)} {channel:02X} {pan_id:04X} {last}")


@dataclass(frozen=True)
class PanDescriptor:
    """What an active scan reports about one PAN (the EPANDESC block)."""

    channel: int
    channel_page: int
    pan_id: int
    mac: bytes
    lqi: int
    pair_id: str | None = None  # only in active scan mode 2
    side: int | None = None  # only in the C2 dialect

    @property
    def rssi_dbm(self) -> float:
        return 0.275 * self.lqi - 104.27


def format_epandesc(dialect: Dialect, desc: PanDescriptor) -> bytes:
    """The EPANDESC block; every field line starts with two spaces."""
    rows = [
        "EPANDESC",
        f"  Channel:{desc.channel:02X}",
        f"  Channel Page:{desc.channel_page:02X}",
        f"  Pan ID:{desc.pan_id:04X}",
        f"  Addr:{mac_text(desc.mac)}",
        f"  LQI:{desc.lqi:02X}",
    ]
    if desc.pair_id is not None:
        rows.append(f"  PairID:{desc.pair_id}")
    if dialect.has_side:
        rows.append(f"  Side:{desc.side or 0}")
    return b"".join(line(r) for r in rows)


def parse_epandesc(lines: list[str]) -> PanDescriptor:
    """Read an EPANDESC block (the field lines after ``EPANDESC``)."""
    fields: dict[str, str] = {}
    for raw in lines:
        key, sep, value = raw.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    try:
        return PanDescriptor(
            channel=int(fields["Channel"], 16),
            channel_page=int(fields["Channel Page"], 16),
            pan_id=int(fields["Pan ID"], 16),
            mac=bytes.fromhex(fields["Addr"]),
            lqi=int(fields["LQI"], 16),
            pair_id=fields.get("PairID"),
            side=int(fields["Side"], 16) if "Side" in fields else None,
        )
    except (KeyError, ValueError) as exc:
        raise SkFormatError(f"incomplete EPANDESC block: {lines!r}") from exc


@dataclass(frozen=True)
class RxUdp:
    """One received UDP datagram (ERXUDP)."""

    sender: str
    dest: str
    rport: int
    lport: int
    sender_mac: bytes
    secured: int
    data: bytes
    side: int | None = None  # C2 only
    lqi: int | None = None  # C2 with SA2=1 only


def format_erxudp(
    dialect: Dialect, rx: RxUdp, *, with_lqi: bool = False, hex_ascii: bool = True
) -> bytes:
    """ERXUDP in the dialect's field order.

    A1: sender dest rport lport senderlla secured datalen data.
    C2: the same with side before datalen, and LQI before secured when SA2=1.
    ``hex_ascii=False`` (WOPT 00) prints the data as raw bytes.
    """
    fields = [
        "ERXUDP",
        rx.sender,
        rx.dest,
        f"{rx.rport:04X}",
        f"{rx.lport:04X}",
        mac_text(rx.sender_mac),
    ]
    if dialect.has_side and with_lqi:
        fields.append(f"{(rx.lqi or 0):02X}")
    fields.append(str(rx.secured))
    if dialect.has_side:
        fields.append(str(rx.side or 0))
    fields.append(f"{len(rx.data):04X}")
    head = (" ".join(fields) + " ").encode("ascii")
    body = rx.data.hex().upper().encode("ascii") if hex_ascii else rx.data
    return head + body + CRLF


def parse_erxudp(dialect: Dialect, text: str) -> RxUdp:
    """Read a hex-ASCII ERXUDP line (A1: 8 fields; C2: 9 fields, or 10 with the LQI)."""
    parts = text.split()
    if not parts or parts[0] != "ERXUDP":
        raise SkFormatError(f"not an ERXUDP line: {text!r}")
    fields = parts[1:]
    try:
        if dialect is Dialect.BP35A1:
            if len(fields) != 8:
                raise SkFormatError(f"A1 ERXUDP has 8 fields, got {len(fields)}")
            sender, dest, rport, lport, mac, sec, length, data = fields
            side = lqi = None
        elif len(fields) == 10:
            sender, dest, rport, lport, mac, lqi_s, sec, side_s, length, data = fields
            lqi, side = int(lqi_s, 16), int(side_s, 16)
        elif len(fields) == 9:
            sender, dest, rport, lport, mac, sec, side_s, length, data = fields
            lqi, side = None, int(side_s, 16)
        else:
            raise SkFormatError(f"C2 ERXUDP has 9 or 10 fields, got {len(fields)}")
        payload = bytes.fromhex(data)
        if len(payload) != int(length, 16):
            raise SkFormatError(f"ERXUDP length {length} does not match {len(payload)} bytes")
        return RxUdp(
            sender=sender,
            dest=dest,
            rport=int(rport, 16),
            lport=int(lport, 16),
            sender_mac=bytes.fromhex(mac),
            secured=int(sec, 16),
            data=payload,
            side=side,
            lqi=lqi,
        )
    except ValueError as exc:
        if isinstance(exc, SkFormatError):
            raise
        raise SkFormatError(f"unreadable ERXUDP line: {text!r}") from exc


@dataclass(frozen=True)
class SkEvent:
    """One ``EVENT`` line."""

    event: int
    addr: str
    param: int | None = None
    side: int | None = None


def parse_event(dialect: Dialect, text: str) -> SkEvent:
    """Read an EVENT line of the given dialect."""
    parts = text.split()
    if len(parts) < 3 or parts[0] != "EVENT":
        raise SkFormatError(f"not an EVENT line: {text!r}")
    try:
        num = int(parts[1], 16)
        rest = parts[3:]
        side = None
        if dialect.has_side:
            if not rest:
                raise SkFormatError(f"C2 EVENT lines carry a side: {text!r}")
            side, rest = int(rest[0], 16), rest[1:]
        if len(rest) > 1:
            raise SkFormatError(f"too many fields in EVENT line: {text!r}")
        param = int(rest[0], 16) if rest else None
    except ValueError as exc:
        raise SkFormatError(f"unreadable EVENT line: {text!r}") from exc
    return SkEvent(num, parts[2], param, side)
