"""The modem's side of OPLC/1 (sans I/O): commands in, printed lines and sends to the meter out.

The real G3-PLC B-route stack authenticates with LBP carrying EAP-PSK (TTC JJ-300.11); this
modem emulates that step as a check of the B-route ID and password against the pair the
meter holds (the same emulation as the Wi-SUN module's PANA: docs/protocols.md).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from openami.protocols.plc import codec
from openami.protocols.skstack.codec import link_local_of


@dataclass(frozen=True)
class PlcMeter:
    """The meter at the other end of the power line, with the pair it holds ("": none)."""

    mac: bytes
    rbid: str
    password: str

    @property
    def address(self) -> str:
        return link_local_of(self.mac)


@dataclass(frozen=True)
class PlcSend:
    """A payload the host sent, for the meter."""

    payload: bytes


class PlcModule:
    def __init__(self, mac: bytes, meter: PlcMeter | None) -> None:
        if len(mac) != 8:
            raise ValueError("a modem MAC has 8 bytes")
        self.mac = mac
        self.meter = meter
        self.rbid = ""
        self.password = ""
        self.joined = False
        self._buffer = bytearray()

    @property
    def state(self) -> str:
        return "JOINED" if self.joined else "IDLE"

    def receive_data(self, data: bytes) -> list[bytes | PlcSend]:
        """What the modem prints and sends for the host's bytes ``data``, in order."""
        self._buffer += data
        out: list[bytes | PlcSend] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > codec.MAX_LINE_BYTES:
                    self._buffer.clear()
                    out.append(codec.fail(codec.FAIL_BAD_ARGUMENT))
                return out
            line = bytes(self._buffer[:end]).strip()
            del self._buffer[: end + 1]
            if line:
                out.extend(self._command(line))

    def from_meter(self, payload: bytes) -> bytes:
        """The ERX line of a meter's reply (nothing when no session is up)."""
        if not self.joined or self.meter is None:
            return b""
        return codec.received(self.meter.address, payload)

    def _command(self, line: bytes) -> list[bytes | PlcSend]:
        try:
            name, *args = line.decode("ascii").split()
        except (UnicodeDecodeError, ValueError):
            return [codec.fail(codec.FAIL_UNKNOWN_COMMAND)]
        handler = _HANDLERS.get(name)
        if handler is None:
            return [codec.fail(codec.FAIL_UNKNOWN_COMMAND)]
        return handler(self, args)

    def _info(self, args: list[str]) -> list[bytes | PlcSend]:
        return [codec.info(self.mac, self.state), codec.ok()]

    def _set_id(self, args: list[str]) -> list[bytes | PlcSend]:
        if len(args) != 1 or len(args[0]) != 32 or not args[0].isalnum():
            return [codec.fail(codec.FAIL_BAD_ARGUMENT)]
        self.rbid = args[0]
        return [codec.ok()]

    def _set_password(self, args: list[str]) -> list[bytes | PlcSend]:
        if len(args) != 1 or not 1 <= len(args[0]) <= 32:
            return [codec.fail(codec.FAIL_BAD_ARGUMENT)]
        self.password = args[0]
        return [codec.ok()]

    def _join(self, args: list[str]) -> list[bytes | PlcSend]:
        meter = self.meter
        if args or not self.rbid or not self.password:
            return [codec.fail(codec.FAIL_BAD_ARGUMENT)]
        if meter is None or not meter.rbid or meter.rbid != self.rbid:
            self.joined = False  # no meter on the line answers this B-route ID
            return [codec.ok(), codec.event(codec.PLC_EVENT_NO_METER)]
        if not hmac.compare_digest(meter.password.encode(), self.password.encode()):
            self.joined = False
            return [codec.ok(), codec.event(codec.PLC_EVENT_AUTH_FAILED, meter.address)]
        self.joined = True
        return [codec.ok(), codec.event(codec.PLC_EVENT_JOINED, meter.address)]

    def _send(self, args: list[str]) -> list[bytes | PlcSend]:
        if not self.joined:
            return [codec.fail(codec.FAIL_NOT_JOINED)]
        try:
            payload = codec.decode_payload(*args) if len(args) == 2 else b""
        except codec.PlcFormatError:
            payload = b""
        if not payload:
            return [codec.fail(codec.FAIL_BAD_ARGUMENT)]
        return [codec.ok(), PlcSend(payload)]

    def _terminate(self, args: list[str]) -> list[bytes | PlcSend]:
        self.joined = False
        return [codec.ok(), codec.event(codec.PLC_EVENT_TERMINATED)]


_HANDLERS = {
    "PLCINFO": PlcModule._info,
    "PLCSETID": PlcModule._set_id,
    "PLCSETPWD": PlcModule._set_password,
    "PLCJOIN": PlcModule._join,
    "PLCSEND": PlcModule._send,
    "PLCTERM": PlcModule._terminate,
}
