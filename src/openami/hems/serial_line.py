"""The serial line a HEMS talks to its B-route module through (a Wi-SUN module speaking
SKSTACK, or a PLC modem speaking OPLC/1): the device opened raw at 115,200 baud and
non-blocking, written whole, read with a timeout."""

from __future__ import annotations

import contextlib
import os
import select
import termios
import tty

READ_CHUNK_BYTES = 65536


def check_broute_credentials(rbid: str, password: str) -> None:
    """Raise ValueError unless the pair has the B-route's lengths (the module refuses others)."""
    if len(rbid) != 32:
        raise ValueError("a B-route ID has 32 characters")
    if not 1 <= len(password) <= 32:
        raise ValueError("a B-route password has 1–32 characters")


class SerialLine:
    """One serial device (a tty or a pty), opened by :meth:`open`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    def open(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(self._fd)
            attrs = termios.tcgetattr(self._fd)
            attrs[4] = attrs[5] = termios.B115200
            termios.tcsetattr(self._fd, termios.TCSANOW, attrs)
        except OSError:
            self.close()
            raise

    def write(self, data: bytes) -> None:
        """All of ``data``, waiting while the device's buffer is full."""
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:
                select.select([], [self._fd], [], 1.0)
                continue
            view = view[n:]

    def read(self, timeout_s: float) -> bytes:
        """What the device has sent, waiting up to ``timeout_s``; b"" when nothing came."""
        if not select.select([self._fd], [], [], max(0.0, timeout_s))[0]:
            return b""
        try:
            return os.read(self._fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
