"""The MDMS service: turns register reads from the bus into versioned half-hour values."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from openami.bus.inprocess import TOPIC_READINGS, Bus
from openami.clock import Clock, slots_of_day
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore, IngestResult


class Mdms:
    """Meter data management: ingest, missing marks, queries.

    Half-hour value of slot ``s`` = register at boundary ``s+1`` minus register at ``s`` of
    the meter installed at the supply point during the slot.
    """

    def __init__(self, store: DuckIntervalStore, registry: Registry, clock: Clock) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self._installations: pa.Table | None = None

    def attach(self, bus: Bus) -> None:
        bus.subscribe(TOPIC_READINGS, self.ingest)

    def refresh_registry(self) -> None:
        """Forget cached installations (call after meters are installed or exchanged)."""
        self._installations = None

    @property
    def installations(self) -> pa.Table:
        if self._installations is None:
            self._installations = self.registry.installations_table()
        return self._installations

    def ingest(self, batch: pa.Table) -> IngestResult:
        """Ingest a batch of register reads; idempotent."""
        return self.store.ingest_reads(batch, self.installations, self.clock.timestamp())

    def mark_missing(self, first_slot: int, last_slot: int) -> int:
        """Mark slots without a value as missing for every supply point with a meter then."""
        inst = self.installations
        t0, t1 = first_slot * 1800.0, (last_slot + 1) * 1800.0
        expected = self.store.query(
            "SELECT DISTINCT supply_point_key FROM inst WHERE valid_from < ? "
            "AND (valid_to IS NULL OR valid_to > ?)",
            [t1, t0],
            inst=inst,
        )
        return self.store.mark_missing(expected, first_slot, last_slot, self.clock.timestamp())

    def day_values(self, supply_point_key: int, day: date) -> pa.Table:
        """Current half-hour values of one supply point for one JST day (up to 48 rows)."""
        slots = slots_of_day(day)
        return self.store.current_values(supply_point_key, slots.start, slots.stop - 1)
