"""ECHONET Lite through a Wi-SUN USB module (SKSTACK IP, BP35A1 or BP35C2) on a serial port.

:class:`SkstackTransport` opens the port (raw, 115200 8N1, no pyserial needed), finds the
dialect from SKINFO, registers the B-route ID and password, scans for the meter's PAN, joins
it (PANA) and then carries frames with SKSENDTO / ERXUDP. It follows the module's events:
EVENT 29 (session expired) holds sends until EVENT 25 (re-authenticated); EVENT 24 after an
expiry re-runs SKJOIN; EVENT 32/33 hold sends while the transmission-time limit is on;
EVENT 21 01 (send failed) retries the send.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import termios
import time
import tty
from collections import deque

from openami.hems.client import HemsError
from openami.protocols.skstack import (
    ECHONET_PORT,
    Dialect,
    Event,
    OutputReader,
    PanDescriptor,
    SkFormatError,
    encode_sksendto,
    parse_epandesc,
    parse_erxudp,
    parse_event,
    scan_duration_s,
)

log = logging.getLogger(__name__)
_SECRET = ("SKSETRBID", "SKSETPWD")


class WisunError(HemsError):
    """The Wi-SUN module refused a command or the PAN could not be reached."""


class ScanFailed(WisunError):
    """No PAN answered the active scan (wrong B-route ID, or no meter in range)."""


class JoinFailed(WisunError):
    """PANA authentication failed (EVENT 24): wrong password or ID."""


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
        if len(rbid) != 32:
            raise ValueError("a B-route ID has 32 characters")
        if not 1 <= len(password) <= 32:
            raise ValueError("a B-route password has 1–32 characters")
        self.path = path
        self._rbid = rbid
        self._password = password
        self.scan_durations = scan_durations
        self.join_retries = join_retries
        self.command_timeout_s = command_timeout_s
        self.join_timeout_s = join_timeout_s
        self.gate_timeout_s = gate_timeout_s
        self.drain_s = drain_s
        self.reset = reset
        self.dialect = Dialect.BP35C2
        self.meter_address = ""
        self.session_up = False
        self.tx_limited = False
        self.need_rejoin = False
        self.lqi: int | None = None
        self.events: deque[str] = deque(maxlen=100)
        self._fd = -1
        self._reader = OutputReader()
        self._rx: deque[bytes] = deque()

    # -- serial port -----------------------------------------------------------------------
    def _open_port(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._fd)
        attrs = termios.tcgetattr(self._fd)
        attrs[4] = attrs[5] = termios.B115200
        termios.tcsetattr(self._fd, termios.TCSANOW, attrs)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:
                select.select([], [self._fd], [], 1.0)
                continue
            view = view[n:]

    def _read(self, timeout_s: float) -> bytes:
        if not select.select([self._fd], [], [], max(0.0, timeout_s))[0]:
            return b""
        try:
            return os.read(self._fd, 65536)
        except BlockingIOError:
            return b""

    def _next_line(self, deadline: float) -> str | None:
        while (line := self._reader.next_line()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._reader.feed(self._read(min(left, 0.5)))
        return line

    # -- lines from the module -------------------------------------------------------------
    def _note(self, line: str) -> bool:
        """Handle ERXUDP and asynchronous EVENTs; True when the line was one of them."""
        if line.startswith("ERXUDP"):
            try:
                rx = parse_erxudp(self.dialect, line)
            except SkFormatError:
                log.debug("unreadable ERXUDP line dropped")
                return True
            if rx.rport == rx.lport == ECHONET_PORT and rx.sender == self.meter_address:
                self.lqi = rx.lqi if rx.lqi is not None else self.lqi
                self._rx.append(rx.data)
            return True
        if not line.startswith("EVENT"):
            return False
        try:
            event = parse_event(self.dialect, line)
        except SkFormatError:
            return True
        self.events.append(f"{event.event:02X}")
        if event.event == Event.SESSION_EXPIRED:
            self.session_up = False
        elif event.event == Event.PANA_OK:
            self.session_up = True
            self.need_rejoin = False
        elif event.event == Event.PANA_FAILED and self.meter_address:
            self.session_up = False
            self.need_rejoin = True
        elif event.event in (Event.TERM_DONE, Event.TERM_TIMEOUT, Event.TERM_REQUESTED):
            self.session_up = False
        elif event.event == Event.TX_LIMIT_ON:
            self.tx_limited = True
        elif event.event == Event.TX_LIMIT_OFF:
            self.tx_limited = False
        return False  # commands may wait for events too

    def _command(
        self,
        text: str,
        until: tuple[str, ...] = ("OK",),
        timeout_s: float | None = None,
        payload: bytes | None = None,
    ) -> list[str]:
        shown = text.split()[0] + " ****" if text.startswith(_SECRET) else text
        log.debug(">>> %s", shown)
        self._write(payload if payload is not None else text.encode("ascii") + b"\r\n")
        deadline = time.monotonic() + (timeout_s or self.command_timeout_s)
        lines: list[str] = []
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise WisunError(f"no answer from the module to {shown}")
            if self._note(line) and line.startswith("ERXUDP"):
                continue
            lines.append(line)
            if line.startswith("FAIL"):
                raise WisunError(f"the module answered {line} to {shown}")
            if line.startswith(until):
                return lines

    def _raw_option(self, text: str, timeout_s: float = 5.0) -> str:
        """ROPT/WOPT: CR-terminated, answered with ``OK[ nn]`` + CR."""
        self._write(text.encode("ascii") + b"\r")
        buf = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            buf += self._read(deadline - time.monotonic())
            for marker in (b"OK", b"FAIL"):
                at = buf.find(marker)
                end = buf.find(b"\r", at) if at >= 0 else -1
                if end >= 0:
                    rest = buf[end + 1 :]
                    self._reader.feed(rest[1:] if rest.startswith(b"\n") else rest)
                    return buf[at:end].decode("ascii", "replace")
        raise WisunError(f"no answer from the module to {text}")

    # -- session ---------------------------------------------------------------------------
    def open(self) -> SkstackTransport:
        self._open_port()
        try:
            self._write(b"\r\n")
            while self._read(self.drain_s):
                pass  # drop whatever an earlier user left in the buffers
            ropt = self._raw_option("ROPT")
            if ropt.startswith("OK") and ropt[3:].strip() == "00":
                self._raw_option("WOPT 01")  # ERXUDP data as hex text
            einfo = [ln for ln in self._command("SKINFO") if ln.startswith("EINFO")]
            fields = einfo[-1].split() if einfo else []
            if len(fields) < 6:
                raise WisunError("SKINFO gave no EINFO line")
            self.dialect = Dialect.BP35A1 if fields[5].upper() == "FFFE" else Dialect.BP35C2
            if self.reset:
                self._command("SKRESET")
            self._command("SKSREG SFE 0")  # no echo: lines stay lines around SKSENDTO
            if self.dialect is Dialect.BP35C2:
                self._command("SKSREG SA2 1")
            self._command(f"SKSETRBID {self._rbid}")
            self._command(f"SKSETPWD {len(self._password):X} {self._password}")
            pan = self._scan()
            self.meter_address = self._command(f"SKLL64 {pan.mac.hex().upper()}", ("FE80",))[-1]
            self._command(f"SKSREG S2 {pan.channel:X}")
            self._command(f"SKSREG S3 {pan.pan_id:04X}")
            self._join()
        except Exception:
            self._close_port()
            raise
        return self

    def _scan(self) -> PanDescriptor:
        side = " 0" if self.dialect is Dialect.BP35C2 else ""
        for duration in self.scan_durations:
            lines = self._command(
                f"SKSCAN 2 FFFFFFFF {duration}{side}",
                ("EVENT 22",),
                timeout_s=scan_duration_s(duration) + 30,
            )
            if "EPANDESC" in lines:
                at = lines.index("EPANDESC")
                block = [ln for ln in lines[at + 1 :] if ln.startswith("  ")]
                with contextlib.suppress(SkFormatError):
                    return parse_epandesc(block)
        raise ScanFailed("no PAN answered the scan: check the B-route ID and the distance")

    def _join(self) -> None:
        for _ in range(self.join_retries):
            lines = self._command(
                f"SKJOIN {self.meter_address}", ("EVENT 24", "EVENT 25"), self.join_timeout_s
            )
            if lines[-1].startswith("EVENT 25"):
                self.session_up, self.need_rejoin = True, False
                return
        raise JoinFailed("PANA authentication failed: check the B-route ID and password")

    def _wait_gate(self) -> None:
        deadline = time.monotonic() + self.gate_timeout_s
        while not self.session_up or self.tx_limited:
            if self.need_rejoin:
                self._join()
                continue
            line = self._next_line(min(deadline, time.monotonic() + 0.5))
            if line is not None:
                self._note(line)
            elif time.monotonic() >= deadline:
                raise WisunError("the module did not allow sending (session or ARIB limit)")

    # -- Transport -------------------------------------------------------------------------
    def _take_pending(self) -> None:
        """Handle lines that have already arrived (events after the last command's OK)."""
        while chunk := self._read(0.0):
            self._reader.feed(chunk)
        while (line := self._reader.next_line()) is not None:
            self._note(line)

    def send(self, frame: bytes, attempts: int = 5) -> None:
        failures = 0
        while failures < attempts:
            self._take_pending()
            self._wait_gate()
            data = encode_sksendto(self.dialect, self.meter_address, frame)
            lines = self._command("SKSENDTO", payload=data)
            results = [parse_event(self.dialect, ln) for ln in lines if ln.startswith("EVENT 21")]
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
            line = self._next_line(deadline)
            if line is None:
                return None
            self._note(line)
        return self._rx.popleft()

    def close(self) -> None:
        if self._fd < 0:
            return
        if self.session_up:
            with contextlib.suppress(WisunError, OSError):
                self._command("SKTERM", ("EVENT 27", "EVENT 28"), timeout_s=5.0)
        self.session_up = False
        self._close_port()

    def _close_port(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
