"""Alarm pushes of the emulated meters: a DataNotification to the HES when an alarm rises.

A meter whose Alarm register 1 gains a bit (one its alarm filter lets through) pushes, like
an alarm Push setup (class 40, 0.0.25.9.0.255 style): one DataNotification with the meter's
time and the body ``{logical device name, alarm register}``
(:mod:`openami.protocols.dlms.notification`), in a wrapper frame from the meter's wPort to
wPort :data:`PUSH_DESTINATION_WPORT`, over a new TCP connection to the destination.

One worker thread sends them in order (the meters' event loop never waits on the HES);
each push is tried :data:`ATTEMPTS` times, :data:`RETRY_DELAY_S` apart. A push that cannot
be sent (HES down, queue full) is only logged: the bit stays in the register and the HES's
next session with the meter reads it, so nothing is lost, only later.
"""

from __future__ import annotations

import queue
import socket
import threading
import time

import structlog

from openami.protocols.dlms.wrapper import encode_wrapper

log = structlog.get_logger(__name__)

PUSH_DESTINATION_WPORT = 1  # the management client's wPort at the HES
ATTEMPTS = 3
RETRY_DELAY_S = 0.5
QUEUE_SIZE = 10_000


class AlarmPusher:
    """Sends pushed APDUs to ``host:port`` from one worker thread."""

    def __init__(self, host: str, port: int, timeout_s: float = 2.0) -> None:
        self.host = host
        self.port = int(port)
        self.timeout_s = timeout_s
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def push(self, source_wport: int, apdu: bytes) -> bool:
        """Queue one APDU from the meter at ``source_wport``; False when the queue is full."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dlms-push", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait((source_wport, apdu))
        except queue.Full:
            self.failed += 1
            log.warning("dlms.push_dropped", wport=source_wport, reason="queue_full")
            return False
        return True

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            wport, apdu = item
            frame = encode_wrapper(wport, PUSH_DESTINATION_WPORT, apdu)
            for attempt in range(ATTEMPTS):
                try:
                    with socket.create_connection((self.host, self.port), self.timeout_s) as s:
                        s.sendall(frame)
                    self.sent += 1
                    break
                except OSError as exc:
                    if attempt + 1 == ATTEMPTS:
                        self.failed += 1
                        log.warning("dlms.push_failed", wport=wport, error=type(exc).__name__)
                    else:
                        time.sleep(RETRY_DELAY_S)
            self._queue.task_done()

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued push was sent or given up (True) or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=ATTEMPTS * (self.timeout_s + RETRY_DELAY_S) + 1)
