"""ECHONET Lite through a G3-PLC B-route modem speaking the openami PLC link profile (OPLC/1).

:class:`PlcTransport` opens the modem's serial port (raw, like the Wi-SUN stick), gives the
B-route ID and password, joins (the modem authenticates with the meter on the power line)
and then carries frames with PLCSEND / ERX. The line protocol is
:mod:`openami.protocols.plc` (docs/protocols.md); the password is never logged.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque

from openami.hems.client import HemsError
from openami.hems.serial_line import SerialLine, check_broute_credentials
from openami.protocols.plc import (
    PLC_EVENT_AUTH_FAILED,
    PLC_EVENT_JOINED,
    PLC_EVENT_NO_METER,
    PlcEvent,
    PlcFail,
    PlcFormatError,
    PlcLine,
    PlcOk,
    PlcReceived,
    encode_command,
    parse_line,
)
from openami.protocols.plc.codec import encode_send

log = logging.getLogger(__name__)


class PlcLinkError(HemsError):
    """The PLC modem refused a command, or no meter joined on the power line."""


class PlcTransport:
    """One session with one meter through an OPLC/1 modem on ``path``."""

    def __init__(
        self, path: str, rbid: str, password: str, *, command_timeout_s: float = 5.0
    ) -> None:
        check_broute_credentials(rbid, password)
        self.path = path
        self._port = SerialLine(path)
        self._rbid = rbid
        self._password = password
        self.command_timeout_s = command_timeout_s
        self.meter_address = ""
        self._buffer = bytearray()
        self._rx: deque[bytes] = deque()
        self._lines: deque[PlcLine] = deque()

    def open(self) -> PlcTransport:
        self._port.open()
        try:
            self._command("PLCINFO")
            self._command("PLCSETID", self._rbid)
            self._command("PLCSETPWD", self._password, shown="PLCSETPWD ****")
            self._command("PLCJOIN")
            joined = self._event()
            if joined.event != PLC_EVENT_JOINED or joined.address is None:
                why = {
                    PLC_EVENT_NO_METER: "no meter answered this B-route ID on the power line",
                    PLC_EVENT_AUTH_FAILED: "authentication failed: check the B-route password",
                }.get(joined.event, f"EVENT {joined.event:02X}")
                raise PlcLinkError(why)
            self.meter_address = joined.address
        except Exception:
            self._port.close()
            raise
        return self

    # -- the line --------------------------------------------------------------------------
    def _next_line(self, deadline: float) -> PlcLine | None:
        while not self._lines:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._buffer += self._port.read(left)
            while (end := self._buffer.find(b"\n")) >= 0:
                raw = bytes(self._buffer[:end]).strip()
                del self._buffer[: end + 1]
                if not raw:
                    continue
                try:
                    line = parse_line(raw)
                except PlcFormatError as exc:
                    log.debug("dropped a line: %s", exc)
                    continue
                if isinstance(line, PlcReceived):
                    if line.address == self.meter_address:
                        self._rx.append(line.data)
                    continue
                self._lines.append(line)
        return self._lines.popleft()

    def _command(self, name: str, *args: str, shown: str | None = None) -> None:
        log.debug(">>> %s", shown or " ".join((name, *args)))
        self._port.write(encode_command(name, *args))
        self._answer(shown or name)

    def _answer(self, shown: str) -> None:
        deadline = time.monotonic() + self.command_timeout_s
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise PlcLinkError(f"no answer from the modem to {shown}")
            if isinstance(line, PlcFail):
                raise PlcLinkError(f"the modem answered FAIL E{line.code:02d} to {shown}")
            if isinstance(line, PlcOk):
                return

    def _event(self) -> PlcEvent:
        deadline = time.monotonic() + self.command_timeout_s
        while True:
            line = self._next_line(deadline)
            if line is None:
                raise PlcLinkError("the modem did not report the join's outcome")
            if isinstance(line, PlcEvent):
                return line

    # -- Transport -------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        self._port.write(encode_send(frame))
        self._answer("PLCSEND")

    def receive(self, timeout_s: float) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        while not self._rx:
            line = self._next_line(deadline)
            if line is None and not self._rx:
                return None
        return self._rx.popleft()

    def close(self) -> None:
        if not self._port.is_open:
            return
        with contextlib.suppress(PlcLinkError, OSError):
            self._command("PLCTERM")
        self._port.close()
