"""Run a city through simulated time: meters, HES, bus and MDMS on one manual clock.

Time advances in ticks (default 5 minutes). At each :00/:30 the fleet logs its registers
and the HES starts collecting; each tick the HES publishes what has arrived and the MDMS
closes the slots whose delivery deadline has passed (``Mdms.close_due_slots``: still without
a value one hour after their end, they are marked missing), and backfill later replaces
those marks with measured values. The bus is settled before the slots are closed: over
JetStream the MDMS has then stored every read published so far, as with the in-process bus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from openami.bus.inprocess import InProcessBus
from openami.bus.port import Bus
from openami.clock import SLOT_SECONDS, ManualClock
from openami.hes.engine import CollectionConfig, HeadEnd
from openami.hes.journal import HesJournal, HesRecords
from openami.mdms.service import Mdms
from openami.network.meter_clock import MeterClocks
from openami.sim.city import City
from openami.sim.persist import (
    Position,
    SimulationStateStore,
    load_position,
    replay,
    save_config,
    save_position,
)
from openami.storage.duckdb_interval import DuckIntervalStore


@dataclass
class Simulation:
    city: City
    mdms: Mdms
    hes: HeadEnd
    bus: Bus
    clock: ManualClock
    tick_s: float = 300.0
    after_tick: list[Callable[[float], None]] = field(default_factory=list)  # e.g. hub workers
    state: SimulationStateStore | None = None  # where the position is kept, tick by tick

    @classmethod
    def create(
        cls,
        city: City,
        store: DuckIntervalStore,
        clock: ManualClock,
        collection: CollectionConfig | None = None,
        tick_s: float = 300.0,
        records: HesRecords | None = None,
        state: SimulationStateStore | None = None,
        bus: Bus | None = None,
    ) -> Simulation:
        """A new simulation of ``city`` from its first slot. With ``records`` and ``state``
        the HES's queue and journal, the city's configuration and the position are stored,
        so that :meth:`resume` can carry on after a restart. ``bus``: the in-process bus
        unless another adapter is given (e.g. JetStream)."""
        bus = bus or InProcessBus()
        mdms = Mdms(store, city.registry, clock)
        mdms.attach(bus)
        hes = HeadEnd(city.fleet, city.network, bus, collection, journal=HesJournal(records))
        if state is not None:
            save_config(state, city.config)
        return cls(city, mdms, hes, bus, clock, tick_s, state=state)

    @classmethod
    def resume(
        cls,
        city: City,
        store: DuckIntervalStore,
        clock: ManualClock,
        records: HesRecords,
        state: SimulationStateStore,
        collection: CollectionConfig | None = None,
        tick_s: float = 300.0,
        bus: Bus | None = None,
    ) -> Simulation:
        """Carry on a stored simulation of ``city`` (built with :func:`attach_city`) where it
        stopped: the fleet runs again to the stored position with the journal's confirmed
        commands, the HES takes back its queue and fetches what was in flight from the
        meters' logs, and the MDMS continues from its stored data."""
        position = load_position(state) or Position(
            city.start_boundary * SLOT_SECONDS, city.start_boundary
        )
        journal = HesJournal(records)
        config = collection or CollectionConfig()
        clocks = MeterClocks(
            city.fleet.meter_ids, city.network.seed, city.start_boundary * SLOT_SECONDS
        )
        # the fleet stands at the last boundary collected: the slot after it is still running
        replay(city.fleet, clocks, journal, max(position.next_boundary - 1, city.start_boundary))
        clock.set_timestamp(position.now_s)
        bus = bus or InProcessBus()
        mdms = Mdms(store, city.registry, clock)
        mdms.attach(bus)
        hes = HeadEnd(city.fleet, city.network, bus, config, clocks=clocks, journal=journal)
        since_s = max(city.start_boundary * SLOT_SECONDS, position.now_s - config.backfill_every_s)
        hes.resume(position.now_s, since_s - SLOT_SECONDS)
        simulation = cls(city, mdms, hes, bus, clock, tick_s, state=state)
        simulation._next_boundary = position.next_boundary
        return simulation

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
            self.bus.settle()
            self.mdms.close_due_slots(self._now_s)
            if self.state is not None:
                save_position(self.state, Position(self._now_s, self._next_boundary))
            for hook in self.after_tick:
                hook(self._now_s)
            if progress is not None:
                progress(self._now_s)
