"""Run a city through simulated time: meters, HES, bus and MDMS on one manual clock.

Time advances in ticks (default 5 minutes). At each :00/:30 the fleet logs its registers
and the HES starts collecting; each tick the HES publishes what has arrived and the MDMS
closes the slots whose delivery deadline has passed (``Mdms.close_due_slots``: still without
a value one hour after their end, they are marked missing), and backfill later replaces
those marks with measured values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from openami.bus.inprocess import InProcessBus
from openami.clock import SLOT_SECONDS, ManualClock
from openami.hes.engine import CollectionConfig, HeadEnd
from openami.mdms.service import Mdms
from openami.sim.city import City
from openami.storage.duckdb_interval import DuckIntervalStore


@dataclass
class Simulation:
    city: City
    mdms: Mdms
    hes: HeadEnd
    bus: InProcessBus
    clock: ManualClock
    tick_s: float = 300.0
    after_tick: list[Callable[[float], None]] = field(default_factory=list)  # e.g. hub workers

    @classmethod
    def create(
        cls,
        city: City,
        store: DuckIntervalStore,
        clock: ManualClock,
        collection: CollectionConfig | None = None,
        tick_s: float = 300.0,
    ) -> Simulation:
        bus = InProcessBus()
        mdms = Mdms(store, city.registry, clock)
        mdms.attach(bus)
        hes = HeadEnd(city.fleet, city.network, bus, collection)
        return cls(city, mdms, hes, bus, clock, tick_s)

    def __post_init__(self) -> None:
        self.mdms.start_closing_at(self.city.start_boundary)  # the city's first slot
        self._next_boundary = self.city.fleet.now_boundary
        self._now_s = self.clock.timestamp()

    def run_until(self, end_s: float, progress: Callable[[float], None] | None = None) -> None:
        """Advance simulated time to ``end_s`` (Unix seconds)."""
        while self._now_s < end_s:
            self._now_s = min(self._now_s + self.tick_s, end_s)
            self.clock.set_timestamp(self._now_s)
            while self._next_boundary * SLOT_SECONDS <= self._now_s:
                self.city.fleet.advance_to(self._next_boundary)
                self.hes.on_boundary(self._next_boundary)
                self._next_boundary += 1
            self.hes.tick(self._now_s)
            self.mdms.close_due_slots(self._now_s)
            for hook in self.after_tick:
                hook(self._now_s)
            if progress is not None:
                progress(self._now_s)
