"""ECHONET Lite through a Wi-SUN USB module (SKSTACK IP, BP35A1 or BP35C2) on a serial port.

:class:`SkstackTransport` opens the port (raw, 115200 8N1, no pyserial needed), finds the
dialect from SKINFO, registers the B-route ID and password, scans for the meter's PAN, joins
it (PANA) and then carries frames with SKSENDTO / ERXUDP. It follows the module's events:
EVENT 29 (session expired) holds sends until EVENT 25 (re-authenticated); EVENT 24 after an
expiry re-runs SKJOIN; EVENT 32/33 hold sends while the transmission-time limit is on;
EVENT 21 01 (send failed) retries the send. The line itself is spoken by
:class:`~openami.protocols.skstack.host.SkHost`, the sans-I/O host: it turns what the module
prints into typed events and keeps the PANA session's state; this class moves the bytes and
decides what to do next.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque

from openami.hems.client import HemsError
from openami.hems.serial_line import SerialLine, check_broute_credentials
from openami.protocols.peer import Wait
from openami.protocols.skstack import (
    ECHONET_PORT,
    Dialect,
    Event,
    PanDescriptor,
    RemoteSkstackProtocolError,
    SkstackError,
    scan_duration_s,
)
from openami.protocols.skstack.host import (
    Answer,
    Command,
    DatagramReceived,
    EventReceived,
    Fail,
    HostCommand,
    HostEvent,
    HostState,
    Join,
    Line,
    Ok,
    Option,
    PanFound,
    Reset,
    SendTo,
    SkHost,
    Terminate,
)

log = logging.getLogger(__name__)
_SECRET = ("SKSETRBID", "SKSETPWD")


class WisunError(HemsError):
    """The Wi-SUN module refused a command or the PAN could not be reached."""


class CommandRefused(WisunError):
    """The module answered a command with FAIL ERxx."""


class ScanFailed(WisunError):
    """No PAN answered the active scan (wrong B-route ID, or no meter in range)."""


class JoinFailed(WisunError):
    """PANA authentication failed (EVENT 24): wrong password or ID."""


def _shown(command: HostCommand) -> str:
    """The command as the log may show it (B-route ID and password masked)."""
    if isinstance(command, Command):
        if command.name in _SECRET:
            return f"{command.name} ****"
        return " ".join((command.name, *command.args))
    if isinstance(command, SendTo):
        return f"SKSENDTO ({len(command.payload)} bytes)"
    if isinstance(command, Option):
        return command.name
    return type(command).__name__


class SkstackTransport:
    """One PANA session with one meter through a module on ``path``."""

    def __init__(
        self,
        path: str,
        rbid: str,
        password: str,
        *,
        scan_durations: tuple[int, ...] = (6, 7, 8),
        join_retries: int = 3,
        command_timeout_s: float = 10.0,
        join_timeout_s: float = 60.0,
        gate_timeout_s: float = 120.0,
        drain_s: float = 0.3,
        reset: bool = True,
    ) -> None:
        check_broute_credentials(rbid, password)
        self.path = path
        self._port = SerialLine(path)
        self._rbid = rbid
        self._password = password
        self.scan_durations = scan_durations
        self.join_retries = join_retries
        self.command_timeout_s = command_timeout_s
        self.join_timeout_s = join_timeout_s
        self.gate_timeout_s = gate_timeout_s
        self.drain_s = drain_s
        self.reset = reset
        self.host = SkHost()
        self.meter_address = ""
        self.lqi: int | None = None
        self.events: deque[str] = deque(maxlen=100)
        self._joined_once = False
        self._rx: deque[bytes] = deque()

    @property
    def dialect(self) -> Dialect:
        return self.host.dialect

    @property
    def session_up(self) -> bool:
        return self.host.state is HostState.JOINED

    @property
    def tx_limited(self) -> bool:
        return self.host.tx_limited

    @property
    def need_rejoin(self) -> bool:
        """The session was lost (EVENT 24) after we had joined: SKJOIN again."""
        return self._joined_once and self.host.state is HostState.DISCONNECTED

    # -- what the module prints ------------------------------------------------------------
    def _next_event(self, deadline: float) -> HostEvent | None:
        """The host's next event (noted), reading the port until ``deadline``; None at it."""
        host = self.host
        while True:
            try:
                event = host.next_event()
            except RemoteSkstackProtocolError as exc:
                log.debug("dropped a line: %s", exc)
                continue
            if not isinstance(event, Wait):
                self._note(event)
                return event
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            host.receive_data(self._port.read(min(left, 0.5)))

    def _note(self, event: HostEvent) -> None:
        """Keep the meter's datagrams and a log of the module's EVENT numbers."""
        if isinstance(event, DatagramReceived):
            rx = event.datagram
            if rx.rport == rx.lport == ECHONET_PORT and rx.sender == self.meter_address:
                self.lqi = rx.lqi if rx.lqi is not None else self.lqi
                self._rx.append(rx.data)
        elif isinstance(event, EventReceived):
            self.events.append(f"{event.event.event:02X}")

    def _command(
        self,
        command: HostCommand,
        until: tuple[int, ...] = (),
        timeout_s: float | None = None,
    ) -> list[HostEvent]:
        """Send ``command``; its events up to its answer (and then one of the EVENTs
        ``until``). FAIL raises WisunError."""
        shown = _shown(command)
        log.debug(">>> %s", shown)
        self._port.write(self.host.send(command))
        deadline = time.monotonic() + (timeout_s or self.command_timeout_s)
        events: list[HostEvent] = []
        answered = False
        while True:
            event = self._next_event(deadline)
            if event is None:
                self.host.forget_command()
                raise WisunError(f"no answer from the module to {shown}")
            events.append(event)
            if isinstance(event, Fail):
                raise CommandRefused(f"the module answered FAIL ER{event.code:02d} to {shown}")
            answered = answered or isinstance(event, Ok | Answer)
            done = not until or (isinstance(event, EventReceived) and event.event.event in until)
            if answered and done:
                return events

    def _option(self, command: Option) -> Ok | None:
        """ROPT/WOPT: the module's OK, or None when it does not know the command."""
        try:
            events = self._command(command, timeout_s=5.0)
        except CommandRefused:
            return None
        return next((e for e in events if isinstance(e, Ok)), None)

    # -- session ---------------------------------------------------------------------------
    def open(self) -> SkstackTransport:
        self._port.open()
        try:
            self._port.write(b"\r\n")
            while self._port.read(self.drain_s):
                pass  # drop whatever an earlier user left in the buffers
            ropt = self._option(Option("ROPT"))
            if ropt is not None and ropt.text[3:].strip() == "00":
                self._option(Option("WOPT", "01"))  # ERXUDP data as hex text
            self._find_dialect()
            if self.reset:
                self._command(Reset())
            self._command(Command("SKSREG", ("SFE", "0")))  # no echo around SKSENDTO
            if self.dialect is Dialect.BP35C2:
                self._command(Command("SKSREG", ("SA2", "1")))
            self._command(Command("SKSETRBID", (self._rbid,)))
            self._command(Command("SKSETPWD", (f"{len(self._password):X}", self._password)))
            pan = self._scan()
            answers = self._command(Command("SKLL64", (pan.mac.hex().upper(),)))
            self.meter_address = next(e.text for e in answers if isinstance(e, Answer))
            self._command(Command("SKSREG", ("S2", f"{pan.channel:X}")))
            self._command(Command("SKSREG", ("S3", f"{pan.pan_id:04X}")))
            self._join()
        except Exception:
            self._port.close()
            raise
        return self

    def _find_dialect(self) -> None:
        """SKINFO's EINFO: A1 prints FFFE in the 5th field, C2 its side."""
        events = self._command(Command("SKINFO"))
        einfo = [e.text for e in events if isinstance(e, Line) and e.text.startswith("EINFO")]
        fields = einfo[-1].split() if einfo else []
        if len(fields) < 6:
            raise WisunError("SKINFO gave no EINFO line")
        self.host.dialect = Dialect.BP35A1 if fields[5].upper() == "FFFE" else Dialect.BP35C2

    def _scan(self) -> PanDescriptor:
        side = ("0",) if self.dialect is Dialect.BP35C2 else ()
        for duration in self.scan_durations:
            events = self._command(
                Command("SKSCAN", ("2", "FFFFFFFF", str(duration), *side)),
                (Event.ACTIVE_SCAN_DONE,),
                timeout_s=scan_duration_s(duration) + 30,
            )
            found = [e.descriptor for e in events if isinstance(e, PanFound)]
            if found:
                return found[0]
        raise ScanFailed("no PAN answered the scan: check the B-route ID and the distance")

    def _join(self) -> None:
        outcomes = (Event.PANA_FAILED, Event.PANA_OK)
        for _ in range(self.join_retries):
            events = self._command(Join(self.meter_address), outcomes, self.join_timeout_s)
            last = events[-1]
            if isinstance(last, EventReceived) and last.event.event == Event.PANA_OK:
                self._joined_once = True
                return
        raise JoinFailed("PANA authentication failed: check the B-route ID and password")

    def _wait_gate(self) -> None:
        deadline = time.monotonic() + self.gate_timeout_s
        while not self.session_up or self.tx_limited:
            if self.need_rejoin:
                self._join()
                continue
            event = self._next_event(min(deadline, time.monotonic() + 0.5))
            if event is None and time.monotonic() >= deadline:
                raise WisunError("the module did not allow sending (session or ARIB limit)")

    # -- Transport -------------------------------------------------------------------------
    def _take_pending(self) -> None:
        """Handle lines that have already arrived (events after the last command's OK)."""
        while chunk := self._port.read(0.0):
            self.host.receive_data(chunk)
        while self._next_event(time.monotonic()) is not None:
            pass

    def send(self, frame: bytes, attempts: int = 5) -> None:
        failures = 0
        while failures < attempts:
            self._take_pending()
            self._wait_gate()
            events = self._command(SendTo(self.meter_address, frame))
            results = [
                e.event
                for e in events
                if isinstance(e, EventReceived) and e.event.event == Event.UDP_SENT
            ]
            if not results or results[-1].param != 1:
                return
            if not self.tx_limited:  # a refusal under the ARIB limit is not a failure
                failures += 1
                time.sleep(0.1)
        raise WisunError("the module could not send the frame (EVENT 21 01)")

    def receive(self, timeout_s: float) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        while not self._rx:
            if self.need_rejoin:
                self._join()
            if self._next_event(deadline) is None:
                return None
        return self._rx.popleft()

    def close(self) -> None:
        if not self._port.is_open:
            return
        if self.session_up:
            ended = (Event.TERM_DONE, Event.TERM_TIMEOUT)
            with contextlib.suppress(WisunError, SkstackError, OSError):
                self._command(Terminate(), ended, timeout_s=5.0)
        self._port.close()
