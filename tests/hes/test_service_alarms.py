"""Meter alarms from DLMS meters' event logs through the HES service, against openami's
meter emulator on a real socket: each collection session reads the log's new entries (one
range read), the alarms among them (power down, power up, cover opened) go out on
``hes.events`` once, the meter's other entries (a remote disconnect) do not, and entries
logged after a read come with the next one, even in the same second."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from tests.protocols.dlms.dlms_peers import KEYS, NOW, running_emulator

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import TOPIC_EVENTS, MeterEvent
from openami.clock import SLOT_SECONDS, AnchoredClock
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess, MeterSecrets
from openami.hes.service import HesService
from openami.meter.dlms.catalog import (
    ALARM_COVER_OPENED,
    ALARM_POWER_DOWN,
    EVENT_COVER_OPENED,
    EVENT_POWER_DOWN,
    EVENT_POWER_UP,
    EVENT_REMOTE_DISCONNECT,
)
from openami.meter.dlms.objects import EVENT_LOG_SIZE
from openami.storage.dlms_counters import ClientCounterFiles

RULES = CollectionConfig(
    push_jitter_s=0.0, retry_base_s=0.01, max_retries=1, clock_sync_threshold_s=30.0
)


def test_alarms_in_the_event_log_are_published_once(tmp_path: Path) -> None:
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
        boundary = int(NOW.timestamp()) // SLOT_SECONDS
        first, second = run.emulator.meter(0), run.emulator.meter(1)
        # the field's clock stands at NOW: every entry below is stamped the same second
        first.log_event(EVENT_POWER_DOWN)
        first.log_event(EVENT_POWER_UP)
        first.log_event(EVENT_REMOTE_DISCONNECT)  # the meter's record, not an alarm
        second.log_event(EVENT_COVER_OPENED)

        async def collect() -> None:
            await service.collect_boundary(boundary)
            await service.flush()

        asyncio.run(collect())
        rows = pa.concat_tables(seen).to_pylist()
        got = sorted((r["meter_id"], r["event"]) for r in rows)
        ids = run.fleet.meter_ids.tolist()
        assert got == [
            (ids[0], int(MeterEvent.LAST_GASP)),
            (ids[0], int(MeterEvent.RESTORE)),
            (ids[1], int(MeterEvent.TAMPER)),
        ]
        assert all(r["via_log"] and r["occurred_at"] == NOW.timestamp() for r in rows)
        assert service.stats.alarms_published == 3

        seen.clear()
        asyncio.run(collect())  # nothing new in the logs: nothing again
        assert seen == []
        second.log_event(EVENT_POWER_DOWN)  # logged after the read, in the same second
        asyncio.run(collect())
        rows = pa.concat_tables(seen).to_pylist()
        assert [(r["meter_id"], r["event"]) for r in rows] == [(ids[1], int(MeterEvent.LAST_GASP))]
        # every alarm reported reset its bit of the meters' alarm registers
        assert first.alarms.bits == 0 and second.alarms.bits == 0


def test_an_alarm_only_the_register_still_holds_is_reported_once(tmp_path: Path) -> None:
    """The event log keeps its last 100 entries: a power down pushed out of it by later
    entries is still pending in the alarm register, reported (at the meter's time of the
    read) and reset; the alarm the log still has is reported once, not twice."""
    with running_emulator(meters=1) as run:
        clock = AnchoredClock(NOW.timestamp(), time.time(), 1.0)
        dlms = DlmsAccess(
            run.fleet.meter_ids,
            [run.host],
            np.full(1, run.port),
            np.arange(1, 2),
            lambda _meter: MeterSecrets(None, KEYS),
            clock,
            timeout_s=10.0,
            counters=ClientCounterFiles(tmp_path / "counters"),
        )
        bus, seen = InProcessBus(), []
        bus.subscribe(TOPIC_EVENTS, seen.append)
        service = HesService(dlms, bus, clock, RULES)
        boundary = int(NOW.timestamp()) // SLOT_SECONDS
        meter = run.emulator.meter(0)
        meter.log_event(EVENT_POWER_DOWN)
        for _ in range(EVENT_LOG_SIZE):
            meter.log_event(EVENT_REMOTE_DISCONNECT)  # the power down leaves the log
        meter.log_event(EVENT_COVER_OPENED)
        assert meter.alarms.bits == ALARM_POWER_DOWN | ALARM_COVER_OPENED

        async def collect() -> None:
            await service.collect_boundary(boundary)
            await service.flush()

        asyncio.run(collect())
        rows = pa.concat_tables(seen).to_pylist()
        assert sorted(r["event"] for r in rows) == [MeterEvent.LAST_GASP, MeterEvent.TAMPER]
        gasp = next(r for r in rows if r["event"] == MeterEvent.LAST_GASP)
        assert abs(gasp["occurred_at"] - clock.timestamp()) < 60  # the read's meter time
        assert meter.alarms.bits == 0  # reset: reported once
        seen.clear()
        asyncio.run(collect())
        assert seen == []
