"""Pushed alarms, on real sockets: an emulated meter whose alarm register gains a bit pushes
a DataNotification to the HES's listener; the HES reads that meter's alarms in a secured
session at once and publishes them (``via_log`` false), without a scheduled collection,
and resets the register, so the next collection reports nothing again. Forged or garbled
pushes are counted and dropped."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from tests.protocols.dlms.dlms_peers import KEYS, NOW, running_emulator

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import TOPIC_EVENTS, MeterEvent
from openami.clock import SLOT_SECONDS, AnchoredClock
from openami.hes.alarm_push import AlarmPushListener
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess, MeterSecrets
from openami.hes.service import HesService
from openami.meter.dlms.catalog import EVENT_COVER_OPENED, logical_device_name
from openami.meter.dlms.push import AlarmPusher
from openami.protocols.dlms.notification import DataNotification, alarm_body
from openami.protocols.dlms.wrapper import encode_wrapper
from openami.storage.dlms_counters import ClientCounterFiles

RULES = CollectionConfig(push_jitter_s=0.0, retry_base_s=0.01, max_retries=1)


def test_a_pushed_alarm_is_read_and_published_at_once(tmp_path: Path) -> None:
    with running_emulator(meters=2) as run:
        clock = AnchoredClock(NOW.timestamp(), time.time(), 1.0)
        dlms = DlmsAccess(
            run.fleet.meter_ids,
            [run.host] * 2,
            np.full(2, run.port),
            np.arange(1, 3),
            lambda _meter: MeterSecrets(None, KEYS),
            clock,
            timeout_s=10.0,
            counters=ClientCounterFiles(tmp_path / "counters"),
        )
        bus, seen = InProcessBus(), []
        bus.subscribe(TOPIC_EVENTS, seen.append)
        service = HesService(dlms, bus, clock, RULES)
        listener = AlarmPushListener(dlms.meter_ids, service.alarm_pushed)
        ids = run.fleet.meter_ids.tolist()

        async def scenario() -> None:
            server = await listener.start("127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            pusher = AlarmPusher("127.0.0.1", port)
            run.emulator.push = pusher
            meter = run.emulator.meter(1)  # made after the push destination was given
            meter.log_event(EVENT_COVER_OPENED)
            deadline = time.monotonic() + 20  # waiting for the sockets, not a timing test
            while not seen and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await listener.settle()
            assert pusher.sent == 1 and meter.alarms.bits == 0  # reset by the HES's read

            # forged and garbled pushes: counted, dropped, no session
            forged = alarm_body(logical_device_name(999_999), 1)
            frames = [
                encode_wrapper(9, 1, DataNotification(1, None, forged).to_bytes()),
                encode_wrapper(9, 1, b"\x0f\x00"),
            ]
            sessions = dlms.sessions
            await asyncio.to_thread(_send, port, b"".join(frames))
            deadline = time.monotonic() + 20
            while listener.refused < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert listener.refused == 2 and dlms.sessions == sessions
            pusher.close()
            server.close()
            await server.wait_closed()

        asyncio.run(scenario())
        rows = pa.concat_tables(seen).to_pylist()
        assert [(r["meter_id"], r["event"], r["via_log"]) for r in rows] == [
            (ids[1], int(MeterEvent.TAMPER), False)
        ]
        assert rows[0]["occurred_at"] == NOW.timestamp()  # the log entry's time
        assert listener.received == 1

        seen.clear()  # the scheduled collection: nothing pending any more

        async def collect() -> None:
            await service.collect_boundary(int(NOW.timestamp()) // SLOT_SECONDS)
            await service.flush()

        asyncio.run(collect())
        assert seen == []


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.sendall(data)
