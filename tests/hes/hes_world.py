"""A small HES world without the MDMS: fleet, network model, bus and a recording sink."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from openami.bus.inprocess import InProcessBus
from openami.clock import SLOT_SECONDS, day_first_slot
from openami.hes.engine import CollectionConfig, HeadEnd
from openami.meter.fleet import MeterFleet
from openami.network import METHOD_CODES, MeterClocks, MethodParams, NetworkModel

DAY = date(2026, 11, 1)
START_B = day_first_slot(DAY)
START_S = START_B * SLOT_SECONDS
PERFECT = MethodParams(attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5)


@dataclass
class World:
    fleet: MeterFleet
    network: NetworkModel
    hes: HeadEnd
    bus: InProcessBus
    topics: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))
    now_s: float = START_S
    next_boundary: int = START_B

    def table(self, topic: str) -> pa.Table:
        parts = self.topics[topic]
        return pa.concat_tables(parts) if parts else pa.table({})

    def run_until(self, end_s: float, tick_s: float = 300.0) -> None:
        while self.now_s < end_s:
            self.now_s = min(self.now_s + tick_s, end_s)
            while self.next_boundary * SLOT_SECONDS <= self.now_s:
                self.fleet.advance_to(self.next_boundary)
                self.hes.on_boundary(self.next_boundary)
                self.next_boundary += 1
            self.hes.tick(self.now_s)


def make_world(
    n: int,
    params: MethodParams | dict[str, MethodParams] = PERFECT,
    method: str = "mesh",
    concentrator_of: np.ndarray | None = None,
    config: CollectionConfig | None = None,
    clocks: MeterClocks | None = None,
) -> World:
    ids = np.arange(1, n + 1, dtype=np.int64)
    fleet = MeterFleet(ids, START_B, seed=3, retention_days=8)
    by_method = params if isinstance(params, dict) else dict.fromkeys(METHOD_CODES, params)
    network = NetworkModel(
        ids,
        np.full(n, METHOD_CODES[method], dtype=np.uint8),
        seed=3,
        params=by_method,
        concentrator_of=concentrator_of,
    )
    bus = InProcessBus()
    hes = HeadEnd(fleet, network, bus, config, clocks=clocks)
    world = World(fleet, network, hes, bus)
    for topic in ("hes.readings", "hes.commands", "hes.events"):
        bus.subscribe(topic, world.topics[topic].append)
    return world
