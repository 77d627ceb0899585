"""The HES's listener for alarms its meters push (DataNotification, openami's alarm push).

A meter whose alarm register gains a bit pushes ``{logical device name, alarm register}``
(:mod:`openami.protocols.dlms.notification`) in a wrapper frame over TCP. The push is
unauthenticated, so it is only a hint: the listener asks the HES service to read that
meter's alarms at once (:meth:`openami.hes.service.HesService.alarm_pushed`: one secured
session reading the alarm register and event log, then reset), and what that session reads
is published on ``hes.events`` right away (``via_log`` false: it came by a push), without
waiting for the next :00/:30 session. A forged push costs one session with a real meter
(one at a time per meter); one naming no meter of this HES, or that is not an alarm push,
is counted and dropped. A connection sends any number of frames; silent ones are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np

from openami.log import get_logger
from openami.meter.dlms.catalog import logical_device_name
from openami.protocols.dlms.errors import DlmsCodecError
from openami.protocols.dlms.notification import DataNotification, read_alarm_body
from openami.protocols.dlms.wrapper import WrapperDecoder

log = get_logger(__name__)
IDLE_TIMEOUT_S = 30.0
READ_BYTES = 4096


class AlarmPushListener:
    """Takes alarm pushes for the meters ``meter_ids`` and calls ``on_push(position)``."""

    def __init__(
        self, meter_ids: np.ndarray, on_push: Callable[[int], Coroutine[Any, Any, None]]
    ) -> None:
        self._position = {
            logical_device_name(int(m)): i for i, m in enumerate(np.asarray(meter_ids).tolist())
        }
        self._on_push = on_push
        self._tasks: set[asyncio.Task[None]] = set()
        self.received = 0
        self.refused = 0

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen on ``host:port`` (0: any free port; see the server's sockets)."""
        server = await asyncio.start_server(self._serve, host, port)
        log.info("hes.alarm_listener_started", host=host, port=port)
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = WrapperDecoder()
        try:
            while data := await asyncio.wait_for(reader.read(READ_BYTES), IDLE_TIMEOUT_S):
                for frame in decoder.feed(data):
                    self.take(frame.payload)
        except (TimeoutError, ConnectionError, DlmsCodecError) as exc:
            log.info("hes.alarm_push_connection_closed", reason=type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def take(self, apdu: bytes) -> int | None:
        """One pushed APDU: the position of the meter whose alarms are read now, or None
        (not an alarm push, a meter of another HES, or nothing pending)."""
        try:
            name, bits = read_alarm_body(DataNotification.from_bytes(apdu).body)
        except DlmsCodecError as exc:
            self.refused += 1
            log.warning("hes.alarm_push_refused", reason=str(exc)[:80])
            return None
        position = self._position.get(name)
        if position is None:
            self.refused += 1
            log.warning("hes.alarm_push_refused", reason="unknown meter")
            return None
        if not bits:
            return None
        self.received += 1
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._on_push(position))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return position

    async def settle(self) -> None:
        """Wait for the reads the pushes so far started."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
