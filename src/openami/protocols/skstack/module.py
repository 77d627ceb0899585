"""A Wi-SUN module (BP35A1 or BP35C2) as a sans-I/O peer, with the meter's PAN behind it.

The host's side: ``receive_data`` takes what the host writes; ``next_event`` gives what the
module does: ``Output`` bytes for the host, ``UdpSend`` datagrams for the radio,
``Joined`` / ``SessionEnded`` notices and ``RadioTime``. A command the module refuses raises
:class:`RemoteSkstackProtocolError` whose ``reply`` is the ``FAIL ERxx`` line to print (its
echo, if any, came before as ``Output``). While a ``UdpSend`` waits for its result
``next_event`` returns ``PAUSED``.

The radio's side: ``send(event) -> bytes`` tells the module what happened on the air and
returns what it prints: :class:`SendOutcome` (EVENT 21 and OK for the ``UdpSend``),
:class:`DatagramArrived` (ERXUDP; needs a PANA session), :class:`SessionExpiry` (EVENT 29, then
25 or 24) and :class:`TxLimit` (EVENT 32/33). Its state (:class:`ModuleState`) moves along
``MODULE_TRANSITIONS``; a radio input the state does not allow raises
:class:`LocalSkstackProtocolError`.
"""

from __future__ import annotations

import ipaddress
from collections import deque

from openami.protocols.pana.eap_psk import RandomBytes
from openami.protocols.peer import NEED_DATA, PAUSED, Wait
from openami.protocols.skstack.codec import (
    MAX_UDP_PAYLOAD,
    Dialect,
    ErrorCode,
    Event,
    RxUdp,
    fail,
    format_erxudp,
    format_event,
    link_local_of,
    ok,
)
from openami.protocols.skstack.commands import COMMANDS, ModuleCommands, _State
from openami.protocols.skstack.errors import (
    LocalSkstackProtocolError,
    RemoteSkstackProtocolError,
)
from openami.protocols.skstack.events import (
    DatagramArrived,
    MeterRadio,
    ModuleEvent,
    Output,
    RadioInput,
    SendOutcome,
    SessionEnded,
    SessionExpiry,
    TxLimit,
    UdpSend,
)
from openami.protocols.skstack.pana_join import PanaJoin
from openami.protocols.skstack.reader import CommandReader, Overlong, RawLine, RawSendTo
from openami.protocols.skstack.states import MODULE_TRANSITIONS, ModuleState, SendToCommand


class SkModule(ModuleCommands):
    """One emulated module. Not thread-safe: drive it from one thread."""

    def __init__(
        self,
        dialect: Dialect,
        meter: MeterRadio | None,
        own_mac: bytes,
        *,
        wopt: int = 1,
        ropt_supported: bool = True,
        random_bytes: RandomBytes | None = None,
    ) -> None:
        self.dialect = dialect
        # with randomness SKJOIN runs the real PANA/EAP-PSK exchange (pana_join.py); without,
        # the join compares the ID and password (the pure tests' emulation)
        self.random_bytes = random_bytes
        self.pana: PanaJoin | None = None
        self.meter = meter
        # False: the meter's radio does not reach the module (scans hear nothing, joins fail)
        self.in_range = True
        self.own_mac = own_mac
        self.own_address = link_local_of(own_mac)
        self.wopt = wopt
        self.wopt_writes = 0
        self.ropt_supported = ropt_supported
        self.state = ModuleState.IDLE
        self._reader = CommandReader()
        self._events: deque[ModuleEvent | RemoteSkstackProtocolError] = deque()
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

    # -- the peer shape --------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        self._reader.feed(data)

    def next_event(self) -> ModuleEvent | Wait:
        while not self._events:
            if self._awaiting is not None:
                return PAUSED
            item = self._reader.next_item()
            if item is None:
                return NEED_DATA
            self._handle(item)
        event = self._events.popleft()
        if isinstance(event, RemoteSkstackProtocolError):
            raise event
        return event

    def send(self, event: RadioInput) -> bytes:
        """What the module prints when ``event`` happens on the radio."""
        if not MODULE_TRANSITIONS.allows(self.state, type(event)):
            raise LocalSkstackProtocolError(
                f"{type(event).__name__} in state {self.state.value}: allowed "
                f"{', '.join(MODULE_TRANSITIONS.allowed_in(self.state)) or 'nothing'}"
            )
        if isinstance(event, SendOutcome):
            return self._send_outcome(event)
        if isinstance(event, DatagramArrived):
            return self._datagram(event)
        if isinstance(event, SessionExpiry):
            return self._expire(event)
        return self._tx_limit(event)

    # -- radio inputs ------------------------------------------------------------------------
    def _send_outcome(self, event: SendOutcome) -> bytes:
        sent = self._awaiting
        assert sent is not None  # the SENDING states are entered with it
        self._awaiting = None
        self._move(SendOutcome)
        return self._event_line(Event.UDP_SENT, sent.dest, 0 if event.delivered else 1) + ok()

    def _datagram(self, event: DatagramArrived) -> bytes:
        meter = self.meter
        assert meter is not None  # no session without a meter
        self._move(DatagramArrived)
        rx = RxUdp(
            event.sender,
            event.dest,
            event.rport,
            event.lport,
            meter.mac,
            1,
            event.payload,
            side=0,
            lqi=meter.lqi,
        )
        with_lqi = self._s.registers[0xA2] == 1
        return format_erxudp(self.dialect, rx, with_lqi=with_lqi, hex_ascii=self.wopt == 1)

    def _expire(self, event: SessionExpiry) -> bytes:
        addr = self._s.session
        assert addr is not None
        printed = self._event_line(Event.SESSION_EXPIRED, addr)
        auto_reauth = self._s.registers[0x17] == 1
        if auto_reauth and event.reauth_ok:
            self._move(SessionExpiry, ModuleState.JOINED)
            return printed + self._event_line(Event.PANA_OK, addr)
        if auto_reauth:
            printed += self._event_line(Event.PANA_FAILED, addr)
        self._s.session = None
        self._move(SessionExpiry, ModuleState.IDLE)
        self._events.append(SessionEnded("expired"))
        return printed

    def _tx_limit(self, event: TxLimit) -> bytes:
        self._move(TxLimit)
        if event.on == self._s.tx_limited:
            return b""
        self._s.tx_limited = event.on
        self._s.registers[0xFB] = int(event.on)
        kind = Event.TX_LIMIT_ON if event.on else Event.TX_LIMIT_OFF
        return self._event_line(kind, self.own_address)

    # -- register bookkeeping --------------------------------------------------------------
    def add_send_time(self, ms: int) -> int:
        """Accumulate transmission time in SFD; returns the new total [ms]."""
        self._s.registers[0xFD] = min(self._s.registers[0xFD] + ms, 0xFFFFFFFF)
        return self._s.registers[0xFD]

    def reset_send_time(self) -> None:
        self._s.registers[0xFD] = 0

    # -- primitives for the command handlers -------------------------------------------------
    def _out(self, data: bytes) -> None:
        self._events.append(Output(data))

    def _event_line(self, event: Event, addr: str, param: int | None = None) -> bytes:
        return format_event(self.dialect, event, addr, param)

    def _event(self, event: Event, addr: str, param: int | None = None) -> None:
        self._out(self._event_line(event, addr, param))

    def _fail(self, code: ErrorCode, why: str = "") -> None:
        self.errors += 1
        reason = why or code.name.lower().replace("_", " ")
        self._events.append(RemoteSkstackProtocolError(reason, int(code), fail(code)))

    def _move(self, marker: type, outcome: ModuleState | None = None) -> None:
        after = MODULE_TRANSITIONS.after(self.state, marker, outcome)
        if after is None:  # pragma: no cover - the handlers check before they move
            raise LocalSkstackProtocolError(f"{marker.__name__} in state {self.state.value}")
        self.state = after

    # -- reading commands --------------------------------------------------------------------
    def _handle(self, item: RawLine | RawSendTo | Overlong) -> None:
        if isinstance(item, Overlong):
            self._fail(ErrorCode.UART_INPUT, f"a line of {item.dropped_bytes} bytes")
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
        handler = COMMANDS.get(name)
        if handler is None:
            self._fail(ErrorCode.UNSUPPORTED, f"unknown command {name[:32]!r}")
            return
        handler(self, args)

    def _sendto(self, item: RawSendTo) -> None:
        fields = item.fields
        want = 6 if self.dialect.has_side else 5
        if len(fields) != want:
            self._fail(ErrorCode.INVALID_ARGUMENT, f"SKSENDTO with {len(fields)} fields")
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
            self._fail(ErrorCode.INVALID_ARGUMENT, "unreadable SKSENDTO fields")
            return
        side_ok = not self.dialect.has_side or fields[4] in ("0", "1")
        if not (1 <= handle <= 6 and 0 <= sec <= 2 and 1 <= length <= MAX_UDP_PAYLOAD and side_ok):
            self._fail(ErrorCode.INVALID_ARGUMENT, "SKSENDTO field out of range")
            return
        dest = fields[1]
        if self._s.tx_limited or (self._s.session is None and sec == 1):
            self._move(SendToCommand, self.state)  # refused at once
            self._event(Event.UDP_SENT, dest, 1)
            self._out(ok())
            return
        sending = ModuleState.JOINED_SENDING if self._s.session else ModuleState.SENDING
        self._move(SendToCommand, sending)
        self._awaiting = UdpSend(handle, dest, port, sec, item.payload)
        self._events.append(self._awaiting)


__all__ = ["ModuleState", "SkModule"]
