"""The commands an emulated Wi-SUN module answers (SKVER … SKTERM, ROPT/WOPT, SKSREG).

:class:`ModuleCommands` holds one handler per command; :class:`~.module.SkModule` dispatches to
them (``COMMANDS``) and supplies the output and state primitives they use. The radio and PANA
are emulated as state: an active scan finds the meter only when the pairing ID (last 8
characters of the B-route ID) matches; SKJOIN gives EVENT 25 with the right ID, password,
channel, PAN ID and address, EVENT 24 otherwise.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field

from openami.protocols.pana.eap_psk import RandomBytes
from openami.protocols.skstack.codec import (
    PANA_PORT,
    Dialect,
    ErrorCode,
    Event,
    PanDescriptor,
    RxUdp,
    format_einfo,
    format_epandesc,
    format_erxudp,
    line,
    link_local_of,
    ok,
    pairing_id,
    scan_duration_s,
)
from openami.protocols.skstack.errors import RemoteSkstackProtocolError
from openami.protocols.skstack.events import (
    Joined,
    MeterRadio,
    ModuleEvent,
    RadioTime,
    SessionEnded,
)
from openami.protocols.skstack.pana_join import PanaJoin, pana_join
from openami.protocols.skstack.states import (
    MODULE_TRANSITIONS,
    JoinCommand,
    ModuleState,
    ResetCommand,
    TermCommand,
)

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
    """The module's settings and session (SKRESET starts them afresh)."""

    registers: dict[int, int] = field(
        default_factory=lambda: {k: v[0] for k, v in _REGISTERS.items()}
    )
    pair_id: str = ""
    rbid: str | None = None
    password: str | None = None
    session: str | None = None  # the meter address while a PANA session is up
    tx_limited: bool = False


class ModuleCommands:
    """The command handlers of :class:`~.module.SkModule` (a mixin: the module supplies the
    attributes and primitives declared here)."""

    dialect: Dialect
    meter: MeterRadio | None
    in_range: bool
    random_bytes: RandomBytes | None
    pana: PanaJoin | None
    own_mac: bytes
    own_address: str
    wopt: int
    wopt_writes: int
    ropt_supported: bool
    state: ModuleState
    _s: _State
    _events: deque[ModuleEvent | RemoteSkstackProtocolError]

    def _out(self, data: bytes) -> None:
        raise NotImplementedError

    def _event(self, event: Event, addr: str, param: int | None = None) -> None:
        raise NotImplementedError

    def _fail(self, code: ErrorCode, why: str = "") -> None:
        raise NotImplementedError

    def _move(self, marker: type, outcome: ModuleState | None = None) -> None:
        raise NotImplementedError

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
            self._move(ResetCommand)
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
        heard = meter is not None and in_mask and side == 0 and self.in_range
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
        if not MODULE_TRANSITIONS.allows(self.state, JoinCommand):
            self._fail(ErrorCode.FAILED, "SKJOIN while a PANA session is up")
            return
        self._out(ok())
        meter, s = self.meter, self._s
        reachable = (
            meter is not None
            and self.in_range
            and _same_address(addr, meter.address)
            and s.registers[0x02] == meter.channel
            and s.registers[0x03] == meter.pan_id
        )
        if not reachable or meter is None:
            self._move(JoinCommand, ModuleState.IDLE)
            self._event(Event.PANA_FAILED, addr)
            return
        self._events.append(RadioTime(JOIN_RADIO_S))
        self._event(Event.UDP_SENT, meter.address, 2)  # neighbour solicitation
        self._event(Event.NA_RECEIVED, meter.address)
        # PANA: the real exchange with randomness, else emulated as a comparison
        join = (
            None
            if self.random_bytes is None
            else pana_join(s.rbid, s.password, meter, self.random_bytes)
        )
        self.pana = join
        # the PAA's PANA-Auth-Request (start): port 716, not encrypted; clients must skip it
        pana = (
            join.messages[1]
            if join is not None and len(join.messages) > 1
            else bytes.fromhex("00000010C0000002") + self.own_mac[4:] + b"\x00\x00\x00\x01"
        )
        rx = RxUdp(meter.address, self.own_address, PANA_PORT, PANA_PORT, meter.mac, 0, pana)
        lqi = self._s.registers[0xA2] == 1
        self._out(format_erxudp(self.dialect, rx, with_lqi=lqi, hex_ascii=self.wopt == 1))
        self._event(Event.UDP_SENT, meter.address, 0)
        authenticated = (
            join.success
            if join is not None
            else s.rbid == meter.rbid and s.password == meter.password
        )
        if authenticated:
            s.session = meter.address
            self._move(JoinCommand, ModuleState.JOINED)
            self._event(Event.PANA_OK, meter.address)
            self._events.append(Joined(meter.address))
        else:
            self._move(JoinCommand, ModuleState.IDLE)
            self._event(Event.PANA_FAILED, meter.address)

    def _skterm(self, args: list[str]) -> None:
        if not self._cmd_simple(args, 0):
            return
        self._out(ok())
        self._move(TermCommand)
        addr = self._s.session
        if addr is None:
            self._event(Event.TERM_TIMEOUT, self.meter.address if self.meter else self.own_address)
            return
        self._s.session = None
        if self.pana is not None:
            self.pana.terminate()  # PANA-Termination over the radio
        self._event(Event.TERM_DONE, addr)
        self._events.append(SessionEnded("terminated"))


COMMANDS = {
    "SKVER": ModuleCommands._skver,
    "SKAPPVER": ModuleCommands._skappver,
    "SKINFO": ModuleCommands._skinfo,
    "SKRESET": ModuleCommands._skreset,
    "ROPT": ModuleCommands._ropt,
    "WOPT": ModuleCommands._wopt,
    "SKSREG": ModuleCommands._sksreg,
    "SKSETRBID": ModuleCommands._sksetrbid,
    "SKSETPWD": ModuleCommands._sksetpwd,
    "SKSCAN": ModuleCommands._skscan,
    "SKLL64": ModuleCommands._skll64,
    "SKJOIN": ModuleCommands._skjoin,
    "SKTERM": ModuleCommands._skterm,
}
