"""A virtual G3-PLC B-route modem (openami PLC link profile, OPLC/1) on a pty.

The B route's supplementary medium where the 920 MHz radio cannot reach (the seed's
``broute_fallback``: g3plc). The host opens the slave path (or ``link``) and speaks OPLC/1
(:mod:`openami.protocols.plc`); sends go to ``relay`` (the meter's ECHONET Lite responder)
and its replies come back as ERX lines. The meter's B-route ID and password come from
``credentials`` (its provisioning), re-read before every host command, like the virtual
Wi-SUN module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import tty
from pathlib import Path
from types import TracebackType

from openami.broute.wisun import DEFAULT_METER_MAC, CredentialSource, Relay
from openami.protocols.plc import PlcMeter, PlcModule, PlcSend

log = logging.getLogger(__name__)
DEFAULT_MODEM_MAC = bytes.fromhex("001D1290ABC00001")


class VirtualPlcModem:
    """An OPLC/1 modem on a pty with one meter behind ``relay``. Use as a context manager."""

    def __init__(
        self,
        relay: Relay,
        credentials: CredentialSource,
        *,
        link: Path | str | None = None,
        meter_mac: bytes = DEFAULT_METER_MAC,
        modem_mac: bytes = DEFAULT_MODEM_MAC,
    ) -> None:
        self.relay = relay
        self.credentials = credentials
        self.link = Path(link) if link is not None else None
        self.meter_mac = meter_mac
        self.module = PlcModule(modem_mac, None)
        self.path = ""
        self.sends = 0
        self.replies = 0
        self._master = self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self.link is not None:
            if self.link.is_symlink():
                self.link.unlink()
            self.link.symlink_to(self.path)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="plc-modem", daemon=True)
        self._thread.start()
        return str(self.link) if self.link is not None else self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> VirtualPlcModem:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _meter(self) -> PlcMeter:
        held = self.credentials()
        if held is None:
            return PlcMeter(self.meter_mac, "", "")
        return PlcMeter(self.meter_mac, held.rbid, held.password)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self._master], [], [], 0.2)
                if not readable:
                    continue
                data = os.read(self._master, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:  # no slave open yet (EIO) or closed
                self._stop.wait(0.05)
                continue
            try:
                self._serve(data)
            except Exception:  # the modem keeps serving whatever a host does
                log.exception("virtual PLC modem: unexpected error, continuing")

    def _serve(self, data: bytes) -> None:
        self.module.meter = self._meter()
        for item in self.module.receive_data(data):
            if not isinstance(item, PlcSend):
                self._write(item)
                continue
            self.sends += 1
            for reply in self.relay(item.payload):
                self.replies += 1
                self._write(self.module.from_meter(reply))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                select.select([], [self._master], [], 0.5)
                continue
            view = view[n:]
