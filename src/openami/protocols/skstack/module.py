"""A Wi-SUN module (BP35A1 or BP35C2) as a sans-IO state machine.

Feed it what the host writes (``receive_data``) and take what it does (``next_event``):
``Output`` bytes for the host, ``UdpSend`` datagrams for the network (answer each with
``send_result``), ``Joined`` / ``SessionEnded`` notices. Datagrams from the network come in
with ``receive_udp``. The radio and PANA are emulated as state: an active scan finds the
meter only when the pairing ID (last 8 chars of the B-route ID) matches; SKJOIN gives EVENT 25
with the right ID, password, channel, PAN ID and address, EVENT 24 otherwise.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field

from openami.protocols.skstack.codec import (
    MAX_UDP_PAYLOAD,
    PANA_PORT,
    Dialect,
    ErrorCode,
    Event,
    PanDescriptor,
    RxUdp,
    fail,
    format_einfo,
    format_epandesc,
    format_erxudp,
    format_event,
    line,
    link_local_of,
    ok,
    pairing_id,
    scan_duration_s,
)
from openami.protocols.skstack.events import (
    Joined,
    MeterRadio,
    ModuleEvent,
    Output,
    RadioTime,
    SessionEnded,
    UdpSend,
)
from openami.protocols.skstack.reader import CommandReader, Overlong, RawLine, RawSendTo

STACK_VERSION = "1.2.10"
APP_VERSION = "rev26e"
# register number -> (default value, read-only, value range)
_REGISTERS: dict[int, tuple[int, bool, tuple[int, int]]] = {
    0x02: (0x21, False, (0x21, 0x3C)),  # channel
    0x03: (0xFFFF, False, (0, 0xFFFF)),  # PAN ID
    0x07: (0, True, (0, 0xFFFFFFFF)),  # frame counter
    0x0A: (0, False, (0, 0xFFFFFFFF)),  # pairing ID (stored as text, see below)
    0x15: (1, False, (0, 1)),  # respond to beacon requests
    0x16: (0x384, False, (0x3C, 0xFFFFFFFF)),  # PANA session lifetime [s]
    0x17: (1, False, (0, 1)),  # automatic re-authentication
    0xA0: (1, False, (0, 1)),  # encrypt IP multicast
    0xA1: (1, False, (0, 1)),  # answer ICMP echo
    0xA2: (0, False, (0, 1)),  # RSSI/LQI in ERXUDP (C0/C2)
    0xFB: (0, True, (0, 1)),  # transmission restricted
    0xFD: (0, False, (0, 0xFFFFFFFF)),  # accumulated send time [ms]
    0xFE: (1, False, (0, 1)),  # echo back
    0xFF: (0, False, (0, 1)),  # auto load
}


JOIN_RADIO_S = 4.0  # a PANA handshake over the air takes a few seconds


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.IPv6Address(a) == ipaddress.IPv6Address(b)
    except ValueError:
        return False


@dataclass
class _State:
    registers: dict[int, int] = field(
        default_factory=lambda: {k: v[0] for k, v in _REGISTERS.items()}
    )
    pair_id: str = ""
    rbid: str | None = None
    password: str | None = None
    session: str | None = None  # the meter address while a PANA session is up
    tx_limited: bool = False


class SkModule:
    """One emulated module. Not thread-safe: drive it from one thread."""

    def __init__(
        self,
        dialect: Dialect,
        meter: MeterRadio | None,
        own_mac: bytes,
        *,
        wopt: int = 1,
        ropt_supported: bool = True,
    ) -> None:
        self.dialect = dialect
        self.meter = meter
        self.own_mac = own_mac
        self.own_address = link_local_of(own_mac)
        self.wopt = wopt
        self.wopt_writes = 0
        self.ropt_supported = ropt_supported
        self._reader = CommandReader()
        self._events: deque[ModuleEvent] = deque()
        self._awaiting: UdpSend | None = None
        self._s = _State()
        self.errors = 0  # FAIL lines printed

    # -- state the transport may look at ----------------------------------------------------
    @property
    def session_address(self) -> str | None:
        return self._s.session

    @property
    def echo(self) -> bool:
        return self._s.registers[0xFE] == 1

    @property
    def tx_limited(self) -> bool:
        return self._s.tx_limited

    def register(self, number: int) -> int:
        return self._s.registers[number]

    # -- feeding ---------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        self._reader.feed(data)

    def next_event(self) -> ModuleEvent | None:
        while not self._events and self._awaiting is None:
            item = self._reader.next_item()
            if item is None:
                return None
            self._handle(item)
        return self._events.popleft() if self._events else None

    def send_result(self, delivered: bool) -> None:
        """The outcome of the last ``UdpSend``: prints EVENT 21 (00 or 01) and OK."""
        sent = self._awaiting
        if sent is None:
            raise RuntimeError("no UdpSend is waiting for its result")
        self._awaiting = None
        self._event(Event.UDP_SENT, sent.dest, 0 if delivered else 1)
        self._out(ok())

    def receive_udp(
        self, sender: str, dest: str, payload: bytes, *, rport: int = 0x0E1A, lport: int = 0x0E1A
    ) -> bool:
        """A datagram from the meter: printed as ERXUDP while a session is up."""
        meter = self.meter
        if self._s.session is None or meter is None:
            return False
        rx = RxUdp(sender, dest, rport, lport, meter.mac, 1, payload, side=0, lqi=meter.lqi)
        self._out(
            format_erxudp(
                self.dialect, rx, with_lqi=self._s.registers[0xA2] == 1, hex_ascii=self.wopt == 1
            )
        )
        return True

    def expire_session(self, reauth_ok: bool = True) -> bool:
        """The PANA session lifetime ran out: EVENT 29, then EVENT 25 (re-auth) or 24."""
        addr = self._s.session
        if addr is None:
            return False
        self._event(Event.SESSION_EXPIRED, addr)
        if self._s.registers[0x17] == 1 and reauth_ok:
            self._event(Event.PANA_OK, addr)
        else:
            if self._s.registers[0x17] == 1:
                self._event(Event.PANA_FAILED, addr)
            self._s.session = None
            self._events.append(SessionEnded("expired"))
        return True

    def set_tx_limited(self, limited: bool) -> None:
        """ARIB transmission-time limit reached (EVENT 32) or released (EVENT 33)."""
        if limited == self._s.tx_limited:
            return
        self._s.tx_limited = limited
        self._s.registers[0xFB] = int(limited)
        self._event(Event.TX_LIMIT_ON if limited else Event.TX_LIMIT_OFF, self.own_address)

    def add_send_time(self, ms: int) -> int:
        """Accumulate transmission time in SFD; returns the new total [ms]."""
        self._s.registers[0xFD] = min(self._s.registers[0xFD] + ms, 0xFFFFFFFF)
        return self._s.registers[0xFD]

    def reset_send_time(self) -> None:
        self._s.registers[0xFD] = 0

    # -- internals -------------------------------------------------------------------------
    def _out(self, data: bytes) -> None:
        self._events.append(Output(data))

    def _event(self, event: Event, addr: str, param: int | None = None) -> None:
        self._out(format_event(self.dialect, event, addr, param))

    def _fail(self, code: ErrorCode) -> None:
        self.errors += 1
        self._out(fail(code))

    def _handle(self, item: RawLine | RawSendTo | Overlong) -> None:
        if isinstance(item, Overlong):
            self._fail(ErrorCode.UART_INPUT)
            return
        if isinstance(item, RawSendTo):
            if self.echo:
                self._out(item.header + b"\r\n")
            self._sendto(item)
            return
        if self.echo:
            self._out(item.text + item.terminator)
        text = item.text.decode("ascii", "replace").strip()
        if not text:
            return
        name, *args = text.split()
        handler = _HANDLERS.get(name)
        if handler is None:
            self._fail(ErrorCode.UNSUPPORTED)
            return
        handler(self, args)

    def _sendto(self, item: RawSendTo) -> None:
        fields = item.fields
        want = 6 if self.dialect.has_side else 5
        if len(fields) != want:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        try:
            handle, port, sec, length = (
                int(fields[0]),
                int(fields[2], 16),
                int(fields[3]),
                int(fields[-1], 16),
            )
            ipaddress.IPv6Address(fields[1])
        except ValueError:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        side_ok = not self.dialect.has_side or fields[4] in ("0", "1")
        if not (1 <= handle <= 6 and 0 <= sec <= 2 and 1 <= length <= MAX_UDP_PAYLOAD and side_ok):
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        dest = fields[1]
        if self._s.tx_limited or (self._s.session is None and sec == 1):
            self._event(Event.UDP_SENT, dest, 1)
            self._out(ok())
            return
        self._awaiting = UdpSend(handle, dest, port, sec, item.payload)
        self._events.append(self._awaiting)

    def _cmd_simple(self, args: list[str], arity: int) -> bool:
        if len(args) != arity:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return False
        return True

    def _skver(self, args: list[str]) -> None:
        if self._cmd_simple(args, 0):
            self._out(line(f"EVER {STACK_VERSION}") + ok())

    def _skappver(self, args: list[str]) -> None:
        if self._cmd_simple(args, 0):
            self._out(line(f"EAPPVER {APP_VERSION}") + ok())

    def _skinfo(self, args: list[str]) -> None:
        if self._cmd_simple(args, 0):
            r = self._s.registers
            einfo = format_einfo(self.dialect, self.own_address, self.own_mac, r[0x02], r[0x03])
            self._out(einfo + ok())

    def _skreset(self, args: list[str]) -> None:
        if self._cmd_simple(args, 0):
            had_session = self._s.session is not None
            self._s = _State()
            self._out(ok())
            if had_session:
                self._events.append(SessionEnded("reset"))

    def _ropt(self, args: list[str]) -> None:
        if not self.ropt_supported:
            self._fail(ErrorCode.UNSUPPORTED)
        elif self._cmd_simple(args, 0):
            self._out(f"OK {self.wopt:02d}\r".encode("ascii"))

    def _wopt(self, args: list[str]) -> None:
        if len(args) != 1 or args[0] not in ("00", "01", "0", "1"):
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        self.wopt = int(args[0])
        self.wopt_writes += 1
        self._out(b"OK\r")

    def _sksreg(self, args: list[str]) -> None:
        if not 1 <= len(args) <= 2 or not args[0].upper().startswith("S"):
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        try:
            number = int(args[0][1:], 16)
        except ValueError:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        # registers the reference does not list are kept as given ("any register → OK")
        spec = _REGISTERS.get(number, (0, False, (0, 0xFFFFFFFF)))
        if len(args) == 1:
            value = self._s.registers.get(number, 0)
            shown = self._s.pair_id if number == 0x0A else f"{value:X}"
            self._out(line(f"ESREG {shown}") + ok())
            return
        _, read_only, (low, high) = spec
        if read_only:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        if number == 0x0A:
            if len(args[1]) != 8:
                self._fail(ErrorCode.INVALID_ARGUMENT)
                return
            self._s.pair_id = args[1].upper()
            self._out(ok())
            return
        try:
            value = int(args[1], 16)
        except ValueError:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        if not low <= value <= high:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        self._s.registers[number] = value
        self._out(ok())

    def _sksetrbid(self, args: list[str]) -> None:
        if len(args) != 1 or len(args[0]) != 32 or not args[0].isalnum():
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        self._s.rbid = args[0]
        self._s.pair_id = pairing_id(args[0])
        self._out(ok())

    def _sksetpwd(self, args: list[str]) -> None:
        try:
            length = int(args[0], 16) if len(args) == 2 else -1
        except ValueError:
            length = -1
        if not 1 <= length <= 32 or len(args[1]) != length:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        self._s.password = args[1]
        self._out(ok())

    def _skscan(self, args: list[str]) -> None:
        want = 4 if self.dialect.has_side else 3
        if len(args) != want:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        try:
            mode, mask, duration = int(args[0], 16), int(args[1], 16), int(args[2], 16)
            side = int(args[3]) if self.dialect.has_side else 0
        except ValueError:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        if (
            mode not in (0, 2, 3)
            or len(args[1]) != 8
            or not 0 <= duration <= 14
            or side not in (0, 1)
        ):
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        self._out(ok())
        self._events.append(RadioTime(0.0 if mode == 0 else scan_duration_s(duration)))
        meter = self.meter
        in_mask = meter is not None and bool(mask >> (meter.channel - 0x21) & 1)
        if mode == 0:
            rows = " ".join(
                f"{ch:02X} {(0xE1 if meter and ch == meter.channel else 0x30):02X}"
                for ch in range(0x21, 0x3D)
                if mask >> (ch - 0x21) & 1
            )
            self._out(line(f"EEDSCAN\r\n{rows}" if rows else "EEDSCAN"))
            self._event(Event.ED_SCAN_DONE, self.own_address)
            return
        heard = meter is not None and in_mask and side == 0
        if meter is not None and heard and (mode == 3 or self._s.pair_id == pairing_id(meter.rbid)):
            self._event(Event.BEACON, meter.address)
            desc = PanDescriptor(
                channel=meter.channel,
                channel_page=9,
                pan_id=meter.pan_id,
                mac=meter.mac,
                lqi=meter.lqi,
                pair_id=self._s.pair_id if mode == 2 else None,
                side=0,
            )
            self._out(format_epandesc(self.dialect, desc))
        self._event(Event.ACTIVE_SCAN_DONE, self.own_address)

    def _skll64(self, args: list[str]) -> None:
        if len(args) != 1 or len(args[0]) != 16:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        try:
            self._out(line(link_local_of(bytes.fromhex(args[0]))))
        except ValueError:
            self._fail(ErrorCode.INVALID_ARGUMENT)

    def _skjoin(self, args: list[str]) -> None:
        if len(args) != 1:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        try:
            ipaddress.IPv6Address(args[0])
        except ValueError:
            self._fail(ErrorCode.INVALID_ARGUMENT)
            return
        addr = args[0]
        if self._s.session is not None:
            self._fail(ErrorCode.FAILED)  # a session is already up
            return
        self._out(ok())
        meter, s = self.meter, self._s
        reachable = (
            meter is not None
            and _same_address(addr, meter.address)
            and s.registers[0x02] == meter.channel
            and s.registers[0x03] == meter.pan_id
        )
        if not reachable or meter is None:
            self._event(Event.PANA_FAILED, addr)
            return
        self._events.append(RadioTime(JOIN_RADIO_S))
        self._event(Event.UDP_SENT, meter.address, 2)  # neighbour solicitation
        self._event(Event.NA_RECEIVED, meter.address)
        # the PAA's PANA-Auth-Request (start): port 716, not encrypted; clients must skip it
        pana = bytes.fromhex("00000010C0000002") + self.own_mac[4:] + b"\x00\x00\x00\x01"
        rx = RxUdp(meter.address, self.own_address, PANA_PORT, PANA_PORT, meter.mac, 0, pana)
        lqi = self._s.registers[0xA2] == 1
        self._out(format_erxudp(self.dialect, rx, with_lqi=lqi, hex_ascii=self.wopt == 1))
        self._event(Event.UDP_SENT, meter.address, 0)
        if s.rbid == meter.rbid and s.password == meter.password:
            s.session = meter.address
            self._event(Event.PANA_OK, meter.address)
            self._events.append(Joined(meter.address))
        else:
            self._event(Event.PANA_FAILED, meter.address)

    def _skterm(self, args: list[str]) -> None:
        if not self._cmd_simple(args, 0):
            return
        self._out(ok())
        addr = self._s.session
        if addr is None:
            self._event(Event.TERM_TIMEOUT, self.meter.address if self.meter else self.own_address)
            return
        self._s.session = None
        self._event(Event.TERM_DONE, addr)
        self._events.append(SessionEnded("terminated"))


_HANDLERS = {
    "SKVER": SkModule._skver,
    "SKAPPVER": SkModule._skappver,
    "SKINFO": SkModule._skinfo,
    "SKRESET": SkModule._skreset,
    "ROPT": SkModule._ropt,
    "WOPT": SkModule._wopt,
    "SKSREG": SkModule._sksreg,
    "SKSETRBID": SkModule._sksetrbid,
    "SKSETPWD": SkModule._sksetpwd,
    "SKSCAN": SkModule._skscan,
    "SKLL64": SkModule._skll64,
    "SKJOIN": SkModule._skjoin,
    "SKTERM": SkModule._skterm,
}
