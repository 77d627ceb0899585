"""The HES service's clock rule against openami's meter emulator on a real socket: a meter
whose clock is 10 minutes ahead is read (the offset found against the middle of the
exchange), set in a session of its own, and confirmed by reading it back; a meter on time
is left alone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from tests.protocols.dlms.dlms_peers import KEYS, NOW, running_emulator

from openami.bus.inprocess import InProcessBus
from openami.clock import SLOT_SECONDS, AnchoredClock
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess, MeterSecrets
from openami.hes.service import HesService
from openami.storage.dlms_counters import ClientCounterFiles

#: the rule of the service, with thresholds wide enough for a loaded test machine's delays
RULES = CollectionConfig(
    push_jitter_s=0.0,
    retry_base_s=0.01,
    max_retries=1,
    clock_threshold_s=60.0,
    clock_sync_threshold_s=30.0,
)
AHEAD_S = 600.0


def test_a_meter_clock_off_by_ten_minutes_is_set_and_read_back(tmp_path: Path) -> None:
    with running_emulator(meters=2) as run:
        ahead = run.emulator.meter(0).meter_clock
        ahead.offset_s = AHEAD_S  # this meter's clock runs 10 minutes ahead
        clock = AnchoredClock(NOW.timestamp(), time.time(), 1.0)  # the HES's, from NOW
        dlms = DlmsAccess(
            run.fleet.meter_ids,
            [run.host] * 2,
            np.full(2, run.port),
            np.arange(1, 3),
            lambda _meter: MeterSecrets(None, KEYS),
            clock,
            endpoint_permits=2,
            timeout_s=10.0,
            counters=ClientCounterFiles(tmp_path / "counters"),
        )
        bus, seen = InProcessBus(), []
        bus.subscribe("hes.readings", seen.append)
        service = HesService(dlms, bus, clock, RULES)
        boundary = int(NOW.timestamp()) // SLOT_SECONDS

        async def go() -> int:
            await service.collect_boundary(boundary)
            return await service.flush()

        assert asyncio.run(go()) == 2  # both meters read
        assert service.stats.clock_sets == 1 and service.stats.clock_set_failures == 0
        # the meter's clock now agrees with the HES within the exchange's delays
        assert abs(ahead.offset_s) < RULES.clock_sync_threshold_s
        assert run.emulator.meter(1).meter_clock.offset_s == 0.0  # never set
        # the read-back after the set is what the watch holds: on time
        assert np.abs(service.clock_watch.offset_s).max() < RULES.clock_sync_threshold_s
        assert service.clock_watch.ok.all()
